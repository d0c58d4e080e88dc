"""The stock FreeRADIUS SQL pipeline's side of the bench: its schema, its data and its radiusd.

* ``create_schema(conn)``: FreeRADIUS's stock PostgreSQL schema (Debian's
  /etc/freeradius/3.0/mods-config/sql/main/postgresql/schema.sql, used in place) plus an index on
  radacct (username, acctstarttime) for the monthly data counter.
* ``load(conn, subscribers, history_rows_per_subscriber, now)``: a
  ``bench.spec.population(...)`` in that schema, the way a daloRADIUS-style
  deployment keeps it: radcheck (Cleartext-Password, Expiration,
  ``Auth-Type := Reject`` for a suspension), one group per plan (radusergroup,
  radgroupreply Mikrotik-Rate-Limit, radgroupcheck Max-Monthly-Traffic) and the
  month's closed sessions in radacct, whose octets add up to ``used_bytes``.
* ``stock_raddb(dir)`` and ``stock_env(stack)``: the configuration and environment
  for ``Stack.start_radiusd``, against the stack's PostgreSQL.

The stock schema needs a database of its own (``STOCK_DB``): it has a ``nas``
table, and so does CloudOS's.
"""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg

from bench.raddb import compose
from bench.spec import BenchSubscriber, Fate
from cloudos_stack import OWNER, Stack

HERE = Path(__file__).resolve().parent
STOCK_RADDB = HERE / "stock" / "raddb"
#: FreeRADIUS's own PostgreSQL schema and queries, as Debian's freeradius-config ships
#: them: used where they are, not copied into this repository.
DEBIAN_SQL = Path("/etc/freeradius/3.0/mods-config/sql/main/postgresql")
SCHEMA_SQL = DEBIAN_SQL / "schema.sql"

#: The database the stock schema lives in, next to CloudOS's on the same cluster.
STOCK_DB = "radius"
#: The NAS secret when neither the caller nor $BENCH_NAS_SECRET gives one.
DEFAULT_NAS_SECRET = "bench-nas-shared-secret"

#: The NAS the history sessions came from (clients.conf has the load generator only).
HISTORY_NAS = "10.255.0.1"

# rlm_expiration reads Expiration with fr_get_time(): a Unix time, or
# "<day> <Mon> <year> [HH:MM[:SS]]" in any order, the month as English text, in the
# server's local time (mktime). daloRADIUS writes "%d %b %Y"; we add the time.
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def expiration_value(when: datetime) -> str:
    """``when`` (UTC) as rlm_expiration reads it, e.g. "31 Dec 2026 23:59:59"; locale-independent."""
    when = _utc(when)
    return f"{when.day:02d} {_MONTHS[when.month - 1]} {when.year:04d} {when:%H:%M:%S}"


def _utc(when: datetime) -> datetime:
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)


def month_start(now: datetime) -> datetime:
    """Where sqlcounter's ``reset = monthly`` period begins for a radiusd running with TZ=UTC."""
    return _utc(now).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


# --------------------------------------------------------------------------- schema
def create_schema(conn: psycopg.Connection) -> None:
    """The stock tables (radcheck, radreply, radgroupcheck, radgroupreply, radusergroup,
    radacct, radpostauth, nas, nasreload) with the stock indexes, plus radacct
    (username, acctstarttime). Expects a database without them."""
    with conn.transaction():
        conn.execute(SCHEMA_SQL.read_text())
        # The monthly data counter's query: WHERE username = ... AND acctstarttime > ...
        conn.execute("CREATE INDEX radacct_username_start_idx ON radacct (username, acctstarttime)")


