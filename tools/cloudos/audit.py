"""The admin audit trail: one keyed, hash-chained row per administrative change.

A row of version 2 (every row since migration 0009) carries::

    hash = HMAC-SHA256(chain key of key_id, prev_hash + "\\n" + canonical JSON of
           (version, key_id, at, actor, db_user, tenant_id, action, target, changed, before, after))

The chain key is derived with HKDF-SHA256 from the key ring's key ``key_id``
(CLOUDOS_KEYRING, outside the database), so whoever owns the database but not the
key ring can neither rewrite a row and recompute the chain nor add a row of their
own. Rows of version 1, written before 0009, keep their plain SHA-256 rule; the
first version-2 row's HMAC covers the last version-1 hash and so seals them, and a
version-1 row after a version-2 row is a forgery. ``db_user`` is the PostgreSQL
login, stamped by the database. Removal of the newest rows is what a chain cannot
show by itself: an anchor (:func:`anchor`), a signed copy of the head kept outside
the database, can.

Personal data (name, phone, e-mail, postal address, CNIC) never enters a row in
clear: its value is replaced by a keyed digest (HMAC under a second derived key),
so the subscriber can later be erased from the live tables while the chain stays
whole, and whoever holds the key ring can still tell whether a value was the
one recorded. Secrets (passwords, NAS secrets) are a marker only.

Rows are written in the same transaction as the change they describe, under an
advisory lock so concurrent admins extend one chain. The database refuses UPDATE,
DELETE and TRUNCATE on the table.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Connection

from cloudos import show
from cloudos.errors import CliError, TamperError
from cloudos.files import write_new
from cloudos.store import audit as rows_
from rlm_cloudos.crypto import KeyRing
from rlm_cloudos.errors import DecryptError

GENESIS = "0" * 64
_LOCK = 0x0C10_0D05  # pg_advisory_xact_lock key of the audit chain
REDACTED = "[redacted]"
#: Columns never written to the audit log in any form; their presence is recorded as REDACTED.
SECRET_FIELDS = frozenset({"password_enc", "secret_enc", "password", "secret", "credentials_enc"})
#: Personal data: written as a keyed digest, never in clear (cnic_enc is decrypted to digest the number).
PERSONAL_FIELDS = frozenset({"full_name", "phone", "email", "postal_address", "cnic", "cnic_enc"})
DIGEST_PREFIX = "hmac-sha256:"
#: HKDF ``info`` of each derived key: one purpose each, so no key answers for another.
_CHAIN_INFO = b"cloudos audit chain v2"
_DIGEST_INFO = b"cloudos audit personal data v2"
_ANCHOR_INFO = b"cloudos audit anchor v1"
ANCHOR_FORMAT = "cloudos-audit-anchor/1"
_ANCHOR_MAX = 64 * 1024


@dataclass
class AuditKeys:
    """The trail's keys, derived from the key ring on use and never stored; ``active`` signs new rows.
    ``open_cnic`` opens a CNIC ciphertext to digest the number (cloudos.identity's, on the
    transaction's connection, for one under a subscriber's data key; the key ring's alone by default)."""

    ring: KeyRing
    open_cnic: Callable[[bytes], str] | None = None
    _derived: dict[tuple[str, bytes], bytes] = field(default_factory=dict, repr=False)

    @property
    def active(self) -> str:
        return self.ring.active

    def has(self, key_id: str) -> bool:
        return key_id in self.ring.keys

    def _key(self, key_id: str, info: bytes) -> bytes:
        """HKDF-SHA256 of the key ring's key ``key_id`` for one purpose; KeyError on an unknown key id."""
        got = self._derived.get((key_id, info))
        if got is None:
            got = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(self.ring.keys[key_id])
            self._derived[(key_id, info)] = got
        return got

    def chain_mac(self, key_id: str, message: str) -> str:
        return hmac.new(self._key(key_id, _CHAIN_INFO), message.encode(), hashlib.sha256).hexdigest()

    def digest(self, key_id: str, name: str, value: str) -> str:
        """The keyed digest recorded instead of a personal value (bound to the field's name)."""
        mac = hmac.new(self._key(key_id, _DIGEST_INFO), f"{name}\n{value}".encode(), hashlib.sha256).hexdigest()
        return f"{DIGEST_PREFIX}{mac}"

    def anchor_mac(self, key_id: str, message: str) -> str:
        return hmac.new(self._key(key_id, _ANCHOR_INFO), message.encode(), hashlib.sha256).hexdigest()


def _plain(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.astimezone(timezone.utc).isoformat()
    if v is None or isinstance(v, (bool, int, str)):
        return v
    return str(v)


def redact(row: dict[str, Any] | None) -> dict[str, Any] | None:
    """A JSON-safe copy of ``row`` with secrets replaced by a marker (for output, not for the trail)."""
    if row is None:
        return None
    out: dict[str, Any] = {}
    for k, v in row.items():
        if k in SECRET_FIELDS or k == "cnic_enc":
            out[k.removesuffix("_enc")] = REDACTED if v is not None else None
        elif isinstance(v, datetime):
            out[k] = show.utc(v)  # as every --json instant is written (the trail keeps its own form)
        else:
            out[k] = _plain(v)
    return out


def _personal_value(keys: AuditKeys, name: str, v: Any) -> str:
    if name != "cnic_enc":
        return str(v)
    try:
        return keys.open_cnic(bytes(v)) if keys.open_cnic else keys.ring.decrypt(bytes(v), "subscriber.cnic")
    except DecryptError:
        # Still a digest that changes with the value, but of the ciphertext: no clear text either way.
        return "ciphertext:" + bytes(v).hex()


def seal(keys: AuditKeys, row: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What the trail records of ``row``: secrets as a marker, personal data as keyed digests
    (under the active key), everything else JSON-safe."""
    if row is None:
        return None
    out: dict[str, Any] = {}
    for k, v in row.items():
        name = k.removesuffix("_enc")
        if k in SECRET_FIELDS:
            out[name] = REDACTED if v is not None else None
        elif k in PERSONAL_FIELDS:
            out[name] = None if v is None else keys.digest(keys.active, name, _personal_value(keys, k, v))
        elif isinstance(v, datetime):
            out[k] = show.utc(v)  # as every --json instant is written (the trail keeps its own form)
        else:
            out[k] = _plain(v)
    return out


def changed_fields(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> list[str]:
    """The fields whose value differs (all of them for an add or a remove), by their recorded name."""
    b, a = before or {}, after or {}
    names = {k.removesuffix("_enc") for k in (*b, *a) if b.get(k) != a.get(k) or (k in b) != (k in a)}
    return sorted(names)


def _canonical(fields: Mapping[str, Any]) -> str:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _at(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat(timespec="microseconds")


def chain_hash(prev: str, at: datetime, actor: str, tenant_id: int | None, action: str, target: str,
               before: Any, after: Any) -> str:
    """Version 1 (rows before migration 0009): unkeyed SHA-256, as 0001 defined it."""
    payload = _canonical({"at": _at(at), "actor": actor, "tenant_id": tenant_id, "action": action,
                          "target": target, "before": before, "after": after})
    return hashlib.sha256((prev + "\n" + payload).encode()).hexdigest()


def keyed_hash(keys: AuditKeys, key_id: str, prev: str, *, at: datetime, actor: str, db_user: str,
               tenant_id: int | None, action: str, target: str, changed: list[str], before: Any,
               after: Any) -> str:
    """Version 2: HMAC-SHA256 under the chain key of ``key_id``; KeyError on a key the ring lacks."""
    payload = _canonical({"v": 2, "key_id": key_id, "at": _at(at), "actor": actor, "db_user": db_user,
                          "tenant_id": tenant_id, "action": action, "target": target, "changed": changed,
                          "before": before, "after": after})
    return keys.chain_mac(key_id, prev + "\n" + payload)


def record(conn: Connection, keys: AuditKeys, *, actor: str, tenant_id: int | None, action: str, target: str,
           before: dict[str, Any] | None, after: dict[str, Any] | None) -> int:
    """Append one keyed row in the caller's transaction; returns its id."""
    rows_.lock_chain(conn, _LOCK)
    prev = rows_.last_hash(conn) or GENESIS
    at = rows_.clock(conn)
    db_user = rows_.login(conn)
    changed = changed_fields(before, after)
    b, a = seal(keys, before), seal(keys, after)
    kid = keys.active
    h = keyed_hash(keys, kid, prev, at=at, actor=actor, db_user=db_user, tenant_id=tenant_id, action=action,
                   target=target, changed=changed, before=b, after=a)
    return rows_.append(conn, at=at, actor=actor, db_user=db_user, tenant_id=tenant_id, action=action,
                        target=target, before=b, after=a, changed=changed, key_id=kid, prev_hash=prev, hash_=h)


@dataclass(frozen=True)
class Entry:
    """One change for :func:`record_many`: what :func:`record` takes, but the actor."""

    tenant_id: int | None
    action: str
    target: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def record_many(conn: Connection, keys: AuditKeys, *, actor: str, entries: Sequence[Entry]) -> int:
    """Append one keyed row per entry, in order, in the caller's transaction: the rows :func:`record`
    would write one by one (each linked to the one before), under one lock and one reading of the
    database clock, in one statement per batch. Returns how many rows were written."""
    if not entries:
        return 0
    rows_.lock_chain(conn, _LOCK)
    prev = rows_.last_hash(conn) or GENESIS
    at = rows_.clock(conn)
    db_user = rows_.login(conn)
    kid = keys.active
    out: list[rows_.NewRow] = []
    for e in entries:
        changed = changed_fields(e.before, e.after)
        b, a = seal(keys, e.before), seal(keys, e.after)
        h = keyed_hash(keys, kid, prev, at=at, actor=actor, db_user=db_user, tenant_id=e.tenant_id,
                       action=e.action, target=e.target, changed=changed, before=b, after=a)
        out.append(rows_.NewRow(at=at, actor=actor, db_user=db_user, tenant_id=e.tenant_id, action=e.action,
                                target=e.target, before=b, after=a, changed=changed, key_id=kid, prev_hash=prev,
                                hash=h))
        prev = h
    rows_.append_many(conn, out)
    return len(out)


@dataclass(frozen=True)
class VerifyResult:
    rows: int
    first_bad_id: int | None
    problem: str | None
    last_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.first_bad_id is None


def verify(conn: Connection, keys: AuditKeys) -> VerifyResult:
    """Walk the chain from the first row; name the first row whose link or hash does not match.
    Raises CliError when a row is keyed with a key the key ring does not hold (nothing can be said of it)."""
    prev = GENESIS
    n = 0
    keyed = False
    last: int | None = None
    for r in rows_.chain(conn):
        n += 1
        if r.prev_hash != prev:
            return VerifyResult(n, r.id, "prev_hash does not match the previous row's hash (a row was removed or "
                                         "reordered)")
        if r.version == 1:
            if keyed:
                return VerifyResult(n, r.id, "an unkeyed (version 1) row after keyed rows: it was not written by "
                                             "cloudos (forged)")
            expect = chain_hash(prev, r.at, r.actor, r.tenant_id, r.action, r.target, r.before, r.after)
        elif r.version == 2:
            keyed = True
            if r.key_id is None or r.changed is None:
                return VerifyResult(n, r.id, "a keyed row without its key id or changed fields (forged)")
            if not keys.has(r.key_id):
                raise CliError(f"audit row {r.id} is keyed with key {r.key_id!r}, which the key ring does not hold: "
                               "cannot verify")
            expect = keyed_hash(keys, r.key_id, prev, at=r.at, actor=r.actor, db_user=r.db_user,
                                tenant_id=r.tenant_id, action=r.action, target=r.target, changed=list(r.changed),
                                before=r.before, after=r.after)
        else:
            return VerifyResult(n, r.id, f"unknown row version {r.version}")
        if not hmac.compare_digest(str(r.hash), expect):
            return VerifyResult(n, r.id, "hash does not match the row's contents (the row was altered or forged)")
        prev = r.hash
        last = r.id
    return VerifyResult(n, None, None, last)


# --------------------------------------------------------------------------- anchors
@dataclass(frozen=True)
class Anchor:
    """The signed head of the trail (or of one tenant's rows), kept outside the database."""

    scope: str  # "all" or a tenant's name
    tenant_id: int | None
    last_id: int
    last_hash: str
    count: int
    at: str
    key_id: str

    def body(self) -> dict[str, Any]:
        return {"format": ANCHOR_FORMAT, "scope": self.scope, "tenant_id": self.tenant_id,
                "last_id": self.last_id, "last_hash": self.last_hash, "count": self.count, "at": self.at,
                "key_id": self.key_id}


def take_anchor(conn: Connection, keys: AuditKeys, *, scope: str, tenant_id: int | None, now: datetime) -> Anchor:
    """The head as it is now; CliError when there is no row to anchor."""
    head = rows_.head(conn, tenant_id)
    if head is None:
        raise CliError("the audit trail has no rows" + (f" of tenant {scope}" if tenant_id is not None else "")
                       + ": nothing to anchor")
    last_id, last_hash, count = head
    return Anchor(scope, tenant_id, last_id, last_hash, count, _at(now), keys.active)


def write_anchor(path: str, keys: AuditKeys, anchor: Anchor) -> None:
    """Write the anchor and its HMAC to a new file, created mode 0600; CliError if it exists or cannot be written."""
    body = anchor.body()
    signed = {**body, "hmac": keys.anchor_mac(anchor.key_id, _canonical(body))}
    write_new(path, (json.dumps(signed, indent=2, sort_keys=True) + "\n").encode(), what="anchor")


def read_anchor(path: str, keys: AuditKeys) -> Anchor:
    """Read and authenticate an anchor; CliError if unreadable or keyed with a key the ring lacks,
    TamperError if its HMAC does not match (forged or edited)."""
    try:
        with open(path, "rb") as f:
            raw = f.read(_ANCHOR_MAX + 1)
    except OSError as exc:
        raise CliError(f"anchor {path}: {exc.strerror}") from None
    try:
        if len(raw) > _ANCHOR_MAX:
            raise ValueError("too large")
        data = json.loads(raw)
        if not isinstance(data, dict) or data.get("format") != ANCHOR_FORMAT:
            raise ValueError("not an anchor")
        mac = str(data.pop("hmac"))
        tenant_id = data["tenant_id"]
        anchor = Anchor(scope=str(data["scope"]), tenant_id=None if tenant_id is None else int(tenant_id),
                        last_id=int(data["last_id"]), last_hash=str(data["last_hash"]), count=int(data["count"]),
                        at=str(data["at"]), key_id=str(data["key_id"]))
    except (ValueError, KeyError, TypeError):
        raise CliError(f"anchor {path} is not a cloudos audit anchor") from None
    if not keys.has(anchor.key_id):
        raise CliError(f"anchor {path} is signed with key {anchor.key_id!r}, which the key ring does not hold")
    # The HMAC is over what the file says, exactly: any edit (or an extra field) is a forgery.
    if not hmac.compare_digest(mac, keys.anchor_mac(anchor.key_id, _canonical(data))) or data != anchor.body():
        raise TamperError(f"anchor {path}: signature does not match (the anchor is forged or was edited)")
    return anchor


def check_anchor(conn: Connection, anchor: Anchor) -> str | None:
    """None when the trail still holds the anchored head as signed, else what differs.
    Run after :func:`verify` found the chain whole: what is left to show is a removed tail."""
    head = rows_.head(conn, None)
    newest = head[0] if head else None
    got = rows_.count(conn, anchor.tenant_id, anchor.last_id)
    if newest is None or newest < anchor.last_id:
        return (f"the trail ends at row {newest or 0}, but the anchor of {anchor.at} saw row {anchor.last_id}: "
                "the newest rows were removed")
    if got != anchor.count:
        return (f"the anchor of {anchor.at} counted {anchor.count} rows up to row {anchor.last_id}, the trail holds "
                f"{got}: rows were removed")
    if rows_.hash_of(conn, anchor.last_id, anchor.tenant_id) != anchor.last_hash:
        return f"row {anchor.last_id} is not the row the anchor of {anchor.at} signed: the trail was rewritten"
    return None
