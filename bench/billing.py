"""`bash bench/billing_run`: how long `cloudos billing run` takes when every subscriber is due at once.

The worst day of a calendar-cycle ISP: N subscribers (default 50,000, imported with
`cloudos subscriber import`) all paid until three days from now, on priced plans, with
sales tax and advance income tax rules, so one run issues N invoices (each its own
transaction: the subscriber locked and re-read, a gap-free number, lines, taxes, the
ledger, the notice and the audit row). Then the same run again, which must issue nothing.
A throwaway stack (bench/results/billing/, removed afterwards), the real CLI as the admin
login. Prints the times; not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date, timedelta
from pathlib import Path

from bench.importing import admin_stack, cloudos

STATE = Path(__file__).parent / "results" / "billing"
PLANS = (("home", "2M/8M", "2500"), ("plus", "4M/16M", "3500"), ("biz", "10M/20M", "6000"))


def csv_rows(n: int, paid_until: date) -> str:
    out = ["username,password,plan,expires,phone"]
    for i in range(1, n + 1):
        out.append(f"user{i:06d},pw-{i * 7919 % 1000003:07d}x,{PLANS[i % 3][0]},{paid_until},+92300{i:07d}")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench/billing_run", description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=50_000, help="subscribers, all due (default 50,000)")
    ap.add_argument("--profile", action="store_true", help="run the first billing run under cProfile and print "
                                                            "where it went (slower: not the time to quote)")
    args = ap.parse_args(argv)
    with admin_stack(STATE, "billing-run") as (_, env):
        cloudos(env, "tenant", "set", "isp1", "--province", "punjab", "--legal-name", "Bench ISP (Pvt) Ltd")
        for name, rate, price in PLANS:
            cloudos(env, "plan", "add", name, "--rate-limit", rate, "--price", price)
        cloudos(env, "tax", "add", "Punjab sales tax", "--kind", "sales", "--rate", "19.5", "--from", "2025-07-01")
        cloudos(env, "tax", "add", "Advance income tax", "--kind", "advance-income", "--rate", "15", "--from",
                "2025-07-01")
        path = STATE / "subscribers.csv"
        path.write_text(csv_rows(args.rows, date.today() + timedelta(days=3)), encoding="utf-8")
        took, _ = cloudos(env, "subscriber", "import", str(path), "--commit")
        print(f"bench: {args.rows:,} subscribers imported in {took:.1f} s, machine {os.cpu_count()} cores", flush=True)
        first, out = cloudos(env, "billing", "run", "--json", profile=args.profile)
        if args.profile:
            print("\n".join(out[out.index("ncalls") - 200:].splitlines()[:45]))
            out = out[:out.index("ncalls")].rsplit("}", 1)[0] + "}"
            out = out[out.index("{"):]
        issued = len(json.loads(out)["invoices"])
        if issued != args.rows:
            sys.exit(f"bench: the run issued {issued} invoices, expected {args.rows}")
        print(f"run       {first:7.2f} s   ({issued:,} invoices, {issued / first:,.0f} invoices/s)", flush=True)
        again, out = cloudos(env, "billing", "run", "--json")
        if json.loads(out)["invoices"]:
            sys.exit("bench: a second run issued invoices")
        print(f"again     {again:7.2f} s   (nothing to issue: the day's second run)", flush=True)
        verify, _ = cloudos(env, "audit", "verify")
        print(f"verify    {verify:7.2f} s   (audit verify of the whole chain)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
