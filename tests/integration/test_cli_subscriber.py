"""The subscriber lifecycle as a NOC runs it (issue 12), against a real PostgreSQL: what the NAS will
receive is validated, repeats are no-ops that say so, times read in the tenant's zone."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from tests.conftest import run_cli as cli

KARACHI = ZoneInfo("Asia/Karachi")
NAS = "10.31.0.1"
ACCOUNT = ("SELECT result FROM cloudos_account(%s, %s, %s, %s, %s, %s, 0, 0, 0, NULL, NULL, NULL, NULL)")


@pytest.fixture
def isp(fresh_db: str) -> str:
    for argv, stdin in (
        (("tenant", "add", "isp1"), None),
        (("nas", "add", "core1", "--address", NAS, "--secret-stdin"), "a-long-shared-secret\n"),
        (("plan", "add", "home", "--rate-limit", "2M/8M", "--quota", "50GB"), None),
    ):
        r = cli(*argv, stdin=stdin)
        assert r.code == 0, (argv, r.err)
    return fresh_db


def add(username: str, *extra: str, password: str = "pw-123456") -> tuple[int, str, str]:
    r = cli("subscriber", "add", username, "--plan", "home", "--password-stdin", *extra, stdin=password + "\n")
    return r.code, r.out, r.err


def online(url: str, username: str, uid: str) -> None:
    """An open session of ``username`` on core1, through the schema's accounting function."""
    with psycopg.connect(url, autocommit=True) as c:
        c.execute(ACCOUNT, (NAS, uid, "Start", username, uid, datetime.now(timezone.utc)))


def outbox(url: str) -> list[tuple[str, str, str]]:
    with psycopg.connect(url) as c:
        return [tuple(r) for r in c.execute("SELECT acct_unique_id, reason, status FROM coa_outbox ORDER BY id")]


def show(username: str) -> dict[str, object]:
    r = cli("subscriber", "show", username, "--json")
    assert r.code == 0, r.err
    return json.loads(r.out)  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- what the NAS will receive
def test_a_static_ip_is_one_ipv4_address_unique_in_the_tenant(isp: str) -> None:
    code, _, err = add("v6", "--static-ip", "::1")
    assert code == 2 and "IPv6" in err and "Framed-IP-Address" in err, err
    for bad in ("0.0.0.0", "127.0.0.1", "255.255.255.255", "224.0.0.9"):
        code, _, err = add("odd", "--static-ip", bad)
        assert code == 2 and "cannot be given" in err, (bad, err)
    assert add("ali", "--static-ip", "100.64.0.9")[0] == 0
    code, _, err = add("bob", "--static-ip", "100.64.0.9")
    assert code == 1 and "already given to ali" in err, err
    assert add("bob")[0] == 0
    r = cli("subscriber", "set", "bob", "--static-ip", "100.64.0.9")
    assert r.code == 1 and "already given to ali" in r.err, r.err
    assert cli("subscriber", "set", "ali", "--static-ip", "100.64.0.9").code == 0  # its own address
    # The schema holds the rule too, whatever writes the row (schema 0013).
    with psycopg.connect(isp, autocommit=True) as c:
        for value, error in (("100.64.0.9", psycopg.errors.UniqueViolation),
                             ("::1", psycopg.errors.CheckViolation), ("10.0.0.0/24", psycopg.errors.CheckViolation)):
            with pytest.raises(error):
                c.execute("UPDATE subscriber SET static_ip = %s WHERE username = 'bob'", (value,))


def test_usernames_follow_a_rule_and_are_unique_whatever_their_case(isp: str) -> None:
    for bad in ("ali khan", ".ali", "x" * 65, "ali\u200b", "ali/1"):
        code, _, err = add(bad)
        assert code == 2 and "letters, digits and . _ - @ +" in err, (bad, err)
    assert add("ali@isp.pk")[0] == 0
    code, _, err = add("ALI@ISP.PK")
    assert code == 1 and "'ali@isp.pk' already exists" in err and "whatever their case" in err, err
    with psycopg.connect(isp, autocommit=True) as c, pytest.raises(psycopg.errors.UniqueViolation):
        c.execute("INSERT INTO subscriber (tenant_id, username, password_enc) SELECT tenant_id, 'Ali@isp.pk', "
                  "password_enc FROM subscriber")


