"""AES-256-GCM for secrets at rest, with a key ring kept outside the database.

A ciphertext is ``b"c1" || len(key_id) || key_id || nonce(12) || ciphertext+tag``:
it names the key that sealed it, so keys rotate without rewriting every row at
once. The associated data is the purpose (``subscriber.password``,
``nas.secret``, ``subscriber.cnic``) so a ciphertext cannot be moved from one
column to another.

A ``b"c2"`` ciphertext (seal/open) has the same layout, and its associated data is
the purpose and the row it belongs to (a password: its tenant id and username), each
part length-prefixed: copied onto another subscriber's row, in PostgreSQL or in a
Redis snapshot, it fails to open. radiusd opens subscriber passwords only in this
form; ``cloudos db reencrypt`` (run by ``cloudos db migrate``) upgrades ``c1`` ones.

A ``b"d1"`` ciphertext is sealed under a subscriber's own data key (crypto-shredding):
``b"d1" || tenant id (8 bytes) || subscriber id (8 bytes) || nonce(12) || ciphertext+tag``,
its associated data the purpose and those two ids. The data key is 32 random bytes,
kept in PostgreSQL sealed under the key ring (wrap_data_key: a ``c2`` ciphertext bound
to the subscriber); destroying it on erasure leaves every copy of the subscriber's
``d1`` fields, in backups too, unreadable by anyone, key ring or not.

mac_key derives an HMAC-SHA256 key from a ring key with HKDF and a purpose label
(``redis.snapshot``), so signing never reuses an encryption key as such.

The key ring is a JSON file, mode 0600, named by CLOUDOS_KEYRING::

    {"active": "k1", "keys": {"k1": "<base64 of 32 random bytes>"}}
"""

from __future__ import annotations

import base64
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from rlm_cloudos.errors import DecryptError, KeyRingError

_MAGIC = b"c1"
#: A ciphertext whose associated data binds it to its row as well as its purpose.
_BOUND = b"c2"
_NONCE = 12
#: What a subscriber password is sealed for; with (tenant id, username) as its context.
PASSWORD = "subscriber.password"
#: A ciphertext under a subscriber's data key.
_DATA = b"d1"
#: What a subscriber's data key is sealed for (with its tenant and subscriber ids), and the CNIC.
DATA_KEY = "subscriber.data_key"
CNIC = "subscriber.cnic"


def new_data_key() -> bytes:
    """32 random bytes: one subscriber's data key."""
    return AESGCM.generate_key(bit_length=256)


def seal_with_data_key(key: bytes, plaintext: str, purpose: str, tenant_id: int, subscriber_id: int) -> bytes:
    """``plaintext`` sealed under a subscriber's data key, bound to ``purpose`` and the subscriber."""
    head = _DATA + tenant_id.to_bytes(8, "big") + subscriber_id.to_bytes(8, "big")
    nonce = os.urandom(_NONCE)
    aad = _aad(purpose, (str(tenant_id), str(subscriber_id)))
    return head + nonce + AESGCM(key).encrypt(nonce, plaintext.encode(), aad)


def data_key_owner(blob: bytes | bytearray | memoryview) -> tuple[int, int] | None:
    """(tenant id, subscriber id) whose data key sealed ``blob``; None for any other format."""
    blob = bytes(blob)
    if len(blob) < 18 + _NONCE or blob[:2] != _DATA:
        return None
    return int.from_bytes(blob[2:10], "big"), int.from_bytes(blob[10:18], "big")


def open_with_data_key(key: bytes, blob: bytes | bytearray | memoryview, purpose: str) -> str:
    """Open a seal_with_data_key() ciphertext; DecryptError on another format, key, purpose or subscriber."""
    blob = bytes(blob)
    owner = data_key_owner(blob)
    if owner is None:
        raise DecryptError("not a ciphertext under a subscriber's data key")
    body = blob[18:]
    try:
        return AESGCM(key).decrypt(body[:_NONCE], body[_NONCE:], _aad(purpose, tuple(map(str, owner)))).decode()
    except Exception:
        raise DecryptError("ciphertext failed authentication under the subscriber's data key") from None


def _aad(purpose: str, context: tuple[str, ...]) -> bytes:
    """Purpose and context parts, each length-prefixed: ("a", "bc") and ("ab", "c") differ."""
    parts = [p.encode() for p in (purpose, *context)]
    return b"".join(len(p).to_bytes(4, "big") + p for p in parts)


