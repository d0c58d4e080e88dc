"""`cloudos subscriber export` through the CLI's own login on a real PostgreSQL (issue 14, item 3):
every row held about the subscriber, none of anyone else's, as JSON or a zip of CSVs that load."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import stat
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest

from cloudos.store.export import COLUMNS
from tests.conftest import cli_json as js
from tests.conftest import cli_ok as ok
from tests.conftest import sql
from tests.conftest import run_cli as cli

UTC = timezone.utc


@pytest.fixture
def held(fresh_admin: str) -> str:
    """ali and sara, each with a session in history and one live, an auth-log row, an invoice, a
    payment, a notice and a data request."""
    fresh_db = fresh_admin
    ok("tenant", "add", "isp1")
    ok("plan", "add", "home", "--rate-limit", "2M/8M", "--price", "1000")
    today = datetime.now(UTC).date()
    for name, cnic in (("ali", "35202-1234567-1"), ("sara", "42101-7654321-2")):
        ok("subscriber", "add", name, "--plan", "home", "--password-stdin", "--cnic-stdin", "--expires",
           (today + timedelta(days=2)).isoformat(), "--phone", "03001234567", "--name", f"{name.title()} Khan",
           "--address", "House 7, Lahore", stdin=f"pw-{name}-secret\n{cnic}\n")
    ok("billing", "run")
    (tenant,) = sql(fresh_db, "SELECT id FROM tenant")[0]
    for name in ("ali", "sara"):
        js("payment", "record", name, "--amount", "1000", "--method", "cash", "--reference", f"R-{name}")
        js("privacy", "request", "add", name, "--kind", "access", "--received", "2026-11-30")
        (sid,) = sql(fresh_db, "SELECT id FROM subscriber WHERE username = %s", name)[0]
        then = datetime.now(UTC) - timedelta(hours=5)
        sql(fresh_db, "INSERT INTO session (tenant_id, acct_unique_id, started_at, stopped_at, subscriber_id, "
                      "username, acct_session_id, input_octets, output_octets, session_time) VALUES "
                      "(%s, %s, %s, %s, %s, %s, 'h1', 10, 20, 60)", tenant, f"{name}-old", then,
            then + timedelta(minutes=1), sid, name)
        sql(fresh_db, "INSERT INTO session_open (acct_unique_id, tenant_id, subscriber_id, username, "
                      "acct_session_id, started_at, updated_at, input_octets, output_octets, session_time) VALUES "
                      "(%s, %s, %s, %s, 'l1', now(), now(), 5, 6, 7)", f"{name}-live", tenant, sid, name)
        sql(fresh_db, "INSERT INTO auth_log (at, tenant_id, subscriber_id, username, outcome, reason) VALUES "
                      "(now(), %s, %s, %s, 'accept', 'ok')", tenant, sid, name)
        sql(fresh_db, "INSERT INTO usage_counter (tenant_id, subscriber_id, period_start, period_end, input_octets, "
                      "output_octets, session_time) VALUES (%s, %s, date_trunc('month', now()), "
                      "date_trunc('month', now()) + interval '1 month', 15, 26, 67)", tenant, sid)
    return fresh_db


def ali_counts(url: str) -> dict[str, int]:
    (sid,) = sql(url, "SELECT id FROM subscriber WHERE username = 'ali'")[0]
    one = {
        "sessions": "SELECT count(*) FROM (SELECT acct_unique_id FROM session WHERE subscriber_id = %(s)s "
                    "UNION SELECT acct_unique_id FROM session_open WHERE subscriber_id = %(s)s) x",
        "usage": "SELECT count(*) FROM usage_counter WHERE subscriber_id = %(s)s",
        "auth_log": "SELECT count(*) FROM auth_log WHERE subscriber_id = %(s)s",
        "invoices": "SELECT count(*) FROM invoice WHERE subscriber_id = %(s)s",
        "invoice_lines": "SELECT count(*) FROM invoice_line l JOIN invoice i ON i.id = l.invoice_id "
                         "WHERE i.subscriber_id = %(s)s",
        "payments": "SELECT count(*) FROM payment WHERE subscriber_id = %(s)s",
        "ledger": "SELECT count(*) FROM ledger_entry WHERE subscriber_id = %(s)s",
        "notifications": "SELECT count(*) FROM notification WHERE subscriber_id = %(s)s",
        "data_requests": "SELECT count(*) FROM data_request WHERE subscriber_id = %(s)s",
    }
    with psycopg.connect(url) as conn:
        return {k: conn.execute(q, {"s": sid}).fetchone()[0] for k, q in one.items()}  # type: ignore[index]


def test_the_json_export_holds_every_row_about_the_subscriber_and_no_one_elses(held: str, tmp_path: Path) -> None:
    out = tmp_path / "ali.json"
    r = js("subscriber", "export", "ali", "--format", "json", "--out", str(out))
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    doc = json.loads(out.read_text())
    assert (doc["format"], doc["username"], doc["tenant"]) == ("cloudos-subscriber-export", "ali", "isp1")
    counts = ali_counts(held)
    assert {k: len(doc["sections"][k]) for k in counts} == counts
    assert counts["sessions"] == 2 and counts["invoices"] == 1 and counts["payments"] == 1
    assert all(v > 0 for v in counts.values()), counts
    # The CNIC decrypted for the subscriber; no password in any form.
    assert doc["profile"]["cnic"] == "35202-1234567-1" and doc["profile"]["full_name"] == "Ali Khan"
    assert "password_enc" not in doc["profile"] and "pw-ali-secret" not in out.read_text()
    # Not one row of sara's.
    text = out.read_text()
    assert "sara" not in text and "42101" not in text and "Sara" not in text
    assert doc["sections"]["audit"] and all(a["target"].endswith("/ali") for a in doc["sections"]["audit"])
    # Audited with the file's digest; a second export to the same path is refused, the file untouched.
    assert r["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    [(after,)] = sql(held, "SELECT after FROM admin_audit WHERE action = 'subscriber.export'")
    assert after["sha256"] == r["sha256"] and after["format"] == "json"
    again = cli("subscriber", "export", "ali", "--format", "json", "--out", str(out))
    assert again.code == 1 and "is never overwritten" in again.err
    assert hashlib.sha256(out.read_bytes()).hexdigest() == r["sha256"]


def test_the_csv_export_is_a_zip_whose_files_load_and_match_the_json(held: str, tmp_path: Path) -> None:
    js("subscriber", "export", "ali", "--format", "json", "--out", str(tmp_path / "ali.json"))
    doc = json.loads((tmp_path / "ali.json").read_text())
    zpath = tmp_path / "ali.zip"
    js("subscriber", "export", "ali", "--format", "csv", "--out", str(zpath))
    with zipfile.ZipFile(zpath) as z:
        names = set(z.namelist())
        assert names == {"README.txt", "profile.csv", *(f"{s}.csv" for s in COLUMNS)}
        readme = z.read("README.txt").decode()
        for section, columns in COLUMNS.items():
            rows = list(csv.DictReader(io.StringIO(z.read(f"{section}.csv").decode())))
            # The JSON export's own audit row came between the two.
            assert len(rows) == len(doc["sections"][section]) + (section == "audit"), section
            with io.StringIO(z.read(f"{section}.csv").decode()) as f:
                assert next(csv.reader(f)) == columns
            assert f"{section}.csv ({len(rows)} row" in readme and ", ".join(columns) in readme
        [profile] = list(csv.DictReader(io.StringIO(z.read("profile.csv").decode())))
    assert profile["cnic"] == "35202-1234567-1" and profile["username"] == "ali"
    # A value a spreadsheet would run as a formula is kept text.
    assert profile["phone"] == "'+923001234567"


def test_a_subscriber_not_there_and_a_path_not_writable_are_one_line(held: str, tmp_path: Path) -> None:
    r = cli("subscriber", "export", "nobody", "--format", "json", "--out", str(tmp_path / "x.json"))
    assert r.code == 1 and "no subscriber 'nobody'" in r.err
    r = cli("subscriber", "export", "ali", "--format", "json", "--out", str(tmp_path / "no" / "x.json"))
    assert r.code == 1 and "cannot write" in r.err and len(r.err.strip().splitlines()) == 1
    assert not os.path.exists(tmp_path / "x.json")
    assert sql(held, "SELECT count(*) FROM admin_audit WHERE action = 'subscriber.export'") == [(0,)]


def test_a_tenant_export_holds_its_configuration_subscribers_and_billing_and_no_secret(held: str,
                                                                                      tmp_path: Path) -> None:
    ok("tenant", "add", "other")
    printf = "other-nas-secret-123"
    ok("nas", "add", "core1", "--tenant", "isp1", "--address", "10.20.0.1", "--secret-stdin", stdin=printf + "\n")
    out = tmp_path / "isp1.json"
    r = js("tenant", "export", "isp1", "--format", "json", "--out", str(out))
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    doc = json.loads(out.read_text())
    assert doc["format"] == "cloudos-tenant-export" and doc["sections"]["tenant"][0]["name"] == "isp1"
    sections = doc["sections"]
    assert sorted(s["username"] for s in sections["subscribers"]) == ["ali", "sara"]
    assert {s["cnic"] for s in sections["subscribers"]} == {"35202-1234567-1", "42101-7654321-2"}
    (tid,) = sql(held, "SELECT id FROM tenant WHERE name = 'isp1'")[0]
    for section, table_name in (("invoices", "invoice"), ("payments", "payment"), ("ledger", "ledger_entry"),
                                ("plans", "plan"), ("nas", "nas"), ("usage", "usage_counter"),
                                ("data_requests", "data_request")):
        assert [(len(sections[section]),)] == sql(held, f"SELECT count(*) FROM {table_name} WHERE tenant_id = %s",
                                                  tid), section
    text = out.read_text()
    assert printf not in text and "secret_enc" not in text and "password_enc" not in text and "pw-ali" not in text
    assert all(row.get("tenant_id") in (None, tid) for rows in sections.values() for row in rows)
    assert r["rows"]["subscribers"] == 2
    zpath = tmp_path / "isp1.zip"
    js("tenant", "export", "isp1", "--format", "csv", "--out", str(zpath))
    with zipfile.ZipFile(zpath) as z:
        [_, *rows] = list(csv.reader(io.StringIO(z.read("subscribers.csv").decode())))
        assert len(rows) == 2 and "cnic" in z.read("README.txt").decode()
    assert sql(held, "SELECT count(*) FROM admin_audit WHERE action = 'tenant.export'") == [(2,)]
