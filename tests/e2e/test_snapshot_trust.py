"""Redis is not a back door (issue 11, item 13): while PostgreSQL is down, radiusd serves a
login from a Redis snapshot only if this radiusd's key ring signed it and only under the
tenant as this radiusd read it from PostgreSQL; a password ciphertext opens only on the
row it was sealed for; and `cloudos db reencrypt` upgrades the rows sealed before that."""

from __future__ import annotations

import json
import os
import time
from typing import Any, cast

import psycopg
import pytest
import redis
from pyrad.client import Timeout

from rlm_cloudos.crypto import KeyRing
from tests.conftest import Cli, Radiusd
from tests.fixtures.nas import Nas

TENANT = "snaptrust"
REJECTING = "snaptrust-rej"
NAS1, NAS2, NAS3 = "127.0.0.71", "127.0.0.72", "127.0.0.73"
SECRET = "snapshot-trust-nas-secret"
UNAVAILABLE = "service temporarily unavailable"


def add(cli: Cli, tenant: str, user: str, password: str) -> None:
    r = cli("subscriber", "add", user, "--tenant", tenant, "--plan", "p", "--password-stdin", stdin=password + "\n")
    assert r.code == 0, r.err


@pytest.fixture(scope="module")
def world(radiusd: Radiusd, cli: Cli) -> dict[str, Nas]:
    """A "cached" tenant with two NASes, a "reject" tenant with one."""
    assert cli("tenant", "add", TENANT).code == 0
    assert cli("tenant", "set", TENANT, "--backend-down", "cached", "--backend-down-cache-seconds", "600").code == 0
    assert cli("tenant", "add", REJECTING).code == 0
    for tenant, name, address in ((TENANT, "n1", NAS1), (TENANT, "n2", NAS2), (REJECTING, "n3", NAS3)):
        assert cli("nas", "add", name, "--tenant", tenant, "--address", address, "--secret-stdin",
                   stdin=SECRET + "\n").code == 0
    for tenant in (TENANT, REJECTING):
        assert cli("plan", "add", "p", "--tenant", tenant, "--rate-limit", "5M/10M").code == 0
    return {a: radiusd.nas(secret=SECRET, source=a, timeout=4, retries=1) for a in (NAS1, NAS2, NAS3)}


def tenant_id(radiusd: Radiusd, name: str) -> int:
    with psycopg.connect(radiusd.stack.database_url) as conn:
        row = conn.execute("SELECT id FROM tenant WHERE name = %s", (name,)).fetchone()
    assert row is not None
    return int(row[0])