def test_a_short_password_and_a_date_that_does_not_exist_are_refused_in_the_users_terms(isp: str) -> None:
    code, _, err = add("u1", password="a")
    assert code == 2 and "at least 6 characters" in err, err
    code, _, err = add("u1", "--expires", "2026-02-30")
    assert code == 2 and "February 2026 has 28 days" in err, err
    r = cli("subscriber", "set-password", "u1", "--password-stdin", stdin="abc\n")
    assert r.code == 2, r.err  # no such user is not reached: the password is refused first


def test_a_mac_bound_to_another_subscriber_is_a_warning(isp: str) -> None:
    assert add("ali", "--mac", "aa:bb:cc:dd:ee:01")[0] == 0
    code, _, err = add("bob", "--mac", "AA-BB-CC-DD-EE-01")
    assert code == 0 and "warning: MAC AA:BB:CC:DD:EE:01 is also bound to ali" in err, err
    r = cli("subscriber", "set", "ali", "--mac", "aa:bb:cc:dd:ee:02")
    assert r.code == 0 and "warning" not in r.err, r.err


# --------------------------------------------------------------------------- the lifecycle
def test_set_changes_details_and_unbinds(isp: str) -> None:
    assert add("ali", "--mac", "aa:bb:cc:dd:ee:01", "--static-ip", "100.64.0.9")[0] == 0
    r = cli("subscriber", "set", "ali", "--mac", "aa:bb:cc:dd:ee:99", "--phone", "0300 1234567", "--email",
            "ali@example.pk", "--name", "Ali  Khan", "--address", "House 1, Street 2, Lahore")
    assert r.code == 0 and "updated" in r.out, r.err
    s = show("ali")
    assert (s["mac"], s["phone"], s["email"], s["name"], s["address"]) == (
        "AA:BB:CC:DD:EE:99", "+923001234567", "ali@example.pk", "Ali Khan", "House 1, Street 2, Lahore")
    assert cli("subscriber", "set", "ali", "--no-mac", "--no-static-ip").code == 0
    s = show("ali")
    assert s["mac"] is None and s["static_ip"] is None
    assert cli("subscriber", "set", "ali", "--email", "not-an-email").code == 2
    assert cli("subscriber", "set", "ali", "--phone", "12").code == 2
    assert cli("subscriber", "set", "ali").code == 2  # nothing to change
    r = cli("subscriber", "set", "ali", "--cnic-stdin", stdin="35202-1234567-1\n")
    assert r.code == 0 and "cnic" in r.out and "1234567" not in r.out
    assert show("ali")["cnic"] == "**************1"


def test_terminate_ends_the_service_disconnects_and_keeps_the_data(isp: str) -> None:
    assert add("ali", "--name", "Ali Khan")[0] == 0
    online(isp, "ali", "t-1")
    s = show("ali")
    assert s["online_sessions"] == 1 and [(x["id"], x["acct_session_id"], x["nas"]) for x in s["sessions"]] == [  # type: ignore[attr-defined]
        ("t-1", "t-1", "core1")]
    assert "t-1 on core1 since " in cli("subscriber", "show", "ali").out
    r = cli("subscriber", "terminate", "ali", "--reason", "moved to Karachi")
    assert r.code == 0 and "Disconnect-Request queued for 1" in r.out, r.err
    assert outbox(isp) == [("t-1", "terminated", "pending")]
    s = show("ali")
    assert s["status"] == "terminated" and s["name"] == "Ali Khan" and s["terminated_at"]
    r = cli("subscriber", "terminate", "ali")
    assert r.code == 0 and "already terminated" in r.out and len(outbox(isp)) == 1
    assert cli("subscriber", "set", "ali", "--phone", "03001234567").code == 2
    assert cli("subscriber", "resume", "ali").code == 1
    decided = json.loads(cli("explain", "ali", "--json").out)
    assert (decided["decision"], decided["reason"]) == ("reject", "terminated")


