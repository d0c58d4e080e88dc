"""Self-check of the stock pipeline: python -m bench.stock_check [--count N] [--history N] [--keep]

Starts a throwaway PostgreSQL (cloudos_stack.Stack), creates the stock schema
in its own database, loads bench.spec.population(N) with its session history,
starts ``freeradius -f`` on bench/stock/raddb and sends every subscriber one PAP
Access-Request with Message-Authenticator. Passes when exactly the spec's accepted
subscribers are accepted, every accept carries its plan's Mikrotik-Rate-Limit and
every over-quota reject carries sqlcounter's Reply-Message; then one accounting
Start/Stop must land in radacct. Prints one summary line; exits 1 on any mismatch.
Stops what it started, by PID.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import psycopg
from pyrad import packet

from bench.spec import Fate, population
from bench.stock_data import create_schema, create_stock_database, load, stock_env, stock_raddb
from cloudos_stack import Ports, Stack
from tests.fixtures.nas import Nas, Timeout

NAS_SECRET = "stock-check-nas-secret"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.stock_check", description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--history", type=int, default=30, help="radacct rows per subscriber")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="bench-stock-check-"))
    stack = Stack(state=tmp / "stack", ports=Ports.pick(), status_secret=os.urandom(16).hex(), reject_delay=0)
    started = False
    problems: list[str] = []
    try:
        stack.start_postgres()
        url = create_stock_database(stack)
        subs = population(args.count)
        now = datetime.now(timezone.utc)
        t = time.monotonic()
        with psycopg.connect(url) as conn:
            create_schema(conn)
            load(conn, subs, args.history, now)
        load_s = time.monotonic() - t
        started = True
        stack.start_radiusd(raddb=stock_raddb(tmp / "stock-raddb"), env=stock_env(stack, nas_secret=NAS_SECRET))

        nas = Nas(stack.host, stack.ports.auth, stack.ports.acct, NAS_SECRET, timeout=5.0, retries=1)
        outcome: Counter[str] = Counter()
        for s in subs:
            try:
                reply = nas.pap(s.username, s.password)
            except (Timeout, AssertionError) as exc:
                problems.append(f"{s.username} ({s.fate.value}): {type(exc).__name__} {exc}")
                continue
            outcome[f"{s.fate.value}->{'accept' if reply.accepted else 'reject'}"] += 1
            if reply.accepted != s.accepted:
                problems.append(f"{s.username} ({s.fate.value}): {'accepted' if reply.accepted else 'rejected'} "
                                f"{reply.attrs}")
            elif reply.accepted and reply.attrs.get("Mikrotik-Rate-Limit") != [s.plan.rate_limit]:
                problems.append(f"{s.username}: Mikrotik-Rate-Limit {reply.attrs.get('Mikrotik-Rate-Limit')} "
                                f"!= {s.plan.rate_limit!r}")
            elif not reply.accepted and "Mikrotik-Rate-Limit" in reply.attrs:
                problems.append(f"{s.username}: reject carries {reply.attrs}")
            elif s.fate is Fate.OVER_QUOTA and not reply.attrs.get("Reply-Message"):
                problems.append(f"{s.username}: over-quota reject without Reply-Message {reply.attrs}")

        acct_note = _check_accounting(nas, url, next(s for s in subs if s.accepted).username, problems)
        summary = (f"stock_check: {len(subs)} subscribers ({args.history} radacct rows each, loaded in "
                   f"{load_s:.1f} s): " + ", ".join(f"{k} {v}" for k, v in sorted(outcome.items()))
                   + f"; {acct_note}; {len(problems)} mismatches")
    except Exception as exc:  # noqa: BLE001 - any failure is a failed check
        summary = f"stock_check: FAILED before the comparison: {type(exc).__name__}: {exc}"
        problems.append(summary)
    finally:
        if started:
            stack.stop_radiusd()
        stack.stop_postgres()
    for p in problems[:20]:
        print("  " + p, file=sys.stderr)
    print(("OK " if not problems else "FAIL ") + summary)
    if problems or args.keep:
        print(f"  kept {tmp} (radius log: {stack.radius_log})", file=sys.stderr)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if problems else 0


def _check_accounting(nas: Nas, url: str, username: str, problems: list[str]) -> str:
    """Start + Stop for one subscriber: the Stop's octets must land in radacct."""
    client = nas.client()
    session = "bench%08x" % (os.getpid() & 0xFFFFFFFF)
    try:
        for status, octets in (("Start", 0), ("Stop", 5 * 2**32 + 123)):
            pkt = client.CreateAcctPacket(code=packet.AccountingRequest)
            pkt["Acct-Status-Type"] = status
            pkt["User-Name"] = username
            pkt["Acct-Session-Id"] = session
            pkt["NAS-IP-Address"] = nas.source
            pkt["NAS-Identifier"] = nas.identifier
            pkt["NAS-Port-Id"] = "ether2-pppoe"
            pkt["Acct-Session-Time"] = 60 if octets else 0
            pkt["Acct-Input-Octets"] = octets & 0xFFFFFFFF
            pkt["Acct-Input-Gigawords"] = octets >> 32
            pkt["Acct-Output-Octets"] = 7
            pkt.add_message_authenticator()
            reply = client.SendPacket(pkt)
            if reply.code != packet.AccountingResponse:
                problems.append(f"accounting {status}: reply code {reply.code}")
                return "accounting FAILED"
    except Timeout:
        problems.append("accounting: no Accounting-Response")
        return "accounting FAILED"
    finally:
        client._CloseSocket()
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT acctinputoctets, acctoutputoctets, acctstoptime IS NOT NULL FROM radacct "
                           "WHERE acctsessionid = %s", (session,)).fetchall()
    if row != [(5 * 2**32 + 123, 7, True)]:
        problems.append(f"accounting: radacct has {row} for {session}")
        return "accounting FAILED"
    return "accounting Start/Stop stored in radacct"


if __name__ == "__main__":
    raise SystemExit(main())
