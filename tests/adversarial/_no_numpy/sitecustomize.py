"""Put this directory first on PYTHONPATH: numpy (and what needs it) cannot be imported,
as in an install with the ``server`` extra but not ``semantic``."""

from __future__ import annotations

import sys
from typing import Any

BLOCKED = ("numpy", "hnswlib", "sentence_transformers", "torch")


class _Absent:
    """Wraps a finder: the blocked packages are not found, as if not installed."""

    def __init__(self, finder: Any) -> None:
        self.finder = finder

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name.split(".")[0] in BLOCKED:
            return None
        find = getattr(self.finder, "find_spec", None)
        return find(name, path, target) if find is not None else None

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.finder, attr)


sys.meta_path[:] = [_Absent(f) for f in sys.meta_path]
