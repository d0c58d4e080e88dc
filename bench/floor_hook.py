"""The floor configuration's rlm_python3 hook: accept everyone whose password is the constant."""

PASSWORD = "floor-password"
RLM_MODULE_UPDATED = 8  # radiusd.RLM_MODULE_UPDATED; this file is also imported outside radiusd


def authorize(p: object) -> tuple[int, dict[str, tuple[tuple[str, str, str], ...]]]:
    """rlm_python3's authorize: whatever the request, the constant password and a rate."""
    return RLM_MODULE_UPDATED, {"config": (("Cleartext-Password", ":=", PASSWORD),),
                                        "reply": (("Mikrotik-Rate-Limit", ":=", "2M/8M"),)}
