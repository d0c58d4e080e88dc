"""The design's import rules (ARCHITECTURE.md), checked on the source: a rule a test does not hold drifts."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth of the file (function-level imports included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def offenders(package: str, forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    base = ROOT / package
    for path in sorted(base.rglob("*.py")) if base.is_dir() else [base]:
        bad = sorted(m for m in imports(path) if any(m == f or m.startswith(f + ".") for f in forbidden))
        if bad:
            out[str(path.relative_to(ROOT))] = bad
    return out


@pytest.mark.parametrize(("package", "forbidden"), [
    # The store does I/O for the adapter and the tools, and never reaches back into the adapter.
    ("rlm_cloudos/store", ("rlm_cloudos.radattrs", "rlm_cloudos.module", "radiusd", "cloudos")),
    # The policy is pure: no store, no adapter, no radiusd, no database or Redis driver.
    ("rlm_cloudos/policy", ("rlm_cloudos.store", "rlm_cloudos.radattrs", "rlm_cloudos.module", "radiusd",
                            "psycopg", "psycopg_pool", "redis", "sqlalchemy", "cloudos")),
    # The CLI and its jobs never reach for the local dev/test stack.
    ("tools/cloudos", ("cloudos_stack",)),
    # The neutral request types import nothing of the module's layers.
    ("rlm_cloudos/requests.py", ("rlm_cloudos.store", "rlm_cloudos.radattrs", "rlm_cloudos.module")),
])
def test_layers_import_only_downwards(package: str, forbidden: tuple[str, ...]) -> None:
    assert offenders(package, forbidden) == {}


def test_the_rule_sees_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from rlm_cloudos.radattrs import AcctRequest\n")
    assert "rlm_cloudos.radattrs" in imports(bad)


def _tree(module: object, base: type) -> list[type]:
    return [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, base)]


def test_one_exception_tree_each_class_with_a_one_line_docstring_and_a_level() -> None:
    import cloudos.errors
    import rlm_cloudos.errors
    from rlm_cloudos.policy import rates
    from rlm_cloudos.store import journal_files

    ours = _tree(rlm_cloudos.errors, rlm_cloudos.errors.CloudOSError)
    ours += [rates.RateLimitError, rates.SizeError, journal_files.JournalBusy]
    for cls in ours:
        assert issubclass(cls, rlm_cloudos.errors.CloudOSError), cls
        assert cls.level in ("debug", "info", "warn", "error"), cls
    for cls in ours + _tree(cloudos.errors, cloudos.errors.CliError):
        doc = (cls.__doc__ or "").strip()
        assert doc and "\n" not in doc, f"{cls.__name__}: one docstring line"


def test_each_e2e_module_has_loopback_nas_addresses_of_its_own() -> None:
    """The e2e modules share one PostgreSQL, where NAS addresses may not overlap across tenants: two
    modules that both add 127.0.0.40 pass alone and fail together, in whichever runs second."""
    owners: dict[str, set[str]] = {}
    for path in sorted((ROOT / "tests" / "e2e").glob("test_*.py")):
        for address in set(re.findall(r'"(127\.0\.0\.\d+)"', path.read_text())) - {"127.0.0.1"}:
            owners.setdefault(address, set()).add(path.name)
    shared = {a: sorted(m) for a, m in owners.items() if len(m) > 1}
    assert not shared, f"loopback NAS addresses used by more than one e2e module: {shared}"
