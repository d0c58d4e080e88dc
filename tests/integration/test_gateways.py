"""`cloudos gateway set | list | remove` through the CLI's admin login on a real PostgreSQL (issue 15,
item 2): secrets from standard input, checked, sealed to tenant and gateway, never printed."""

from __future__ import annotations

import json
import os

import pytest

from rlm_cloudos.crypto import KeyRing
from rlm_cloudos.errors import DecryptError
from tests.conftest import cli_json as js
from tests.conftest import cli_ok as ok
from tests.conftest import run_cli as cli
from tests.conftest import sql

JAZZ = {"password": "jc-pass-Zx81", "integrity_salt": "salt-9f2c1e7ab3"}
EASY = {"store_id": "10452", "hash_key": "K3yOfSixteen0001", "username": "ep-user", "password": "ep-pass-77",
        "account_number": "654321987"}


@pytest.fixture
def isp(fresh_admin: str) -> str:
    ok("tenant", "add", "isp1")
    return fresh_admin


def set_gateway(gateway: str, secrets: object, *extra: str, url: str = "https://sandbox.jazzcash.com.pk") -> None:
    ok("gateway", "set", gateway, "--merchant-id", "MC12345", "--base-url", url, "--credentials-stdin", *extra,
       stdin=json.dumps(secrets))


def test_secrets_are_sealed_to_their_tenant_and_gateway_and_never_shown(isp: str) -> None:
    set_gateway("jazzcash", JAZZ)
    set_gateway("easypaisa", EASY, url="https://easypaystg.easypaisa.com.pk/")
    listed = js("gateway", "list")
    assert [(g["gateway"], g["merchant_id"], g["base_url"]) for g in listed] == [
        ("easypaisa", "MC12345", "https://easypaystg.easypaisa.com.pk"),
        ("jazzcash", "MC12345", "https://sandbox.jazzcash.com.pk")]
    assert listed[1]["credentials"] == {"password": "********", "integrity_salt": "********"}
    human = ok("gateway", "list").out
    everything = human + json.dumps(listed)
    ring = KeyRing.load(os.environ["CLOUDOS_KEYRING"])
    [(tid, blob)] = sql(isp, "SELECT tenant_id, credentials_enc FROM payment_gateway WHERE gateway = 'jazzcash'")
    assert json.loads(ring.open(blob, "gateway.credentials", str(tid), "jazzcash")) == JAZZ
    with pytest.raises(DecryptError):
        ring.open(blob, "gateway.credentials", str(tid), "easypaisa")  # bound to its gateway
    trail = json.dumps(sql(isp, "SELECT before, after FROM admin_audit WHERE action LIKE 'gateway.%%'"))
    for secret in (*JAZZ.values(), *EASY.values()):
        assert secret not in everything and secret not in trail and secret.encode() not in bytes(blob)
    assert '"credentials": "[redacted]"' in trail
    # Replaced whole, then removed; each audited.
    set_gateway("jazzcash", {**JAZZ, "password": "rotated-pass-1"})
    [(blob,)] = sql(isp, "SELECT credentials_enc FROM payment_gateway WHERE gateway = 'jazzcash'")
    assert json.loads(ring.open(blob, "gateway.credentials", str(tid), "jazzcash"))["password"] == "rotated-pass-1"
    assert js("gateway", "remove", "easypaisa")["removed"] is True
    assert [g["gateway"] for g in js("gateway", "list")] == ["jazzcash"]
    actions = [r["action"] for r in js("audit", "list", "--action", "gateway.")]
    assert sorted(actions) == ["gateway.remove", "gateway.set", "gateway.set", "gateway.set"]


