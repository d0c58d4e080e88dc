"""The audit trail holds against the database's owner: a keyed chain, anchors, the login, no personal data.

Every forgery here is done the way the owner of the database could do it: as the
superuser, with the append-only trigger disabled, recomputing hashes with plain
SHA-256 (the 0001 rule, which needs no key).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psycopg
import pytest
from alembic import command

from cloudos.commands import db
from cloudos_stack import Stack
from tests.conftest import CliResult, run_cli as cli

PERSONAL = {"name": "Ayesha Siddiqui", "phone": "+923001234567", "email": "ayesha.s@example.pk",
            "address": "House 12, Street 4, G-9/2 Islamabad", "cnic": "35202-9876543-1"}


def one_line(r: CliResult) -> bool:
    return len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err


def sha256_link(prev: str, row: dict[str, Any]) -> str:
    """What anyone can compute without a key: the 0001 rule."""
    at = row["at"].astimezone(timezone.utc).isoformat(timespec="microseconds")
    payload = json.dumps({"at": at, "actor": row["actor"], "tenant_id": row["tenant_id"], "action": row["action"],
                          "target": row["target"], "before": row["before"], "after": row["after"]},
                         sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev + "\n" + payload).encode()).hexdigest()


@contextmanager
def owner(url: str) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    """The database's owner with the audit table's guards off, as a forger would have them."""
    with psycopg.connect(url, autocommit=True, row_factory=psycopg.rows.dict_row) as conn:
        conn.execute("ALTER TABLE admin_audit DISABLE TRIGGER USER")
        try:
            yield conn
        finally:
            conn.execute("ALTER TABLE admin_audit ENABLE TRIGGER USER")


def rows(url: str) -> list[dict[str, Any]]:
    with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute("SELECT * FROM admin_audit ORDER BY id").fetchall()


def columns(conn: psycopg.Connection[Any]) -> set[str]:
    return {r["column_name"] for r in conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'admin_audit'")}


@pytest.fixture
def trail(fresh_db: str) -> str:
    """A database whose trail has six rows: db.migrate, tenant.add and four plan.add."""
    assert cli("tenant", "add", "isp1").code == 0
    for name in ("p1", "p2", "p3", "p4"):
        assert cli("plan", "add", name, "--rate-limit", "1M/1M").code == 0
    assert len(rows(fresh_db)) == 6
    return fresh_db


# --------------------------------------------------------------------------- a keyed chain
def test_a_row_rewritten_and_rechained_with_sha256_fails_verify(trail: str) -> None:
    before = rows(trail)
    victim = before[3]["id"]
    with owner(trail) as conn:
        prev = before[2]["hash"]
        for row in before[3:]:
            if row["id"] == victim:
                row["actor"] = "mallory"
                row["after"] = {**row["after"], "rate_limit": "100M/100M"}
            h = sha256_link(prev, row)
            conn.execute("UPDATE admin_audit SET actor = %s, after = %s, prev_hash = %s, hash = %s WHERE id = %s",
                         (row["actor"], psycopg.types.json.Jsonb(row["after"]), prev, h, row["id"]))
            prev = h
    r = cli("audit", "verify")
    assert r.code == 3 and one_line(r), (r.code, r.err)
    assert f"row {victim}" in r.err and "altered or forged" in r.err


@pytest.mark.parametrize("claims", [
    {"version": 1},
    {"version": 2, "key_id": "k1", "db_user": "cloudos", "changed": []},
    {"version": 2, "key_id": None, "db_user": "cloudos", "changed": None},
], ids=["unkeyed", "keyed", "keyed-without-key-id"])
def test_a_row_appended_with_a_sha256_link_fails_verify(trail: str, claims: dict[str, Any]) -> None:
    last = rows(trail)[-1]
    forged = {"at": datetime.now(timezone.utc), "actor": "noc-karachi", "tenant_id": last["tenant_id"],
              "action": "plan.remove", "target": "plan:isp1/p9", "before": None, "after": None}
    with owner(trail) as conn:
        extra: dict[str, Any] = {}
        if "version" in columns(conn):  # the owner also drops the constraint that would refuse the row
            conn.execute("ALTER TABLE admin_audit DROP CONSTRAINT admin_audit_version")
            extra = claims
        values = {**forged, **extra, "prev_hash": last["hash"], "hash": sha256_link(last["hash"], forged)}
        names = ", ".join(values)
        conn.execute(f"INSERT INTO admin_audit ({names}) VALUES (" + ", ".join(["%s"] * len(values)) + ")",
                     [psycopg.types.json.Jsonb(v) if k in ("before", "after") and v is not None else v
                      for k, v in values.items()])
    r = cli("audit", "verify")
    assert r.code == 3 and one_line(r), (r.code, r.err)
    assert f"row {last['id'] + 1}" in r.err and "forged" in r.err


def test_every_row_names_the_login_that_wrote_it(trail: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDOS_ACTOR", "noc-karachi")
    assert cli("plan", "add", "p5", "--rate-limit", "1M/1M").code == 0
    with psycopg.connect(trail) as conn:
        login = conn.execute("SELECT session_user").fetchone()
        assert login is not None
        row = conn.execute("SELECT actor, db_user FROM admin_audit ORDER BY id DESC LIMIT 1").fetchone()
    # The declared actor and, beside it, who the database says wrote the row.
    assert row == ("noc-karachi", login[0])
    listed = json.loads(cli("audit", "list", "--limit", "1", "--json").out)
    assert listed[0]["db_user"] == login[0] and listed[0]["actor"] == "noc-karachi"


def test_changing_the_recorded_login_fails_verify(trail: str) -> None:
    victim = rows(trail)[2]["id"]
    with owner(trail) as conn:
        conn.execute("UPDATE admin_audit SET db_user = 'cloudos_admin' WHERE id = %s", (victim,))
    r = cli("audit", "verify")
    assert r.code == 3 and f"row {victim}" in r.err


# --------------------------------------------------------------------------- anchors
def test_deleting_the_newest_rows_after_an_anchor_fails_verify_anchor(trail: str, tmp_path: Path) -> None:
    anchor = tmp_path / "head.json"
    r = cli("audit", "anchor", "--out", str(anchor), "--json")
    assert r.code == 0, r.err
    head = json.loads(r.out)
    assert (head["scope"], head["count"], head["last_id"]) == ("all", 6, rows(trail)[-1]["id"])
    assert cli("audit", "verify", "--anchor", str(anchor)).code == 0
    # The trail goes on growing after an anchor; the anchor still holds.
    assert cli("plan", "add", "p5", "--rate-limit", "1M/1M").code == 0
    assert cli("audit", "verify", "--anchor", str(anchor)).code == 0

    with owner(trail) as conn:
        conn.execute("DELETE FROM admin_audit WHERE id >= %s", (rows(trail)[-3]["id"],))  # the newest 3 rows
    # The chain alone cannot tell: what is left is a whole chain.
    assert cli("audit", "verify").code == 0
    r = cli("audit", "verify", "--anchor", str(anchor))
    assert r.code == 3 and one_line(r), (r.code, r.err)
    assert "newest rows were removed" in r.err and f"row {head['last_id']}" in r.err


def test_a_tail_removed_and_then_grown_again_fails_verify_anchor(trail: str, tmp_path: Path) -> None:
    anchor = tmp_path / "head.json"
    assert cli("audit", "anchor", "--out", str(anchor)).code == 0
    with owner(trail) as conn:
        conn.execute("DELETE FROM admin_audit WHERE id >= %s", (rows(trail)[-2]["id"],))
    # New rows link onto what is left, so the chain is whole and the row ids pass the anchor's.
    for name in ("p7", "p8", "p9"):
        assert cli("plan", "add", name, "--rate-limit", "1M/1M").code == 0
    assert cli("audit", "verify").code == 0
    r = cli("audit", "verify", "--anchor", str(anchor))
    assert r.code == 3 and "counted 6 rows" in r.err and "holds 4" in r.err, r.err


def test_a_tenant_anchor_counts_only_that_tenants_rows(trail: str, tmp_path: Path) -> None:
    assert cli("tenant", "add", "isp2").code == 0
    assert cli("plan", "add", "q1", "--tenant", "isp2", "--rate-limit", "1M/1M").code == 0
    anchor = tmp_path / "isp1.json"
    r = cli("audit", "anchor", "--tenant", "isp1", "--out", str(anchor), "--json")
    assert r.code == 0 and json.loads(r.out)["count"] == 5  # tenant.add and four plan.add
    assert cli("audit", "verify", "--anchor", str(anchor)).code == 0
    isp1_last = [x for x in rows(trail) if x["action"] == "plan.add" and x["target"] == "plan:isp1/p4"][0]["id"]
    with owner(trail) as conn:
        conn.execute("DELETE FROM admin_audit WHERE id >= %s", (isp1_last,))
    assert cli("audit", "verify", "--anchor", str(anchor)).code == 3


def test_a_forged_anchor_fails(trail: str, tmp_path: Path) -> None:
    anchor = tmp_path / "head.json"
    assert cli("audit", "anchor", "--out", str(anchor)).code == 0
    signed = json.loads(anchor.read_text())
    with owner(trail) as conn:
        conn.execute("DELETE FROM admin_audit WHERE id >= %s", (rows(trail)[-2]["id"],))
    left = rows(trail)
    # The owner rewrites the anchor to describe what is left, and signs it the only way they can.
    forged = {**signed, "last_id": left[-1]["id"], "last_hash": left[-1]["hash"], "count": len(left)}
    body = {k: v for k, v in forged.items() if k != "hmac"}
    forged["hmac"] = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    fake = tmp_path / "forged.json"
    fake.write_text(json.dumps(forged))
    r = cli("audit", "verify", "--anchor", str(fake))
    assert r.code == 3 and one_line(r), (r.code, r.err)
    assert "forged" in r.err and str(fake) in r.err
    # An anchor signed under another key ring is no better.
    other = tmp_path / "other-ring.json"
    from rlm_cloudos.crypto import KeyRing
    KeyRing.create(other)
    theirs = tmp_path / "theirs.json"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CLOUDOS_KEYRING", str(other))
        assert cli("audit", "anchor", "--out", str(theirs)).code == 0
    assert cli("audit", "verify", "--anchor", str(theirs)).code == 3


def test_the_anchor_file_is_created_0600_and_never_overwritten(trail: str, tmp_path: Path) -> None:
    anchor = tmp_path / "head.json"
    old = os.umask(0)
    try:
        assert cli("audit", "anchor", "--out", str(anchor)).code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(anchor.stat().st_mode) == 0o600
    first = anchor.read_text()
    r = cli("audit", "anchor", "--out", str(anchor))
    assert r.code == 1 and one_line(r) and "already exists" in r.err
    assert anchor.read_text() == first
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "elsewhere.json")
    assert cli("audit", "anchor", "--out", str(link)).code == 1 and not (tmp_path / "elsewhere.json").exists()


@pytest.mark.parametrize(("content", "message"), [
    (None, "No such file"),
    ("not json", "not a cloudos audit anchor"),
    ('{"format": "something else"}', "not a cloudos audit anchor"),
])
def test_an_unreadable_anchor_is_one_error_line(trail: str, tmp_path: Path, content: str | None,
                                                message: str) -> None:
    path = tmp_path / "a.json"
    if content is not None:
        path.write_text(content)
    r = cli("audit", "verify", "--anchor", str(path))
    assert r.code == 1 and one_line(r) and message in r.err, r.err


def test_an_empty_trail_has_nothing_to_anchor(trail: str, tmp_path: Path) -> None:
    r = cli("audit", "anchor", "--tenant", "isp1", "--out", str(tmp_path / "a.json"))
    assert r.code == 0
    assert cli("tenant", "add", "isp2").code == 0
    with owner(trail) as conn:
        conn.execute("DELETE FROM admin_audit WHERE tenant_id = (SELECT id FROM tenant WHERE name = 'isp2')")
    r = cli("audit", "anchor", "--tenant", "isp2", "--out", str(tmp_path / "b.json"))
    assert r.code == 1 and one_line(r) and "nothing to anchor" in r.err
    assert not (tmp_path / "b.json").exists()


# --------------------------------------------------------------------------- personal data
def test_subscriber_personal_data_never_enters_the_trail_in_clear(trail: str) -> None:
    r = cli("subscriber", "add", "ayesha", "--plan", "p1", "--password-stdin", "--name", PERSONAL["name"],
            "--phone", PERSONAL["phone"], "--email", PERSONAL["email"], "--address", PERSONAL["address"],
            "--cnic-stdin", stdin="pw-ayesha-1\n" + PERSONAL["cnic"] + "\n")
    assert r.code == 0, r.err
    assert cli("subscriber", "suspend", "ayesha", "--reason", "unpaid").code == 0
    with psycopg.connect(trail) as conn:
        everything = "\n".join(str(x[0]) for x in conn.execute("SELECT t::text FROM admin_audit t"))
    for value in (*PERSONAL.values(), "3001234567", "9876543", "ayesha.s", "G-9/2"):
        assert value not in everything, value
    add = [x for x in rows(trail) if x["action"] == "subscriber.add"][0]
    assert {"full_name", "phone", "email", "postal_address", "cnic"} <= set(add["changed"])
    assert add["after"]["phone"].startswith("hmac-sha256:") and add["after"]["cnic"].startswith("hmac-sha256:")
    suspend = [x for x in rows(trail) if x["action"] == "subscriber.suspend"][0]
    assert suspend["changed"] == ["status", "status_reason"]  # unchanged personal data is not "changed"
    assert suspend["before"]["phone"] == suspend["after"]["phone"] == add["after"]["phone"]

    # Whoever holds the key ring can still tell which value was recorded; the database alone cannot.
    from cloudos.audit import AuditKeys
    from rlm_cloudos.crypto import KeyRing
    keys = AuditKeys(KeyRing.load(os.environ["CLOUDOS_KEYRING"]))
    assert add["after"]["phone"] == keys.digest(add["key_id"], "phone", PERSONAL["phone"])
    assert add["after"]["cnic"] == keys.digest(add["key_id"], "cnic", PERSONAL["cnic"])
    assert add["after"]["phone"] != keys.digest(add["key_id"], "phone", "+923001234568")

    # Erasing the subscriber's personal data from the live tables leaves the trail verifiable.
    with psycopg.connect(trail, autocommit=True) as conn:
        conn.execute("UPDATE subscriber SET full_name = NULL, phone = NULL, email = NULL, postal_address = NULL, "
                     "cnic_enc = NULL")
    assert cli("audit", "verify").code == 0


# --------------------------------------------------------------------------- rows from before 0009
def test_rows_written_before_the_keyed_chain_keep_verifying(stack: Stack, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"t_{os.getpid()}_pre0011"
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = stack.database_url.rsplit("/", 1)[0] + "/" + name
    monkeypatch.setenv("CLOUDOS_DATABASE_URL", url)
    command.upgrade(db._config(), "0007")
    prev = "0" * 64
    with psycopg.connect(url, autocommit=True) as conn:
        for i in range(3):  # what 0001's CLI wrote
            row = {"at": datetime(2026, 1, 1, 10, i, tzinfo=timezone.utc), "actor": "old-admin", "tenant_id": None,
                   "action": "plan.add", "target": f"plan:x/old{i}", "before": None, "after": {"i": i}}
            h = sha256_link(prev, row)
            conn.execute("INSERT INTO admin_audit (at, actor, tenant_id, action, target, before, after, prev_hash,"
                         " hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                         (row["at"], row["actor"], None, row["action"], row["target"], None,
                          psycopg.types.json.Jsonb(row["after"]), prev, h))
            prev = h
    assert cli("db", "migrate").code == 0  # its own row is the first keyed one
    r = cli("audit", "verify", "--json")
    assert r.code == 0 and json.loads(r.out)["rows"] == 4, r.err
    assert [x["version"] for x in rows(url)] == [1, 1, 1, 2]

    # Rewriting an old row and its whole old chain breaks the link the first keyed row signed.
    old = rows(url)
    with owner(url) as conn:
        prev = "0" * 64
        for row in old[:3]:
            row["actor"] = "mallory"
            h = sha256_link(prev, row)
            conn.execute("UPDATE admin_audit SET actor = %s, prev_hash = %s, hash = %s WHERE id = %s",
                         (row["actor"], prev, h, row["id"]))
            prev = h
        conn.execute("UPDATE admin_audit SET prev_hash = %s WHERE id = %s", (prev, old[3]["id"]))
    r = cli("audit", "verify")
    assert r.code == 3 and f"row {old[3]['id']}" in r.err, r.err