def test_repeats_are_no_ops_and_resume_cancels_the_queued_disconnects(isp: str) -> None:
    assert add("ali")[0] == 0
    online(isp, "ali", "r-1")
    assert cli("subscriber", "suspend", "ali", "--reason", "unpaid").code == 0
    assert cli("session", "disconnect", "r-1").code == 0  # an operator's own: a resume leaves it
    r = cli("subscriber", "suspend", "ali", "--reason", "again", "--json")
    assert r.code == 0 and json.loads(r.out) == {"username": "ali", "changed": False,
                                                 "note": "ali is already suspended (unpaid)"}
    # The operator's disconnect found the suspension's pending and made it the operator's own:
    # one request, which the resume leaves alone.
    assert outbox(isp) == [("r-1", "admin", "pending")]
    r = cli("subscriber", "resume", "ali")
    assert r.code == 0 and "cancelled" not in r.out, r.out
    assert outbox(isp) == [("r-1", "admin", "pending")]
    online(isp, "ali", "r-2")
    assert cli("subscriber", "suspend", "ali").code == 0
    r = cli("subscriber", "resume", "ali")  # the suspension's own two (one per open session) go
    assert r.code == 0 and "2 queued Disconnect-Request(s) cancelled" in r.out, r.out
    assert sorted(outbox(isp)) == [("r-1", "admin", "pending"), ("r-1", "suspended", "cancelled"),
                                   ("r-2", "suspended", "cancelled")]
    r = cli("subscriber", "resume", "ali")
    assert r.code == 0 and "not suspended" in r.out
    with psycopg.connect(isp) as c:
        actions = [a for (a,) in c.execute("SELECT action FROM admin_audit WHERE action LIKE 'subscriber.%' "
                                           "ORDER BY id")]
    assert actions == ["subscriber.add", "subscriber.suspend", "subscriber.resume", "subscriber.suspend",
                       "subscriber.resume"]


def test_a_lockout_shows_and_unlock_lifts_it(isp: str) -> None:
    assert add("ali")[0] == 0
    until = datetime(2099, 1, 1, 4, 30, tzinfo=timezone.utc)
    with psycopg.connect(isp, autocommit=True) as c:
        c.execute("UPDATE subscriber SET locked_until = %s WHERE username = 'ali'", (until,))
    r = cli("subscriber", "show", "ali")
    assert "locked out  until 2099-01-01 09:30 PKT (too many wrong passwords): cloudos subscriber unlock ali" \
        in r.out, r.out
    assert show("ali")["locked_until"] == "2099-01-01T04:30:00Z"
    assert json.loads(cli("explain", "ali", "--json").out)["reason"] == "throttled"
    r = cli("subscriber", "unlock", "ali")
    assert r.code == 0 and r.out.strip() == "ali unlocked"
    assert show("ali")["locked_until"] is None
    assert json.loads(cli("explain", "ali", "--json").out)["decision"] == "accept"


def test_expired_is_a_status_of_its_own(isp: str) -> None:
    yesterday = (datetime.now(KARACHI).date() - timedelta(days=1)).isoformat()
    assert add("old", "--expires", yesterday)[0] == 0
    assert add("new")[0] == 0
    listed = json.loads(cli("subscriber", "list", "--json").out)
    assert {r["username"]: r["status"] for r in listed} == {"new": "active", "old": "expired"}
    assert all(r["id"] and r["tenant"] == "isp1" for r in listed)
    assert [r["username"] for r in json.loads(cli("subscriber", "list", "--status", "expired", "--json").out)] \
        == ["old"]
    assert [r["username"] for r in json.loads(cli("subscriber", "list", "--status", "active", "--json").out)] \
        == ["new"]
    assert show("old")["status"] == "expired"
    assert cli("subscriber", "renew", "old").code == 0
    assert show("old")["status"] == "active"


