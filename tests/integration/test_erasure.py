"""`cloudos subscriber erase` on a real PostgreSQL, as the CLI's admin login (issue 14, item 5): service
ends, personal data goes, billing records keep what tax law needs, the data key is destroyed so no
copy of the CNIC opens again, and the audit chain stays whole."""

from __future__ import annotations

import os
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from cloudos.commands.db import pg_dump_path
from rlm_cloudos.crypto import KeyRing
from rlm_cloudos.errors import DecryptError
from tests.conftest import cli_json as js
from tests.conftest import cli_ok as ok
from tests.conftest import open_cnic
from tests.conftest import run_cli as cli
from tests.conftest import sql

PKT = ZoneInfo("Asia/Karachi")
CNIC = "4210198765432"
PHONE = "03217654321"
EMAIL = "zara.erase@example.pk"


@pytest.fixture
def isp(fresh_admin: str) -> str:
    ok("tenant", "add", "isp1")
    ok("tenant", "set", "isp1", "--billing-cycle", "anniversary", "--invoice-lead-days", "5")
    ok("plan", "add", "home", "--rate-limit", "2M/8M", "--price", "2500")
    paid = datetime.now(PKT).date() + timedelta(days=2)
    ok("subscriber", "add", "zara", "--plan", "home", "--password-stdin", "--cnic-stdin", "--expires", paid.isoformat(),
       "--phone", PHONE, "--email", EMAIL, "--name", "Zara Erasewala", "--address", "House 9, Street 4, Lahore",
       stdin=f"pw-zara-secret-1\n{CNIC}\n")
    ok("billing", "run")  # zara's next invoice, with her phone and e-mail on it
    ok("subscriber", "add", "nobill", "--plan", "home", "--password-stdin", "--cnic-stdin", "--phone", "03001112223",
       "--name", "Never Billed", "--address", "Gulberg", stdin="pw-nobill-1\n3740512345673\n")
    return fresh_admin


def dump(url: str) -> str:
    params = conninfo_to_dict(url)
    env = {**os.environ}
    r = subprocess.run([pg_dump_path(), "--data-only", "--dbname", make_conninfo("", **params)],
                       env=env, capture_output=True, text=True, check=True)
    return r.stdout


def test_erasure_removes_personal_data_and_shreds_every_copy_of_the_cnic(isp: str) -> None:
    [(sid, copy)] = sql(isp, "SELECT id, cnic_enc FROM subscriber WHERE username = 'zara'")
    copy = bytes(copy)  # what a backup taken now would hold
    assert copy[:2] == b"d1" and open_cnic(isp, copy) == CNIC  # the control: the copy opens before erasure
    assert sql(isp, "SELECT count(*) FROM subscriber_key WHERE subscriber_id = %s", sid) == [(1,)]
    [(buyer,)] = sql(isp, "SELECT buyer FROM invoice WHERE subscriber_id = %s", sid)
    assert buyer["phone"] == "+923217654321" and buyer["email"] == EMAIL

    r = cli("subscriber", "erase", "zara")
    assert r.code == 2 and "cannot be undone: add --confirm" in r.err
    done = js("subscriber", "erase", "zara", "--confirm")
    assert done["erased_as"] == f"erased-{sid}" and done["data_key_destroyed"] is True
    assert done["billing_identity_kept"] is True and done["invoices_scrubbed"] == 1

    [row] = sql(isp, "SELECT username, status, status_reason, phone, email, cnic_enc, full_name, postal_address, "
                     "erased_at IS NOT NULL, terminated_at IS NOT NULL FROM subscriber WHERE id = %s", sid)
    assert row == (f"erased-{sid}", "terminated", "erased", None, None, None, "Zara Erasewala",
                   "House 9, Street 4, Lahore", True, True)
    assert sql(isp, "SELECT count(*) FROM subscriber_key WHERE subscriber_id = %s", sid) == [(0,)]
    with pytest.raises(DecryptError, match="data key is destroyed"):
        open_cnic(isp, copy)  # the backup's copy: nobody opens it again, key ring or not
    [(buyer,)] = sql(isp, "SELECT buyer FROM invoice WHERE subscriber_id = %s", sid)
    assert buyer == {"username": f"erased-{sid}", "full_name": "Zara Erasewala",
                     "postal_address": "House 9, Street 4, Lahore"}
    # Nothing of hers that no law needs is in a dump of the whole database: no CNIC, phone or e-mail,
    # in clear or in a form the key ring opens; her old username only in the audit trail's targets
    # (the trail is never rewritten: that is its promise).
    data = dump(isp)
    for text in (CNIC, "3217654321", EMAIL):
        assert text not in data, text
    assert copy.hex() not in data
    tables = {block.split(" ", 1)[0]: block for block in data.split("COPY public.")[1:]}
    assert "zara" in tables["admin_audit"]
    assert [name for name, block in tables.items() if "zara" in block and name != "admin_audit"] == []
    gone = cli("subscriber", "show", "zara")
    assert gone.code == 1 and "no subscriber 'zara'" in gone.err
    assert js("audit", "verify")["ok"] is True
    erased = js("audit", "list", "--action", "subscriber.erase")
    assert len(erased) == 1 and CNIC not in str(erased) and EMAIL not in str(erased)


