"""`cloudos privacy request` and `privacy holiday` through the CLI's own login on a real PostgreSQL
(issue 14, item 6): deadlines of 14 business days from the day after receipt, the operator's
holidays skipped, every change audited."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest

from rlm_cloudos.policy.privacy import deadline
from tests.conftest import cli_json as js
from tests.conftest import cli_ok as ok
from tests.conftest import run_cli as cli

PKT = ZoneInfo("Asia/Karachi")


@pytest.fixture
def isp(fresh_admin: str) -> str:
    ok("tenant", "add", "isp1")
    ok("plan", "add", "home", "--rate-limit", "2M/8M")
    for name in ("ali", "sara"):
        ok("subscriber", "add", name, "--plan", "home", "--password-stdin", stdin=f"pw-{name}-123\n")
    return fresh_admin


def test_a_request_is_due_fourteen_business_days_after_the_day_of_receipt(isp: str) -> None:
    r = js("privacy", "request", "add", "ali", "--kind", "access", "--received", "2026-11-30",
           "--note", "asked at the Clifton office")
    # Monday 30 November 2026: Tuesday is day 1, two weekends skip, day 14 is Friday 18 December.
    assert (r["due_on"], r["status"], r["kind"]) == ("2026-12-18", "open", "access")
    # A holiday listed on it: the deadline moves to the Monday, for requests already recorded too.
    ok("privacy", "holiday", "add", "2026-12-18", "--name", "Provincial holiday")
    [listed] = js("privacy", "request", "list")
    assert listed["due_on"] == "2026-12-21" and listed["id"] == r["id"] and listed["tenant"] == "isp1"
    assert js("privacy", "holiday", "add", "2026-12-18", "--name", "again")["changed"] is False
    assert [h["day"] for h in js("privacy", "holiday", "list")] == ["2026-12-18"]


def test_due_lists_the_open_ones_nearest_deadline_first_with_what_is_left(isp: str) -> None:
    today = datetime.now(PKT).date()
    late = js("privacy", "request", "add", "ali", "--kind", "erase", "--received",
              (today - timedelta(days=40)).isoformat())
    fresh = js("privacy", "request", "add", "sara", "--kind", "rectify", "--received", today.isoformat())
    done = js("privacy", "request", "add", "sara", "--kind", "object", "--received", today.isoformat())
    closed = js("privacy", "request", "close", str(done["id"]), "--outcome", "marketing consent withdrawn")
    assert closed["changed"] is True and closed["on_time"] is True
    again = js("privacy", "request", "close", str(done["id"]), "--outcome", "twice")
    assert again["changed"] is False
    due = js("privacy", "request", "list", "--due")
    assert [d["id"] for d in due] == [late["id"], fresh["id"]]
    assert due[0]["business_days_left"] < 0 and due[1]["business_days_left"] == 14
    assert due[1]["due_on"] == deadline(today).isoformat()
    human = ok("privacy", "request", "list", "--due").out
    assert "14 business days left" in human and "business days late" in human
    assert len(js("privacy", "request", "list")) == 3
    with psycopg.connect(isp) as conn:
        actions = [a for (a,) in conn.execute("SELECT action FROM admin_audit WHERE action LIKE 'privacy.%' ORDER BY id")]
    assert actions == ["privacy.request", "privacy.request", "privacy.request", "privacy.close"]


@pytest.mark.parametrize(("argv", "words"), [
    (["privacy", "request", "add", "nobody", "--kind", "access", "--received", "2026-12-01"], "no subscriber"),
    (["privacy", "request", "add", "ali", "--kind", "sell", "--received", "2026-12-01"], "invalid choice"),
    (["privacy", "request", "add", "ali", "--kind", "access", "--received", "2099-01-01"], "after today"),
    (["privacy", "request", "add", "ali", "--kind", "access", "--received", "2026-02-30"], "2026-02-30"),
    (["privacy", "request", "add", "ali", "--kind", "access", "--received", "2026-12-01", "--note", " "],
     "1 to 500 printable characters"),
    (["privacy", "request", "close", "99", "--outcome", "x"], "no data request 99"),
    (["privacy", "request", "close", "99999999999999999999", "--outcome", "x"], "out of range"),
    (["privacy", "holiday", "add", "2026-12-25", "--name", "x" * 101], "1 to 100 printable characters"),
])
def test_refusals_are_one_line(isp: str, argv: list[str], words: str) -> None:
    r = cli(*argv)
    assert r.code != 0 and words in r.err, r.err
    assert len(r.err.strip().splitlines()) <= 2 and "Traceback" not in r.err  # argparse adds its usage line


def test_a_holiday_removed_moves_the_deadline_back(isp: str) -> None:
    ok("privacy", "holiday", "add", "2026-12-18", "--name", "Provincial holiday")
    js("privacy", "request", "add", "ali", "--kind", "withdraw", "--received", "2026-11-30")
    assert js("privacy", "request", "list")[0]["due_on"] == "2026-12-21"
    assert js("privacy", "holiday", "remove", "2026-12-18")["changed"] is True
    assert js("privacy", "request", "list")[0]["due_on"] == "2026-12-18"
    assert js("privacy", "holiday", "remove", "2026-12-18")["changed"] is False
    assert date(2026, 12, 18).weekday() == 4  # the test's calendar: a Friday
