"""Subscribers added by `cloudos subscriber import` log in through a real freeradius -f."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from tests.conftest import Cli, Radiusd


def test_imported_subscribers_log_in_with_their_plan_mac_and_static_ip(radiusd: Radiusd, cli: Cli, unique: str,
                                                                       tmp_path: Path) -> None:
    plan = f"imp-{unique}"
    assert cli("plan", "add", plan, "--tenant", "e2e", "--rate-limit", "3M/9M").code == 0
    paid = (date.today() + timedelta(days=10)).isoformat()
    csv = tmp_path / "subs.csv"
    csv.write_text("username,password,plan,expires,mac,static_ip\n"
                   f"{unique}a,Imported-pw-1,{plan},{paid},aa:bb:cc:00:10:01,10.77.0.5\n"
                   f"{unique}b,\"pw, with comma\",{plan},,,\n", encoding="utf-8")
    # Asked about before it exists: whatever radiusd cached of "unknown user" must not outlive the import.
    assert radiusd.nas().pap(f"{unique}a", "Imported-pw-1", mac="AA:BB:CC:00:10:01").rejected

    r = cli("subscriber", "import", str(csv), "--tenant", "e2e")
    assert r.code == 0, r.err
    assert radiusd.nas().pap(f"{unique}a", "Imported-pw-1", mac="AA:BB:CC:00:10:01").rejected  # a dry run
    r = cli("subscriber", "import", str(csv), "--tenant", "e2e", "--commit")
    assert r.code == 0, r.err

    reply = radiusd.nas().pap(f"{unique}a", "Imported-pw-1", mac="AA:BB:CC:00:10:01")
    assert reply.accepted, reply.attrs
    assert reply.one("Mikrotik-Rate-Limit") == "3M/9M" and reply.one("Framed-IP-Address") == "10.77.0.5"
    assert radiusd.nas().pap(f"{unique}a", "Imported-pw-1", mac="AA:BB:CC:00:10:99").rejected  # bound MAC
    assert radiusd.nas().pap(f"{unique}a", "wrong-password", mac="AA:BB:CC:00:10:01").rejected
    # CHAP needs the password in clear: it was sealed to its tenant and username on the way in.
    assert radiusd.nas().chap(f"{unique}b", "pw, with comma").accepted