# --------------------------------------------------------------------------- data
def load(conn: psycopg.Connection, subscribers: list[BenchSubscriber], history_rows_per_subscriber: int,
         now: datetime) -> None:
    """Load ``subscribers`` into the stock schema (see the module docstring); commits, then ANALYZEs.

    Expired subscribers' Expiration lies 1 to 60 days before ``now``, everyone else's
    30 to 365 days after it. Each subscriber gets ``history_rows_per_subscriber``
    closed sessions that started after the start of ``now``'s month (UTC) and ended
    by ``now``, with input + output octets summing to ``used_bytes``.
    """
    if history_rows_per_subscriber < 1:
        raise ValueError("history_rows_per_subscriber must be at least 1: usage lives in radacct")
    now = _utc(now)
    start = month_start(now)
    if (now - start).total_seconds() < 4:
        raise ValueError(f"{now.isoformat()} is too close to the start of the month for a session history")
    plans = {s.plan.name: s.plan for s in subscribers}
    with conn.transaction():
        with conn.cursor() as cur:
            with cur.copy("COPY radgroupreply (groupname, attribute, op, value) FROM STDIN") as cp:
                for plan in plans.values():
                    cp.write_row((plan.name, "Mikrotik-Rate-Limit", ":=", plan.rate_limit))
            with cur.copy("COPY radgroupcheck (groupname, attribute, op, value) FROM STDIN") as cp:
                for plan in plans.values():
                    cp.write_row((plan.name, "Max-Monthly-Traffic", ":=", str(plan.quota_bytes)))
            with cur.copy("COPY radcheck (username, attribute, op, value) FROM STDIN") as cp:
                for i, s in enumerate(subscribers):
                    cp.write_row((s.username, "Cleartext-Password", ":=", s.password))
                    if s.fate is Fate.EXPIRED:
                        expires = now - timedelta(days=1 + i % 60, seconds=i % 86400)
                    else:
                        expires = now + timedelta(days=30 + i % 336, seconds=i % 86400)
                    cp.write_row((s.username, "Expiration", ":=", expiration_value(expires)))
                    if s.fate is Fate.SUSPENDED:
                        cp.write_row((s.username, "Auth-Type", ":=", "Reject"))
            with cur.copy("COPY radusergroup (username, groupname, priority) FROM STDIN") as cp:
                for s in subscribers:
                    cp.write_row((s.username, s.plan.name, 0))
            # Build radacct's secondary indexes after the rows are in, not row by row.
            indexes = cur.execute(
                "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
                "WHERE i.indrelid = 'radacct'::regclass "
                "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)").fetchall()
            for name, _ in indexes:
                cur.execute(f"DROP INDEX {name}")
            with cur.copy(
                "COPY radacct (acctsessionid, acctuniqueid, username, nasipaddress, nasportid, nasporttype, "
                "acctstarttime, acctupdatetime, acctstoptime, acctsessiontime, acctauthentic, "
                "connectinfo_start, connectinfo_stop, acctinputoctets, acctoutputoctets, calledstationid, "
                "callingstationid, acctterminatecause, servicetype, framedprotocol, framedipaddress) "
                "FROM STDIN"
            ) as cp:
                for chunk in _history(subscribers, history_rows_per_subscriber, start, now):
                    cp.write(chunk)
            for _, definition in indexes:
                cur.execute(definition)
    conn.execute("ANALYZE")
    if not conn.autocommit:
        conn.commit()


