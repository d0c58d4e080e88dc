"""Dunning end to end (issue 13): a subscriber online and unpaid, a `billing run` past the grace
days, the Disconnect at the NAS, the next login refused (or held in the walled garden), a
payment, and service back on the plan: real freeradius -f, PostgreSQL, `cloudos worker` and a
RouterOS stand-in on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cloudos_stack import Stack, free_port
from tests.conftest import Cli, Radiusd, running_worker
from tests.fixtures.routeros import Received, RouterOS

PKT = ZoneInfo("Asia/Karachi")
SECRET = "dunning-nas-shared-secret"
#: tenant → its NAS's loopback address; the second holds the unpaid in a walled garden.
TENANTS = {"dunning-isp": "127.0.0.120", "garden-isp": "127.0.0.121"}


def ok(cli: Cli, *argv: str, stdin: str | None = None) -> Any:
    r = cli(*argv, "--json", stdin=stdin)
    assert r.code == 0, (argv, r.err)
    return json.loads(r.out)


@pytest.fixture(scope="module")
def routers(radiusd: Radiusd, cli: Cli) -> Iterator[dict[str, RouterOS]]:
    out = {}
    for tenant, address in TENANTS.items():
        port = free_port()
        out[tenant] = RouterOS(address, port, SECRET)
        ok(cli, "tenant", "add", tenant)
        ok(cli, "tenant", "set", tenant, "--invoice-lead-days", "5", "--grace-days", "2", "--province", "sindh",
           "--legal-name", f"{tenant} (Pvt) Ltd", "--ntn", "7654321-0", "--bank-iban", "PK36SCBL0000001123456702")
        ok(cli, "nas", "add", "ccr1", "--tenant", tenant, "--address", address, "--secret-stdin",
           "--coa-port", str(port), stdin=SECRET + "\n")
        ok(cli, "plan", "add", "home", "--tenant", tenant, "--rate-limit", "2M/8M", "--price", "2000",
           "--address-list", "pppoe-active")
        ok(cli, "tax", "add", "Sindh sales tax", "--tenant", tenant, "--kind", "sales", "--rate", "19.5",
           "--from", "2025-07-01")
    ok(cli, "tenant", "set", "garden-isp", "--walled-garden-list", "unpaid", "--walled-garden-rate", "256k/256k")
    yield out
    for router in out.values():
        router.close()


@pytest.fixture(scope="module")
def worker(stack: Stack, routers: dict[str, RouterOS]) -> Iterator[None]:
    with running_worker(stack, "worker-dunning.log", "--timeout", "0.5"):
        yield


def seconds_until_midnight_after(day: date) -> float:
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=PKT)
    return (end - datetime.now(PKT)).total_seconds()


def expect(router: RouterOS, code: int) -> Received:
    got = router.expect(10.0)
    assert got.code == code and got.signed and got.authentic, got
    return got


def unpaid_past_grace(cli: Cli, tenant: str, user: str) -> dict[str, Any]:
    """Issue the subscriber's next invoice today and run billing the day after its grace ends;
    returns the invoice as the run reported it."""
    today = datetime.now(PKT).date()
    run = ok(cli, "billing", "run", "--tenant", tenant, "--date", today.isoformat())
    [inv] = [i for i in run["invoices"] if i["username"] == user]
    assert inv["total_paisa"] == 200000 + 39000
    late = date.fromisoformat(inv["due_on"]) + timedelta(days=3)
    run = ok(cli, "billing", "run", "--tenant", tenant, "--date", late.isoformat())
    assert [(s["username"], s["number"], s["disconnects_queued"]) for s in run["suspensions"]] == [
        (user, inv["number"], 1)]
    issued: dict[str, Any] = inv
    return issued


def test_unpaid_past_grace_is_disconnected_refused_and_restored_by_payment(
        radiusd: Radiusd, routers: dict[str, RouterOS], worker: None, cli: Cli, unique: str) -> None:
    tenant, router = "dunning-isp", routers["dunning-isp"]
    paid = datetime.now(PKT).date() + timedelta(days=1)
    ok(cli, "subscriber", "add", unique, "--tenant", tenant, "--plan", "home", "--password-stdin",
       "--expires", paid.isoformat(), "--phone", "03001234567", stdin="dun-pw-1\n")
    nas = radiusd.nas(secret=SECRET, source=TENANTS[tenant])
    assert nas.pap(unique, "dun-pw-1").accepted
    nas.acct("Start", unique, f"{unique}-1", framed_ip="10.70.0.10")

    inv = unpaid_past_grace(cli, tenant, unique)
    dm = expect(router, 40)
    assert (dm.one("User-Name"), dm.one("Acct-Session-Id")) == (unique, f"{unique}-1")
    nas.acct("Stop", unique, f"{unique}-1", session_time=60, cause="Admin-Reset")
    refused = nas.pap(unique, "dun-pw-1")
    assert not refused.accepted and refused.one("Reply-Message") == "account suspended"

    paid_now = ok(cli, "payment", "record", unique, "--tenant", tenant, "--amount", "2390", "--method", "cash",
                  "--reference", f"R-{unique}")
    assert paid_now["settled"] == [inv["number"]] and paid_now["resumed"] is True
    most = seconds_until_midnight_after(date.fromisoformat(inv["period_end"]))
    back = nas.pap(unique, "dun-pw-1")
    least = seconds_until_midnight_after(date.fromisoformat(inv["period_end"]))
    assert back.accepted, back.attrs
    assert back.one("Mikrotik-Rate-Limit") == "2M/8M" and back.one("Mikrotik-Address-List") == "pppoe-active"
    # Paid through the invoiced period: service runs to the end of its last day.
    assert least - 1 <= back.one("Session-Timeout") <= most + 1
    assert ok(cli, "ledger", unique, "--tenant", tenant)["balance_paisa"] == 0


def test_the_walled_garden_holds_the_unpaid_and_payment_lets_them_out_without_a_redial(
        radiusd: Radiusd, routers: dict[str, RouterOS], worker: None, cli: Cli, unique: str) -> None:
    tenant, router = "garden-isp", routers["garden-isp"]
    paid = datetime.now(PKT).date() + timedelta(days=1)
    ok(cli, "subscriber", "add", unique, "--tenant", tenant, "--plan", "home", "--password-stdin",
       "--expires", paid.isoformat(), stdin="gdn-pw-1\n")
    nas = radiusd.nas(secret=SECRET, source=TENANTS[tenant])
    assert nas.pap(unique, "gdn-pw-1").accepted
    nas.acct("Start", unique, f"{unique}-1", framed_ip="10.70.0.20")

    unpaid_past_grace(cli, tenant, unique)
    expect(router, 40)
    nas.acct("Stop", unique, f"{unique}-1", session_time=60, cause="Admin-Reset")
    # The redial is held in the garden: its rate and address list, so the payment page is reachable.
    held = nas.pap(unique, "gdn-pw-1")
    assert held.accepted
    assert held.one("Mikrotik-Address-List") == "unpaid" and held.one("Mikrotik-Rate-Limit") == "256k/256k"
    nas.acct("Start", unique, f"{unique}-2", framed_ip="10.70.0.21")

    paid_now = ok(cli, "payment", "record", unique, "--tenant", tenant, "--amount", "2390", "--method", "jazzcash",
                  "--reference", f"JC-{unique}")
    assert paid_now["resumed"] is True
    coa = expect(router, 43)
    assert (coa.one("User-Name"), coa.one("Acct-Session-Id")) == (unique, f"{unique}-2")
    assert coa.one("Mikrotik-Rate-Limit") == "2M/8M" and coa.one("Mikrotik-Address-List") == "pppoe-active"
    assert router.nothing(1.0)  # no Disconnect: the session stays up
    nas.acct("Stop", unique, f"{unique}-2", session_time=60)