def test_a_subscriber_never_billed_keeps_no_name_or_address(isp: str) -> None:
    done = js("subscriber", "erase", "nobill", "--confirm")
    assert done["billing_identity_kept"] is False
    [row] = sql(isp, "SELECT full_name, postal_address, phone, cnic_enc FROM subscriber WHERE username = %s",
                done["erased_as"])
    assert row == (None, None, None, None)


def test_only_an_admin_erases(isp: str, unique: str, monkeypatch: pytest.MonkeyPatch) -> None:
    ok("operator", "add", f"{unique}-s", "--tenant", "isp1", "--role", "support", "--password-stdin",
       stdin="support-pass-1234\n")
    try:
        monkeypatch.setenv("CLOUDOS_DATABASE_URL", isp.replace("//cloudos@", f"//{unique}-s:support-pass-1234@"))
        r = cli("subscriber", "erase", "zara", "--confirm")
        assert r.code == 1 and "not allowed for this login's role" in r.err
        assert sql(isp, "SELECT count(*) FROM subscriber WHERE username = 'zara'") == [(1,)]
    finally:
        monkeypatch.setenv("CLOUDOS_DATABASE_URL", isp.replace("//cloudos@", "//admin@"))
        ok("operator", "remove", f"{unique}-s")


def test_a_cnic_set_later_and_one_imported_are_under_the_data_key_too(isp: str, tmp_path: Path) -> None:
    ok("subscriber", "set", "nobill", "--cnic-stdin", stdin="3520212345671\n")
    csv = tmp_path / "import.csv"
    csv.write_text("username,password,plan,cnic\nimported1,pw-imported-1,home,6110112345679\n")
    ok("subscriber", "import", str(csv), "--commit")
    for user, number in (("nobill", "3520212345671"), ("imported1", "6110112345679")):
        [(blob,)] = sql(isp, "SELECT cnic_enc FROM subscriber WHERE username = %s", user)
        assert bytes(blob)[:2] == b"d1" and open_cnic(isp, bytes(blob)) == number
    assert js("subscriber", "show", "imported1")["cnic"] == "************9"
    assert js("audit", "verify")["ok"] is True
    with psycopg.connect(isp) as conn:
        n = conn.execute("SELECT count(*) FROM subscriber_key").fetchone()
    assert n is not None and n[0] == 3  # zara, nobill, imported1


def test_a_cnic_sealed_before_data_keys_moves_under_one_and_then_shreds(isp: str) -> None:
    ring = KeyRing.load(os.environ["CLOUDOS_KEYRING"])
    sql(isp, "UPDATE subscriber SET cnic_enc = %s WHERE username = 'nobill'", ring.encrypt("3740512345673", "subscriber.cnic"))
    sql(isp, "DELETE FROM subscriber_key WHERE subscriber_id = (SELECT id FROM subscriber WHERE username = 'nobill')")
    assert js("subscriber", "show", "nobill")["cnic"] == "************3"  # c1 still opens, with the ring alone
    moved = js("db", "reencrypt")
    assert moved["cnics_moved"] == 1 and moved["cnics_undecryptable"] == []
    [(blob,)] = sql(isp, "SELECT cnic_enc FROM subscriber WHERE username = 'nobill'")
    assert bytes(blob)[:2] == b"d1" and open_cnic(isp, bytes(blob)) == "3740512345673"
    assert js("db", "reencrypt")["cnics_moved"] == 0
    ok("subscriber", "erase", "nobill", "--confirm")
    with pytest.raises(DecryptError):
        open_cnic(isp, bytes(blob))
    assert js("audit", "verify")["ok"] is True
