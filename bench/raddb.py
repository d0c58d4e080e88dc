"""The benchmark's FreeRADIUS configurations, built on raddb/'s own shared files.

Every configuration takes radiusd.conf (listeners from the environment, the
security block, the thread pool), the pap, always, attr_filter and expr modules,
the reject filter and the Status-Server site from raddb/ itself, so they are
compared on the same server settings by construction. Each one's own files
(clients, modules, sites, dictionary) come from its overlay directory and win.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from cloudos_stack import RADDB

SHARED = (
    "radiusd.conf",
    "mods-enabled/pap",
    "mods-enabled/always",
    "mods-enabled/attr_filter",
    "mods-enabled/expr",
    "mods-config/attr_filter",
    "sites-enabled/status",
)


def compose(overlay: Path, dest: Path) -> Path:
    """raddb/'s shared files under ``overlay``'s own, in ``dest`` (replaced); returns ``dest``."""
    if dest.exists():
        shutil.rmtree(dest)
    for rel in SHARED:
        src, out = RADDB / rel, dest / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, out)
        else:
            shutil.copyfile(src, out)
    shutil.copytree(overlay, dest, dirs_exist_ok=True)
    return dest
