"""A subscriber's CNIC under its own data key (crypto-shredding, schema 0019).

The data key is made on the first CNIC a subscriber gets and kept sealed under the key ring
in ``subscriber_key``; `cloudos subscriber erase` deletes it, and with it the means to read
any copy of the CNIC ever written (``d1`` ciphertexts, rlm_cloudos.crypto). CNICs sealed
before schema 0019 (``c1``, under the key ring itself) still open; `cloudos db reencrypt`
moves them under data keys.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from cloudos.store import data_keys
from rlm_cloudos import crypto
from rlm_cloudos.crypto import KeyRing
from rlm_cloudos.errors import DecryptError


def seal_cnics(conn: Connection, ring: KeyRing, items: Sequence[tuple[int, int, str]]) -> list[bytes]:
    """Each (tenant id, subscriber id, CNIC) sealed under that subscriber's data key, made now for a
    subscriber without one; in the order given."""
    ids = [sid for _, sid, _ in items]
    held = data_keys.sealed(conn, ids)
    keys: dict[int, bytes] = {}
    new: list[tuple[int, int, bytes]] = []
    for tenant_id, sid, _ in items:
        if sid in keys:
            continue
        if sid in held:
            keys[sid] = ring.unwrap_data_key(held[sid], tenant_id, sid)
        else:
            keys[sid] = crypto.new_data_key()
            new.append((sid, tenant_id, ring.wrap_data_key(keys[sid], tenant_id, sid)))
    data_keys.add(conn, new)
    return [crypto.seal_with_data_key(keys[sid], cnic, crypto.CNIC, tenant_id, sid) for tenant_id, sid, cnic in items]


def seal_cnic(conn: Connection, ring: KeyRing, tenant_id: int, subscriber_id: int, cnic: str) -> bytes:
    return seal_cnics(conn, ring, [(tenant_id, subscriber_id, cnic)])[0]


def open_cnic(conn: Connection, ring: KeyRing, blob: bytes | bytearray | memoryview) -> str:
    """The CNIC in ``blob``; DecryptError when it will not open (its data key destroyed included)."""
    blob = bytes(blob)
    owner = crypto.data_key_owner(blob)
    return _open(ring, blob, owner, data_keys.sealed(conn, [owner[1]]) if owner else {})


def open_cnics(conn: Connection, ring: KeyRing, blobs: Sequence[bytes]) -> list[str | None]:
    """The CNIC in each of ``blobs`` (None where one will not open), their data keys read in one
    statement: a tenant's export opens every subscriber's."""
    owners = [crypto.data_key_owner(b) for b in blobs]
    held = data_keys.sealed(conn, [o[1] for o in owners if o is not None])
    opened: list[str | None] = []
    for blob, owner in zip(blobs, owners):
        try:
            opened.append(_open(ring, bytes(blob), owner, held))
        except DecryptError:
            opened.append(None)
    return opened


def _open(ring: KeyRing, blob: bytes, owner: tuple[int, int] | None, held: dict[int, bytes]) -> str:
    if owner is None:
        return ring.decrypt(blob, crypto.CNIC)  # sealed before schema 0019
    tenant_id, sid = owner
    sealed = held.get(sid)
    if sealed is None:
        raise DecryptError("the subscriber's data key is destroyed (erased)")
    return crypto.open_with_data_key(ring.unwrap_data_key(sealed, tenant_id, sid), blob, crypto.CNIC)