def unpack(raw: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    """(record, body) of a snapshot as either format stores it: the signed one keeps its body as
    JSON text under "body", old main's is the body itself."""
    record: dict[str, Any] = json.loads(raw)
    return record, (json.loads(record["body"]) if "body" in record else record)


def repack(record: dict[str, Any], body: dict[str, Any]) -> str:
    """``body`` back in ``record``'s format, with whatever MAC ``record`` had (a forger has no key)."""
    return json.dumps({**record, "body": json.dumps(body)} if "body" in record else body)


def as_other(r: redis.Redis, body: dict[str, Any], tenant: int, user: str, rate: str) -> dict[str, Any]:
    """mallory's snapshot body rewritten for ``user`` of ``tenant``, at ``rate``, fresh, of the tenant's
    current version, with a tenant policy that serves snapshots for a day; mallory's password
    ciphertext stays."""
    forged: dict[str, Any] = json.loads(json.dumps(body))
    version = cast(bytes | None, r.get(f"cloudos:ver:{tenant}"))
    forged.update({"at": time.time(), "ver": int(version or 0), "tenant": tenant, "user": user})
    ctx = forged["ctx"]
    ctx["tenant"].update({"id": tenant, "backend_down_policy": "cached", "backend_down_cache_seconds": 86_400})
    ctx["subscriber"]["username"] = user
    ctx["subscriber"]["plan"]["rate_limit"] = rate
    return forged


def test_forged_snapshots_let_no_login_in_while_a_genuine_one_serves(
        radiusd: Radiusd, world: dict[str, Nas], cli: Cli) -> None:
    tid, rid = tenant_id(radiusd, TENANT), tenant_id(radiusd, REJECTING)
    add(cli, TENANT, "mallory", "mallory-pw")  # the forger: a subscriber who knows one password
    for user in ("seen", "tampered", "boss-unsigned", "boss-bad-mac", "boss-copied"):
        add(cli, TENANT, user, f"{user}-secret-pw")
    add(cli, REJECTING, "rboss", "rboss-secret-pw")
    add(cli, REJECTING, "rknown", "rknown-pw")
    # Logins while PostgreSQL is up: snapshots of mallory, seen and tampered are written (by NAS1),
    # and this radiusd learns the tenant of every NAS.
    for user, password in (("mallory", "mallory-pw"), ("seen", "seen-secret-pw"), ("tampered", "tampered-secret-pw")):
        assert world[NAS1].pap(user, password).accepted
    add(cli, TENANT, "opener", "opener-pw")
    assert world[NAS2].pap("opener", "opener-pw").accepted
    assert world[NAS3].pap("rknown", "rknown-pw").accepted
    # Touching their rows drops seen and tampered from this radiusd's cache (through the feed) but not
    # from Redis: during the outage they are served from their snapshots, as by another radiusd.
    with psycopg.connect(radiusd.stack.database_url) as conn:
        conn.execute("UPDATE subscriber SET full_name = 'touched' WHERE tenant_id = %s"
                     " AND username IN ('seen', 'tampered')", (tid,))
    time.sleep(1)

    r = redis.Redis.from_url(radiusd.stack.redis_url)
    try:
        raw = r.get(f"cloudos:snap:{tid}:mallory")
        assert isinstance(raw, bytes), "no snapshot of mallory was written"
        record, body = unpack(raw)
        # 1. Unsigned, in the old format: mallory's password for boss, at 100M.
        r.set(f"cloudos:snap:{tid}:boss-unsigned",
              json.dumps({k: v for k, v in as_other(r, body, tid, "boss-unsigned", "100M/100M").items()
                          if k in ("at", "ver", "ctx")}), ex=600)
        # 2. In the signed format with a MAC the forger made up.
        r.set(f"cloudos:snap:{tid}:boss-bad-mac",
              json.dumps({"v": 2, "kid": record.get("kid", "k1"), "mac": os.urandom(32).hex(),
                          "body": json.dumps(as_other(r, body, tid, "boss-bad-mac", "100M/100M"))}), ex=600)
        # 3. mallory's genuine snapshot, copied as it is under boss's key.
        r.set(f"cloudos:snap:{tid}:boss-copied", raw, ex=600)
        # 4. A genuine snapshot with its plan's rate changed, its MAC kept.
        traw = r.get(f"cloudos:snap:{tid}:tampered")
        assert isinstance(traw, bytes)
        trecord, tbody = unpack(traw)
        tbody["ctx"]["subscriber"]["plan"]["rate_limit"] = "100M/100M"
        r.set(f"cloudos:snap:{tid}:tampered", repack(trecord, tbody), ex=600)
        # 5. A tenant whose policy is "reject" claimed "cached" by the snapshot itself.
        r.set(f"cloudos:snap:{rid}:rboss", repack(record, as_other(r, body, rid, "rboss", "100M/100M")), ex=600)
        if "body" not in record:  # old main: its own format, unsigned
            r.set(f"cloudos:snap:{rid}:rboss", json.dumps(as_other(r, body, rid, "rboss", "100M/100M")), ex=600)
    finally:
        r.close()

    stack = radiusd.stack
    radiusd.log.mark()
    stack.stop_postgres()
    try:
        time.sleep(stack.client_lifetime + 1)  # each NAS is looked up again: served as last known
        # The genuine snapshot serves: seen logs in through NAS2, whose cache never held seen.
        started = time.monotonic()
        reply = world[NAS2].pap("seen", "seen-secret-pw")
        assert time.monotonic() - started < 3
        assert reply.accepted and reply.one("Mikrotik-Rate-Limit") == "5M/10M"
        assert world[NAS2].pap("seen", "mallory-pw").one("Reply-Message") == "wrong password"
        outcomes: dict[str, str] = {}
        for nas, user, password in ((NAS1, "boss-unsigned", "mallory-pw"), (NAS1, "boss-bad-mac", "mallory-pw"),
                                    (NAS1, "boss-copied", "mallory-pw"), (NAS2, "tampered", "tampered-secret-pw"),
                                    (NAS3, "rboss", "mallory-pw")):
            got = world[nas].pap(user, password)
            outcomes[user] = (f"accepted at {got.one('Mikrotik-Rate-Limit')}" if got.accepted
                              else str(got.one("Reply-Message")))
        assert outcomes == {u: UNAVAILABLE for u in ("boss-unsigned", "boss-bad-mac", "boss-copied", "tampered",
                                                     "rboss")}
        log = radiusd.log.since()
        assert "hook=authorize user=seen event=served_from_snapshot source=snapshot" in log
        assert "event=snapshot_refused reason=unsigned_snapshot" in log
        assert "event=snapshot_refused reason=snapshot_bad_mac" in log
        for user in ("boss-unsigned", "boss-bad-mac", "boss-copied", "tampered"):
            assert f"user={user} reason=backend_unavailable" in log
        assert "100M" not in log
        # Once a minute per reason, not once per forged login.
        for _ in range(20):
            assert world[NAS1].pap("boss-unsigned", "mallory-pw").rejected
        assert radiusd.log.since().count("event=snapshot_refused") <= 3
        assert radiusd.alive()
    finally:
        stack.start_postgres()
        deadline = time.monotonic() + 20
        while True:
            try:
                if world[NAS1].pap("boss-copied", "boss-copied-secret-pw").accepted:  # read from PostgreSQL
                    break
            except Timeout:
                pass
            assert time.monotonic() < deadline, "radiusd did not recover after PostgreSQL came back"
            time.sleep(0.5)


def test_a_password_ciphertext_copied_to_another_subscriber_does_not_log_in(
        radiusd: Radiusd, world: dict[str, Nas], cli: Cli, unique: str) -> None:
    a, b, c = f"{unique}a", f"{unique}b", f"{unique}c"
    add(cli, TENANT, a, "a-password")
    add(cli, TENANT, b, "b-password")
    add(cli, REJECTING, c, "c-password")
    nas = world[NAS1]
    assert nas.pap(b, "b-password").accepted
    with psycopg.connect(radiusd.stack.database_url) as conn:  # what a writer to the database could do
        conn.execute("UPDATE subscriber SET password_enc = (SELECT password_enc FROM subscriber WHERE username = %s)"
                     " WHERE username = ANY(%s)", (a, [b, c]))
    radiusd.log.mark()
    deadline = time.monotonic() + 5
    while nas.pap(b, "b-password").accepted:  # until the feed has told the cache
        assert time.monotonic() < deadline, "the copied ciphertext never reached radiusd"
        time.sleep(0.2)
    assert nas.pap(b, "a-password").rejected
    assert world[NAS3].pap(c, "a-password").rejected
    assert nas.pap(a, "a-password").accepted  # a's own row still opens
    log = radiusd.log.since()
    assert f"user={b} reason=undecryptable_password" in log and f"user={c} reason=undecryptable_password" in log
    assert "a-password" not in log


def test_reencrypt_upgrades_old_rows_and_their_logins_keep_working(
        radiusd: Radiusd, world: dict[str, Nas], cli: Cli, unique: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows sealed the way main sealed them (KeyRing.encrypt, purpose only) are upgraded by
    `cloudos db reencrypt`, once: the second run finds nothing; `cloudos db migrate` does the same."""
    ring = KeyRing.load(radiusd.stack.keyring)
    tid = tenant_id(radiusd, TENANT)
    users = [f"{unique}-{i}" for i in range(3)]
    with psycopg.connect(radiusd.stack.database_url) as conn:
        plan = conn.execute("SELECT id FROM plan WHERE tenant_id = %s AND name = 'p'", (tid,)).fetchone()
        assert plan is not None
        for user in users:
            conn.execute("INSERT INTO subscriber (tenant_id, username, plan_id, password_enc) VALUES (%s, %s, %s, %s)",
                         (tid, user, plan[0], ring.encrypt(f"{user}-pw", "subscriber.password")))
    radiusd.log.mark()
    assert world[NAS1].pap(users[0], f"{users[0]}-pw").rejected  # radiusd opens no unbound ciphertext
    assert "reason=undecryptable_password detail=\"ciphertext in the unbound c1 format" in radiusd.log.since()
    r = cli("db", "reencrypt")
    assert r.code == 0, r.err
    assert r.out.startswith(f"{len(users)} subscriber password(s) re-encrypted"), r.out
    blobs = fetch_blobs(radiusd, users)
    assert all(b[:2] == b"c2" for b in blobs)
    assert [ring.open_password(b, tid, u) for b, u in zip(blobs, users)] == [f"{u}-pw" for u in users]
    deadline = time.monotonic() + 5
    while not world[NAS1].pap(users[0], f"{users[0]}-pw").accepted:
        assert time.monotonic() < deadline, "the re-encrypted password never logged in"
        time.sleep(0.2)
    for user in users[1:]:
        assert world[NAS1].pap(user, f"{user}-pw").accepted
    r = cli("db", "reencrypt")
    assert r.code == 0 and r.out.startswith("0 subscriber password(s) re-encrypted"), r.out
    assert fetch_blobs(radiusd, users) == blobs  # idempotent: nothing rewritten
    late = f"{unique}-late"
    with psycopg.connect(radiusd.stack.database_url) as conn:
        conn.execute("INSERT INTO subscriber (tenant_id, username, plan_id, password_enc)"
                     " SELECT tenant_id, %s, plan_id, %s FROM subscriber WHERE username = %s",
                     (late, ring.encrypt("late-pw", "subscriber.password"), users[0]))
    monkeypatch.setenv("CLOUDOS_DATABASE_URL", radiusd.stack.database_url)  # migrations run as the owner
    r = cli("db", "migrate")
    assert r.code == 0 and "1 subscriber password(s) re-encrypted" in r.out, (r.out, r.err)
    assert world[NAS1].pap(late, "late-pw").accepted


def fetch_blobs(radiusd: Radiusd, users: list[str]) -> list[bytes]:
    with psycopg.connect(radiusd.stack.database_url) as conn:
        rows = conn.execute("SELECT username, password_enc FROM subscriber WHERE username = ANY(%s)",
                            (users,)).fetchall()
    found = {u: bytes(b) for u, b in rows}
    return [found[u] for u in users]