@pytest.mark.parametrize(("gateway", "stdin", "words"), [
    ("jazzcash", '{"password": "x"}', "missing integrity_salt"),
    ("jazzcash", json.dumps({**JAZZ, "pp_Extra": "y"}), "unknown pp_Extra"),
    ("jazzcash", "password=x", "not JSON"),
    ("jazzcash", '["password"]', "must be a JSON object"),
    ("jazzcash", json.dumps({**JAZZ, "password": ""}), "password must be text of 1 to 256"),
    ("jazzcash", json.dumps({**JAZZ, "password": 5}), "password must be text"),
    ("jazzcash", json.dumps({**JAZZ, "password": "x" * 20000}), "larger than 16 KiB"),
    ("easypaisa", json.dumps({**EASY, "hash_key": "short"}), "16, 24 or 32 characters"),
])
def test_bad_credentials_are_refused_in_one_line(isp: str, gateway: str, stdin: str, words: str) -> None:
    r = cli("gateway", "set", gateway, "--merchant-id", "MC1", "--base-url", "https://sandbox.jazzcash.com.pk",
            "--credentials-stdin", stdin=stdin)
    assert r.code == 2 and words in r.err, r.err
    assert len(r.err.strip().splitlines()) == 1
    assert sql(isp, "SELECT count(*) FROM payment_gateway") == [(0,)]


@pytest.mark.parametrize(("url", "words"), [
    ("http://sandbox.jazzcash.com.pk", "http only to a loopback address"),
    ("ftp://sandbox.jazzcash.com.pk", "https://HOST[:PORT]"),
    ("https://sandbox.jazzcash.com.pk/CustomerPortal/transactionmanagement/merchantform", "nothing after the host"),
    ("https://user:pw@sandbox.jazzcash.com.pk", "nothing after the host"),
    ("https://sandbox.jazzcash.com.pk?next=http://10.0.0.1", "nothing after the host"),
    ("https://sandbox.jazzcash.com.pk:99999", "port"),
])
def test_a_base_url_is_https_to_a_host_and_nothing_more(isp: str, url: str, words: str) -> None:
    r = cli("gateway", "set", "jazzcash", "--merchant-id", "MC1", "--base-url", url, "--credentials-stdin",
            stdin=json.dumps(JAZZ))
    assert r.code == 2 and words in r.err, r.err


def test_http_is_allowed_to_a_loopback_test_double_only(isp: str) -> None:
    set_gateway("jazzcash", JAZZ, url="http://127.0.0.1:8089")
    assert js("gateway", "list")[0]["base_url"] == "http://127.0.0.1:8089"


def test_no_stdin_flag_and_a_bad_merchant_id_are_refused(isp: str) -> None:
    r = cli("gateway", "set", "jazzcash", "--merchant-id", "MC1", "--base-url", "https://sandbox.jazzcash.com.pk")
    assert r.code == 2 and "--credentials-stdin" in r.err
    r = cli("gateway", "set", "jazzcash", "--merchant-id", "MC 1;", "--base-url", "https://sandbox.jazzcash.com.pk",
            "--credentials-stdin", stdin=json.dumps(JAZZ))
    assert r.code == 2 and "1 to 64 of A-Z" in r.err
    r = cli("gateway", "remove", "jazzcash")
    assert r.code == 1 and "has no jazzcash settings" in r.err


def test_billing_sees_which_gateways_are_set_but_no_secret_and_cannot_change_them(
        isp: str, unique: str, monkeypatch: pytest.MonkeyPatch) -> None:
    set_gateway("jazzcash", JAZZ)
    ok("operator", "add", f"{unique}-b", "--tenant", "isp1", "--role", "billing", "--password-stdin",
       stdin="billing-pass-1234\n")
    try:
        monkeypatch.setenv("CLOUDOS_DATABASE_URL", isp.replace("//cloudos@", f"//{unique}-b:billing-pass-1234@"))
        assert js("gateway", "list")[0]["credentials"] == "masked"
        r = cli("gateway", "set", "jazzcash", "--merchant-id", "EVIL1", "--base-url", "https://evil.example",
                "--credentials-stdin", stdin=json.dumps(JAZZ))
        assert r.code == 1 and "not allowed for this login's role" in r.err
    finally:
        monkeypatch.setenv("CLOUDOS_DATABASE_URL", isp.replace("//cloudos@", "//admin@"))
        ok("operator", "remove", f"{unique}-b")
