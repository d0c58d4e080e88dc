"""How long the `cloudos` command takes to start and answer, against a throwaway stack.

    bash bench/cli_startup [--runs N]

Each command runs N times (default 15) as a new process, as an operator's shell runs it; the
median and the fastest are printed, with `python -c pass` measured in the same run as the floor
(the interpreter's own start-up) and each command's ratio to it. Not a test: a busy machine is
slower, which is why the floor is measured beside it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cloudos_stack import LOGINS, Ports, Stack

HERE = Path(__file__).resolve().parent.parent
CLOUDOS = str(Path(sys.executable).with_name("cloudos"))


def timed(argv: list[str], env: dict[str, str], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        r = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        out.append(time.perf_counter() - start)
        if r.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed: {r.stderr.strip()}")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="cloudos-cli-bench-") as tmp:
        stack = Stack(state=Path(tmp), ports=Ports.pick(), status_secret=os.urandom(16).hex(), reject_delay=0,
                      client_lifetime=2, spool_retry=1)
        stack.start()
        try:
            env = {**os.environ, **stack.env(), "CLOUDOS_ACTOR": "bench"}
            owner = {**env, "CLOUDOS_DATABASE_URL": stack.database_url}
            logins = [(["db", "create-login", group, login, "--password-stdin"], stack.passwords[login] + "\n", owner)
                      for login, group in LOGINS.items()]
            for argv, stdin, e in (
                (["db", "migrate"], None, owner),
                *logins,
                (["tenant", "add", "bench"], None, env),
                (["plan", "add", "home", "--rate-limit", "2M/8M", "--quota", "100GB"], None, env),
                (["subscriber", "add", "ali", "--plan", "home", "--password-stdin", "--expires", "2030-12-31"],
                 "bench-password\n", env),
            ):
                subprocess.run([CLOUDOS, *argv], input=stdin, text=True, env=e, check=True,
                               stdout=subprocess.DEVNULL)
            cases = {
                "python -c pass (floor)": [sys.executable, "-c", "pass"],
                # What any `subscriber show` must load whatever its own code: the driver, the key ring
                # (the CNIC is decrypted) and the policy (periods, sizes); and SQLAlchemy, the tools' store.
                "import psycopg+keyring+policy": [sys.executable, "-c", "import psycopg; import rlm_cloudos.crypto; "
                                                  "import rlm_cloudos.policy"],
                "import sqlalchemy": [sys.executable, "-c", "import sqlalchemy"],
                "cloudos --help": [CLOUDOS, "--help"],
                "cloudos subscriber show ali": [CLOUDOS, "subscriber", "show", "ali"],
                "cloudos subscriber list": [CLOUDOS, "subscriber", "list"],
            }
            results = {name: timed(argv, env, args.runs) for name, argv in cases.items()}
        finally:
            stack.stop()
    floor = statistics.median(results["python -c pass (floor)"])
    print(f"{'command':<32} {'median':>8} {'fastest':>8} {'x floor':>8}   ({args.runs} runs each, {os.cpu_count()} cores)")
    for name, times in results.items():
        med = statistics.median(times)
        print(f"{name:<32} {med:>7.3f}s {min(times):>7.3f}s {med / floor:>8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
