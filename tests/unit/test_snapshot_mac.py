"""Redis snapshots are signed (store.live): what verifies, what is refused, and how loudly."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from rlm_cloudos.crypto import KeyRing
from rlm_cloudos.policy import Plan, Subscriber, SubscriberStatus, Tenant
from rlm_cloudos.store.live import SNAPSHOT_MAC, Live, snap_key, snapshot_mac, verified_snapshot
from rlm_cloudos.store.rows import AccessContext, decode_context, encode_context

RING = KeyRing(active="k1", keys={"k1": os.urandom(32)})
TENANT = Tenant(id=7, slug="isp7", backend_down_policy="cached", backend_down_cache_seconds=600)


def ctx(username: str = "ali", rate: str = "2M/8M") -> AccessContext:
    sub = Subscriber(42, username, SubscriberStatus.ACTIVE, Plan(10, "home", rate))
    return AccessContext(3, "gw", TENANT, sub, RING.seal_password("pw", TENANT.id, username))


class FakeRedis:
    """get / set / mget over a dict: what Live's snapshot calls use."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def get(self, key: str) -> bytes | None:
        return self.data.get(key)

    def set(self, key: str, value: str | bytes, ex: int | None = None) -> None:
        self.data[key] = value.encode() if isinstance(value, str) else value

    def mget(self, *keys: str) -> list[bytes | None]:
        return [self.data.get(k) for k in keys]


def live(ring: KeyRing | None = RING) -> tuple[Live, FakeRedis, list[dict[str, Any]]]:
    logged: list[dict[str, Any]] = []
    lv = Live("", lambda level, **f: logged.append({"level": level, **f}), keyring=ring)
    fake = FakeRedis()
    lv._client = fake  # type: ignore[assignment]
    return lv, fake, logged


def record(fake: FakeRedis, username: str = "ali") -> dict[str, Any]:
    rec: dict[str, Any] = json.loads(fake.data[snap_key(TENANT.id, username)])
    return rec


def test_a_saved_snapshot_is_signed_and_reads_back() -> None:
    lv, fake, logged = live()
    lv.save_snapshot(TENANT.id, "ali", ctx(), 600)
    rec = record(fake)
    assert set(rec) == {"v", "kid", "mac", "body"} and rec["v"] == 2 and rec["kid"] == "k1"
    got = lv.snapshot(TENANT.id, "ali")
    assert got is not None and got[0].subscriber == ctx().subscriber and 0 <= got[1] < 5
    assert logged == []


def forge(fake: FakeRedis, how: str) -> None:
    """Rewrite ali's snapshot as a forger would: each way must be refused."""
    key = snap_key(TENANT.id, "ali")
    rec = record(fake)
    body = json.loads(rec["body"])
    body["ctx"]["subscriber"]["plan"]["rate_limit"] = "100M/100M"
    if how == "unsigned":  # the format of old main: no MAC at all
        fake.data[key] = json.dumps({"at": body["at"], "ver": body["ver"], "ctx": body["ctx"]}).encode()
    elif how == "mac_kept":  # the genuine MAC over a changed body
        fake.data[key] = json.dumps({**rec, "body": json.dumps(body)}).encode()
    elif how == "wrong_key":
        forged = json.dumps(body).encode()
        rec["mac"] = snapshot_mac(os.urandom(32), TENANT.id, "ali", forged).hex()
        fake.data[key] = json.dumps({**rec, "body": forged.decode()}).encode()
    elif how == "raw_ring_key":  # signed with the encryption key itself, not the derived one
        forged = json.dumps(body).encode()
        rec["mac"] = snapshot_mac(RING.keys["k1"], TENANT.id, "ali", forged).hex()
        fake.data[key] = json.dumps({**rec, "body": forged.decode()}).encode()
    elif how == "unknown_kid":
        fake.data[key] = json.dumps({**rec, "kid": "k9"}).encode()
    elif how == "no_mac":
        fake.data[key] = json.dumps({k: v for k, v in rec.items() if k != "mac"}).encode()
    elif how == "truncated_mac":
        fake.data[key] = json.dumps({**rec, "mac": rec["mac"][:32]}).encode()
    elif how == "garbage":
        fake.data[key] = b"\xff not json"
    else:
        raise AssertionError(how)


