"""The AES-256-GCM key ring (crypto.KeyRing)."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rlm_cloudos import crypto
from rlm_cloudos.crypto import KeyRing
from rlm_cloudos.errors import CloudOSError, DecryptError, KeyRingError

PURPOSE = "subscriber.password"


def b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def write_ring(path: Path, body: object, mode: int = 0o600) -> Path:
    path.write_text(body if isinstance(body, str) else json.dumps(body))
    path.chmod(mode)
    return path


# A ring shared by the hypothesis tests (they cannot take function-scoped fixtures).
RING = KeyRing(active="k1", keys={"k1": os.urandom(32)})


# ------------------------------------------------------------------------ create / load


def test_create_writes_a_0600_file_that_load_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    ring = KeyRing.create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ring.active == "k1" and len(ring.keys["k1"]) == 32
    loaded = KeyRing.load(path)
    assert loaded == ring
    assert json.loads(path.read_text()) == {"active": "k1", "keys": {"k1": b64(ring.keys["k1"])}}


def test_create_is_0600_even_under_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        KeyRing.create(tmp_path / "keyring.json", key_id="2026-01")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "keyring.json").stat().st_mode) == 0o600
    assert KeyRing.load(tmp_path / "keyring.json").active == "2026-01"


def test_create_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    first = KeyRing.create(path)
    before = path.read_bytes()
    with pytest.raises(FileExistsError):
        KeyRing.create(path)
    assert path.read_bytes() == before
    assert KeyRing.load(path) == first


def test_two_created_rings_have_different_keys(tmp_path: Path) -> None:
    a = KeyRing.create(tmp_path / "a.json")
    b = KeyRing.create(tmp_path / "b.json")
    assert a.keys["k1"] != b.keys["k1"]


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o666])
def test_load_refuses_a_file_others_can_read(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "keyring.json"
    KeyRing.create(path)
    path.chmod(mode)
    with pytest.raises(KeyRingError, match="0600") as excinfo:
        KeyRing.load(path)
    assert f"{mode:04o}" in str(excinfo.value)


def test_load_accepts_0400(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    ring = KeyRing.create(path)
    path.chmod(0o400)
    assert KeyRing.load(path) == ring


def test_load_refuses_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(KeyRingError, match="keyring.json"):
        KeyRing.load(tmp_path / "keyring.json")


KEY = os.urandom(32)


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ("{not json", "malformed"),
        ("", "malformed"),
        ("[]", "malformed"),
        ({"keys": {"k1": b64(KEY)}}, "malformed"),  # no active
        ({"active": "k1"}, "malformed"),  # no keys
        ({"active": "k1", "keys": ["k1"]}, "malformed"),
        ({"active": "k1", "keys": {"k1": "not base64!"}}, "malformed"),
        ({"active": "k1", "keys": {"k1": 12345}}, "malformed"),
        ({"active": "k1", "keys": {"k1": b64(os.urandom(16))}}, "16 bytes"),
        ({"active": "k1", "keys": {"k1": b64(KEY), "k0": b64(os.urandom(24))}}, "24 bytes"),
        ({"active": "k2", "keys": {"k1": b64(KEY)}}, "'k2' is not among its keys"),
        ({"active": "", "keys": {"": b64(KEY)}}, "bad key id"),
    ],
)
def test_load_refuses_malformed_rings(tmp_path: Path, body: object, match: str) -> None:
    path = write_ring(tmp_path / "keyring.json", body)
    with pytest.raises(KeyRingError, match=match) as excinfo:
        KeyRing.load(path)
    # The message names the file and never the key material.
    assert "keyring.json" in str(excinfo.value)
    assert b64(KEY) not in str(excinfo.value)


def test_load_refuses_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    path.write_bytes(b"\xff\xfe{}")
    path.chmod(0o600)
    with pytest.raises(KeyRingError, match="malformed"):
        KeyRing.load(path)


def test_key_ring_errors_are_cloudos_errors() -> None:
    assert issubclass(KeyRingError, CloudOSError) and issubclass(DecryptError, CloudOSError)


def test_repr_does_not_show_the_key_material() -> None:
    # module.Runtime embeds the KeyRing: a repr of either in a log, a
    # traceback-with-locals or a debugger dump must not show key material.
    key = b"\x01" * 32
    ring = KeyRing(active="k1", keys={"k1": key})
    text = repr(ring)
    assert repr(key) not in text and key.hex() not in text and b64(key) not in text


# -------------------------------------------------------------------- encrypt / decrypt


@given(st.text(max_size=200), st.sampled_from(["subscriber.password", "nas.secret", "subscriber.cnic"]))
def test_round_trip(plaintext: str, purpose: str) -> None:
    blob = RING.encrypt(plaintext, purpose)
    assert RING.decrypt(blob, purpose) == plaintext
    assert KeyRing.key_id_of(blob) == "k1"
    if len(plaintext.encode()) >= 8:
        assert plaintext.encode() not in blob


def test_ciphertext_names_its_key_and_hides_the_plaintext() -> None:
    ring = KeyRing(active="2026-q1", keys={"2026-q1": os.urandom(32)})
    blob = ring.encrypt("s3cret-Passw0rd", PURPOSE)
    assert blob.startswith(b"c1" + bytes([7]) + b"2026-q1")
    assert KeyRing.key_id_of(blob) == "2026-q1"
    assert b"s3cret-Passw0rd" not in blob
    assert len(blob) == 2 + 1 + 7 + 12 + len("s3cret-Passw0rd") + 16


def test_encryption_is_randomised() -> None:
    assert RING.encrypt("same", PURPOSE) != RING.encrypt("same", PURPOSE)


def test_decrypt_accepts_memoryview_and_bytearray() -> None:
    # psycopg returns bytea as memoryview/bytes depending on the loader.
    blob = RING.encrypt("pw", PURPOSE)
    assert RING.decrypt(memoryview(blob), PURPOSE) == "pw"
    assert RING.decrypt(bytearray(blob), PURPOSE) == "pw"


def test_a_different_purpose_fails() -> None:
    blob = RING.encrypt("pw", "subscriber.password")
    with pytest.raises(DecryptError, match="k1"):
        RING.decrypt(blob, "nas.secret")


def test_every_tampered_byte_fails() -> None:
    blob = RING.encrypt("s3cret-Passw0rd", PURPOSE)
    for i in range(len(blob)):
        tampered = bytearray(blob)
        tampered[i] ^= 0x01
        with pytest.raises(DecryptError):
            RING.decrypt(bytes(tampered), PURPOSE)


@pytest.mark.parametrize("cut", [0, 1, 2, 3, 5, 10, 20, 30])
def test_truncated_ciphertext_fails(cut: int) -> None:
    blob = RING.encrypt("s3cret-Passw0rd", PURPOSE)
    with pytest.raises(DecryptError):
        RING.decrypt(blob[:cut], PURPOSE)


def test_a_key_from_another_ring_fails_even_with_the_same_id() -> None:
    other = KeyRing(active="k1", keys={"k1": os.urandom(32)})
    with pytest.raises(DecryptError, match="failed authentication"):
        other.decrypt(RING.encrypt("pw", PURPOSE), PURPOSE)


def test_an_unknown_key_id_fails() -> None:
    blob = KeyRing(active="k9", keys={"k9": os.urandom(32)}).encrypt("pw", PURPOSE)
    with pytest.raises(DecryptError, match="unknown key 'k9'"):
        RING.decrypt(blob, PURPOSE)


@pytest.mark.parametrize("blob", [b"", b"c1", b"xx\x02k1" + b"\x00" * 40, b"plain text password"])
def test_not_a_ciphertext(blob: bytes) -> None:
    with pytest.raises(DecryptError):
        RING.decrypt(blob, PURPOSE)


@given(st.binary(max_size=80))
def test_decrypt_of_arbitrary_bytes_raises_only_decrypt_error(blob: bytes) -> None:
    with pytest.raises(DecryptError):
        RING.decrypt(blob, PURPOSE)


def test_rotation(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    old = KeyRing.create(path, key_id="k1")
    sealed_under_k1 = old.encrypt("old-password", PURPOSE)

    # Rotate: add k2 and make it active, keeping k1 to read existing rows.
    k2 = os.urandom(32)
    path.chmod(0o600)
    body = json.loads(path.read_text())
    body["keys"]["k2"] = b64(k2)
    body["active"] = "k2"
    write_ring(path, body)
    ring = KeyRing.load(path)

    assert ring.active == "k2"
    assert ring.decrypt(sealed_under_k1, PURPOSE) == "old-password"
    fresh = ring.encrypt("new-password", PURPOSE)
    assert KeyRing.key_id_of(fresh) == "k2"
    assert ring.decrypt(fresh, PURPOSE) == "new-password"
    # The retired ring cannot read what the new key sealed.
    with pytest.raises(DecryptError, match="unknown key 'k2'"):
        old.decrypt(fresh, PURPOSE)


# -------------------------------------------------------------------- seal / open: bound to the row


@given(st.text(max_size=100), st.integers(min_value=1, max_value=2**31), st.text(min_size=1, max_size=64))
def test_a_sealed_password_opens_only_for_its_tenant_and_username(password: str, tenant_id: int,
                                                                   username: str) -> None:
    blob = RING.seal_password(password, tenant_id, username)
    assert blob[:2] == b"c2" and KeyRing.is_bound(blob) and KeyRing.key_id_of(blob) == "k1"
    assert RING.open_password(blob, tenant_id, username) == password
    for other in ((tenant_id + 1, username), (tenant_id, username + "x"), (tenant_id, username.upper() + "\0")):
        if other != (tenant_id, username):
            with pytest.raises(DecryptError, match="another key, purpose or row"):
                RING.open_password(blob, *other)


def test_context_parts_are_length_prefixed() -> None:
    blob = RING.seal("pw", "p", "a", "bc")
    assert RING.open(blob, "p", "a", "bc") == "pw"
    for parts in (("ab", "c"), ("abc",), ("a", "b", "c"), ("a", "bc", "")):
        with pytest.raises(DecryptError):
            RING.open(blob, "p", *parts)
    with pytest.raises(DecryptError):
        RING.open(blob, "pa", "bc")


def test_the_unbound_format_is_refused_where_a_bound_one_is_expected_and_still_opens_as_before() -> None:
    old = RING.encrypt("pw", "subscriber.password")
    assert not KeyRing.is_bound(old)
    with pytest.raises(DecryptError, match="unbound c1 format"):
        RING.open_password(old, 1, "ali")
    assert RING.decrypt(old, "subscriber.password") == "pw"  # encrypt/decrypt keep working
    with pytest.raises(DecryptError, match="not a CloudOS ciphertext"):
        RING.decrypt(RING.seal_password("pw", 1, "ali"), "subscriber.password")
    with pytest.raises(DecryptError, match="not a CloudOS ciphertext"):
        RING.open(b"xx\x01k", PURPOSE)


def test_bound_ciphertexts_rotate_like_the_others() -> None:
    old = KeyRing(active="k1", keys={"k1": os.urandom(32)})
    sealed = old.seal_password("pw", 3, "ali")
    ring = KeyRing(active="k2", keys={"k2": os.urandom(32), **old.keys})
    assert ring.open_password(sealed, 3, "ali") == "pw"
    assert KeyRing.key_id_of(ring.seal_password("pw", 3, "ali")) == "k2"
    with pytest.raises(DecryptError, match="unknown key 'k1'"):
        KeyRing(active="k2", keys={"k2": ring.keys["k2"]}).open_password(sealed, 3, "ali")


def test_mac_keys_are_derived_per_purpose_and_per_ring_key() -> None:
    ring = KeyRing(active="k2", keys={"k1": b"\x01" * 32, "k2": b"\x02" * 32})
    kid, key = ring.mac_key("redis.snapshot") or ("", b"")
    assert kid == "k2" and len(key) == 32 and key not in ring.keys.values()
    assert ring.mac_key("redis.snapshot") == ("k2", key)  # deterministic
    assert ring.mac_key("redis.snapshot", "k1") != (kid, key)
    assert ring.mac_key("audit.chain") != (kid, key)
    assert ring.mac_key("redis.snapshot", "k9") is None
    # The same key material gives the same MAC key in another process: it is derived, not random.
    assert KeyRing(active="k2", keys=dict(ring.keys)).mac_key("redis.snapshot") == (kid, key)


# --------------------------------------------------------------------------- a subscriber's data key (d1)
def test_a_field_under_a_data_key_opens_only_with_that_key_for_that_subscriber() -> None:
    key, other = crypto.new_data_key(), crypto.new_data_key()
    blob = crypto.seal_with_data_key(key, "4210112345678", crypto.CNIC, 7, 42)
    assert crypto.data_key_owner(blob) == (7, 42)
    assert crypto.open_with_data_key(key, blob, crypto.CNIC) == "4210112345678"
    with pytest.raises(DecryptError):
        crypto.open_with_data_key(other, blob, crypto.CNIC)  # another subscriber's key: shredded is shredded
    with pytest.raises(DecryptError):
        crypto.open_with_data_key(key, blob, "subscriber.password")
    moved = blob[:2] + (8).to_bytes(8, "big") + blob[10:]  # the same ciphertext claimed for another tenant
    with pytest.raises(DecryptError):
        crypto.open_with_data_key(key, moved, crypto.CNIC)
    assert crypto.data_key_owner(b"c1\x02k1" + bytes(40)) is None
    with pytest.raises(DecryptError, match="not a ciphertext under a subscriber's data key"):
        crypto.open_with_data_key(key, b"c2" + bytes(40), crypto.CNIC)


def test_a_data_key_is_sealed_to_its_subscriber_under_the_key_ring(tmp_path: Path) -> None:
    ring = KeyRing.create(tmp_path / "ring.json")
    key = crypto.new_data_key()
    assert len(key) == 32
    sealed = ring.wrap_data_key(key, 7, 42)
    assert key not in sealed and ring.unwrap_data_key(sealed, 7, 42) == key
    with pytest.raises(DecryptError):
        ring.unwrap_data_key(sealed, 7, 43)
