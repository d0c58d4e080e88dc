"""Shared pytest setup: the radiusd test double is importable as `radiusd` for unit tests."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "double"))