@pytest.mark.parametrize("how", ["unsigned", "mac_kept", "wrong_key", "raw_ring_key", "unknown_kid", "no_mac",
                                 "truncated_mac", "garbage"])
def test_a_forged_snapshot_is_refused_and_logged(how: str) -> None:
    lv, fake, logged = live()
    lv.save_snapshot(TENANT.id, "ali", ctx(), 600)
    forge(fake, how)
    assert lv.snapshot(TENANT.id, "ali") is None
    assert len(logged) == 1 and logged[0]["event"] == "snapshot_refused" and logged[0]["level"] == "error"
    assert logged[0]["reason"] in ("unsigned_snapshot", "snapshot_bad_mac", "snapshot_unknown_key")


def test_a_genuine_snapshot_copied_to_another_subscriber_is_refused() -> None:
    lv, fake, logged = live()
    lv.save_snapshot(TENANT.id, "ali", ctx(), 600)
    fake.data[snap_key(TENANT.id, "boss")] = fake.data[snap_key(TENANT.id, "ali")]
    fake.data[snap_key(TENANT.id + 1, "ali")] = fake.data[snap_key(TENANT.id, "ali")]
    assert lv.snapshot(TENANT.id, "boss") is None and lv.snapshot(TENANT.id + 1, "ali") is None
    assert [e["reason"] for e in logged] == ["snapshot_bad_mac"]  # once: the second is within the minute


def test_the_mac_names_the_redis_key_as_well_as_the_body() -> None:
    """Even re-signed under its new key (which needs the MAC key), the body must name its place."""
    kid, key = RING.mac_key(SNAPSHOT_MAC) or ("", b"")
    body = json.dumps({"tenant": TENANT.id, "user": "ali", "at": 0, "ver": 0, "ctx": encode_context(ctx())}).encode()
    raw = json.dumps({"v": 2, "kid": kid, "mac": snapshot_mac(key, TENANT.id, "boss", body).hex(),
                      "body": body.decode()}).encode()
    assert verified_snapshot(RING, TENANT.id, "boss", raw) == "snapshot_misplaced"
    assert verified_snapshot(RING, TENANT.id, "ali", raw) == "snapshot_bad_mac"
    good = json.dumps({"v": 2, "kid": kid, "mac": snapshot_mac(key, TENANT.id, "ali", body).hex(),
                       "body": body.decode()}).encode()
    verified = verified_snapshot(RING, TENANT.id, "ali", good)
    assert isinstance(verified, dict) and decode_context(verified["ctx"]).subscriber == ctx().subscriber


def test_refusals_are_logged_once_a_minute_per_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr("rlm_cloudos.store.live.time.monotonic", lambda: clock[0])
    lv, fake, logged = live()
    lv.save_snapshot(TENANT.id, "ali", ctx(), 600)
    forge(fake, "unsigned")
    for _ in range(1000):
        assert lv.snapshot(TENANT.id, "ali") is None
    assert len(logged) == 1
    clock[0] += 61
    assert lv.snapshot(TENANT.id, "ali") is None
    assert len(logged) == 2 and logged[1]["refused_since_last"] == 999


def test_a_snapshot_signed_with_a_retired_active_key_still_verifies_while_the_ring_holds_it() -> None:
    lv, fake, _ = live()
    lv.save_snapshot(TENANT.id, "ali", ctx(), 600)
    rotated = KeyRing(active="k2", keys={"k2": os.urandom(32), **RING.keys})
    lv2, fake2, logged = live(rotated)
    fake2.data = fake.data
    assert lv2.snapshot(TENANT.id, "ali") is not None and logged == []
    lv3, fake3, logged3 = live(KeyRing(active="k2", keys={"k2": rotated.keys["k2"]}))
    fake3.data = fake.data
    assert lv3.snapshot(TENANT.id, "ali") is None and logged3[0]["reason"] == "snapshot_unknown_key"


def test_without_a_key_ring_nothing_is_written_or_trusted() -> None:
    lv, fake, _ = live()
    lv.save_snapshot(TENANT.id, "ali", ctx(), 600)
    bare, fake2, logged = live(None)
    bare.save_snapshot(TENANT.id, "ali", ctx(), 600)
    assert fake2.data == {}
    fake2.data = fake.data
    assert bare.snapshot(TENANT.id, "ali") is None
