"""numpy, imported on first use: the server and the store work without it.

Memories index and rank with numpy (the ``semantic`` extra); without it, the first use
raises :class:`~hivemem.errors.EmbedderUnavailable` saying what to install, instead of
every import of the server failing.
"""

from __future__ import annotations

from typing import Any

from hivemem.errors import EmbedderUnavailable

__all__ = ["INSTALL_HINT", "np"]

INSTALL_HINT = "memories need numpy: install the semantic extra (pip install 'hivemem[semantic]')"


class _Numpy:
    """Stands for the numpy module; imports it when an attribute is first asked for."""

    def __getattr__(self, name: str) -> Any:
        try:
            import numpy
        except ImportError as exc:
            raise EmbedderUnavailable(INSTALL_HINT) from exc
        globals()["np"] = numpy  # later `from ._numpy import np` get the module itself
        return getattr(numpy, name)


np: Any = _Numpy()
