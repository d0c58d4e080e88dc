"""A subscriber's data (or a whole tenant's) as one file: a JSON document, or a zip of CSV files with
a README of their columns (pure: values in, bytes out). The privacy policy's access and portability."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from cloudos.show import utc

FORMAT = "cloudos-subscriber-export"
TENANT_FORMAT = "cloudos-tenant-export"
VERSION = 1

#: What each section holds, for the README of a CSV export and the JSON's "sections" description.
DESCRIPTIONS = {
    "profile": "the subscriber as held: status, plan, paid-until, devices, contact details, identity (no password)",
    "sessions": "every accounting session: when, where from, the address given, bytes and seconds",
    "usage": "bytes and seconds counted per billing period",
    "auth_log": "every login attempt: when, accepted or why not, the method and the device",
    "invoices": "invoices and credit notes, as issued",
    "invoice_lines": "each invoice's lines",
    "invoice_taxes": "each line's taxes, with the rate applied",
    "payments": "payments received",
    "payment_allocations": "which invoice each payment settled",
    "ledger": "debits (invoices) and credits (payments, credit notes)",
    "notifications": "messages queued or sent (WhatsApp, SMS, email)",
    "coa_requests": "speed changes and disconnects sent to the router",
    "data_requests": "requests made under the privacy policy",
    "consents": "each yes or no to marketing and to analytics: when, where it was said, who recorded it",
    "audit": "administrative actions on the account (personal fields as keyed digests)",
}

#: A tenant's export: its configuration, its subscriber base and its billing records.
TENANT_DESCRIPTIONS = {
    "tenant": "the ISP's settings: time zone, RADIUS policy, walled garden, billing settings",
    "nas": "its routers (no shared secret)",
    "plans": "its service plans",
    "tax_rules": "its tax rules with their effective dates",
    "subscribers": "every subscriber as held, the CNIC decrypted (no password)",
    "usage": "bytes and seconds counted per subscriber and billing period",
    "invoices": DESCRIPTIONS["invoices"],
    "invoice_lines": DESCRIPTIONS["invoice_lines"],
    "invoice_taxes": DESCRIPTIONS["invoice_taxes"],
    "payments": DESCRIPTIONS["payments"],
    "payment_allocations": DESCRIPTIONS["payment_allocations"],
    "ledger": DESCRIPTIONS["ledger"],
    "data_requests": DESCRIPTIONS["data_requests"],
    "consents": DESCRIPTIONS["consents"],
    "privacy_holidays": "the holidays data-request deadlines skip",
}


def plain(value: Any) -> Any:
    """A stored value as an export writes it: instants in UTC, days ISO, decimals and addresses as text."""
    if isinstance(value, datetime):
        return utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dict, list)):
        return [plain(v) for v in value] if isinstance(value, list) else {k: plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def document(meta: dict[str, Any], profile: dict[str, Any], sections: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    return {"format": FORMAT, "version": VERSION, **{k: plain(v) for k, v in meta.items()},
            "profile": plain(profile), "sections": {name: plain(rows) for name, rows in sections.items()},
            "descriptions": DESCRIPTIONS}


def to_json(doc: dict[str, Any]) -> bytes:
    return (json.dumps(doc, indent=2, ensure_ascii=False, sort_keys=False) + "\n").encode()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = str(value)
    # A spreadsheet reads a cell starting = + - @ as a formula: an apostrophe keeps it text.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv(rows: list[dict[str, Any]], columns: list[str]) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(columns)
    for row in rows:
        w.writerow([_cell(row.get(c)) for c in columns])
    return out.getvalue().encode()


def tenant_document(meta: dict[str, Any], sections: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    return {"format": TENANT_FORMAT, "version": VERSION, **{k: plain(v) for k, v in meta.items()},
            "sections": {name: plain(rows) for name, rows in sections.items()}, "descriptions": TENANT_DESCRIPTIONS}


_UNITS = ["Times are UTC (ISO 8601, Z); money is in paisa (1 rupee = 100 paisa) where a column ends _paisa;",
          "bytes are exact integers. One CSV per section, UTF-8, a header row first:", ""]


def _zip(files: dict[str, list[dict[str, Any]]], columns: dict[str, list[str]], head: str,
         descriptions: dict[str, str]) -> bytes:
    """One CSV per section and README.txt naming each file's columns. ``columns``: each section's
    column names, so an empty section still has its header."""
    readme = [head, *_UNITS]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, rows in files.items():
            cols = columns.get(name) or sorted({k for r in rows for k in r})
            z.writestr(f"{name}.csv", _csv(rows, cols))
            readme += [f"{name}.csv ({len(rows)} row{'s' if len(rows) != 1 else ''}): {descriptions[name]}",
                       "  columns: " + ", ".join(cols), ""]
        z.writestr("README.txt", "\n".join(readme).encode())
    return buf.getvalue()


def to_zip(doc: dict[str, Any], columns: dict[str, list[str]]) -> bytes:
    """A subscriber's export as CSVs: ``profile.csv`` (one row) and one file per section."""
    head = (f"{FORMAT} version {VERSION}: everything held about subscriber {doc['username']} of tenant "
            f"{doc['tenant']}, exported {doc['exported_at']} (UTC).")
    return _zip({"profile": [doc["profile"]], **doc["sections"]}, columns, head, DESCRIPTIONS)


def tenant_zip(doc: dict[str, Any], columns: dict[str, list[str]]) -> bytes:
    head = (f"{TENANT_FORMAT} version {VERSION}: tenant {doc['tenant']}'s configuration, subscribers and billing "
            f"records, exported {doc['exported_at']} (UTC). Session history and the auth log are not in it.")
    return _zip(doc["sections"], columns, head, TENANT_DESCRIPTIONS)
