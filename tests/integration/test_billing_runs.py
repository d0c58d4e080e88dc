"""Billing through the real CLI and a real PostgreSQL (issue 13): runs that issue each invoice once
with the taxes in force, numbers without gaps under two runs at once, credit notes, payments once
per reference, the ledger, dunning and the invoice as PDF."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

from tests.conftest import cli_json as js
from tests.conftest import cli_ok as ok
from tests.conftest import sql
from tests.conftest import run_cli as cli

PKT = ZoneInfo("Asia/Karachi")
IBAN = "PK36SCBL0000001123456702"


def refused(*argv: str) -> str:
    r = cli(*argv)
    assert r.code != 0, (argv, r.out)
    assert len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err, r.err
    return r.err


def today_pkt() -> date:
    from datetime import datetime
    return datetime.now(PKT).date()


@pytest.fixture
def isp(fresh_admin: str) -> str:
    """A Punjab ISP billing on anniversaries (5 lead days, 3 grace days), a Rs 2,500 plan, Punjab
    sales tax 19.5% and advance income tax 15%."""
    ok("tenant", "add", "isp1")
    ok("tenant", "set", "isp1", "--billing-cycle", "anniversary", "--invoice-lead-days", "5", "--grace-days", "3",
       "--province", "punjab", "--legal-name", "FastNet (Pvt) Ltd", "--ntn", "1234567-8",
       "--strn", "P3277876100000", "--bank-iban", "pk36 scbl 0000 0011 2345 6702")
    ok("plan", "add", "home", "--rate-limit", "2M/8M", "--price", "2500")
    ok("tax", "add", "Punjab sales tax", "--kind", "sales", "--rate", "19.5", "--from", "2025-07-01",
       "--province", "punjab", "--reference", "PST Act 2012")
    ok("tax", "add", "Advance income tax u/s 236", "--kind", "advance-income", "--rate", "15", "--from", "2025-07-01")
    return fresh_admin


def subscriber(name: str, paid_until: date, *extra: str) -> None:
    ok("subscriber", "add", name, "--plan", "home", "--password-stdin", "--expires", paid_until.isoformat(),
       "--phone", "03001234567", *extra, stdin="pw-" + name + "-1\n")


def run(on: date, *extra: str) -> Any:
    return js("billing", "run", "--date", on.isoformat(), *extra)


# --------------------------------------------------------------------------- a run issues once
def test_a_run_issues_the_next_invoice_once_with_the_taxes_in_force(isp: str) -> None:
    paid = today_pkt() + timedelta(days=3)
    subscriber("ali", paid)
    subscriber("later", paid + timedelta(days=10))  # not yet within the 5 lead days
    first = run(today_pkt())
    assert [i["username"] for i in first["invoices"]] == ["ali"]
    inv = first["invoices"][0]
    assert inv["period_start"] == (paid + timedelta(days=1)).isoformat()
    assert inv["due_on"] == paid.isoformat()
    # Rs 2,500 + 19.5% sales tax (487.50) + 15% of the net (375.00) = Rs 3,362.50
    assert inv["total_paisa"] == 336250
    assert inv["notified"] == "whatsapp"
    # The same day again, and the next day: nothing more for ali.
    assert run(today_pkt())["invoices"] == []
    assert run(today_pkt() + timedelta(days=1))["invoices"] == []
    doc = js("invoice", "show", inv["number"])
    assert doc["kind"] == "invoice" and doc["status"] == "open"
    assert doc["seller"] == {"display_name": None, "legal_name": "FastNet (Pvt) Ltd", "ntn": "1234567-8",
                             "strn": "P3277876100000", "province": "punjab", "bank_iban": IBAN}
    [line] = doc["lines"]
    assert line["net_paisa"] == 250000
    assert [(t["name"], t["rate"], t["base_paisa"], t["amount_paisa"]) for t in line["taxes"]] == [
        ("Punjab sales tax", "19.5", 250000, 48750), ("Advance income tax u/s 236", "15", 250000, 37500)]
    assert doc["net_paisa"] + doc["tax_paisa"] == doc["total_paisa"] == line["total_paisa"]
    assert doc["due_paisa"] == 336250 and doc["pay"]["iban"] == IBAN and doc["pay"]["reference"] == inv["number"]
    # Until paid, service runs into the grace days: paid-until is the due day, expiry the grace's end.
    sub = js("subscriber", "show", "ali")
    assert sub["paid_until"] == (paid + timedelta(days=3)).isoformat()
    rows = sql(isp, "SELECT template, channel, recipient FROM notification WHERE invoice_id IS NOT NULL")
    assert rows == [("invoice_issued", "whatsapp", "+923001234567")]
    actions = [a for (a,) in sql(isp, "SELECT action FROM admin_audit ORDER BY id") if a.startswith(("invoice", "tax"))]
    assert actions == ["tax.add", "tax.add", "invoice.issue"]


def test_a_dry_run_reports_what_a_run_does_and_changes_nothing(isp: str) -> None:
    subscriber("ali", today_pkt() + timedelta(days=2))
    dry = run(today_pkt(), "--dry-run")
    assert dry["dry_run"] is True and [i["username"] for i in dry["invoices"]] == ["ali"]
    assert sql(isp, "SELECT count(*) FROM invoice") == [(0,)]
    assert sql(isp, "SELECT count(*) FROM notification") == [(0,)]
    real = run(today_pkt())
    # The dry run's number was given back: the real run takes it.
    assert real["invoices"][0]["number"] == dry["invoices"][0]["number"]


def test_two_runs_at_once_issue_each_invoice_once_with_no_gap_in_the_numbers(isp: str) -> None:
    paid = today_pkt() + timedelta(days=2)
    for n in range(30):
        subscriber(f"u{n:02d}", paid)
    env = dict(os.environ, CLOUDOS_ACTOR="billing-run")
    argv = [sys.executable, "-m", "cloudos.cli", "billing", "run", "--json", "--date", today_pkt().isoformat()]
    procs = [subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e for _, e in outs]
    issued = [i for out, _ in outs for i in json.loads(out)["invoices"]]
    assert sorted(i["username"] for i in issued) == [f"u{n:02d}" for n in range(30)]
    numbers = sorted(n for (n,) in sql(isp, "SELECT number FROM invoice"))
    prefix = numbers[0].rsplit("-", 1)[0]
    assert numbers == [f"{prefix}-{n:06d}" for n in range(1, 31)]
    assert sql(isp, "SELECT count(DISTINCT subscriber_id) FROM invoice") == [(30,)]
    # The timer's actor on every row the runs wrote.
    assert sql(isp, "SELECT actor, count(*) FROM admin_audit WHERE action = 'invoice.issue' GROUP BY actor") == [
        ("billing-run", 30)]


def test_no_column_could_hold_card_data(isp: str) -> None:
    """The privacy policy: card details are never stored. Payments keep a method, a reference and an amount."""
    columns = sql(isp, "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'"
                       " AND column_name ~* '(card|cvv|cvc|pan$|^pan_|track|expiry_(month|year))'")
    assert columns == []
    assert {c for (c,) in sql(isp, "SELECT column_name FROM information_schema.columns WHERE table_name = 'payment'")} \
        == {"id", "tenant_id", "subscriber_id", "method", "reference", "amount_paisa", "status", "received_at",
            "created_at", "created_by"}


# --------------------------------------------------------------------------- taxes over time
def test_rates_in_force_on_the_day_of_issue_and_an_invoice_keeps_its_own(fresh_admin: str) -> None:
    fresh_db = fresh_admin
    ok("tenant", "add", "isp1")
    ok("tenant", "set", "isp1", "--province", "sindh", "--invoice-lead-days", "5")
    ok("plan", "add", "home", "--rate-limit", "2M/8M", "--price", "1000")
    ok("tax", "add", "Sindh sales tax", "--kind", "sales", "--rate", "19.5", "--from", "2026-07-01",
       "--to", "2027-06-30")
    ok("tax", "add", "Punjab sales tax", "--kind", "sales", "--rate", "16", "--from", "2026-07-01",
       "--province", "punjab")
    subscriber("before", date(2027, 7, 2))     # invoiced 27 June: the old rate
    subscriber("after", date(2027, 7, 10))     # invoiced 5 July: no Sindh rule in force yet
    subscriber("lahore", date(2027, 7, 2), )
    ok("subscriber", "set", "lahore", "--province", "punjab")
    run(date(2027, 6, 27))
    ok("tax", "add", "Sindh sales tax", "--kind", "sales", "--rate", "15", "--from", "2027-07-01")
    run(date(2027, 7, 5))
    totals = dict(sql(fresh_db, "SELECT s.username, i.total_paisa FROM invoice i JOIN subscriber s "
                                "ON s.id = i.subscriber_id"))
    assert totals == {"before": 119500, "after": 115000, "lahore": 116000}
    # The old invoice kept its 19.5%, and an invoice's lines and taxes cannot be rewritten.
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        sql(fresh_db, "UPDATE invoice_tax SET rate = 15")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        sql(fresh_db, "UPDATE invoice SET total_paisa = 1")


def test_an_exempt_subscriber_pays_no_advance_income_tax_until_the_exemption_ends(isp: str) -> None:
    paid = today_pkt() + timedelta(days=2)
    subscriber("govt", paid)
    ok("subscriber", "set", "govt", "--tax-exempt-until", (paid + timedelta(days=40)).isoformat())
    [inv] = run(today_pkt())["invoices"]
    assert inv["total_paisa"] == 250000 + 48750
    doc = js("invoice", "show", inv["number"])
    assert [t["kind"] for t in doc["lines"][0]["taxes"]] == ["sales"]


def test_overlapping_rules_of_one_kind_for_one_province_are_refused(isp: str) -> None:
    err = refused("tax", "add", "PST again", "--kind", "sales", "--rate", "16", "--from", "2026-07-01",
                  "--province", "punjab")
    assert "overlaps tax rule" in err
    # Another province, or the other kind, is no overlap; a rule ending the day before is none either.
    ok("tax", "add", "SST", "--kind", "sales", "--rate", "19.5", "--from", "2026-07-01", "--province", "sindh")
    assert "--to 2026-01-01 is before --from" in refused("tax", "add", "x", "--kind", "sales", "--rate", "1",
                                                         "--from", "2026-07-01", "--to", "2026-01-01")
    assert "--base applies to advance income tax only" in refused(
        "tax", "add", "x", "--kind", "sales", "--rate", "1", "--from", "2030-01-01", "--base", "net-plus-sales")
    assert "0 to 100 percent" in refused("tax", "add", "x", "--kind", "sales", "--rate", "101", "--from", "2030-01-01")
    rules = js("tax", "list")
    assert [(r["name"], r["province"]) for r in rules] == [
        ("Advance income tax u/s 236", None), ("Punjab sales tax", "punjab"), ("SST", "sindh")]


def test_a_mistyped_iban_is_refused_with_its_reason(isp: str) -> None:
    assert "ISO 13616" in refused("tenant", "set", "isp1", "--bank-iban", "PK37SCBL0000001123456702")
    assert refused("tenant", "set", "isp1", "--bank-iban", "not an iban")
    assert js("tenant", "show", "isp1")["bank_iban"] == IBAN


# --------------------------------------------------------------------------- credit notes
def test_void_issues_a_credit_note_and_the_invoice_stays_readable(isp: str) -> None:
    subscriber("ali", today_pkt() + timedelta(days=2))
    [inv] = run(today_pkt())["invoices"]
    void = js("invoice", "void", inv["number"], "--reason", "billed twice by mistake")
    assert void["credit_note"].startswith("CN-")
    doc = js("invoice", "show", inv["number"])
    assert doc["status"] == "void" and doc["credited_by"] == void["credit_note"] and doc["due_paisa"] == 0
    note = js("invoice", "show", void["credit_note"])
    assert note["kind"] == "credit_note" and note["credits"] == inv["number"]
    assert note["total_paisa"] == inv["total_paisa"] and note["reason"] == "billed twice by mistake"
    assert note["lines"] == doc["lines"]
    assert "void already" in refused("invoice", "void", inv["number"], "--reason", "again")
    assert "credit note" in refused("invoice", "void", void["credit_note"], "--reason", "x")
    assert js("ledger", "ali")["balance_paisa"] == 0
    [listed] = js("invoice", "list", "--credit-notes")
    assert (listed["number"], listed["tenant"], listed["kind"]) == (void["credit_note"], "isp1", "credit_note")
    # The grace days it granted are given back: service ends with the paid day again.
    assert js("subscriber", "show", "ali")["paid_until"] == inv["due_on"]
    # A void invoice's period is free again: the next run issues a new invoice for it.
    [again] = run(today_pkt())["invoices"]
    assert again["period_start"] == inv["period_start"] and again["number"] != inv["number"]


# --------------------------------------------------------------------------- payments and dunning
def test_a_payment_is_recorded_once_per_reference_and_renews(isp: str) -> None:
    paid = today_pkt() + timedelta(days=2)
    subscriber("ali", paid)
    [inv] = run(today_pkt())["invoices"]
    first = js("payment", "record", "ali", "--amount", "3,362.50", "--method", "jazzcash", "--reference", "T123")
    assert first["settled"] == [inv["number"]] and first["balance_paisa"] == 0 and not first["already_recorded"]
    assert first["paid_until"] == inv["period_end"]
    again = js("payment", "record", "ali", "--amount", "3362.50", "--method", "jazzcash", "--reference", "T123")
    assert again["already_recorded"] is True
    assert "recorded already" in refused("payment", "record", "ali", "--amount", "100", "--method", "jazzcash",
                                         "--reference", "T123")
    assert sql(isp, "SELECT count(*), sum(amount_paisa) FROM payment") == [(1, 336250)]
    assert js("invoice", "show", inv["number"])["status"] == "paid"
    assert js("subscriber", "show", "ali")["paid_until"] == inv["period_end"]
    ledger = js("ledger", "ali")
    assert [e["kind"] for e in ledger["entries"]] == ["invoice", "payment"] and ledger["balance_paisa"] == 0
    # The same reference by another method is another payment.
    other = js("payment", "record", "ali", "--amount", "100", "--method", "cash", "--reference", "T123")
    assert other["balance_paisa"] == -10000
    # Paid invoices and payments are history: not rewritten, not deleted.
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        sql(isp, "UPDATE invoice SET status = 'open'")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        sql(isp, "DELETE FROM payment")
    assert "more than 0" in refused("payment", "record", "ali", "--amount", "0", "--method", "cash",
                                    "--reference", "R0")
    assert "invalid amount" in refused("payment", "record", "ali", "--amount", "lots", "--method", "cash",
                                       "--reference", "R0")
    assert "--received-at: invalid time" in refused("payment", "record", "ali", "--amount", "1", "--method", "cash",
                                                    "--reference", "R0", "--received-at", "yesterday")
    assert "is in the future" in refused("payment", "record", "ali", "--amount", "1", "--method", "cash",
                                         "--reference", "R0", "--received-at", "2099-01-01T10:00")
    # A time without an offset is the tenant's: 10:00 PKT is 05:00 UTC.
    js("payment", "record", "ali", "--amount", "1", "--method", "cash", "--reference", "R-at",
       "--received-at", "2026-11-30T10:00")
    assert sql(isp, "SELECT received_at AT TIME ZONE 'UTC' FROM payment WHERE reference = 'R-at'")[0][0].hour == 5


def test_credit_held_pays_the_next_invoice_when_it_is_issued(isp: str) -> None:
    paid = today_pkt() + timedelta(days=2)
    subscriber("ali", paid)
    js("payment", "record", "ali", "--amount", "5000", "--method", "bank", "--reference", "IBFT-1")
    assert js("ledger", "ali")["balance_paisa"] == -500000
    out = run(today_pkt())
    assert [p["username"] for p in out["paid_from_credit"]] == ["ali"]
    assert js("ledger", "ali")["balance_paisa"] == -500000 + 336250


def test_unpaid_past_grace_is_suspended_and_payment_resumes(isp: str) -> None:
    paid = today_pkt() + timedelta(days=2)
    subscriber("ali", paid)
    [inv] = run(today_pkt())["invoices"]
    due = run(paid)
    assert [r["number"] for r in due["reminders"]] == [inv["number"]]
    assert run(paid + timedelta(days=3))["suspensions"] == []  # the last grace day
    late = run(paid + timedelta(days=4))
    assert [(s["username"], s["number"]) for s in late["suspensions"]] == [("ali", inv["number"])]
    sub = js("subscriber", "show", "ali")
    assert sub["status"] == "suspended" and inv["number"] in sub["status_reason"]
    assert run(paid + timedelta(days=5))["suspensions"] == []  # once
    paid_now = js("payment", "record", "ali", "--amount", "3362.50", "--method", "easypaisa", "--reference", "EP-9")
    assert paid_now["resumed"] is True
    assert js("subscriber", "show", "ali")["status"] == "active"
    actions = [a for (a,) in sql(isp, "SELECT action FROM admin_audit ORDER BY id")
               if a.startswith(("invoice", "subscriber.s", "subscriber.r", "payment"))]
    assert actions == ["invoice.issue", "invoice.remind", "subscriber.suspend", "payment.record", "invoice.paid",
                       "subscriber.resume"]


def test_an_operator_suspension_is_not_lifted_by_payment(isp: str) -> None:
    subscriber("ali", today_pkt() + timedelta(days=2))
    [inv] = run(today_pkt())["invoices"]
    ok("subscriber", "suspend", "ali", "--reason", "abuse complaint")
    paid = js("payment", "record", "ali", "--amount", "3362.50", "--method", "cash", "--reference", "R-1")
    assert paid["resumed"] is False and paid["settled"] == [inv["number"]]
    assert js("subscriber", "show", "ali")["status"] == "suspended"


# --------------------------------------------------------------------------- the invoice as PDF
def test_the_pdf_prints_what_the_invoice_says_and_fetches_nothing(isp: str, tmp_path: Path) -> None:
    subscriber("ali", today_pkt() + timedelta(days=2), "--name", "Ali <img src='http://127.0.0.1:9/x.png'>",
               "--address", "House 7, Street 3, Lahore")
    [inv] = run(today_pkt())["invoices"]
    out = tmp_path / "inv.pdf"
    r = js("invoice", "pdf", inv["number"], "--out", str(out))
    assert r["bytes"] == out.stat().st_size and out.read_bytes().startswith(b"%PDF-")
    text = subprocess.run(["pdftotext", "-layout", str(out), "-"], capture_output=True, text=True, check=True).stdout
    for words in (inv["number"], "FastNet (Pvt) Ltd", "1234567-8", "P3277876100000", IBAN,
                  "Punjab sales tax @ 19.5%", "Rs 487.50", "Advance income tax u/s 236 @ 15%", "Rs 375.00",
                  "Rs 3,362.50", "House 7, Street 3, Lahore", "Ali <img src='http://127.0.0.1:9/x.png'>",
                  "section 236"):
        assert words in text, words
    # The Urdu lines come out in reading order, set in a font that has them: the stylesheet's DejaVu Sans
    # and Noto Naskh Arabic are the only fonts embedded (no fallback, no empty boxes).
    bidi = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))
    plain = text.translate(bidi)
    assert "بل" in plain and "ہر ادائیگی کے ساتھ حوالہ نمبر" in plain and "ضرور لکھیں۔" in plain
    fonts = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True, check=True).stdout
    embedded = {line.split()[0].split("+", 1)[1] for line in fonts.splitlines()[2:]}
    assert embedded == {"DejaVu-Sans", "DejaVu-Sans-Bold", "Noto-Naskh-Arabic"}, fonts
    assert "cannot write" in refused("invoice", "pdf", inv["number"], "--out", str(tmp_path / "no" / "such.pdf"))
    assert "no invoice or credit note" in refused("invoice", "pdf", "INV-1999-00-000001", "--out", str(out))


# --------------------------------------------------------------------------- plan changes
def half_up(paisa: Decimal) -> int:
    return int(paisa.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def paid_into_its_period(name: str) -> dict[str, Any]:
    """A subscriber invoiced ten days ago for the period that started eleven days ago, and paid."""
    subscriber(name, today_pkt() - timedelta(days=12))
    [inv] = run(today_pkt() - timedelta(days=10))["invoices"]
    js("payment", "record", name, "--amount", "3362.50", "--method", "cash", "--reference", f"R-{name}")
    issued: dict[str, Any] = inv
    return issued


def test_a_prorated_plan_change_credits_the_unused_days_and_charges_the_new_plan(isp: str) -> None:
    ok("plan", "add", "fast", "--rate-limit", "4M/16M", "--price", "4000")
    today = today_pkt()
    inv = paid_into_its_period("ali")
    start, end = date.fromisoformat(inv["period_start"]), date.fromisoformat(inv["period_end"])
    days, rest = (end - start).days + 1, (end - today).days + 1
    moved = js("subscriber", "set-plan", "ali", "fast", "--prorate")["prorated"]
    # The unused days of Rs 2,500 given back with their taxes at the rates issued (19.5% + 15%) ...
    credit_net = half_up(Decimal(250000 * rest) / days)
    credit = credit_net + half_up(credit_net * Decimal("0.195")) + half_up(credit_net * Decimal("0.15"))
    # ... and charged at Rs 4,000 for the period.
    charge_net = half_up(Decimal(400000 * rest) / days)
    charge = charge_net + half_up(charge_net * Decimal("0.195")) + half_up(charge_net * Decimal("0.15"))
    assert (moved["credit_paisa"], moved["invoice_paisa"]) == (credit, charge)
    assert moved["balance_paisa"] == charge - credit and moved["paid"] is False
    note = js("invoice", "show", moved["credit_note"])
    assert note["kind"] == "credit_note" and note["credits"] == inv["number"]
    assert (note["period_start"], note["period_end"]) == (today.isoformat(), inv["period_end"])
    new = js("invoice", "show", moved["invoice"])
    assert new["reason"] == "plan change from home to fast" and new["due_on"] == today.isoformat()
    assert f"{rest} days, prorated" in new["lines"][0]["description"]
    assert js("invoice", "show", inv["number"])["status"] == "paid"  # the paid invoice stays as issued
    assert [e["kind"] for e in js("ledger", "ali")["entries"]] == ["invoice", "payment", "credit_note", "invoice"]
    assert js("subscriber", "show", "ali")["plan"] == "fast"
    # The change's invoice is unpaid: a second prorated change waits for it.
    assert "is unpaid" in refused("subscriber", "set-plan", "ali", "home", "--prorate")
    # Nothing half-done by the refusal:
    assert sql(isp, "SELECT count(*) FROM invoice WHERE kind = 'invoice' AND reason IS NOT NULL") == [(1,)]
    assert js("subscriber", "show", "ali")["plan"] == "fast"


def test_a_prorated_downgrade_is_paid_from_the_credit_and_voids_what_was_issued_ahead(isp: str) -> None:
    ok("plan", "add", "basic", "--rate-limit", "1M/4M", "--price", "1000")
    inv = paid_into_its_period("ali")
    # The next period's invoice, issued ahead on the old plan:
    end = date.fromisoformat(inv["period_end"])
    [ahead] = run(end - timedelta(days=2))["invoices"]
    moved = js("subscriber", "set-plan", "ali", "basic", "--prorate")["prorated"]
    assert moved["paid"] is True and moved["voided"] == [ahead["number"]]
    assert moved["balance_paisa"] == moved["invoice_paisa"] - moved["credit_paisa"] < 0
    assert js("invoice", "show", ahead["number"])["status"] == "void"
    # The next run invoices the next period again, on the new plan, paid from what is held.
    [again] = run(end - timedelta(days=2))["invoices"]
    assert again["period_start"] == ahead["period_start"] and again["total_paisa"] == 100000 + 19500 + 15000


def test_a_prorated_change_needs_a_paid_invoice_covering_today(isp: str) -> None:
    ok("plan", "add", "fast", "--rate-limit", "4M/16M", "--price", "4000")
    subscriber("ali", today_pkt() + timedelta(days=20))
    assert "no invoice covers today" in refused("subscriber", "set-plan", "ali", "fast", "--prorate")
    assert "already" in refused("subscriber", "set-plan", "ali", "home", "--prorate")
    assert js("subscriber", "show", "ali")["plan"] == "home"  # refused: nothing changed


def test_subscriber_show_gives_the_balance_province_and_exemption(isp: str) -> None:
    subscriber("ali", today_pkt() + timedelta(days=2))
    run(today_pkt())
    ok("subscriber", "set", "ali", "--tax-exempt-until", "2027-06-30")
    view = js("subscriber", "show", "ali")
    assert (view["balance_paisa"], view["province"], view["province_own"], view["tax_exempt_until"]) == (
        336250, "punjab", False, "2027-06-30")
    human = ok("subscriber", "show", "ali").out
    assert "balance     Rs 3,362.50 owed (cloudos ledger ali)" in human
    assert "province    punjab (the tenant's); exempt from advance income tax until 2027-06-30" in human


def test_the_pdf_engine_is_given_a_fetcher_that_fetches_nothing() -> None:
    """Should a value ever reach the page unescaped, WeasyPrint still requests nothing: the fetcher
    render_pdf hands it refuses every URL. The same page with WeasyPrint's own fetcher does request."""
    import socket
    import threading

    import weasyprint

    from cloudos.billing import pdf

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    port = server.getsockname()[1]
    hits: list[int] = []
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            hits.append(1)
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    page = (f'<html><head><link rel="stylesheet" href="http://127.0.0.1:{port}/a.css"></head>'
            f'<body><img src="http://127.0.0.1:{port}/x.png"><p>x</p></body></html>')
    try:
        assert weasyprint.HTML(string=page, url_fetcher=pdf.Refuse()).write_pdf().startswith(b"%PDF-")
        refused_hits = len(hits)
        weasyprint.HTML(string=page).write_pdf()
        default_hits = len(hits) - refused_hits
    finally:
        done.set()
        thread.join(5)
        server.close()
    assert (refused_hits, default_hits > 0) == (0, True)