@dataclass(frozen=True)
class KeyRing:
    active: str
    keys: dict[str, bytes] = field(repr=False)  # key material never reaches a log line
    _ciphers: dict[str, AESGCM] = field(default_factory=dict, repr=False, compare=False)
    _derived: dict[str, bytes] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> KeyRing:
        """Read the key ring; raises KeyRingError if it is missing, readable by others or malformed."""
        p = Path(path)
        try:
            st = p.stat()
        except OSError as exc:
            raise KeyRingError(f"key ring {p}: {exc.strerror}") from None
        if stat.S_IMODE(st.st_mode) & 0o077:
            raise KeyRingError(f"key ring {p} is mode {stat.S_IMODE(st.st_mode):04o}; it must be 0600")
        try:
            raw = json.loads(p.read_text())
            keys = {str(k): base64.b64decode(v, validate=True) for k, v in raw["keys"].items()}
            active = str(raw["active"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise KeyRingError(f"key ring {p} is malformed ({type(exc).__name__})") from None
        if active not in keys:
            raise KeyRingError(f"key ring {p}: active key {active!r} is not among its keys")
        for kid, key in keys.items():
            if len(key) != 32:
                raise KeyRingError(f"key ring {p}: key {kid!r} is {len(key)} bytes, AES-256 needs 32")
            if not kid or len(kid.encode()) > 255:
                raise KeyRingError(f"key ring {p}: bad key id {kid!r}")
        return cls(active=active, keys=keys)

    @staticmethod
    def create(path: str | os.PathLike[str], key_id: str = "k1") -> KeyRing:
        """Write a new key ring with one random key at ``path`` (mode 0600); refuses to overwrite."""
        p = Path(path)
        key = AESGCM.generate_key(bit_length=256)
        body = json.dumps({"active": key_id, "keys": {key_id: base64.b64encode(key).decode()}}, indent=2)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(body + "\n")
        return KeyRing(active=key_id, keys={key_id: key})

    def _cipher(self, kid: str) -> AESGCM | None:
        """The AESGCM object of a key, built once (the hot path decrypts on every login)."""
        cipher = self._ciphers.get(kid)
        if cipher is None and kid in self.keys:
            cipher = self._ciphers[kid] = AESGCM(self.keys[kid])
        return cipher

    def _seal(self, magic: bytes, plaintext: str, aad: bytes) -> bytes:
        kid = self.active.encode()
        nonce = os.urandom(_NONCE)
        cipher = self._cipher(self.active)
        assert cipher is not None
        return magic + bytes([len(kid)]) + kid + nonce + cipher.encrypt(nonce, plaintext.encode(), aad)

    def _open(self, magic: bytes, blob: bytes, aad: bytes, hint: str = "") -> str:
        if len(blob) < 3 or blob[:2] != magic:
            raise DecryptError("not a CloudOS ciphertext")
        n = blob[2]
        kid = blob[3 : 3 + n].decode(errors="replace")
        cipher = self._cipher(kid)
        if cipher is None:
            raise DecryptError(f"ciphertext sealed with unknown key {kid!r}")
        body = blob[3 + n :]
        try:
            return cipher.decrypt(body[:_NONCE], body[_NONCE:], aad).decode()
        except Exception:
            raise DecryptError(f"ciphertext failed authentication under key {kid!r}{hint}") from None

    def encrypt(self, plaintext: str, purpose: str) -> bytes:
        """Seal ``plaintext`` with the active key, bound to ``purpose``."""
        return self._seal(_MAGIC, plaintext, purpose.encode())

    def decrypt(self, blob: bytes | bytearray | memoryview, purpose: str) -> str:
        """Open a ciphertext from encrypt(); raises DecryptError on an unknown key or a failed tag."""
        return self._open(_MAGIC, bytes(blob), purpose.encode())

    def seal(self, plaintext: str, purpose: str, *context: str) -> bytes:
        """Seal ``plaintext`` with the active key, bound to ``purpose`` and to ``context`` (the
        row it belongs to: the same parts, in order, open it)."""
        return self._seal(_BOUND, plaintext, _aad(purpose, context))

    def open(self, blob: bytes | bytearray | memoryview, purpose: str, *context: str) -> str:
        """Open a ciphertext from seal() with the purpose and context it was sealed with; raises
        DecryptError on another format (an unbound ``c1`` one included), an unknown key or a failed tag."""
        blob = bytes(blob)
        if blob[:2] == _MAGIC:
            raise DecryptError("ciphertext in the unbound c1 format (cloudos db reencrypt upgrades it)")
        return self._open(_BOUND, blob, _aad(purpose, context), " (another key, purpose or row)")

    def seal_password(self, password: str, tenant_id: int, username: str) -> bytes:
        """A subscriber password sealed to its tenant and username."""
        return self.seal(password, PASSWORD, str(tenant_id), username)

    def open_password(self, blob: bytes | bytearray | memoryview, tenant_id: int, username: str) -> str:
        """The password of tenant ``tenant_id``'s ``username`` from seal_password(); DecryptError as open()."""
        return self.open(blob, PASSWORD, str(tenant_id), username)

    def wrap_data_key(self, key: bytes, tenant_id: int, subscriber_id: int) -> bytes:
        """A subscriber's data key sealed under the active ring key, bound to the subscriber."""
        return self.seal(base64.b64encode(key).decode(), DATA_KEY, str(tenant_id), str(subscriber_id))

    def unwrap_data_key(self, blob: bytes | bytearray | memoryview, tenant_id: int, subscriber_id: int) -> bytes:
        """The data key from wrap_data_key(); DecryptError as open()."""
        return base64.b64decode(self.open(blob, DATA_KEY, str(tenant_id), str(subscriber_id)))

    def mac_key(self, purpose: str, kid: str | None = None) -> tuple[str, bytes] | None:
        """(key id, 32-byte HMAC-SHA256 key for ``purpose``) derived with HKDF from ring key ``kid``
        (the active one by default); None when the ring has no such key."""
        kid = self.active if kid is None else kid
        cache_key = f"mac\0{purpose}\0{kid}"
        derived = self._derived.get(cache_key)
        if derived is None:
            key = self.keys.get(kid)
            if key is None:
                return None
            derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                           info=b"cloudos hmac-sha256 " + purpose.encode()).derive(key)
            self._derived[cache_key] = derived
        return kid, derived

    @staticmethod
    def is_bound(blob: bytes | bytearray | memoryview) -> bool:
        """Whether ``blob`` is a seal() ciphertext (``c2``), not an encrypt() one (``c1``)."""
        return bytes(blob[:2]) == _BOUND

    @staticmethod
    def key_id_of(blob: bytes) -> str:
        """The key id a ciphertext names (for rotation reports)."""
        blob = bytes(blob)
        return blob[3 : 3 + blob[2]].decode(errors="replace")
