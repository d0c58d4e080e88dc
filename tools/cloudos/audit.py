"""The admin audit trail: one hash-chained row per administrative change.

hash = sha256(prev_hash + "\\n" + canonical JSON of (at, actor, tenant_id,
action, target, before, after)). Rows are written in the same transaction as
the change they describe, under an advisory lock so concurrent admins extend
one chain. The database refuses UPDATE, DELETE and TRUNCATE on the table.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection

from cloudos.store import audit as rows_

GENESIS = "0" * 64
_LOCK = 0x0C10_0D05  # pg_advisory_xact_lock key of the audit chain
REDACTED = "[redacted]"
#: Columns never written to the audit log in clear; their presence or change is recorded as REDACTED.
SECRET_FIELDS = frozenset({"password_enc", "secret_enc", "cnic_enc", "password", "secret", "cnic"})


def redact(row: dict[str, Any] | None) -> dict[str, Any] | None:
    """A JSON-safe copy of ``row`` with secrets replaced by a marker."""
    if row is None:
        return None
    out: dict[str, Any] = {}
    for k, v in row.items():
        if k in SECRET_FIELDS:
            out[k.removesuffix("_enc")] = REDACTED if v is not None else None
        elif isinstance(v, datetime):
            out[k] = v.astimezone(timezone.utc).isoformat()
        elif v is None or isinstance(v, (bool, int, str)):
            out[k] = v
        else:
            out[k] = str(v)
    return out


def _canonical(at: datetime, actor: str, tenant_id: int | None, action: str, target: str,
               before: Any, after: Any) -> str:
    return json.dumps(
        {
            "at": at.astimezone(timezone.utc).isoformat(timespec="microseconds"),
            "actor": actor,
            "tenant_id": tenant_id,
            "action": action,
            "target": target,
            "before": before,
            "after": after,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def chain_hash(prev: str, at: datetime, actor: str, tenant_id: int | None, action: str, target: str,
               before: Any, after: Any) -> str:
    payload = _canonical(at, actor, tenant_id, action, target, before, after)
    return hashlib.sha256((prev + "\n" + payload).encode()).hexdigest()


def record(conn: Connection, *, actor: str, tenant_id: int | None, action: str, target: str,
           before: dict[str, Any] | None, after: dict[str, Any] | None) -> int:
    """Append one audit row in the caller's transaction; returns its id."""
    rows_.lock_chain(conn, _LOCK)
    prev = rows_.last_hash(conn) or GENESIS
    at = rows_.clock(conn)
    b, a = redact(before), redact(after)
    h = chain_hash(prev, at, actor, tenant_id, action, target, b, a)
    return rows_.append(conn, at=at, actor=actor, tenant_id=tenant_id, action=action, target=target, before=b,
                        after=a, prev_hash=prev, hash_=h)


@dataclass(frozen=True)
class VerifyResult:
    rows: int
    first_bad_id: int | None
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.first_bad_id is None


def verify(conn: Connection) -> VerifyResult:
    """Walk the chain from the first row; name the first row whose link or hash does not match."""
    prev = GENESIS
    n = 0
    for r in rows_.chain(conn):
        n += 1
        if r.prev_hash != prev:
            return VerifyResult(n, r.id, "prev_hash does not match the previous row's hash (a row was removed or reordered)")
        expect = chain_hash(prev, r.at, r.actor, r.tenant_id, r.action, r.target, r.before, r.after)
        if r.hash != expect:
            return VerifyResult(n, r.id, "hash does not match the row's contents (the row was altered)")
        prev = r.hash
    return VerifyResult(n, None, None)
