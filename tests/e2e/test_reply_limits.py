"""What the CLI lets an operator set reaches the NAS whole (issue 12): an address list of 5,000
characters was accepted and the Access-Accept silently lost Mikrotik-Address-List and
Acct-Interim-Interval. The CLI now refuses what RADIUS cannot carry (247 bytes in a vendor
attribute, 253 in Framed-Pool); these are the longest values it takes, through radiusd."""

from __future__ import annotations

from tests.conftest import Cli, Radiusd
from tests.fixtures.nas import wait_accepted

GARDEN_NAS = "127.0.0.110"  # this module's own loopback source (tests/unit/test_layout.py)


def test_the_longest_plan_names_reach_the_nas_whole(radiusd: Radiusd, cli: Cli, unique: str) -> None:
    address_list, pool = "L" * 246 + "z", "P" * 252 + "z"
    r = cli("plan", "add", f"long-{unique}", "--tenant", "e2e", "--rate-limit", "100G/100G", "--address-list",
            address_list, "--ip-pool", pool)
    assert r.code == 0, r.err
    assert cli("plan", "add", f"longer-{unique}", "--tenant", "e2e", "--rate-limit", "1M/1M", "--address-list",
               address_list + "x").code == 2
    r = cli("subscriber", "add", unique, "--tenant", "e2e", "--plan", f"long-{unique}", "--password-stdin",
            stdin="long-pw-123\n")
    assert r.code == 0, r.err
    wait_accepted(radiusd.nas(), unique, "long-pw-123")  # a module before may have just restarted PostgreSQL
    reply = radiusd.nas().pap(unique, "long-pw-123")
    assert reply.accepted, reply.attrs
    assert reply.one("Mikrotik-Address-List") == address_list
    assert reply.one("Framed-Pool") == pool
    assert reply.one("Mikrotik-Rate-Limit") == "100G/100G"
    assert 300 <= reply.one("Acct-Interim-Interval") < 330  # the tenant's 300 s, spread (policy.interim_interval)


def test_the_longest_walled_garden_reaches_the_nas_whole(radiusd: Radiusd, cli: Cli, unique: str) -> None:
    tenant = f"lg{unique}"
    garden = "G" * 246 + "z"
    assert cli("tenant", "add", tenant).code == 0
    r = cli("nas", "add", "lg-nas", "--tenant", tenant, "--address", GARDEN_NAS, "--secret-stdin",
            stdin="long-garden-secret\n")
    assert r.code == 0, r.err
    r = cli("tenant", "set", tenant, "--walled-garden-list", garden, "--walled-garden-rate", "256k/256k")
    assert r.code == 0, r.err
    assert cli("plan", "add", "basic", "--tenant", tenant, "--rate-limit", "4M/4M").code == 0
    r = cli("subscriber", "add", "unpaid1", "--tenant", tenant, "--plan", "basic", "--password-stdin",
            stdin="garden-pw-1\n")
    assert r.code == 0, r.err
    assert cli("subscriber", "suspend", "unpaid1", "--tenant", tenant).code == 0
    nas = radiusd.nas(secret="long-garden-secret", source=GARDEN_NAS)
    wait_accepted(nas, "unpaid1", "garden-pw-1")
    reply = nas.pap("unpaid1", "garden-pw-1")
    assert reply.accepted, reply.attrs
    assert reply.one("Mikrotik-Address-List") == garden
    assert reply.one("Mikrotik-Rate-Limit") == "256k/256k"
    assert 300 <= reply.one("Acct-Interim-Interval") < 330  # the tenant's 300 s, spread (policy.interim_interval)
