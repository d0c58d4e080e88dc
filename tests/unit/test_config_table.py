"""The README's configuration table against the code: every CLOUDOS_* variable the code reads is there,
nothing else is, and each default is the one the code applies.

The variables are found where they are read: rlm_cloudos and tools (Python), raddb ($ENV{}),
deploy (the systemd units) and scripts/demo; plus rlm_cloudos's settings that the environment
can still set (ModuleSettings reads CLOUDOS_<FIELD>, but mods-enabled/cloudos wins where it sets
the field itself). The defaults come from ModuleSettings, cloudos_stack.RADIUSD_DEFAULTS (what
FreeRADIUS cannot default: deploy/systemd's unit and the image must set the same) and the
policy's constants.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic_core import PydanticUndefined

from cloudos_stack import RADIUSD_DEFAULTS, REPO
from rlm_cloudos.config import ModuleSettings
from rlm_cloudos.policy.clients import WIDEST_IPV4, WIDEST_IPV6

#: A variable's name, not a prefix of one (``f"CLOUDOS_NAS_WIDEST_IPV{n}"``, ``"CLOUDOS_" + key``).
VARIABLE = re.compile(r"\bCLOUDOS_[A-Z0-9_]*[A-Z0-9](?![A-Z0-9_{])")
ROW = re.compile(r"^\| `(CLOUDOS_[A-Z0-9_]+)` \| ([^|]*) \|")
SETTING = re.compile(r"^\s*(\w+)\s*=\s*(.*?)\s*$")
ENV_REF = re.compile(r'^"?\$ENV\{(CLOUDOS_[A-Z0-9_]+)\}"?$')


def scanned() -> list[Path]:
    files = [*REPO.glob("rlm_cloudos/**/*.py"), *REPO.glob("tools/**/*.py"), REPO / "scripts" / "demo",
             *REPO.glob("raddb/**/*"), *REPO.glob("deploy/**/*")]
    return sorted(p for p in files if p.is_file())


def read_by_code() -> set[str]:
    return {m for p in scanned() for m in VARIABLE.findall(p.read_text(errors="replace"))}


def readme_table(text: str | None = None) -> dict[str, str]:
    """Each variable of the README's configuration table and its default cell."""
    text = (REPO / "README.md").read_text() if text is None else text
    section = text.split("\n## Configuration reference\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        m = ROW.match(line)
        if m:
            assert m[1] not in rows, f"{m[1]} has two rows"
            rows[m[1]] = m[2].strip()
    return rows


def documented_default(cell: str) -> str | None:
    """A default cell's value: ``—`` is none, else the first backquoted literal (```""``` is empty)."""
    if cell.startswith("—"):
        return None
    m = re.match(r"`([^`]*)`", cell)
    assert m, f"a default cell is — or starts with a `literal`, not {cell!r}"
    return "" if m[1] == '""' else m[1]


def module_config() -> dict[str, str]:
    """The settings of mods-enabled/cloudos's first config { } section (the one rlm_cloudos reads)."""
    text = (REPO / "raddb" / "mods-enabled" / "cloudos").read_text()
    body = text.split("config {", 1)[1].split("\n\t}", 1)[0]
    found = {}
    for line in body.splitlines():
        m = SETTING.match(line)
        if m and not line.lstrip().startswith("#"):
            found[m[1]] = m[2]
    return found


def module_variables() -> dict[str, str | None]:
    """The CLOUDOS_<FIELD> variables that still set a ModuleSettings field, with its default."""
    config = module_config()
    out: dict[str, str | None] = {}
    for name, field in ModuleSettings.model_fields.items():
        value = config.get(name)
        env = ENV_REF.match(value) if value is not None else None
        if value is not None and env is None:
            continue  # set in the file, which wins over the environment
        if env is not None:
            assert env[1] == f"CLOUDOS_{name.upper()}", (name, value)
        default = None if field.default is PydanticUndefined else str(field.default)
        out[f"CLOUDOS_{name.upper()}"] = default
    return out


def code_defaults() -> dict[str, str | None]:
    """Every variable the code reads, with the default it applies (None: none)."""
    found: dict[str, str | None] = dict.fromkeys(read_by_code())
    found.update(module_variables())
    found.update({k: str(v) for k, v in RADIUSD_DEFAULTS.items()})
    found.update({"CLOUDOS_NAS_WIDEST_IPV4": str(WIDEST_IPV4), "CLOUDOS_NAS_WIDEST_IPV6": str(WIDEST_IPV6)})
    return found


def unit_environment(path: Path) -> dict[str, str]:
    return dict(line.removeprefix("Environment=").split("=", 1) for line in path.read_text().splitlines()
                if line.startswith("Environment=") and "%" not in line)


def dockerfile_environment() -> dict[str, str]:
    text = (REPO / "Dockerfile.freeradius").read_text().replace("\\\n", " ")
    block = next(line for line in text.splitlines() if line.startswith("ENV "))
    return dict(word.split("=", 1) for word in block.split()[1:])


def test_every_variable_the_code_reads_is_in_the_table_and_no_other() -> None:
    table, code = readme_table(), code_defaults()
    assert sorted(set(code) - set(table)) == [], "read by the code, missing from the README's table"
    assert sorted(set(table) - set(code)) == [], "in the README's table, read by no code"


def test_each_default_in_the_table_is_the_codes() -> None:
    table, code = readme_table(), code_defaults()
    wrong = {name: (documented_default(table[name]), code[name]) for name in table
             if name in code and documented_default(table[name]) != code[name]}
    assert wrong == {}, "README default, code default"


def test_radiusd_defaults_are_set_by_every_launcher() -> None:
    """FreeRADIUS reads an unset $ENV{} as empty (0): the stack, the unit and the image set the same values."""
    expected = {k: str(v) for k, v in RADIUSD_DEFAULTS.items()}
    unit = unit_environment(REPO / "deploy" / "systemd" / "cloudos-radiusd.service")
    image = dockerfile_environment()
    assert {k: unit.get(k) for k in expected} == expected
    assert {k: image.get(k) for k in expected} == expected
    raddb = "".join(p.read_text() for p in REPO.glob("raddb/**/*") if p.is_file())
    assert all(f"$ENV{{{k}}}" in raddb for k in expected)


def test_the_settings_the_readme_names_in_mods_enabled_cloudos_are_there() -> None:
    bullet = (REPO / "README.md").read_text().split("- `mods-enabled/cloudos`:", 1)[1].split("\n- ", 1)[0]
    section = bullet.split("settings:", 1)[1]
    named = dict(re.findall(r"`(\w+) = ([^`]+)`", section))
    named.update({name: "" for name in re.findall(r"`(\w+)`", section)})
    config = module_config()
    assert sorted(set(named) - set(config)) == []
    assert {k: config[k] for k, v in named.items() if v} == {k: v for k, v in named.items() if v}


def test_the_table_reader_finds_what_is_missing() -> None:
    """The checks above fail on a table without a variable, or with another default."""
    text = (REPO / "README.md").read_text()
    without = "\n".join(line for line in text.splitlines() if not line.startswith("| `CLOUDOS_SPOOL_RETRY`"))
    assert "CLOUDOS_SPOOL_RETRY" not in readme_table(without)
    changed = text.replace("| `CLOUDOS_CLIENT_LIFETIME` | `60` |", "| `CLOUDOS_CLIENT_LIFETIME` | `0` |")
    assert documented_default(readme_table(changed)["CLOUDOS_CLIENT_LIFETIME"]) == "0" != code_defaults()[
        "CLOUDOS_CLIENT_LIFETIME"]
