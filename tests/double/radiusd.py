"""Test double of the `radiusd` module that FreeRADIUS 3.2's rlm_python3 injects.

Constants as in src/modules/rlm_python3/radiusd.py (from modules.h and log.h);
``radlog`` records (level, message) in ``messages`` instead of writing to the
server log, and ``config`` stands for the module's ``config { }`` section.
The real module exists only inside radiusd.
"""

RLM_MODULE_REJECT = 0
RLM_MODULE_FAIL = 1
RLM_MODULE_OK = 2
RLM_MODULE_HANDLED = 3
RLM_MODULE_INVALID = 4
RLM_MODULE_USERLOCK = 5
RLM_MODULE_NOTFOUND = 6
RLM_MODULE_NOOP = 7
RLM_MODULE_UPDATED = 8
RLM_MODULE_NUMCODES = 9

L_AUTH = 2
L_INFO = 3
L_ERR = 4
L_WARN = 5
L_PROXY = 6
L_ACCT = 7

L_DBG = 16
L_DBG_WARN = 17
L_DBG_ERR = 18
L_DBG_WARN_REQ = 19
L_DBG_ERR_REQ = 20

config: dict[str, str] = {}
messages: list[tuple[int, str]] = []


def radlog(level: int, msg: str) -> None:
    if not isinstance(level, int) or not isinstance(msg, str):
        raise TypeError("radlog(level: int, msg: str)")
    messages.append((level, msg))
