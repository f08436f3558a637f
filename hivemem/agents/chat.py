"""``ChatHandler``: answer a chat message with recent history, and record the exchange."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hivemem.agents.memory_agent import MemoryAgent

if TYPE_CHECKING:
    from collections.abc import Callable

    from hivemem._sync import Memory

__all__ = ["ChatHandler"]


class ChatHandler:
    """Seed 000's chat handler over shared memory.

    Args:
        respond: ``respond(message, history) -> str``.
        memory: The store.
        agent_id: The agent answering.
        history: How many recent interactions of the session ``respond`` gets.
    """

    def __init__(
        self,
        respond: Callable[[str, list[dict[str, Any]]], str],
        memory: Memory,
        agent_id: str,
        *,
        name: str | None = None,
        history: int = 10,
    ) -> None:
        self.respond = respond
        self.agent = MemoryAgent(agent_id, name, memory)
        self.history = history

    def handle_chat(self, message: str, session_id: str = "default") -> str:
        """Answer ``message`` given the session's recent history; record the exchange."""
        recent = self.agent.get_interactions(session_id)[-self.history :]
        answer = self.respond(message, recent)
        self.agent.record_interaction_in_memory(message, answer, session_id)
        return answer
