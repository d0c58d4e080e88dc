"""Consent to marketing and analytics through the CLI's admin login on a real PostgreSQL (issue 14,
item 4): each statement kept with its time and source, the newest one holding, and a marketing
message not queued for a subscriber who has not said yes, whichever program queues it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from tests.conftest import cli_json as js
from tests.conftest import cli_ok as ok
from tests.conftest import run_cli as cli
from tests.conftest import sql

PKT = ZoneInfo("Asia/Karachi")
MARKETING = ("INSERT INTO notification (tenant_id, subscriber_id, channel, template, recipient, body) "
             "SELECT tenant_id, id, 'sms', %s, phone, 'Ramzan offer: 50%% off the first month' FROM subscriber "
             "WHERE username = 'ali' RETURNING id")


@pytest.fixture
def isp(fresh_admin: str) -> str:
    ok("tenant", "add", "isp1")
    ok("tenant", "set", "isp1", "--billing-cycle", "anniversary", "--invoice-lead-days", "5")
    ok("plan", "add", "home", "--rate-limit", "2M/8M", "--price", "2500")
    paid = datetime.now(PKT).date() + timedelta(days=2)
    ok("subscriber", "add", "ali", "--plan", "home", "--password-stdin", "--expires", paid.isoformat(),
       "--phone", "03001234567", stdin="pw-ali-12345\n")
    return fresh_admin


def queue(url: str, template: str) -> int:
    """Queue a message to ali as a program on the admin login would; how many rows were queued."""
    return len(sql(url, MARKETING, template))


def test_marketing_waits_for_a_yes_and_stops_at_a_no(isp: str) -> None:
    admin = isp.replace("//cloudos@", "//admin@")
    view = js("subscriber", "show", "ali")
    assert view["consent"] == {"marketing": None, "analytics": None}  # never asked: no
    assert "marketing not asked (no); analytics not asked (no)" in ok("subscriber", "show", "ali").out
    assert queue(admin, "marketing.offer") == 0
    ok("subscriber", "consent", "ali", "--marketing", "yes", "--source", "signed form at the Gulberg office")
    assert queue(admin, "marketing.offer") == 1
    got = js("subscriber", "show", "ali")["consent"]
    assert got["marketing"]["granted"] is True and got["marketing"]["source"] == "signed form at the Gulberg office"
    assert got["analytics"] is None
    ok("subscriber", "consent", "ali", "--marketing", "no", "--analytics", "no", "--source", "call, ticket 42")
    assert queue(admin, "marketing.offer") == 0
    # A service notice is the contract's, not consent's: the invoice goes out whatever the answer.
    ok("billing", "run")
    assert sql(isp, "SELECT count(*) FROM notification WHERE template NOT LIKE 'marketing.%%'") == [(1,)]
    # Every statement is kept, with its time, source and login, and exported.
    history = sql(isp, "SELECT purpose, granted, source, recorded_by FROM consent ORDER BY id")
    assert history == [("marketing", True, "signed form at the Gulberg office", "admin"),
                       ("marketing", False, "call, ticket 42", "admin"),
                       ("analytics", False, "call, ticket 42", "admin")]
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        sql(isp, "UPDATE consent SET granted = true")
    actions = [r["action"] for r in js("audit", "list", "--action", "subscriber.consent")]
    assert actions == ["subscriber.consent", "subscriber.consent"]


def test_the_export_holds_every_statement(isp: str, tmp_path: Path) -> None:
    ok("subscriber", "consent", "ali", "--analytics", "yes", "--source", "app settings screen")
    ok("subscriber", "export", "ali", "--format", "json", "--out", str(tmp_path / "ali.json"))
    doc = json.loads((tmp_path / "ali.json").read_text())
    [only] = doc["sections"]["consents"]
    assert (only["purpose"], only["granted"], only["source"]) == ("analytics", True, "app settings screen")


@pytest.mark.parametrize(("argv", "words"), [
    (["subscriber", "consent", "ali", "--source", "x"], "give --marketing yes|no and/or --analytics yes|no"),
    (["subscriber", "consent", "ali", "--marketing", "maybe", "--source", "x"], "invalid choice"),
    (["subscriber", "consent", "ali", "--marketing", "yes", "--source", " "], "1 to 200 printable characters"),
    (["subscriber", "consent", "ali", "--marketing", "yes"], "--source"),
    (["subscriber", "consent", "nobody", "--marketing", "yes", "--source", "x"], "no subscriber"),
])
def test_refusals_are_one_line(isp: str, argv: list[str], words: str) -> None:
    r = cli(*argv)
    assert r.code != 0 and words in r.err, r.err
    assert "Traceback" not in r.err
