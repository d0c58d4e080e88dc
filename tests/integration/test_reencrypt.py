"""`cloudos db reencrypt` and `db migrate` on rows sealed before passwords were bound to their row."""

from __future__ import annotations

import json
import os

import psycopg
import pytest

from rlm_cloudos.crypto import KeyRing
from tests.conftest import run_cli as cli
from tests.fixtures.pg import fetch_one


def seed(fresh_db: str, ring: KeyRing, rows: dict[str, bytes]) -> int:
    """A tenant with subscribers whose password ciphertexts are ``rows``; its id."""
    assert cli("tenant", "add", "old-isp").code == 0
    with psycopg.connect(fresh_db) as conn:
        (tid,) = fetch_one(conn.execute("SELECT id FROM tenant WHERE name = 'old-isp'"))
        for user, blob in rows.items():
            conn.execute("INSERT INTO subscriber (tenant_id, username, password_enc) VALUES (%s, %s, %s)",
                         (tid, user, blob))
    return int(tid)


def blobs(fresh_db: str) -> dict[str, bytes]:
    with psycopg.connect(fresh_db) as conn:
        return {u: bytes(b) for u, b in conn.execute("SELECT username, password_enc FROM subscriber")}


def test_reencrypt_seals_each_old_password_to_its_row_once(fresh_db: str) -> None:
    ring = KeyRing.load(os.environ["CLOUDOS_KEYRING"])
    tid = seed(fresh_db, ring, {f"u{i}": ring.encrypt(f"pw-{i}", "subscriber.password") for i in range(1203)})
    r = cli("db", "reencrypt", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out) == {"upgraded": 1203, "undecryptable": [], "remaining": 0, "cnics_moved": 0,
                                  "cnics_undecryptable": []}
    after = blobs(fresh_db)
    assert all(ring.open_password(b, tid, u) == f"pw-{u[1:]}" for u, b in after.items())
    r = cli("db", "reencrypt", "--json")
    assert r.code == 0 and json.loads(r.out)["upgraded"] == 0 and blobs(fresh_db) == after
    with psycopg.connect(fresh_db) as conn:
        audits = conn.execute("SELECT after FROM admin_audit WHERE action = 'db.reencrypt' ORDER BY id").fetchall()
    assert [a[0]["count"] for a in audits] == [500, 500, 203]  # one audited transaction per batch


def test_a_password_that_will_not_open_is_named_and_the_rest_are_upgraded(fresh_db: str) -> None:
    ring = KeyRing.load(os.environ["CLOUDOS_KEYRING"])
    other = KeyRing(active="k1", keys={"k1": os.urandom(32)})  # the same key id, other material
    seed(fresh_db, ring, {"good": ring.encrypt("pw", "subscriber.password"),
                          "lost": other.encrypt("pw", "subscriber.password")})
    r = cli("db", "reencrypt")
    assert r.code == 1
    assert r.out.startswith("1 subscriber password(s) re-encrypted")
    assert r.err.count("\n") == 1 and "1 password(s) would not open with this key ring" in r.err
    assert "subscriber set-password" in r.err and "Traceback" not in r.err
    assert blobs(fresh_db)["good"][:2] == b"c2" and blobs(fresh_db)["lost"][:2] == b"c1"
    r = cli("db", "migrate")  # the schema step is done; the refusal is said again
    assert r.code == 1 and "would not open" in r.err


def test_migrate_and_reencrypt_without_the_key_ring_refuse_in_one_line(fresh_db: str,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    ring = KeyRing.load(os.environ["CLOUDOS_KEYRING"])
    seed(fresh_db, ring, {"old": ring.encrypt("pw", "subscriber.password")})
    monkeypatch.delenv("CLOUDOS_KEYRING")
    r = cli("db", "migrate")  # refused before it migrates anything, not half-way
    assert r.code == 1 and r.err.count("\n") == 1 and "CLOUDOS_KEYRING is not set" in r.err
    r = cli("db", "reencrypt")
    assert r.code == 1 and "CLOUDOS_KEYRING is not set" in r.err
    assert blobs(fresh_db)["old"][:2] == b"c1"  # nothing half-done
