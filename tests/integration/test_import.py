"""`cloudos subscriber import` against a real PostgreSQL: dry run, all or nothing, the report, the formats."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from cloudos.bulk import formats
from rlm_cloudos.crypto import KeyRing
from rlm_cloudos.store import live
from tests.conftest import open_cnic
from tests.conftest import run_cli as cli

HEADER = "username,password,plan,expires,mac,static_ip,name,phone,email,address,cnic\n"


@pytest.fixture
def tenant(fresh_db: str) -> str:
    assert cli("tenant", "add", "isp1").code == 0
    for plan, rate in (("home", "2M/8M"), ("biz", "10M/20M")):
        r = cli("plan", "add", plan, "--rate-limit", rate)
        assert r.code == 0, r.err
    return "isp1"


def write(tmp_path: Path, body: str | bytes, name: str = "subs.csv") -> str:
    path = tmp_path / name
    if isinstance(body, str):
        path.write_text(body, encoding="utf-8")
    else:
        path.write_bytes(body)
    return str(path)


def rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


def count(url: str, table: str = "subscriber") -> int:
    return int(rows(url, f"SELECT count(*) FROM {table}")[0][0])


GOOD = HEADER + (
    "ali,Secret-ali-1,home,2026-12-31,aa-bb-cc-dd-ee-01,10.9.0.5,Ali Khan,+923001234567,ali@example.pk,"
    "\"House 1, Street 2, Lahore\",35202-9876543-9\n"
    "sara,Secret-sara-2,biz,,,,,,,,\n"
    "\"umar\",\"pa,ss\"\"word\",home,2027-01-31,AABBCCDDEE02,,Umar,,,,\n"
)


def test_a_good_file_is_a_dry_run_until_commit_then_every_subscriber_is_there(tenant: str, fresh_db: str,
                                                                              tmp_path: Path) -> None:
    path = write(tmp_path, GOOD)
    before = count(fresh_db, "admin_audit")
    r = cli("subscriber", "import", path)
    assert r.code == 0, r.err
    assert "3 rows, 3 good, 0 refused" in r.out and "--commit" in r.out
    assert count(fresh_db) == 0 and count(fresh_db, "admin_audit") == before  # a dry run writes nothing

    r = cli("subscriber", "import", path, "--commit", "--json")
    assert r.code == 0, r.err
    report = json.loads(r.out)
    assert report["imported"] == 3 and report["refused"] == [] and not report["dry_run"]
    assert "Secret-ali-1" not in r.out

    ali = json.loads(cli("subscriber", "show", "ali", "--json").out)
    assert ali["plan"] == "home" and ali["paid_until"] == "2026-12-31"
    assert ali["expires_at"] == "2026-12-31T19:00:00Z"  # midnight Asia/Karachi, as `subscriber add` does
    assert ali["mac"] == "AA:BB:CC:DD:EE:01" and ali["static_ip"] == "10.9.0.5"
    assert ali["name"] == "Ali Khan" and ali["phone"] == "+923001234567"
    assert ali["cnic"].endswith("9") and "9876543" not in ali["cnic"]
    assert json.loads(cli("subscriber", "show", "sara", "--json").out)["paid_until"] is None

    ring = KeyRing.load(os.environ["CLOUDOS_KEYRING"])
    sealed = {u: (t, bytes(p), c) for u, t, p, c in rows(fresh_db, "SELECT username, tenant_id, password_enc, "
                                                                   "cnic_enc FROM subscriber")}
    assert ring.open_password(sealed["umar"][1], sealed["umar"][0], "umar") == 'pa,ss"word'
    assert ring.open_password(sealed["ali"][1], sealed["ali"][0], "ali") == "Secret-ali-1"
    assert open_cnic(fresh_db, sealed["ali"][2]) == "35202-9876543-9"

    trail = rows(fresh_db, "SELECT action, target, after FROM admin_audit ORDER BY id")[before:]
    assert [a for a, _, _ in trail] == ["subscriber.add"] * 3 + ["subscriber.import"]
    assert [t for _, t, _ in trail[:3]] == ["subscriber:isp1/ali", "subscriber:isp1/sara", "subscriber:isp1/umar"]
    assert trail[0][2]["password"] == "[redacted]" and trail[0][2]["full_name"].startswith("hmac-sha256:")
    summary = trail[3][2]
    assert summary["imported"] == 3 and summary["rows"] == 3 and len(summary["sha256"]) == 64
    assert summary["sha256"] == report["sha256"]
    everything = json.dumps([a for _, _, a in trail])
    for secret in ("Secret-ali-1", "Secret-sara-2", "9876543", "Ali Khan"):
        assert secret not in everything
    r = cli("audit", "verify")
    assert r.code == 0, r.out + r.err  # the batch extends the chain exactly as one add at a time would


def test_one_bad_row_and_nothing_is_written_the_row_reported_with_its_line(tenant: str, fresh_db: str,
                                                                          tmp_path: Path) -> None:
    body = HEADER + "ok1,Secret-ok-1,home,,,,,,,,\nbad,Secret-bad,home,,not-a-mac,,,,,,\nok2,Secret-ok-2,home,,,,,,,,\n"
    before = count(fresh_db, "admin_audit")
    r = cli("subscriber", "import", write(tmp_path, body), "--commit")
    assert r.code == 1
    assert "line 3: refused 'bad': invalid MAC address 'not-a-mac'" in r.out
    assert "1 of 3 rows refused: nothing imported" in r.err and "Traceback" not in r.err
    assert count(fresh_db) == 0 and count(fresh_db, "admin_audit") == before


def test_every_reason_of_every_refused_row_is_reported(tenant: str, fresh_db: str, tmp_path: Path) -> None:
    body = HEADER + (
        "a1,short,home,,,,,,,,\n"                # password too short
        "a2,Secret-a2,nosuch,31-12-2026,,,,,,,\n"  # no such plan, bad date
        "a3,Secret-a3,home,,,fe80::1,,,,,\n"      # IPv6
        "a4,Secret-a4,home,,,10.0.0.300,,,,,\n"   # not an IP
        "a5,Secret-a5,home\n"                     # wrong number of columns
        ",Secret-a6,home,,,,,,,,\n"               # no username
        f"a7,{'x' * 129},home,,,,,,,,\n"          # password too long
        f"a8,Secret-a8,home,,,,{'n' * 201},,,,\n"  # name too long
    )
    r = cli("subscriber", "import", write(tmp_path, body), "--json")
    assert r.code == 1
    refused = {f["line"]: f["message"] for f in json.loads(r.out)["refused"]}
    assert "password must be 6 to 128 characters, not 5" in refused[2]
    assert "no plan named 'nosuch'" in refused[3] and "invalid date '31-12-2026'" in refused[3]
    assert "is IPv6: Framed-IP-Address carries IPv4 only" in refused[4]
    assert "invalid IP address" in refused[5]
    assert refused[6] == "3 columns where the header has 11"
    assert refused[7] == "no username"
    assert "not 129" in refused[8]
    assert "name is longer than 200" in refused[9]
    assert len(refused) == 8 and json.loads(r.err)["exit_code"] == 1


def test_duplicates_in_the_file_and_in_the_tenant_are_refused_case_insensitively(tenant: str, fresh_db: str,
                                                                                 tmp_path: Path) -> None:
    r = cli("subscriber", "add", "Ali", "--plan", "home", "--password-stdin", "--static-ip", "10.0.0.1",
            "--mac", "AA:BB:CC:00:00:01", stdin="Secret-ali\n")
    assert r.code == 0, r.err
    body = HEADER + (
        "ali,Secret-1,home,,,,,,,,\n"
        "bob,Secret-2,home,,,10.0.0.1,,,,,\n"
        "carol,Secret-3,home,,,10.0.0.2,,,,,\n"
        "dave,Secret-4,home,,,10.0.0.2,,,,,\n"
        "Carol,Secret-5,home,,,,,,,,\n"
        "erin,Secret-6,home,,aa:bb:cc:00:00:01,,,,,,\n"
    )
    r = cli("subscriber", "import", write(tmp_path, body), "--commit", "--json")
    assert r.code == 1
    report = json.loads(r.out)
    refused = {f["line"]: f["message"] for f in report["refused"]}
    assert refused == {
        2: "username already exists in the tenant as 'Ali'",
        3: "static IP 10.0.0.1 is already used by subscriber 'Ali'",
        5: "static IP 10.0.0.2 repeats line 4",
        6: "username repeats line 4 (usernames are compared case-insensitively)",
    }
    # A MAC bound elsewhere is a warning, not a refusal.
    assert {f["line"]: f["message"] for f in report["warnings"]} == {
        7: "MAC AA:BB:CC:00:00:01 is also bound to subscriber 'Ali'"}
    assert count(fresh_db) == 1


def test_a_mac_bound_elsewhere_is_only_a_warning(tenant: str, fresh_db: str, tmp_path: Path) -> None:
    body = HEADER + "m1,Secret-m1,home,,AA:BB:CC:00:00:09,,,,,,\nm2,Secret-m2,home,,aabb.cc00.0009,,,,,,\n"
    r = cli("subscriber", "import", write(tmp_path, body), "--commit")
    assert r.code == 0, r.err
    assert "line 3: warning 'm2': MAC AA:BB:CC:00:00:09 is also bound on line 2" in r.out
    assert count(fresh_db) == 2


def test_a_bom_and_crlf_line_ends_are_read(tenant: str, fresh_db: str, tmp_path: Path) -> None:
    body = ("\ufeff" + HEADER + "bom1,Secret-bom,home,,,,Zainab Bibi,,,,\n").replace("\n", "\r\n")
    r = cli("subscriber", "import", write(tmp_path, body.encode("utf-8")), "--commit")
    assert r.code == 0, r.err
    assert json.loads(cli("subscriber", "show", "bom1", "--json").out)["name"] == "Zainab Bibi"


def test_a_header_may_name_a_subset_in_any_order_and_plan_defaults_to_the_option(tenant: str, fresh_db: str,
                                                                                tmp_path: Path) -> None:
    body = "password,username\nSecret-s1,s1\n"
    r = cli("subscriber", "import", write(tmp_path, body), "--commit")
    assert r.code == 1 and "no plan (give the plan column, or --plan)" in r.out
    r = cli("subscriber", "import", write(tmp_path, body), "--commit", "--plan", "biz")
    assert r.code == 0, r.err
    assert json.loads(cli("subscriber", "show", "s1", "--json").out)["plan"] == "biz"


@pytest.mark.parametrize("body, message", [
    (b"", "the file is empty"),
    (b"user,password\nx,y\n", "line 1: unknown column 'user'"),
    (b"username,plan\nx,home\n", "line 1: the header has no 'password' column"),
    (b"username,password,username\n", "column 'username' appears twice"),
    (b"username,password\nok,Secret-ok\n\xff\xfe,pw\n", "line 3: not UTF-8"),
    (b"username,password\n\"open,quote\n", "line 2: not CSV"),
    (b"username,password\n", "no subscriber rows"),
    (b"username,password,email,firstname,lastname\n", "this is a daloRADIUS export: --format daloradius"),
])
def test_a_file_that_cannot_be_read_is_one_line_and_exit_1(tenant: str, fresh_db: str, tmp_path: Path,
                                                           body: bytes, message: str) -> None:
    r = cli("subscriber", "import", write(tmp_path, body), "--commit")
    assert r.code == 1 and message in r.err, r.err
    assert r.err.count("\n") == 1 and "Traceback" not in r.err
    assert count(fresh_db) == 0


def test_a_missing_file_and_both_modes_are_refused(tenant: str, tmp_path: Path) -> None:
    r = cli("subscriber", "import", str(tmp_path / "nosuch.csv"))
    assert r.code == 1 and "No such file" in r.err
    r = cli("subscriber", "import", write(tmp_path, GOOD), "--dry-run", "--commit")
    assert r.code == 2 and "not allowed with" in r.err


def test_standard_input_is_read_when_file_is_a_dash(tenant: str, fresh_db: str) -> None:
    """Through the real `cloudos` (run_cli's standard input is text, not bytes)."""
    cloudos = str(Path(sys.executable).with_name("cloudos"))
    r = subprocess.run([cloudos, "subscriber", "import", "-", "--commit"], input=GOOD.encode(), capture_output=True,
                       env=os.environ.copy())
    assert r.returncode == 0, r.stderr
    assert count(fresh_db) == 3
    ((after,),) = rows(fresh_db, "SELECT after FROM admin_audit WHERE action = 'subscriber.import'")
    assert after["file"] == "-"


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tenant: str, fresh_db: str, tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    with path.open("wb") as f:
        f.truncate(formats.MAX_BYTES + 1)  # sparse: the size is what counts
    r = cli("subscriber", "import", str(path), "--commit")
    assert r.code == 1 and f"at most {formats.MAX_BYTES:,} (50 MB)" in r.err, r.err


def test_a_file_over_the_row_limit_is_refused(tenant: str, fresh_db: str, tmp_path: Path) -> None:
    body = HEADER + "".join(f"u{i},Secret-{i},home,,,,,,,,\n" for i in range(formats.MAX_ROWS + 1))
    r = cli("subscriber", "import", write(tmp_path, body), "--commit")
    assert r.code == 1 and "at most 100,000 are imported at once" in r.err, r.err
    assert count(fresh_db) == 0


# --------------------------------------------------------------------------- daloRADIUS
# As daloRADIUS 2.3's fileExport.php (usernameListGeneric) writes it: fputcsv, every column quoted only when needed.
DALORADIUS = (
    "username,password,email,firstname,lastname,framedipaddress,expiration,department,company,mobilephone,"
    "workphone,homephone,address,city,state,country,zip,sessiontimeout,idletimeout,maxdailysession\n"
    "dalo1,Secret-d1,d1@example.pk,Ayesha,Malik,10.20.0.7,2027-01-15,,,03001112222,,,\"Flat 3, Block B\","
    "Karachi,Sindh,Pakistan,75500,,,\n"
    "dalo2,Secret-d2,,Bilal,,,,Sales,,,04235550000,,,,,,,3600,,\n"
)


def test_a_daloradius_export_maps_names_addresses_and_the_day_before_expiration(tenant: str, fresh_db: str,
                                                                               tmp_path: Path) -> None:
    path = write(tmp_path, DALORADIUS)
    r = cli("subscriber", "import", path, "--format", "daloradius", "--commit")
    assert r.code == 1 and "no plan (give the plan column, or --plan)" in r.out  # the export names no group
    r = cli("subscriber", "import", path, "--format", "daloradius", "--plan", "home", "--commit", "--json")
    assert r.code == 0, r.err
    warnings = [f["message"] for f in json.loads(r.out)["warnings"]]
    assert "department 'Sales' not imported (CloudOS has no department field)" in warnings
    assert "sessiontimeout '3600' not imported (session limits come from the plan)" in warnings
    d1 = json.loads(cli("subscriber", "show", "dalo1", "--json").out)
    # Expiration 2027-01-15 rejects from the first instant of that day: the last paid day is the 14th.
    assert d1["paid_until"] == "2027-01-14" and d1["static_ip"] == "10.20.0.7"
    assert d1["name"] == "Ayesha Malik" and d1["phone"] == "+923001112222"  # as `subscriber add` stores it
    d2 = json.loads(cli("subscriber", "show", "dalo2", "--json").out)
    assert d2["name"] == "Bilal" and d2["phone"] is None and d2["paid_until"] is None
    assert ("phone number not imported: 04235550000 (CloudOS keeps one mobile or E.164 number)") in warnings
    (address,) = rows(fresh_db, "SELECT postal_address FROM subscriber WHERE username = 'dalo1'")[0]
    assert address == "Flat 3, Block B, Karachi, Sindh, 75500, Pakistan"


def test_daloradius_hashed_passwords_and_mac_accounts_are_refused(tenant: str, fresh_db: str, tmp_path: Path) -> None:
    header = DALORADIUS.splitlines()[0]
    body = (header + "\n" + "h1,$1$salt$abcdefghijklmnopqrstuv,,,,,,,,,,,,,,,,,,\n"
            + "AA-BB-CC-DD-EE-FF,Accept,,,,,,,,,,,,,,,,,,\n" + "h3,Secret-h3,,,,,15 Mar 2027,,,,,,,,,,,,,\n")
    r = cli("subscriber", "import", write(tmp_path, body), "--format", "daloradius", "--plan", "home", "--json")
    assert r.code == 1
    refused = {f["line"]: f["message"] for f in json.loads(r.out)["refused"]}
    assert "stored hashed" in refused[2] and "Auth-Type of a MAC or PIN account" in refused[3]
    assert 4 not in refused  # FreeRADIUS's own date spelling is read


def test_an_older_daloradius_export_one_line_per_attribute(tenant: str, fresh_db: str, tmp_path: Path) -> None:
    body = ("Id, Fullname, Username, Attribute, Auth\n"
            "1,Hina Shah,hina,Cleartext-Password,Secret-hina\n"
            "1,Hina Shah,hina,Expiration,01 Feb 2027\n"
            "2,Omar Ali,omar,MD5-Password,5f4dcc3b5aa765d61d8327deb882cf99\n")
    r = cli("subscriber", "import", write(tmp_path, body), "--format", "daloradius", "--plan", "home", "--json")
    assert r.code == 1
    report = json.loads(r.out)
    assert [(f["line"], f["username"]) for f in report["refused"]] == [(4, "omar")]
    assert "MD5-Password" in report["refused"][0]["message"]
    body = "\n".join(body.splitlines()[:3]) + "\n"
    r = cli("subscriber", "import", write(tmp_path, body), "--format", "daloradius", "--plan", "home", "--commit")
    assert r.code == 0, r.err
    hina = json.loads(cli("subscriber", "show", "hina", "--json").out)
    assert hina["name"] == "Hina Shah" and hina["paid_until"] == "2027-01-31"


# --------------------------------------------------------------------------- MikroTik User Manager
# The shape of `/user-manager export show-sensitive` on RouterOS 7: menus, add lines wrapped with a
# backslash and four spaces, non-ASCII bytes as \XX escapes.
USERMANAGER = """\
# 2026-11-30 10:00:00 by RouterOS 7.16.1
# software id = ABCD-1234
#
/user-manager user group
add name=pppoe outer-auths=pap,chap,mschap1,mschap2
/user-manager user
add caller-id=AA:BB:CC:11:22:33 comment="Kamran \\D8\\B9" group=pppoe name=kamran \\
    password=Secret-k1 shared-users=1
add attributes=Framed-IP-Address:10.30.0.9,Mikrotik-Rate-Limit:1M/1M group=default name=faisal \\
    password="Secret f2"
add caller-id=bind disabled=yes group=pppoe name=nadia password=Secret-n3 shared-users=2
add group=pppoe name=hidden
/user-manager profile
add name=biz name-for-users=Business validity=30d
/user-manager user-profile
add profile=biz user=faisal
"""


def test_a_user_manager_export_maps_profile_caller_id_and_framed_ip(tenant: str, fresh_db: str,
                                                                   tmp_path: Path) -> None:
    assert cli("plan", "add", "pppoe", "--rate-limit", "4M/4M").code == 0
    path = write(tmp_path, USERMANAGER, "um.rsc")
    r = cli("subscriber", "import", path, "--format", "usermanager", "--json")
    assert r.code == 1
    report = json.loads(r.out)
    assert [(f["line"], f["username"]) for f in report["refused"]] == [(12, "hidden")]
    assert "show-sensitive" in report["refused"][0]["message"]
    warnings = [(f["username"], f["message"]) for f in report["warnings"]]
    assert ("faisal", "attribute Mikrotik-Rate-Limit not imported (reply attributes come from the plan)") in warnings
    assert ("nadia", "caller-id=bind (bind to the first MAC seen) not imported: no MAC is bound") in warnings

    body = USERMANAGER.replace("add group=pppoe name=hidden\n", "")
    r = cli("subscriber", "import", write(tmp_path, body, "um.rsc"), "--format", "usermanager", "--commit")
    assert r.code == 0, r.err
    kamran = json.loads(cli("subscriber", "show", "kamran", "--json").out)
    assert kamran["plan"] == "pppoe" and kamran["mac"] == "AA:BB:CC:11:22:33" and kamran["name"] == "Kamran ع"
    faisal = json.loads(cli("subscriber", "show", "faisal", "--json").out)
    assert faisal["plan"] == "biz" and faisal["static_ip"] == "10.30.0.9"  # the profile, not the group
    nadia = json.loads(cli("subscriber", "show", "nadia", "--json").out)
    assert nadia["status"] == "suspended" and nadia["status_reason"] == "disabled in User Manager"
    ring = KeyRing.load(os.environ["CLOUDOS_KEYRING"])
    ((tenant_id, blob),) = rows(fresh_db, "SELECT tenant_id, password_enc FROM subscriber WHERE username = 'faisal'")
    assert ring.open_password(bytes(blob), tenant_id, "faisal") == "Secret f2"


# --------------------------------------------------------------------------- after the commit
def test_the_tenants_snapshots_go_stale_once_on_commit_and_not_on_a_dry_run(tenant: str, fresh_db: str,
                                                                            tmp_path: Path) -> None:
    ((tenant_id,),) = rows(fresh_db, "SELECT id FROM tenant WHERE name = 'isp1'")
    client = redis.Redis.from_url(os.environ["CLOUDOS_REDIS_URL"])
    try:
        def version() -> int:
            value = client.get(live.version_key(tenant_id))
            assert value is None or isinstance(value, bytes)
            return int(value or 0)

        before = version()
        path = write(tmp_path, HEADER + "".join(f"v{i},Secret-v{i},home,,,,,,,,\n" for i in range(50)))
        assert cli("subscriber", "import", path).code == 0
        assert version() == before
        assert cli("subscriber", "import", path, "--commit").code == 0
        assert version() == before + 1  # one tenant-wide bump, not one per subscriber
    finally:
        client.close()


def test_a_username_taken_while_the_import_runs_leaves_nothing_written(tenant: str, fresh_db: str,
                                                                       tmp_path: Path) -> None:
    """The rows are checked, then inserted in the same transaction: a concurrent `subscriber add` of the
    same username in between is caught by the unique index, and the whole import rolls back."""
    ((tenant_id, plan_id),) = rows(fresh_db, "SELECT t.id, p.id FROM tenant t JOIN plan p ON p.tenant_id = t.id "
                                             "WHERE p.name = 'home'")
    other = psycopg.connect(fresh_db)
    try:
        # Uncommitted: invisible to the import's check, but it holds the unique index entry.
        other.execute("INSERT INTO subscriber (tenant_id, username, password_enc, plan_id) VALUES (%s, 'race2', "
                      "'\\x00', %s)", (tenant_id, plan_id))
        timer = threading.Timer(1.0, other.commit)
        timer.start()
        body = HEADER + "race1,Secret-r1,home,,,,,,,,\nrace2,Secret-r2,home,,,,,,,,\n"
        r = cli("subscriber", "import", write(tmp_path, body), "--commit")
        timer.join()
    finally:
        other.close()
    assert r.code == 1 and "added while the import ran: nothing imported" in r.err, r.err
    assert r.err.count("\n") == 1 and "Traceback" not in r.err
    assert [u for (u,) in rows(fresh_db, "SELECT username FROM subscriber")] == ["race2"]
    assert rows(fresh_db, "SELECT count(*) FROM admin_audit WHERE action LIKE 'subscriber.%'") == [(0,)]
