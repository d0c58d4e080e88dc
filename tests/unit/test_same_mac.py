"""The same-MAC rule of simultaneous use: a session's Calling-Station-Id, however the NAS spelled it."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from rlm_cloudos.policy.sessions import LiveSession, count_online, live_sessions, same_mac, stale_after

NOW = datetime(2026, 11, 15, 12, 0, 0, tzinfo=timezone.utc)
MAC = "AA:BB:CC:DD:EE:FF"  # as requests.normalize_mac spells the login's


@pytest.mark.parametrize("spelled", ["AA:BB:CC:DD:EE:FF", "AA-BB-CC-DD-EE-FF", "AABBCCDDEEFF", "AABB.CCDD.EEFF",
                                     " AA:BB:CC:DD:EE:FF"])
def test_a_session_from_the_same_device_is_a_redial_however_spelled(spelled: str) -> None:
    assert same_mac(spelled, MAC)
    assert count_online([LiveSession("u-1", 3, NOW.timestamp(), spelled)], MAC, 300, NOW) == 0


@pytest.mark.parametrize(("session_mac", "mac"), [
    ("AA:BB:CC:DD:EE:00", MAC),  # another device
    ("", None),                  # neither the session nor the login names a device
    ("", MAC),
    ("not-a-mac", MAC),
    (MAC, None),
])
def test_anything_else_is_another_login(session_mac: str, mac: str | None) -> None:
    assert not same_mac(session_mac, mac)
    assert count_online([LiveSession("u-1", 3, NOW.timestamp(), session_mac)], mac, 300, NOW) == 1


def test_live_sessions_are_those_heard_from_within_stale_after() -> None:
    edge = NOW.timestamp() - stale_after(300)
    fresh, stale = LiveSession("u-1", 3, edge + 1, MAC), LiveSession("u-2", 3, edge, MAC)
    assert live_sessions([fresh, stale], 300, NOW) == [fresh]
