"""`bash bench/run`: every configuration on the same machine, one after the other, same load generator.

Configurations (the same FreeRADIUS 3.2.7 build, thread pool, reject_delay = 0,
Message-Authenticator required):
  stock    rlm_sql (postgresql) + sqlcounter monthly data counter + expiration (bench/stock/raddb)
  floor    a trivial rlm_python3 hook that accepts with a constant password (bench/floor/raddb)
  cloudos  rlm_cloudos as shipped in raddb/

Workloads: PAP logins of the whole population (about 7 % rejected), with 30
session rows per subscriber this month and with 1,000,000+; accounting Start,
Interim-Update, Stop, answered only once stored in PostgreSQL. Each cell is the
median of --runs runs; a run with a wrong answer fails the benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import psycopg

from bench import cloudos_data, loadgen, stock_data
from bench.raddb import compose
from bench.floor_hook import PASSWORD as FLOOR_PASSWORD
from bench.procstat import Meter, rss_mib
from bench.spec import BenchSubscriber, population
from cloudos_stack import REPO, Ports, Stack
from rlm_cloudos.crypto import KeyRing
from rlm_cloudos.store import journal_files as journal
from tests.fixtures.pg import fetch_one

NAS_SECRET = "bench-nas-shared-secret-0123456789"
WINDOW = 32  # outstanding requests by default: the thread pool's max_servers
AUTH_PASSES = 3


def window() -> int:
    return int(os.environ.get("BENCH_WINDOW", WINDOW))
MIKROTIK_RATE_LIMIT = (14988, 8)
STATE = REPO / "bench" / "results" / "state"


@dataclass
class Cell:
    config: str
    workload: str
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_us: float
    rss_mib: float
    requests: int
    correct: bool
    note: str = ""
    #: Server CPU µs per request by process group (radiusd, postgres, redis).
    split: str = ""


def _median_run(results: list[tuple[loadgen.Result, float]]) -> tuple[loadgen.Result, float]:
    ordered = sorted(results, key=lambda r: r[0].rps)
    return ordered[len(ordered) // 2]


async def drive(packets: list[bytes], ports: tuple[int, ...]) -> loadgen.Result:
    """Send ``packets`` round-robin to one radiusd per port at once, the window shared out;
    the answers merged back into input order."""
    n, parts = len(packets), len(ports)
    sample = set(range(0, n, max(1, n // 200)))
    runs = await asyncio.gather(*(
        loadgen.run(packets[k::parts], "127.0.0.1", port, window=max(1, window() // parts), timeout=3.0,
                    retries=2, secret=NAS_SECRET, keep_answers=[i for i in range(len(packets[k::parts]))
                                                                   if k + i * parts in sample])
        for k, port in enumerate(ports)))
    if parts == 1:
        return runs[0]
    codes: list[int | None] = [None] * n
    latencies: list[int | None] = [None] * n
    answers: dict[int, bytes] = {}
    for k, r in enumerate(runs):
        codes[k::parts] = r.codes
        latencies[k::parts] = r.latencies_ns
        answers.update({k + i * parts: raw for i, raw in r.answers.items()})
    done = sorted(x for x in latencies if x is not None)
    elapsed = max(r.elapsed for r in runs)
    answered = sum(r.answered for r in runs)

    def pick(p: float) -> float:
        return done[min(len(done) - 1, int(p * len(done)))] / 1e6 if done else 0.0

    return loadgen.Result(
        sent=sum(r.sent for r in runs), answered=answered, accepted=sum(r.accepted for r in runs),
        rejected=sum(r.rejected for r in runs), acct_responses=sum(r.acct_responses for r in runs),
        timeouts=sum(r.timeouts for r in runs), elapsed=elapsed, rps=answered / elapsed if elapsed else 0.0,
        p50_ms=pick(0.50), p99_ms=pick(0.99), codes=codes,
        bad_authenticators=sum(r.bad_authenticators for r in runs), latencies_ns=latencies, answers=answers)


# The run's sessions, stopped: what "stored" means for each configuration.
CLOUDOS_STORED = "SELECT count(*) FROM session WHERE acct_session_id LIKE %s AND stopped_at IS NOT NULL"
STOCK_STORED = "SELECT count(*) FROM radacct WHERE acctsessionid LIKE %s AND acctstoptime IS NOT NULL"

DATABASES = ("cloudos", "cloudos_big", "radius", "radius_big")


def settle(base_url: str) -> None:
    """VACUUM (ANALYZE) every database and CHECKPOINT: what earlier cells (or the data load)
    wrote is not left for an autovacuum or a checkpoint to do during the next cell's runs."""
    for db in DATABASES:
        with psycopg.connect(f"{base_url}/{db}", autocommit=True) as conn:
            conn.execute("VACUUM (ANALYZE)")
    with psycopg.connect(f"{base_url}/cloudos", autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def measure(config: str, workload: str, build: Callable[[], loadgen.RequestBatch], ports: tuple[int, ...],
            meter: Meter, runs: int, check: Callable[[loadgen.Result], str | None],
            base_url: str | None = None, drain: Callable[[], None] | None = None) -> Cell:
    """``runs`` closed-loop runs of freshly built packets (after ``settle`` when ``base_url`` is
    given); the median by requests/s. ``drain`` returns once what was answered is all in
    PostgreSQL: its time counts in the run's requests/s, its CPU in the server's."""
    if base_url is not None:
        settle(base_url)
    results = []
    problems = []
    splits: list[dict[str, float]] = []
    for _ in range(runs):
        packets = build()
        meter.start()
        result = asyncio.run(drive(packets, ports))
        if drain is not None:
            started = time.monotonic()
            drain()
            elapsed = result.elapsed + time.monotonic() - started
            result = dataclasses.replace(result, elapsed=elapsed, rps=result.answered / elapsed)
        cpu = meter.stop()
        split = {k: v / max(1, result.answered) * 1e6 for k, v in meter.last.items()}
        problem = check(result)
        if problem:
            problems.append(problem)
        results.append((result, cpu))
        splits.append(split)
    best, cpu = _median_run(results)
    split = splits[results.index((best, cpu))]
    cell = Cell(config, workload, best.rps, best.p50_ms, best.p99_ms, cpu / max(1, best.answered) * 1e6,
                sum(rss_mib(pid) for pid in meter.radiusd), best.sent, not problems,
                "; ".join(sorted(set(problems)))[:200],
                " + ".join(f"{k} {v:.0f}" for k, v in split.items() if v >= 0.5))
    print(f"  {config:8} {workload:14} {cell.rps:8.0f} req/s  p50 {cell.p50_ms:6.2f} ms  p99 {cell.p99_ms:7.2f} ms  "
          f"cpu {cell.cpu_us:6.0f} µs/req ({cell.split})  rss {cell.rss_mib:5.0f} MiB  {'ok' if cell.correct else 'WRONG: ' + cell.note}",
          flush=True)
    return cell


def warm(build: Callable[[], loadgen.RequestBatch], port: int) -> None:
    """One untimed pass over the whole population first: pools connected, statements prepared,
    PostgreSQL's buffers and rlm_cloudos's authorize cache filled, as on a radiusd that has
    been up since each subscriber's last login (the "auth cold" cell measures a fresh one)."""
    asyncio.run(loadgen.run(build(), "127.0.0.1", port, window=window(), secret=NAS_SECRET))


def auth_check(expected: list[int], rates: dict[int, str]) -> Callable[[loadgen.Result], str | None]:
    """Every answer as expected, and the sampled accepts carry the plan's Mikrotik-Rate-Limit."""
    def check(result: loadgen.Result) -> str | None:
        if result.timeouts or result.bad_authenticators:
            return f"{result.timeouts} timeouts, {result.bad_authenticators} bad authenticators"
        wrong = sum(1 for got, want in zip(result.codes, expected) if got != want)
        if wrong:
            return f"{wrong} answers differ from the expected accept/reject"
        for index, raw in result.answers.items():
            if raw[0] == 2:
                rate = loadgen.parse_reply_attributes(raw).get(MIKROTIK_RATE_LIMIT, [b""])[0].decode()
                if rate != rates[index]:
                    return f"request {index}: Mikrotik-Rate-Limit {rate!r}, expected {rates[index]!r}"
        return None
    return check


def acct_check(stored: Callable[[], int], expected: int) -> Callable[[loadgen.Result], str | None]:
    """Every request answered, and PostgreSQL holds every session of the run, stopped."""
    def check(result: loadgen.Result) -> str | None:
        if result.timeouts or result.acct_responses != result.sent:
            return f"{result.sent - result.acct_responses} accounting requests unanswered"
        found = stored()
        if found != expected:
            return f"{found} of {expected} sessions stored and stopped"
        return None
    return check


def stored_sessions(url: str, query: str, tag: Callable[[], str]) -> Callable[[], int]:
    """How many of the last run's sessions ``query`` finds (its one parameter: a LIKE pattern)."""
    def count() -> int:
        with psycopg.connect(url) as conn:
            return int(fetch_one(conn.execute(query, (f"{tag()}-%",)))[0])
    return count


def drain_journal(directory: Path, timeout: float = 300.0) -> Callable[[], None]:
    """Wait until rlm_cloudos's accounting journal is applied to PostgreSQL (or ``timeout``)."""
    def drain() -> None:
        journal.wait_applied(directory, timeout, poll=0.002)
    return drain


def acct_items(subs: list[BenchSubscriber], run_tag: str) -> list[loadgen.AcctItem]:
    """Start, then Interim-Update, then Stop for one session of each accepted subscriber."""
    live = [s for s in subs if s.accepted]
    items = []
    for status, factor in (("Start", 0), ("Interim-Update", 1), ("Stop", 2)):
        for i, s in enumerate(live):
            items.append(loadgen.AcctItem(s.username, f"{run_tag}-{i:06d}", status, input_octets=factor * 1_000_003,
                                          output_octets=factor * 5_000_011, session_time=factor * 300,
                                          framed_ip=f"100.64.{i >> 8 & 255}.{i & 255}"))
    return items


class Bench:
    """The three configurations over one stack; each method returns its cells."""

    def __init__(self, stack: Stack, subs: list[BenchSubscriber], runs: int, meter: Meter, base_url: str,
                 big_rows: int) -> None:
        self.stack, self.subs, self.runs, self.base = stack, subs, runs, base_url
        #: rlm_cloudos's login (cloudos_radius), on the same server: base_url is the owner's, to look.
        self.radius_base = stack.radius_url.rsplit("/", 1)[0]
        self.postmaster, self.redis = meter.postmaster, meter.redis
        self.big = f"auth {big_rows // 1000}k rows"
        # A login run sends the population AUTH_PASSES times: one pass at 8,000 logins/s
        # lasts about a second, too short to rise above this machine's noise.
        logins = subs * AUTH_PASSES
        self.logins = logins
        self.check = auth_check([2 if s.accepted else 3 for s in logins],
                                {i: s.plan.rate_limit for i, s in enumerate(logins)})
        self.floor_check = auth_check([2] * len(logins), {i: "2M/8M" for i in range(len(logins))})
        self.check_once = auth_check([2 if s.accepted else 3 for s in subs],
                                     {i: s.plan.rate_limit for i, s in enumerate(subs)})
        self.runs_done = 0

    def auth(self) -> loadgen.RequestBatch:
        return loadgen.build_access_requests(self.logins, NAS_SECRET)

    def auth_once(self) -> loadgen.RequestBatch:
        """One pass over the population: the warm-up."""
        return loadgen.build_access_requests(self.subs, NAS_SECRET)

    def acct(self) -> loadgen.RequestBatch:
        self.runs_done += 1
        return loadgen.build_accounting_requests(acct_items(self.subs, self.run_tag()), NAS_SECRET)

    def run_tag(self) -> str:
        return f"r{self.runs_done}"

    def acct_check(self, url: str, query: str) -> Callable[[loadgen.Result], str | None]:
        return acct_check(stored_sessions(url, query, self.run_tag), sum(1 for s in self.subs if s.accepted))

    def _measure(self, config: str, workload: str, build: Callable[[], loadgen.RequestBatch], pid: int,
                 check: Callable[[loadgen.Result], str | None], port: int | None = None,
                 drain: Callable[[], None] | None = None) -> Cell:
        meter = Meter((pid,), self.postmaster, self.redis)
        return measure(config, workload, build, (port or self.stack.ports.auth,), meter, self.runs, check, self.base,
                       drain)

    def cloudos(self) -> list[Cell]:
        # Accounting last: it writes thousands of rows, and the autovacuum that follows
        # would run during whatever came next (it cost the next login cell a fifth).
        cells = []
        for db, workload in (("cloudos", "auth 30/sub"), ("cloudos_big", self.big)):
            pid = self.stack.start_radiusd(env={"CLOUDOS_DATABASE_URL": f"{self.radius_base}/{db}"})
            try:
                warm(self.auth_once, self.stack.ports.auth)
                cells.append(self._measure("cloudos", workload, self.auth, pid, self.check))
            finally:
                self.stack.stop_radiusd()
        cells.append(self.cold())
        cells.append(self.two_radiusd())
        pid = self.stack.start_radiusd(env={"CLOUDOS_DATABASE_URL": f"{self.radius_base}/cloudos"})
        try:
            warm(self.auth_once, self.stack.ports.auth)
            check = self.acct_check(f"{self.base}/cloudos", CLOUDOS_STORED)
            cells.append(self._measure("cloudos", "acct", self.acct, pid, check, self.stack.ports.acct,
                                       drain_journal(self.stack.acct_journal)))
        finally:
            self.stack.stop_radiusd()
        return cells

    def cold(self) -> Cell:
        """The first pass after radiusd starts, when every login reads PostgreSQL (the authorize
        cache is empty): a fresh radiusd per run, the median run kept."""
        cells = []
        for _ in range(self.runs):
            pid = self.stack.start_radiusd(env={"CLOUDOS_DATABASE_URL": f"{self.radius_base}/cloudos"})
            try:
                meter = Meter((pid,), self.postmaster, self.redis)
                cells.append(measure("cloudos", "auth cold", self.auth_once, (self.stack.ports.auth,), meter, 1,
                                     self.check_once, self.base))
            finally:
                self.stack.stop_radiusd()
        ordered = sorted(cells, key=lambda c: c.rps)
        median = ordered[len(ordered) // 2]
        median.correct = all(c.correct for c in cells)
        return median

    def two_radiusd(self) -> Cell:
        """Scaling out: two radiusd processes on the same database, the load split between them."""
        fresh = Ports.pick()
        while {fresh.auth, fresh.acct, fresh.status} & {self.stack.ports.auth, self.stack.ports.acct,
                                                         self.stack.ports.status}:
            fresh = Ports.pick()
        second = Stack(state=STATE / "second-radiusd", status_secret=os.urandom(16).hex(),
                       passwords=self.stack.passwords, reject_delay=0,
                       client_lifetime=3600, ports=Ports(pg=self.stack.ports.pg, redis=self.stack.ports.redis,
                                                         auth=fresh.auth, acct=fresh.acct, status=fresh.status))
        env = {"CLOUDOS_DATABASE_URL": f"{self.radius_base}/cloudos", "CLOUDOS_KEYRING": str(self.stack.keyring)}
        first = self.stack.start_radiusd(env=env)
        try:
            other = second.start_radiusd(env=env)
            try:
                ports = (self.stack.ports.auth, second.ports.auth)
                warm(self.auth_once, ports[0])
                warm(self.auth_once, ports[1])
                meter = Meter((first, other), self.postmaster, self.redis)
                return measure("cloudos", "auth 2 radiusd", self.auth, ports, meter, self.runs, self.check,
                               self.base)
            finally:
                second.stop_radiusd()
        finally:
            self.stack.stop_radiusd()

    def floor(self) -> list[Cell]:
        floor_auth = lambda: loadgen.build_access_requests(  # noqa: E731
            [(s.username, FLOOR_PASSWORD) for s in self.logins], NAS_SECRET)
        raddb = compose(REPO / "bench" / "floor" / "raddb", STATE / "floor-raddb")
        pid = self.stack.start_radiusd(raddb=raddb, env={"BENCH_NAS_SECRET": NAS_SECRET})
        try:
            warm(floor_auth, self.stack.ports.auth)
            return [self._measure("floor", "auth 30/sub", floor_auth, pid, self.floor_check)]
        finally:
            self.stack.stop_radiusd()

    def stock(self) -> list[Cell]:
        cells = []
        for db, workloads in (("radius_big", (self.big,)), ("radius", ("auth 30/sub", "acct"))):
            pid = self.stack.start_radiusd(raddb=stock_data.stock_raddb(STATE / "stock-raddb"),
                                           env=stock_data.stock_env(self.stack, nas_secret=NAS_SECRET, db=db))
            try:
                warm(self.auth_once, self.stack.ports.auth)
                for workload in workloads:
                    if workload == "acct":  # last, as for cloudos
                        check = self.acct_check(f"{self.base}/radius", STOCK_STORED)
                        cells.append(self._measure("stock", "acct", self.acct, pid, check, self.stack.ports.acct))
                    else:
                        cells.append(self._measure("stock", workload, self.auth, pid, self.check))
            finally:
                self.stack.stop_radiusd()
        return cells


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench/run", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller counts, under 4 minutes")
    ap.add_argument("--runs", type=int, default=3, help="runs per cell; the median is reported (3)")
    ap.add_argument("--subscribers", type=int, help="population size (10000; 2000 with --quick)")
    ap.add_argument("--window", type=int, help=f"outstanding requests ({WINDOW})")
    ap.add_argument("--only", choices=["cloudos", "floor", "stock"], action="append",
                    help="run only these configurations (for profiling; the ratio lines need all three)")
    args = ap.parse_args(argv)
    count = args.subscribers or (2000 if args.quick else 10_000)
    if args.window:
        os.environ["BENCH_WINDOW"] = str(args.window)
    big_rows = 200_000 if args.quick else 1_000_000
    big_per_sub = -(-big_rows // count)
    started = time.monotonic()

    if STATE.exists():
        shutil.rmtree(STATE)
    stack = Stack(state=STATE, ports=Ports.pick(), status_secret=os.urandom(16).hex(), reject_delay=0,
                  client_lifetime=3600)
    subs = population(count)
    now = datetime.now(timezone.utc)
    cells: list[Cell] = []
    print(f"bench: {count} subscribers ({sum(not s.accepted for s in subs)} to reject), {args.runs} runs per cell, "
          f"window {window()}, machine {os.cpu_count()} cores", flush=True)
    try:
        stack.start()
        os.environ.update(stack.env())
        keyring = KeyRing.load(stack.keyring)
        base = stack.database_url.rsplit("/", 1)[0]
        redis_pid = int((stack.state / "redis" / "redis.pid").read_text().split()[0])
        postmaster = stack.postgres_pid()
        assert postmaster is not None

        # ------------------------------------------------------------------ data
        t = time.monotonic()
        from cloudos.cli import main as cloudos_cli

        for db, rows in (("cloudos", 30), ("cloudos_big", big_per_sub)):
            with psycopg.connect(base + "/postgres", autocommit=True) as conn:
                if db != "cloudos":
                    conn.execute(f'CREATE DATABASE "{db}"')
            os.environ["CLOUDOS_DATABASE_URL"] = f"{base}/{db}"  # the owner's: migrations
            assert cloudos_cli(["db", "migrate"]) == 0
            with psycopg.connect(f"{base}/{db}") as conn:
                cloudos_data.load(conn, subs, keyring, nas_address="127.0.0.1", nas_secret=NAS_SECRET,
                                  history_rows_per_subscriber=rows, now=now)
        os.environ["CLOUDOS_DATABASE_URL"] = stack.database_url
        stack.create_logins()  # rlm_cloudos runs as its own login (cloudos_radius), as in production
        for db, rows in (("radius", 30), ("radius_big", big_per_sub)):
            url = stock_data.create_stock_database(stack, db)
            with psycopg.connect(url) as conn:
                stock_data.create_schema(conn)
                stock_data.load(conn, subs, rows, now)
        print(f"bench: data loaded in {time.monotonic() - t:.0f} s ({30 * count:,} and {big_per_sub * count:,} "
              "session rows per configuration)", flush=True)

        bench = Bench(stack, subs, args.runs, Meter((), postmaster, redis_pid), base, big_per_sub * count)
        for name in ("cloudos", "floor", "stock"):
            if name in set(args.only or (name,)):
                cells += getattr(bench, name)()
    finally:
        stack.stop()

    print_table(cells, count, time.monotonic() - started)
    return 0 if all(c.correct for c in cells) else 1


def _cell(cells: list[Cell], config: str, workload_prefix: str) -> Cell:
    return next(c for c in cells if c.config == config and c.workload.startswith(workload_prefix))


def print_table(cells: list[Cell], count: int, elapsed: float) -> None:
    print()
    print("| configuration | workload | req/s (median) | p50 ms | p99 ms | server CPU µs/req | of which | "
          "radiusd RSS MiB | correct |")
    print("|---|---|---:|---:|---:|---:|---|---:|---|")
    for c in cells:
        print(f"| {c.config} | {c.workload} | {c.rps:.0f} | {c.p50_ms:.2f} | {c.p99_ms:.2f} | {c.cpu_us:.0f} | "
              f"{c.split} | {c.rss_mib:.0f} | {'yes' if c.correct else 'NO: ' + c.note} |")
    print(f"\n{count} subscribers; {elapsed:.0f} s in all.")
    if {c.config for c in cells} != {"cloudos", "floor", "stock"}:
        return
    auth_30 = _cell(cells, "cloudos", "auth 30/sub")
    auth_big = next(c for c in cells if c.config == "cloudos" and c.workload.startswith("auth") and c is not auth_30)
    print(f"ratio auth cloudos/stock = {auth_30.rps / _cell(cells, 'stock', 'auth 30/sub').rps:.2f}")
    print(f"ratio auth cpu cloudos/floor = {auth_30.cpu_us / _cell(cells, 'floor', 'auth').cpu_us:.2f}")
    print(f"ratio auth cloudos 1M/30k = {auth_big.rps / auth_30.rps:.2f}")
    print(f"ratio acct cloudos/stock = {_cell(cells, 'cloudos', 'acct').rps / _cell(cells, 'stock', 'acct').rps:.2f}")


if __name__ == "__main__":
    sys.exit(main())
