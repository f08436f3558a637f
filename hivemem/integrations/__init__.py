"""Adapters that let agent frameworks keep their memory in hivemem (SPEC §16).

Each adapter lives in its own module and imports its framework only there, so
``import hivemem`` never needs one:

- :mod:`hivemem.integrations.langgraph`: ``HivememStore``, a LangGraph ``BaseStore``
  (``pip install 'hivemem[langgraph]'``).
"""

from __future__ import annotations

__all__: list[str] = []
