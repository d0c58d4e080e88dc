"""AES-256-GCM for secrets at rest, with a key ring kept outside the database.

A ciphertext is ``b"c1" || len(key_id) || key_id || nonce(12) || ciphertext+tag``:
it names the key that sealed it, so keys rotate without rewriting every row at
once. The associated data is the purpose (``subscriber.password``,
``nas.secret``, ``subscriber.cnic``) so a ciphertext cannot be moved from one
column to another.

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

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from rlm_cloudos.errors import DecryptError, KeyRingError

_MAGIC = b"c1"
_NONCE = 12


@dataclass(frozen=True)
class KeyRing:
    active: str
    keys: dict[str, bytes] = field(repr=False)  # key material never reaches a log line
    _ciphers: dict[str, AESGCM] = field(default_factory=dict, repr=False, compare=False)

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

    def encrypt(self, plaintext: str, purpose: str) -> bytes:
        """Seal ``plaintext`` with the active key, bound to ``purpose``."""
        kid = self.active.encode()
        nonce = os.urandom(_NONCE)
        cipher = self._cipher(self.active)
        assert cipher is not None
        ct = cipher.encrypt(nonce, plaintext.encode(), purpose.encode())
        return _MAGIC + bytes([len(kid)]) + kid + nonce + ct

    def decrypt(self, blob: bytes | bytearray | memoryview, purpose: str) -> str:
        """Open a ciphertext from encrypt(); raises DecryptError on an unknown key or a failed tag."""
        blob = bytes(blob)
        if len(blob) < 3 or blob[:2] != _MAGIC:
            raise DecryptError("not a CloudOS ciphertext")
        n = blob[2]
        kid = blob[3 : 3 + n].decode(errors="replace")
        cipher = self._cipher(kid)
        if cipher is None:
            raise DecryptError(f"ciphertext sealed with unknown key {kid!r}")
        body = blob[3 + n :]
        try:
            return cipher.decrypt(body[:_NONCE], body[_NONCE:], purpose.encode()).decode()
        except Exception:
            raise DecryptError(f"ciphertext failed authentication under key {kid!r}") from None

    @staticmethod
    def key_id_of(blob: bytes) -> str:
        """The key id a ciphertext names (for rotation reports)."""
        blob = bytes(blob)
        return blob[3 : 3 + blob[2]].decode(errors="replace")
