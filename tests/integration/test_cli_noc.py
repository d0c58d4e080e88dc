"""The NOC's commands through the real CLI and a real PostgreSQL (issue 12): tenant, nas, plan,
session, usage, audit and coa; errors in the user's terms, output in the tenant's time zone."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

from tests.conftest import Cli
from tests.conftest import run_cli as cli


def one_line(text: str) -> bool:
    return len(text.strip().splitlines()) == 1 and "Traceback" not in text


@pytest.fixture
def tenant(fresh_db: str) -> str:
    r = cli("tenant", "add", "isp1")
    assert r.code == 0, r.err
    return "isp1"


def sql(url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []


# --------------------------------------------------------------------------- errors in the user's terms
@pytest.mark.parametrize(("argv", "words"), [
    # Issue 12: `violates check constraint "tenant_interim_interval_check"`, the range never stated.
    (["tenant", "add", "isp2", "--interim-interval", "5"], "from 60 to 86400"),
    (["tenant", "add", "isp2", "--interim-interval", "86401"], "from 60 to 86400"),
    # Issue 12: `integer out of range`.
    (["tenant", "add", "isp2", "--interim-interval", "999999999999"], "from 60 to 86400"),
    (["tenant", "set", "isp1", "--interim-interval", "5"], "from 60 to 86400"),
    (["tenant", "set", "isp1", "--login-fail-limit", "999999999999"], "from 1 to 2147483647"),
    (["tenant", "set", "isp1", "--backend-down-cache-seconds", "999999999999"], "from 0 to 2147483647"),
    (["plan", "add", "p", "--rate-limit", "1M/1M", "--simultaneous-use", "5000"], "from 1 to 1000"),
    (["plan", "add", "p", "--rate-limit", "1M/1M", "--simultaneous-use", "999999999999"], "from 1 to 1000"),
    # Issue 12: `bigint out of range`.
    (["plan", "add", "p", "--rate-limit", "1M/1M", "--quota", "99999999999999999999"], "at most 1000TB"),
    (["plan", "add", "p", "--rate-limit", "1M/1M", "--quota", "5000TB"], "at most 1000TB"),
    (["session", "list", "--limit", "999999999999"], "from 1 to 2147483647"),
    (["audit", "list", "--limit", "999999999999"], "from 1 to 2147483647"),
    # Issue 12: `--rate-limit 8m/2m` had no hint; 99999999999M/1M passed.
    (["plan", "add", "p", "--rate-limit", "8m/2m"], "RouterOS units are k and M (and G)"),
    (["plan", "add", "p", "--rate-limit", "99999999999M/1M"], "above 100G"),
    (["tenant", "set", "isp1", "--walled-garden-list", "garden", "--walled-garden-rate", "99999999999M/1M"],
     "above 100G"),
    # Issue 12: a 5,000-character address list was accepted and silently lost from the Access-Accept.
    (["plan", "add", "p", "--rate-limit", "1M/1M", "--address-list", "x" * 5000], "at most 247"),
    (["plan", "add", "p", "--rate-limit", "1M/1M", "--address-list", "x" * 248], "at most 247"),
    (["plan", "add", "p", "--rate-limit", "1M/1M", "--ip-pool", "p" * 254], "at most 253"),
    (["plan", "add", "p", "--rate-limit", "1M/1M", "--address-list", "bad\nname"], "printable"),
    (["tenant", "set", "isp1", "--walled-garden-list", "g" * 1000, "--walled-garden-rate", "256k/256k"],
     "at most 247"),
])
def test_out_of_range_options_are_refused_in_the_users_terms(tenant: str, argv: list[str], words: str) -> None:
    r = cli(*argv)
    assert r.code == 2, (argv, r.out, r.err)
    assert one_line(r.err) and words in r.err, r.err
    assert "constraint" not in r.err and "out of range:" not in r.err.split("error:")[0]


def test_quota_50g_is_50gb_and_the_help_says_so(tenant: str) -> None:
    # Issue 12: `--quota 50G` was refused.
    r = cli("plan", "add", "home", "--rate-limit", "2M/8M", "--quota", "50G", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["quota_bytes"] == 50 * 10**9
    assert "50G = 50GB" in " ".join(cli("plan", "add", "--help").out.split())


def test_values_at_the_edges_of_their_ranges_pass(tenant: str) -> None:
    assert cli("tenant", "add", "isp2", "--interim-interval", "60").code == 0
    assert cli("tenant", "set", "isp2", "--interim-interval", "86400").code == 0
    r = cli("plan", "add", "p", "--tenant", "isp1", "--rate-limit", "100G/100G", "--quota", "1000TB",
            "--simultaneous-use", "1000", "--address-list", "x" * 247, "--ip-pool", "p" * 253)
    assert r.code == 0, r.err
