"""No SQL built from strings under tools/ or rlm_cloudos/: statements are Core constructs, fixed text,
or (the hot path's composed statements) psycopg.sql composition of fixed pieces.

The scan reads each module's syntax tree. It flags
* an f-string, a ``+``/``%`` expression or a ``+=`` whose string pieces look like SQL;
* ``text()``, ``.execute()`` or ``.exec_driver_sql()`` handed anything assembled at run time
  (an f-string, ``+``, ``%``, ``.join()``, ``.format()``) instead of one string literal or a
  named constant.
The self-tests below feed it the patterns tools/ used before the store (taken from
commands/subscriber.py, plan.py, tenant.py, nas.py and session.py) and the ones it must accept.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools"

#: Upper-case SQL words: messages and help texts in tools/ are lower case.
_SQL = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|WHERE|RETURNING|VALUES|ORDER BY|GROUP BY|JOIN|SET|FROM|"
                  r"FOR UPDATE|LIMIT|CAST)\b")
_RUNNERS = {"text", "execute", "exec_driver_sql"}
_BUILDERS = {"join", "format", "format_map"}


def _literals(node: ast.AST) -> list[str]:
    """The string literals that take part in building ``node``'s value."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        return [v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)]
    if isinstance(node, ast.BinOp):
        return _literals(node.left) + _literals(node.right)
    if isinstance(node, ast.IfExp):
        return _literals(node.body) + _literals(node.orelse)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _BUILDERS:
        return _literals(node.func.value) + [s for a in node.args for s in _literals(a)]
    if isinstance(node, ast.GeneratorExp | ast.ListComp):
        return _literals(node.elt)
    return []


def _looks_like_sql(node: ast.AST) -> bool:
    return any(_SQL.search(s) for s in _literals(node))


def _assembled(node: ast.AST) -> bool:
    """Whether ``node`` is a string put together at run time."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.FormattedValue) for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
        return True
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _BUILDERS


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def sql_from_strings(source: str, filename: str = "<source>") -> list[str]:
    """Every place in ``source`` where SQL is assembled from strings, as 'file:line: why'."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source, filename)):
        where = f"{filename}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.JoinedStr) and any(isinstance(v, ast.FormattedValue) for v in node.values) \
                and _looks_like_sql(node):
            found.append(f"{where}: f-string SQL")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod) and _looks_like_sql(node):
            found.append(f"{where}: SQL joined with {'+' if isinstance(node.op, ast.Add) else '%'}")
        elif isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Add | ast.Mod) and _looks_like_sql(node.value):
            found.append(f"{where}: SQL extended with {'+=' if isinstance(node.op, ast.Add) else '%='}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _BUILDERS \
                and _looks_like_sql(node):
            found.append(f"{where}: SQL built with .{node.func.attr}()")
        elif isinstance(node, ast.Call) and _name(node.func) in _RUNNERS and node.args:
            arg = node.args[0]
            if _assembled(arg):
                found.append(f"{where}: {_name(node.func)}() of a string built at run time")
            elif _name(node.func) == "text" and not (
                    (isinstance(arg, ast.Constant) and isinstance(arg.value, str)) or isinstance(arg, ast.Name | ast.Attribute)):
                found.append(f"{where}: text() of something other than a string literal or a named constant")
    return found


@pytest.mark.parametrize("tree", ["tools", "rlm_cloudos"])
def test_no_sql_is_built_from_strings(tree: str) -> None:
    files = sorted((ROOT / tree).rglob("*.py"))
    assert len(files) > 10, tree
    found = [hit for path in files for hit in sql_from_strings(path.read_text(), str(path.relative_to(ROOT)))]
    assert found == []


# --------------------------------------------------------------------------- the scan itself
@pytest.mark.parametrize("source", [
    # commands/subscriber.py: a lock clause glued on, and an INSERT column list joined
    'row = conn.execute(text("SELECT * FROM subscriber WHERE tenant_id = :t AND username = :u"'
    ' + (" FOR UPDATE" if lock else "")), {"t": 1})',
    'q = text("INSERT INTO subscriber (" + ", ".join(values) + ") VALUES (" + ", ".join(f":{k}" for k in values) + ")")',
    # commands/plan.py, tenant.py: partial UPDATE from an f-string of a join
    'sets = ", ".join(f"{k} = :{k}" for k in changes)\n'
    'row = conn.execute(text(f"UPDATE plan SET {sets} WHERE id = :id RETURNING *"), {**changes})',
    'cols = ", ".join(values)\nrow = conn.execute(text(f"INSERT INTO plan (tenant_id, name, {cols}) VALUES (:t)"))',
    # commands/nas.py, plan.py, session.py: optional filters appended
    'q = "SELECT n.*, t.name AS tenant FROM nas n JOIN tenant t ON t.id = n.tenant_id"\n'
    'if tenant:\n    q += " WHERE n.tenant_id = :t"\n',
    'rows = conn.execute(text(q + " ORDER BY t.name, n.name"), params)',
    'q = (f"SELECT {_SESSION_COLUMNS} FROM session_open o LEFT JOIN nas n ON n.id = o.nas_id "\n'
    '     "WHERE o.tenant_id = :t")',
    # and what else it must not let through
    'conn.execute("DELETE FROM nas WHERE id = %s" % nas_id)',
    'conn.exec_driver_sql("SELECT {} FROM plan".format(cols))',
    'q = text(statement_for(kind))',
    'conn.execute(f"{verb} coa_outbox")',
])
def test_the_scan_flags_sql_built_from_strings(source: str) -> None:
    assert sql_from_strings(source) != []


@pytest.mark.parametrize("source", [
    'REAP = text("SELECT reaped, purged FROM cloudos_reap_sessions(:now)")',
    'made = conn.execute(text("SELECT a(1)"\n " + b(2)")).scalar_one()',  # implicit concatenation: one literal
    'conn.execute(REAP, {"now": now})',
    'conn.execute(sql.EXPLAIN, params)',
    'conn.execute("UPDATE coa_outbox SET result = %s WHERE id = %s", (r, cid))',  # placeholders, not formatting
    'conn.execute(select(plan).where(plan.c.id == plan_id))',
    'raise CliError(f"no plan named {name!r} in tenant {tenant.name}")',
    'ctx.emit(after, f"plan {name} updated: " + ", ".join(f"{k}={v}" for k, v in changes.items()))',
    'cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))',
])
def test_the_scan_accepts_fixed_statements_and_messages(source: str) -> None:
    assert sql_from_strings(source) == []