def _history(subscribers: list[BenchSubscriber], n: int, start: datetime, now: datetime) -> Iterator[str]:
    """COPY text for ``n`` closed sessions per subscriber, in chunks of about 1 MB."""
    t0 = int(start.timestamp()) + 1  # the counter counts acctstarttime > period start
    t_end = int(now.timestamp()) - 1
    slot = (t_end - t0) / n
    days: dict[int, str] = {}

    def ts(t: int) -> str:
        day, sec = divmod(t, 86400)
        prefix = days.get(day)
        if prefix is None:
            prefix = days[day] = datetime.fromtimestamp(day * 86400, timezone.utc).strftime("%Y-%m-%d")
        return f"{prefix} {sec // 3600:02d}:{sec % 3600 // 60:02d}:{sec % 60:02d}+00"

    buf: list[str] = []
    size = 0
    for i, s in enumerate(subscribers):
        rng = random.Random(f"stock-history:{s.username}")
        weights = [rng.random() + 0.05 for _ in range(n)]
        total_w = sum(weights)
        mac = f"AA:BB:{i >> 24 & 255:02X}:{i >> 16 & 255:02X}:{i >> 8 & 255:02X}:{i & 255:02X}"
        ip = f"100.{64 + (i >> 16) % 64}.{i >> 8 & 255}.{i & 255}"
        left = s.used_bytes
        for k in range(n):
            octets = left if k == n - 1 else min(left, int(s.used_bytes * weights[k] / total_w))
            left -= octets
            upload = octets * rng.randrange(8, 25) // 100
            begin = t0 + int(k * slot)
            length = int(slot * rng.uniform(0.3, 0.95))
            stop = min(begin + length, t_end)
            uid = f"{i:016x}{k:016x}"  # 32 hex digits like the md5 acct_unique writes, in load order
            line = (f"{i:06x}{k:04x}\t{uid}\t{s.username}\t{HISTORY_NAS}\tether2-pppoe\tEthernet\t"
                    f"{ts(begin)}\t{ts(stop)}\t{ts(stop)}\t{stop - begin}\tRADIUS\t\t\t"
                    f"{upload}\t{octets - upload}\tpppoe-service\t{mac}\tUser-Request\tFramed-User\tPPP\t{ip}\n")
            buf.append(line)
            size += len(line)
        if size > 1 << 20:
            yield "".join(buf)
            buf, size = [], 0
    if buf:
        yield "".join(buf)


# --------------------------------------------------------------------------- radiusd
def stock_database_url(stack: Stack, db: str = STOCK_DB) -> str:
    return stack.database_url.rsplit("/", 1)[0] + "/" + db


def create_stock_database(stack: Stack, db: str = STOCK_DB) -> str:
    """CREATE DATABASE ``db`` on the stack's cluster unless it exists; returns its URL."""
    with psycopg.connect(stack.database_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,)).fetchone():
            conn.execute(f'CREATE DATABASE "{db}"')
    return stock_database_url(stack, db)


def stock_env(stack: Stack, *, nas_secret: str | None = None, db: str = STOCK_DB) -> dict[str, str]:
    """What bench/stock/raddb reads beyond the CLOUDOS_* variables Stack.start_radiusd sets:
    its NAS secret, rlm_sql's PostgreSQL, and TZ=UTC (sqlcounter's month starts at local
    midnight; the data is laid out in UTC)."""
    return {
        "TZ": "UTC",
        "BENCH_NAS_SECRET": nas_secret or os.environ.get("BENCH_NAS_SECRET") or DEFAULT_NAS_SECRET,
        "BENCH_PG_HOST": "127.0.0.1",
        "BENCH_PG_PORT": str(stack.ports.pg),
        "BENCH_PG_DB": db,
        "BENCH_PG_USER": "cloudos",
        # The stock pipeline logs in as the owner of its own tables, its password in rlm_sql's
        # config from the environment (radiusd runs as the cloudos user: the stack's passfile is
        # root's, and radiusd's own holds only rlm_cloudos's login).
        "BENCH_PG_PASSWORD": stack.passwords[OWNER],
    }


def stock_raddb(dest: Path) -> Path:
    """bench/stock/raddb on raddb/'s shared files, with Debian's stock queries.conf, in ``dest``.

    Start it with ``stack.start_radiusd(raddb=stock_raddb(dir), env=stock_env(stack))``: it
    listens where the stack's own radiusd would, so run one of them at a time."""
    raddb = compose(STOCK_RADDB, Path(dest))
    sql_dir = raddb / "mods-config" / "sql" / "main" / "postgresql"
    sql_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(DEBIAN_SQL / "queries.conf", sql_dir / "queries.conf")
    return raddb