# --------------------------------------------------------------------------- bulk and export
def test_from_file_changes_all_or_none(isp: str, tmp_path: Path) -> None:
    for name in ("a1", "a2", "a3"):
        assert add(name)[0] == 0
    names = tmp_path / "renew.csv"
    names.write_text("username,amount\n# paid at the branch\na1,2500\na2,2500\nnobody,2500\n")
    r = cli("subscriber", "renew", "--from-file", str(names), "--until", "2027-03-31")
    assert r.code == 1 and "no subscriber nobody" in r.err and "nothing was changed" in r.err, r.err
    assert show("a1")["paid_until"] is None
    names.write_text("a1\na2\n\na1\n")
    r = cli("subscriber", "renew", "--from-file", str(names), "--until", "2027-03-31", "--json")
    assert r.code == 0 and json.loads(r.out)["changed"] == 2, r.err
    assert show("a1")["paid_until"] == show("a2")["paid_until"] == "2027-03-31"
    with psycopg.connect(isp) as c:  # one audit row each, written in one go, in the one chain
        renewed = [t for (t,) in c.execute("SELECT target FROM admin_audit WHERE action = 'subscriber.renew' "
                                           "ORDER BY id")]
    assert renewed == ["subscriber:isp1/a1", "subscriber:isp1/a2"]
    assert cli("audit", "verify").code == 0
    assert cli("subscriber", "suspend", "a2").code == 0
    names.write_text("a1\na2\na3\n")
    r = cli("subscriber", "suspend", "--from-file", str(names), "--reason", "unpaid")
    assert r.code == 0 and "suspend: 2 changed, 1 unchanged" in r.out and "a2 is already suspended" in r.out, r.out
    r = cli("subscriber", "resume", "--from-file", "-", stdin="a1\na2\na3\n")
    assert r.code == 0 and "resume: 3 changed, 0 unchanged" in r.out, r.out
    assert cli("subscriber", "resume", "a1", "--from-file", str(names)).code == 2
    # More names than PostgreSQL takes parameters: one array, and the answer is about the names.
    names.write_text("".join(f"n{i}\n" for i in range(70_000)))
    r = cli("subscriber", "suspend", "--from-file", str(names))
    assert r.code == 1 and "no subscriber n0, n1" in r.err and "and 69990 more" in r.err, r.err
    names.write_text("x" * (10 * 10**6 + 1))
    r = cli("subscriber", "suspend", "--from-file", str(names))
    assert r.code == 2 and "larger than 10 MB" in r.err, r.err


def test_list_as_csv_is_safe_to_open_in_a_spreadsheet(isp: str) -> None:
    assert add("ali", "--name", "=HYPERLINK(\"http://evil.example\")", "--phone", "03001234567")[0] == 0
    r = cli("subscriber", "list", "--format", "csv")
    assert r.code == 0, r.err
    rows = list(csv.DictReader(io.StringIO(r.out)))
    assert rows[0]["username"] == "ali" and rows[0]["tenant"] == "isp1" and rows[0]["status"] == "active"
    assert rows[0]["name"].startswith("'=") and rows[0]["phone"] == "'+923001234567"


# --------------------------------------------------------------------------- read as a NOC reads
def test_show_speaks_karachi_time_and_names_the_period(isp: str) -> None:
    assert add("ali", "--expires", "2099-12-31")[0] == 0
    r = cli("subscriber", "show", "ali")
    assert "paid until  2099-12-31 (service ends 2100-01-01 00:00 PKT)" in r.out, r.out
    month = datetime.now(KARACHI).strftime("%B %Y")
    assert f"of 50GB in {month} " in r.out, r.out
    assert "+00:00" not in r.out and "UTC" not in r.out
    s = show("ali")
    assert s["expires_at"] == "2099-12-31T19:00:00Z"
    assert s["usage"]["period"] == month and str(s["usage"]["period_start"]).endswith("T19:00:00Z")  # type: ignore[index]


def test_errors_under_json_are_a_json_object_on_stderr(isp: str) -> None:
    r = cli("subscriber", "show", "nobody", "--json")
    assert r.code == 1 and r.out == ""
    assert json.loads(r.err) == {"error": "no subscriber 'nobody' in tenant isp1", "exit_code": 1}
    r = cli("subscriber", "add", "x", "--json")
    assert r.code == 2 and json.loads(r.err)["exit_code"] == 2
    r = cli("subscriber", "show", "caf\udcff", "--json")
    assert r.code == 2 and "not valid UTF-8" in json.loads(r.err)["error"]


def test_every_instant_under_json_is_utc_with_a_z(isp: str) -> None:
    """One form for a timestamp (issue 12 saw a space in one command and a T in another): the
    change outputs carry their rows' instants too. (audit list's before/after are the trail's
    records as stored and hashed, and keep their own form.)"""
    assert add("ali", "--expires", "2099-12-31")[0] == 0
    outputs = [cli(*argv, "--json").out for argv in (
        ("subscriber", "set", "ali", "--phone", "03001234567"), ("subscriber", "set-plan", "ali", "home"),
        ("subscriber", "suspend", "ali"), ("subscriber", "resume", "ali"), ("subscriber", "show", "ali"),
        ("subscriber", "renew", "ali"), ("subscriber", "terminate", "ali"), ("explain", "ali"),
        ("tenant", "show", "isp1"))]
    text = "\n".join(outputs)
    stamps = re.findall(r'"\d{4}-\d\d-\d\d[ T][0-9:.]+[^"]*"', text)
    assert stamps and all(re.fullmatch(r'"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"', st) for st in stamps), \
        sorted(set(st for st in stamps if not st.endswith('Z"')))
