"""`cloudos nas add` refuses addresses radiusd should never treat as one NAS: too wide, or outside
the networks the operator lets be clients (rlm_cloudos.policy.clients)."""

from __future__ import annotations

import psycopg
import pytest

from tests.conftest import run_cli as cli

SECRET = "a-long-nas-shared-secret\n"


def one_line(text: str) -> bool:
    return len(text.strip().splitlines()) == 1 and "Traceback" not in text


@pytest.fixture
def tenant(fresh_db: str, monkeypatch: pytest.MonkeyPatch) -> str:
    for name in ("CLOUDOS_CLIENT_NETWORKS", "CLOUDOS_NAS_WIDEST_IPV4", "CLOUDOS_NAS_WIDEST_IPV6"):
        monkeypatch.delenv(name, raising=False)
    r = cli("tenant", "add", "isp1")
    assert r.code == 0, r.err
    return "isp1"


def nas_rows(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [str(a) for (a,) in conn.execute("SELECT address FROM nas ORDER BY address").fetchall()]


@pytest.mark.parametrize("address", ["0.0.0.0/0", "10.0.0.0/8", "192.168.0.0/23", "::/0", "2001:db8::/48",
                                     "2001:db8::/63"])
def test_a_prefix_wider_than_allowed_is_refused_in_one_line(tenant: str, fresh_db: str, address: str) -> None:
    r = cli("nas", "add", "wide", "--address", address, "--secret-stdin", stdin=SECRET)
    assert r.code == 2 and one_line(r.err), r.err
    assert "wider than /" in r.err and address in r.err
    assert nas_rows(fresh_db) == []


@pytest.mark.parametrize("address", ["192.168.0.0/24", "10.1.2.3", "2001:db8::/64", "2001:db8::1"])
def test_the_widest_allowed_and_narrower_are_added(tenant: str, fresh_db: str, address: str) -> None:
    r = cli("nas", "add", "ok", "--address", address, "--secret-stdin", stdin=SECRET)
    assert r.code == 0, r.err


def test_the_operator_sets_the_widest_prefix(tenant: str, fresh_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDOS_NAS_WIDEST_IPV4", "28")
    r = cli("nas", "add", "a", "--address", "10.0.0.0/27", "--secret-stdin", stdin=SECRET)
    assert r.code == 2 and "wider than /28" in r.err and "CLOUDOS_NAS_WIDEST_IPV4" in r.err
    assert cli("nas", "add", "a", "--address", "10.0.0.0/28", "--secret-stdin", stdin=SECRET).code == 0
    monkeypatch.setenv("CLOUDOS_NAS_WIDEST_IPV4", "33")
    r = cli("nas", "add", "b", "--address", "10.0.1.1", "--secret-stdin", stdin=SECRET)
    assert r.code == 2 and one_line(r.err) and "CLOUDOS_NAS_WIDEST_IPV4" in r.err
    assert nas_rows(fresh_db) == ["10.0.0.0/28"]


def test_an_address_outside_the_client_networks_is_refused(tenant: str, fresh_db: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDOS_CLIENT_NETWORKS", "10.0.0.0/16, 2001:db8::/32")
    r = cli("nas", "add", "out", "--address", "192.0.2.1", "--secret-stdin", stdin=SECRET)
    assert r.code == 2 and one_line(r.err) and "outside CLOUDOS_CLIENT_NETWORKS" in r.err
    r = cli("nas", "add", "inside", "--address", "10.0.255.0/24", "--secret-stdin", stdin=SECRET)
    assert r.code == 0, r.err  # inside 10.0.0.0/16
    assert cli("nas", "add", "v6", "--address", "2001:db8:1::/64", "--secret-stdin", stdin=SECRET).code == 0
    monkeypatch.setenv("CLOUDOS_CLIENT_NETWORKS", "10.0.0.0/33")
    r = cli("nas", "add", "bad", "--address", "10.0.0.9", "--secret-stdin", stdin=SECRET)
    assert r.code == 2 and one_line(r.err) and "CLOUDOS_CLIENT_NETWORKS" in r.err
    assert nas_rows(fresh_db) == ["10.0.255.0/24", "2001:db8:1::/64"]
