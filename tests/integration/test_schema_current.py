"""schema/current.sql is the schema a fresh migration leaves, and `cloudos db schema` says so."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloudos.commands import db
from tests.conftest import CliResult, run_cli


def test_current_sql_is_what_the_migrations_leave(fresh_db: str) -> None:
    r = run_cli("db", "schema")
    assert r.code == 0 and r.err == "", r.err
    committed = db.CURRENT_SQL.read_text() if db.CURRENT_SQL.exists() else ""
    # Not a bare ==: a mismatch prints what to run, then the first differing lines.
    if r.out != committed:
        import difflib

        diff = "\n".join(list(difflib.unified_diff(committed.splitlines(), r.out.splitlines(), "schema/current.sql",
                                                   "fresh migration", lineterm=""))[:60])
        pytest.fail(f"schema/current.sql is out of date: run cloudos db schema --write\n{diff}")
    for needle in ("CREATE TABLE public.usage_counter", "CREATE FUNCTION public.cloudos_account_journal",
                   "CREATE TRIGGER", "GRANT SELECT", "CREATE ROLE cloudos_radius NOLOGIN;"):
        assert needle in r.out, needle


def test_the_dump_is_stable_and_leaves_out_what_varies(fresh_db: str, stack: object) -> None:
    first, second = run_cli("db", "schema"), run_cli("db", "schema")
    assert first.code == 0 and first.out == second.out
    for noise in ("\nSET ", "set_config(", "Dumped by", "Dumped from", "\\restrict", "_y20"):
        assert noise not in first.out, noise
    assert "PARTITION BY RANGE" in first.out  # the partitioned parents stay


def test_write_writes_the_file(fresh_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "current.sql"
    monkeypatch.setattr(db, "CURRENT_SQL", target)
    r = run_cli("db", "schema", "--write")
    assert r.code == 0 and r.out == f"wrote {target}\n", r.err
    assert target.read_text() == run_cli("db", "schema").out
    assert run_cli("db", "schema", "--write").out == f"unchanged: {target}\n"


def test_pg_dump_missing_is_one_error_line(fresh_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "PG_DUMP_GLOB", "/nonexistent/*/bin/pg_dump")
    monkeypatch.setenv("PATH", "/nonexistent")
    r: CliResult = run_cli("db", "schema")
    assert r.code == 1 and r.out == ""
    assert r.err.count("\n") == 1 and r.err.startswith("cloudos: error: pg_dump not found"), r.err
