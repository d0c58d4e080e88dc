"""`bash bench/import_subscribers`: how long `cloudos subscriber import` takes for 50,000 subscribers.

A deterministic CSV of the cloudos format (every column used: half the rows bind a MAC, a
fifth have a static IP, half a CNIC, all a name, phone, e-mail and address) is imported
into a freshly migrated throwaway stack, as the admin login, by the real `cloudos` in a
process of its own: first the dry run, then --commit. The commit's time includes sealing
every password and CNIC, one audit row per subscriber and the import's own.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from cloudos_stack import Ports, Stack

STATE = Path(__file__).parent / "results" / "import"
CLOUDOS = Path(sys.prefix) / "bin" / "cloudos"
PLANS = (("home", "2M/8M"), ("plus", "4M/16M"), ("biz", "10M/20M"))


def csv_rows(n: int) -> str:
    """The header and ``n`` subscribers, the same on every run."""
    out = ["username,password,plan,expires,mac,static_ip,name,phone,email,address,cnic"]
    for i in range(1, n + 1):
        mac = f"02:00:{i >> 16 & 255:02X}:{i >> 8 & 255:02X}:{i & 255:02X}:01" if i % 2 else ""
        ip = f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" if i % 5 == 0 else ""
        cnic = f"35202-{i:07d}-{i % 10}" if i % 2 == 0 else ""
        out.append(f"user{i:06d},pw-{i * 7919 % 1000003:07d}x,{PLANS[i % 3][0]},2027-{1 + i % 12:02d}-15,{mac},{ip},"
                   f"Subscriber {i},+92300{i:07d},user{i}@example.pk,\"House {i}, Street {i % 97}, Lahore\",{cnic}")
    return "\n".join(out) + "\n"


def cloudos(env: dict[str, str], *argv: str, profile: bool = False) -> tuple[float, str]:
    """Run the CLI (under cProfile when ``profile``); (seconds it took, its output). Exits the bench
    when it fails."""
    prefix = [sys.executable, "-m", "cProfile", "-s", "tottime"] if profile else []
    t = time.monotonic()
    r = subprocess.run([*prefix, str(CLOUDOS), *argv], env=env, capture_output=True, text=True)
    took = time.monotonic() - t
    if r.returncode != 0:
        sys.exit(f"cloudos {' '.join(argv)} failed ({r.returncode}): {r.stderr.strip()[-400:]}")
    return took, r.stdout


@contextmanager
def admin_stack(state: Path, actor: str) -> Iterator[tuple[Stack, dict[str, str]]]:
    """A throwaway stack in ``state``, migrated, with the programs' logins and tenant isp1: the stack
    and the environment that runs the CLI as the admin login, as in production. Stopped and removed
    on leaving."""
    if state.exists():
        shutil.rmtree(state)
    stack = Stack(state=state, ports=Ports.pick(), status_secret=os.urandom(16).hex())
    try:
        stack.start()
        env = {**os.environ, **stack.env(), "CLOUDOS_ACTOR": actor, "CLOUDOS_DATABASE_URL": stack.database_url}
        cloudos(env, "db", "migrate")
        stack.create_logins()
        env["CLOUDOS_DATABASE_URL"] = stack.admin_url  # the CLI's own login, as in production
        cloudos(env, "tenant", "add", "isp1")
        yield stack, env
    finally:
        stack.stop()
        shutil.rmtree(state, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench/import_subscribers", description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=50_000, help="subscribers in the file (default 50,000)")
    ap.add_argument("--profile", action="store_true", help="run the commit under cProfile and print where it went "
                                                            "(slower: not the time to quote)")
    args = ap.parse_args(argv)
    with admin_stack(STATE, "bench") as (stack, env):
        for name, rate in PLANS:
            cloudos(env, "plan", "add", name, "--rate-limit", rate)
        path = STATE / "subscribers.csv"
        path.write_text(csv_rows(args.rows), encoding="utf-8")
        size = path.stat().st_size
        print(f"bench: {args.rows:,} subscribers, {size / 1e6:.1f} MB, machine {os.cpu_count()} cores", flush=True)
        dry, _ = cloudos(env, "subscriber", "import", str(path))
        print(f"dry run   {dry:6.2f} s", flush=True)
        commit, out = cloudos(env, "subscriber", "import", str(path), "--commit", profile=args.profile)
        print(f"commit    {commit:6.2f} s   ({args.rows / commit:,.0f} subscribers/s)", flush=True)
        if args.profile:
            print("\n".join(out.splitlines()[:40]))
        else:
            print(out.strip().splitlines()[-1])
        with psycopg.connect(stack.admin_url, passfile=str(stack.pgpass)) as conn:
            subs = conn.execute("SELECT count(*) FROM subscriber").fetchone()
            rows = conn.execute("SELECT count(*) FROM admin_audit WHERE action = 'subscriber.add'").fetchone()
        assert subs is not None and rows is not None
        if subs[0] != args.rows or rows[0] != args.rows:
            sys.exit(f"bench: {subs[0]} subscribers and {rows[0]} audit rows, expected {args.rows} of each")
        # The same subscribers renewed as a branch's day of payments is: one --from-file call.
        names = STATE / "paid.txt"
        names.write_text("".join(f"user{i:06d}\n" for i in range(1, args.rows + 1)), encoding="utf-8")
        renew, out = cloudos(env, "subscriber", "renew", "--from-file", str(names), "--until", "2028-01-31")
        print(f"renew     {renew:6.2f} s   ({args.rows / renew:,.0f} subscribers/s, --from-file: "
              f"{out.strip().splitlines()[0]})", flush=True)
        verify, _ = cloudos(env, "audit", "verify")
        print(f"verify    {verify:6.2f} s   (audit verify of the whole chain)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
