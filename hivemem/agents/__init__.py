"""Agent helpers (SPEC §16): seed 000's agent memory calls over any hivemem store."""

from __future__ import annotations

from hivemem.agents.chat import ChatHandler
from hivemem.agents.memory_agent import MemoryAgent

__all__ = ["ChatHandler", "MemoryAgent"]
