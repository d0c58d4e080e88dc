"""The local stack of the demo, the tests and the bench: PostgreSQL, Redis and `freeradius -f` on loopback.

Not part of the product: the `cloudos` CLI never imports it. ``python -m cloudos_stack
start|logins|start-radius|start-worker|stop|env|status|applied DIR`` is what scripts/demo runs.
"""

from cloudos_stack.stack import LOGINS, OWNER, RADDB, RADIUSD_DEFAULTS, REPO, Ports, Stack, StackError, free_port, write_private

__all__ = ["LOGINS", "OWNER", "RADDB", "RADIUSD_DEFAULTS", "REPO", "Ports", "Stack", "StackError", "free_port", "write_private"]
