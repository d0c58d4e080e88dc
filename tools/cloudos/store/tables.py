"""The schema's tables as the tools see them: SQLAlchemy Core ``Table`` objects, declared, never reflected.

They mirror schema/versions/ (the migrations own the schema; nothing here creates
or alters a table). A column the tools read or write is declared with the type
PostgreSQL gives it, so binds are cast the way the database expects (macaddr,
inet, cidr) and ``select(table)`` returns what ``SELECT *`` did.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (BigInteger, Boolean, Column, Date, DateTime, Integer, LargeBinary, MetaData, Numeric, SmallInteger,
                        String, Table, Text)
from sqlalchemy.dialects.postgresql import ARRAY, CIDR, INET, JSONB, MACADDR

metadata = MetaData()


def _ts(name: str, *, nullable: bool = True) -> Column[datetime]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


tenant = Table(
    "tenant", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("name", Text, nullable=False),
    Column("display_name", Text),
    Column("timezone", Text, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("interim_interval", Integer, nullable=False),
    Column("walled_garden_address_list", Text),
    Column("walled_garden_rate_limit", Text),
    Column("backend_down_policy", Text, nullable=False),
    Column("backend_down_cache_seconds", Integer, nullable=False),
    _ts("created_at", nullable=False),
    _ts("updated_at", nullable=False),
    _ts("terminated_at"),
    Column("login_fail_limit", Integer, nullable=False),
    Column("login_fail_window_seconds", Integer, nullable=False),
    Column("login_lockout_seconds", Integer, nullable=False),
    # 0015: billing.
    Column("billing_cycle", Text, nullable=False),
    Column("billing_day", SmallInteger, nullable=False),
    Column("invoice_lead_days", SmallInteger, nullable=False),
    Column("grace_days", SmallInteger, nullable=False),
    Column("province", Text),
    Column("legal_name", Text),
    Column("ntn", Text),
    Column("strn", Text),
    Column("bank_iban", Text),
)

nas = Table(
    "nas", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("name", Text, nullable=False),
    Column("address", CIDR, nullable=False),
    Column("secret_enc", LargeBinary, nullable=False),
    Column("coa_port", Integer, nullable=False),
    Column("nas_type", Text, nullable=False),
    Column("description", Text),
    _ts("created_at", nullable=False),
    _ts("updated_at", nullable=False),
)

plan = Table(
    "plan", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("name", Text, nullable=False),
    Column("rate_limit", Text, nullable=False),
    Column("quota_bytes", BigInteger),
    Column("quota_download_bytes", BigInteger),
    Column("quota_upload_bytes", BigInteger),
    Column("time_quota_seconds", BigInteger),
    Column("fup_rate_limit", Text),
    Column("period", Text, nullable=False),
    Column("price", Numeric(12, 2)),
    Column("simultaneous_use", Integer, nullable=False),
    Column("address_list", Text),
    Column("ip_pool", Text),
    Column("active", Boolean, nullable=False),
    _ts("created_at", nullable=False),
    _ts("updated_at", nullable=False),
)

subscriber = Table(
    "subscriber", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("username", Text, nullable=False),
    Column("password_enc", LargeBinary, nullable=False),
    Column("plan_id", BigInteger),
    Column("status", Text, nullable=False),
    Column("status_reason", Text),
    _ts("expires_at"),
    Column("mac", MACADDR),
    Column("static_ip", INET),
    Column("full_name", Text),
    Column("phone", Text),
    Column("email", Text),
    Column("cnic_enc", LargeBinary),
    Column("postal_address", Text),
    _ts("created_at", nullable=False),
    _ts("updated_at", nullable=False),
    _ts("terminated_at"),
    _ts("locked_until"),
    # 0015: billing.
    Column("province", Text),
    Column("tax_exempt_until", Date),
    Column("billing_anchor", SmallInteger),
    _ts("erased_at"),
)

session_open = Table(
    "session_open", metadata,
    Column("acct_unique_id", Text, primary_key=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("subscriber_id", BigInteger),
    Column("nas_id", BigInteger),
    Column("username", Text, nullable=False),
    Column("acct_session_id", Text, nullable=False),
    _ts("started_at", nullable=False),
    _ts("updated_at", nullable=False),
    _ts("stopped_at"),
    Column("framed_ip", INET),
    Column("calling_station_id", Text),
    Column("nas_port_id", Text),
    Column("input_octets", BigInteger, nullable=False),
    Column("output_octets", BigInteger, nullable=False),
    Column("session_time", BigInteger, nullable=False),
    Column("terminate_cause", Text),
    Column("nas_address", INET),
)

usage_counter = Table(
    "usage_counter", metadata,
    Column("tenant_id", BigInteger, nullable=False),
    Column("subscriber_id", BigInteger, primary_key=True),
    Column("period_start", DateTime(timezone=True), primary_key=True),
    _ts("period_end", nullable=False),
    Column("input_octets", BigInteger, nullable=False),
    Column("output_octets", BigInteger, nullable=False),
    Column("session_time", BigInteger, nullable=False),
    _ts("updated_at", nullable=False),
)

auth_log = Table(
    "auth_log", metadata,
    _ts("at", nullable=False),
    Column("tenant_id", BigInteger, nullable=False),
    Column("nas_id", BigInteger),
    Column("subscriber_id", BigInteger),
    Column("username", Text, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("auth_method", Text),
    Column("calling_station_id", Text),
    Column("nas_port_id", Text),
    Column("nas_port_type", Text),
    Column("framed_ip", INET),
    Column("walled_garden", Boolean, nullable=False),
)

admin_audit = Table(
    "admin_audit", metadata,
    Column("id", BigInteger, primary_key=True),
    _ts("at", nullable=False),
    Column("actor", Text, nullable=False),
    Column("tenant_id", BigInteger),
    Column("action", Text, nullable=False),
    Column("target", Text, nullable=False),
    # none_as_null: a change without a before (an add) or an after (a remove) is SQL NULL, not JSON null.
    Column("before", JSONB(none_as_null=True)),
    Column("after", JSONB(none_as_null=True)),
    Column("prev_hash", Text, nullable=False),
    Column("hash", Text, nullable=False),
    # 0009: 1 = plain SHA-256 (rows before it), 2 = HMAC under key_id; db_user is set by a trigger.
    Column("version", SmallInteger, nullable=False),
    Column("key_id", Text),
    Column("db_user", Text),
    Column("changed", ARRAY(Text)),
)

coa_outbox = Table(
    "coa_outbox", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("nas_id", BigInteger, nullable=False),
    Column("acct_unique_id", Text),
    Column("kind", Text, nullable=False),
    Column("attributes", JSONB, nullable=False),
    Column("status", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    _ts("next_attempt_at", nullable=False),
    Column("result", Text),
    _ts("created_at", nullable=False),
    _ts("done_at"),
    Column("nas_address", INET),
    Column("reason", Text),
    Column("subscriber_id", BigInteger),
)

#: Each radiusd's accounting journal progress (0011): what the reaper waits for and `cloudos metrics` reports.
journal_node = Table(
    "journal_node", metadata,
    Column("node", Text, primary_key=True),
    _ts("caught_up_at", nullable=False),
    _ts("seen_at", nullable=False),
)

# ---------------------------------------------------------------------------- billing (0015)
tax_rule = Table(
    "tax_rule", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("name", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("rate", Numeric(6, 3), nullable=False),
    Column("province", Text),
    Column("base", Text, nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date),
    Column("reference", Text),
    _ts("created_at", nullable=False),
)

number_series = Table(
    "number_series", metadata,
    Column("tenant_id", BigInteger, primary_key=True),
    Column("series", Text, primary_key=True),
    Column("fiscal_year", Text, primary_key=True),
    Column("last_value", BigInteger, nullable=False),
)

invoice = Table(
    "invoice", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("subscriber_id", BigInteger, nullable=False),
    Column("kind", Text, nullable=False),
    Column("number", Text, nullable=False),
    Column("credits_id", BigInteger),
    Column("reason", Text),
    Column("plan_id", BigInteger),
    Column("plan_name", Text),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
    Column("issued_on", Date, nullable=False),
    Column("due_on", Date),
    Column("grace_until", Date),
    Column("net_paisa", BigInteger, nullable=False),
    Column("tax_paisa", BigInteger, nullable=False),
    Column("total_paisa", BigInteger, nullable=False),
    Column("status", Text, nullable=False),
    _ts("paid_at"),
    Column("seller", JSONB, nullable=False),
    Column("buyer", JSONB, nullable=False),
    _ts("created_at", nullable=False),
    Column("created_by", Text, nullable=False),
)

invoice_line = Table(
    "invoice_line", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("invoice_id", BigInteger, nullable=False),
    Column("position", SmallInteger, nullable=False),
    Column("description", Text, nullable=False),
    Column("net_paisa", BigInteger, nullable=False),
    Column("tax_paisa", BigInteger, nullable=False),
    Column("total_paisa", BigInteger, nullable=False),
)

invoice_tax = Table(
    "invoice_tax", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("line_id", BigInteger, nullable=False),
    Column("tax_rule_id", BigInteger),
    Column("name", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("rate", Numeric(6, 3), nullable=False),
    Column("base_paisa", BigInteger, nullable=False),
    Column("amount_paisa", BigInteger, nullable=False),
    Column("reference", Text),
)

payment = Table(
    "payment", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("subscriber_id", BigInteger, nullable=False),
    Column("method", Text, nullable=False),
    Column("reference", Text, nullable=False),
    Column("amount_paisa", BigInteger, nullable=False),
    Column("status", Text, nullable=False),
    _ts("received_at", nullable=False),
    _ts("created_at", nullable=False),
    Column("created_by", Text, nullable=False),
)

payment_allocation = Table(
    "payment_allocation", metadata,
    Column("tenant_id", BigInteger, nullable=False),
    Column("payment_id", BigInteger),
    Column("credit_id", BigInteger),
    Column("invoice_id", BigInteger, nullable=False),
    Column("amount_paisa", BigInteger, nullable=False),
    _ts("at", nullable=False),
)

ledger_entry = Table(
    "ledger_entry", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("subscriber_id", BigInteger, nullable=False),
    _ts("at", nullable=False),
    Column("kind", Text, nullable=False),
    Column("invoice_id", BigInteger),
    Column("payment_id", BigInteger),
    Column("amount_paisa", BigInteger, nullable=False),
    Column("description", Text, nullable=False),
)

notification = Table(
    "notification", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("subscriber_id", BigInteger),
    Column("channel", Text, nullable=False),
    Column("template", Text, nullable=False),
    Column("recipient", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text),
    _ts("created_at", nullable=False),
    _ts("sent_at"),
    Column("invoice_id", BigInteger),
)

retention_setting = Table(
    "retention_setting", metadata,
    Column("id", SmallInteger, primary_key=True),
    Column("log_months", SmallInteger, nullable=False),
    Column("notification_months", SmallInteger, nullable=False),
    Column("support_years", SmallInteger, nullable=False),
    Column("billing_years", SmallInteger, nullable=False),
    Column("nonessential_days", SmallInteger, nullable=False),
    _ts("updated_at", nullable=False),
)

data_request = Table(
    "data_request", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("subscriber_id", BigInteger, nullable=False),
    Column("kind", Text, nullable=False),
    Column("received_on", Date, nullable=False),
    Column("note", Text),
    _ts("created_at", nullable=False),
    Column("created_by", Text, nullable=False),
    _ts("closed_at"),
    Column("closed_by", Text),
    Column("outcome", Text),
)

privacy_holiday = Table(
    "privacy_holiday", metadata,
    Column("tenant_id", BigInteger, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("name", Text, nullable=False),
)

#: Session history (partitioned by month of started_at; session_open holds the live ones).
session = Table(
    "session", metadata,
    Column("tenant_id", BigInteger, nullable=False),
    Column("acct_unique_id", Text, nullable=False),
    _ts("started_at", nullable=False),
    _ts("stopped_at"),
    Column("subscriber_id", BigInteger),
    Column("nas_id", BigInteger),
    Column("username", Text, nullable=False),
    Column("acct_session_id", Text, nullable=False),
    Column("framed_ip", INET),
    Column("calling_station_id", Text),
    Column("nas_port_id", Text),
    Column("input_octets", BigInteger, nullable=False),
    Column("output_octets", BigInteger, nullable=False),
    Column("session_time", BigInteger, nullable=False),
    Column("terminate_cause", Text),
)

#: The people who run the CLI (schema 0018): each a PostgreSQL login of one group role.
operator = Table(
    "operator", metadata,
    Column("login", Text, primary_key=True),
    Column("tenant_id", BigInteger),
    Column("role", Text, nullable=False),
    _ts("created_at", nullable=False),
    Column("created_by", Text, nullable=False),
)

#: Each subscriber's data key, sealed under the key ring; deleted on erasure (schema 0019).
subscriber_key = Table(
    "subscriber_key", metadata,
    Column("subscriber_id", BigInteger, primary_key=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("key_enc", LargeBinary, nullable=False),
    _ts("created_at", nullable=False),
)

#: A subscriber's statements of consent (schema 0020): the newest per purpose holds.
consent = Table(
    "consent", metadata,
    Column("id", BigInteger, primary_key=True),
    Column("tenant_id", BigInteger, nullable=False),
    Column("subscriber_id", BigInteger, nullable=False),
    Column("purpose", Text, nullable=False),
    Column("granted", Boolean, nullable=False),
    _ts("at", nullable=False),
    Column("source", Text, nullable=False),
    Column("recorded_by", Text, nullable=False),
)

#: A tenant's payment gateways (schema 0021): merchant id, base URL, sealed secrets.
payment_gateway = Table(
    "payment_gateway", metadata,
    Column("tenant_id", BigInteger, primary_key=True),
    Column("gateway", Text, primary_key=True),
    Column("merchant_id", Text, nullable=False),
    Column("base_url", Text, nullable=False),
    Column("credentials_enc", LargeBinary, nullable=False),
    _ts("updated_at", nullable=False),
    Column("updated_by", Text, nullable=False),
)
