"""cloudos retention run | show | set: the privacy policy's retention schedule.

What may go is rlm_cloudos.policy.retention's (cutoffs from the settings and a day); schema 0016's
functions apply it. A run is one transaction with its audit row: log partitions wholly older than
the cutoff dropped, the partitions of this month and the three after it made, and the purge of
notifications, resolved support records, terminated accounts' non-essential data and (after the
billing period) their billing records. ``--dry-run`` lists the partitions without touching them and
runs the purge in a transaction it rolls back, so its counts are what a run would remove.
"""

from __future__ import annotations

import argparse
from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import Connection

from cloudos.commands._common import Subparsers, date_arg, int_arg, leaf
from cloudos.context import Ctx
from cloudos.store import retention as store
from rlm_cloudos.policy.retention import Cutoffs, RetentionSettings, cutoffs, months_ahead

#: The partitions a run makes: this month and the three after it.
AHEAD = 3


def _apply(ctx: Ctx, conn: Connection, day: date, *, dry: bool) -> dict[str, Any]:
    settings = store.settings(conn, lock=not dry)
    cut = cutoffs(settings, day)
    months = months_ahead(day, AHEAD)
    logs = {}
    for parent in store.LOG_TABLES:
        p = store.partitions(conn, parent, cut.logs, months[0], len(months), dry=dry)
        logs[parent] = {"dropped": list(p.dropped), "created": p.created, "default_rows_deleted": p.default_rows}
    purged = store.purge(conn, notifications=cut.notifications, support=cut.support_resolved,
                         nonessential=cut.nonessential_terminated, billing=cut.billing_terminated)
    return {"date": day, "dry_run": dry, "settings": _settings_view(settings), "cutoffs": _cutoffs_view(cut),
            "logs": logs, "purged": purged}


def _settings_view(s: RetentionSettings) -> dict[str, int]:
    return {f: getattr(s, f) for f in store.FIELDS}


def _cutoffs_view(c: Cutoffs) -> dict[str, datetime]:
    return {"logs_before": c.logs, "notifications_before": c.notifications,
            "support_resolved_before": c.support_resolved, "billing_terminated_before": c.billing_terminated,
            "nonessential_terminated_before": c.nonessential_terminated}


def _report(r: dict[str, Any]) -> list[str]:
    c = {k: v.date().isoformat() for k, v in r["cutoffs"].items()}
    lines = [("dry run (nothing changed): " if r["dry_run"] else "") + f"retention run as of {r['date']} (UTC): logs "
             f"before {c['logs_before']}, notifications before {c['notifications_before']}, support records "
             f"resolved before {c['support_resolved_before']}; accounts terminated before "
             f"{c['nonessential_terminated_before']} lose their non-essential data, before "
             f"{c['billing_terminated_before']} their billing records"]
    for parent, p in r["logs"].items():
        gone = ", ".join(p["dropped"]) or "no partition"
        lines.append(f"  {parent}: dropped {gone}; {p['created']} partition(s) made ahead; "
                     f"{p['default_rows_deleted']} old row(s) of the default partition")
    u = r["purged"]
    lines.append(f"  notifications {u['notifications']}, support tickets {u['support_tickets']}, "
                 f"terminated accounts scrubbed {u['nonessential_scrubbed']}, billing records of "
                 f"{u['billing_subscribers']} account(s): {u['invoices']} invoice(s), {u['payments']} payment(s), "
                 f"{u['ledger_entries']} ledger entries")
    return lines


def run(ctx: Ctx, args: argparse.Namespace) -> None:
    day = args.date or ctx.now.astimezone(timezone.utc).date()
    if args.dry_run:
        with ctx.engine.connect() as conn:
            trans = conn.begin()
            try:
                report = _apply(ctx, conn, day, dry=True)
            finally:
                trans.rollback()
    else:
        with ctx.tx() as conn:
            report = _apply(ctx, conn, day, dry=False)
            ctx.audit(conn, action="retention.run", target="retention", tenant_id=None, before=None,
                      after={"date": day, "logs": report["logs"], "purged": report["purged"]})
    ctx.emit(report, _report(report))


def show(ctx: Ctx, args: argparse.Namespace) -> None:
    with ctx.read() as conn:
        view = _settings_view(store.settings(conn))
    ctx.emit(view, [f"logs (sessions, auth log)   {view['log_months']} months",
                    f"notifications               {view['notification_months']} months",
                    f"support records             {view['support_years']} years after resolution",
                    f"billing records             {view['billing_years']} years after termination",
                    f"non-essential data          {view['nonessential_days']} days after termination"])


def set_(ctx: Ctx, args: argparse.Namespace) -> None:
    values = {f: getattr(args, f) for f in store.FIELDS if getattr(args, f) is not None}
    with ctx.tx() as conn:
        before = _settings_view(store.settings(conn, lock=True))
        if values:
            store.change(conn, values)
            after = _settings_view(store.settings(conn))
            ctx.audit(conn, action="retention.set", target="retention", tenant_id=None, before=before, after=after)
        else:
            after = before
    ctx.emit(after, "retention: " + (", ".join(f"{k} {v}" for k, v in values.items()) if values else "nothing to change"))


def register(sub: Subparsers) -> None:
    g = sub.add_parser("retention", help="the privacy policy's retention schedule: drop old logs, purge old records")
    s = g.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = leaf(s, "run", "apply the schedule as of a day (daily: cloudos-retention.timer)", run)
    p.add_argument("--date", type=date_arg, metavar="YYYY-MM-DD", help="as of this UTC day (default: today)")
    p.add_argument("--dry-run", action="store_true", help="report what a run would remove and change nothing")
    leaf(s, "show", "the retention periods", show)
    p = leaf(s, "set", "change the retention periods (the policy's values are the defaults)", set_)
    p.add_argument("--log-months", dest="log_months", type=int_arg(12, 600, "months"), metavar="N",
                   help="session history and auth log (12: longer, never shorter)")
    p.add_argument("--notification-months", dest="notification_months", type=int_arg(12, 600, "months"), metavar="N",
                   help="notifications (12: longer, never shorter)")
    p.add_argument("--support-years", dest="support_years", type=int_arg(2, 50, "years"), metavar="N",
                   help="support records after resolution (2: longer, never shorter)")
    p.add_argument("--billing-years", dest="billing_years", type=int_arg(5, 50, "years"), metavar="N",
                   help="billing records after termination (5: longer, never shorter)")
    p.add_argument("--nonessential-days", dest="nonessential_days", type=int_arg(0, 30, "days"), metavar="N",
                   help="non-essential data after termination (30: sooner, never later)")
