"""``MemoryAgent``: an agent's view of the shared memory, in seed 000's shapes.

Everything lives in namespace ``default``, so the registry routes (``/shared-memory``)
and the web UI show it: ``store_in_shared_memory(key, value)`` writes one entry;
``record_interaction_in_memory`` appends to the entry ``agent_memory_{agent_id}``::

    {"interactions": [{"user_message", "agent_response", "timestamp", "session_id"}, ...],
     "last_updated": <unix seconds>, "agent_name": ..., "agent_id": ...}

The append is a compare-and-set loop, so concurrent recorders never lose an interaction.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from hivemem.errors import ConflictError

if TYPE_CHECKING:
    from hivemem._sync import Memory
    from hivemem.conversations import Conversation
    from hivemem.types import Entry

__all__ = ["SHARED_NAMESPACE", "MemoryAgent"]

#: The namespace of seed 000's registry (``/shared-memory``).
SHARED_NAMESPACE = "default"


class MemoryAgent:
    """An agent that stores values and records its chat interactions in shared memory.

    Args:
        agent_id: The agent's id (with a server, the id of the token's agent).
        name: A display name (defaults to ``agent_id``).
        memory: The store (default: :func:`hivemem.connect` with its defaults).
    """

    def __init__(self, agent_id: str, name: str | None = None, memory: Memory | None = None):
        if memory is None:
            import hivemem

            memory = hivemem.connect(agent=agent_id)
        self.agent_id = agent_id
        self.name = name or agent_id
        self.memory = memory

    @property
    def memory_key(self) -> str:
        """The key of this agent's interaction record."""
        return f"agent_memory_{self.agent_id}"

    def store_in_shared_memory(self, key: str, value: Any) -> Entry:
        """Write ``value`` under ``key`` in the shared namespace, owned by this agent."""
        return self.memory.write(SHARED_NAMESPACE, key, value, self.agent_id)

    def get_shared_memory(self) -> dict[str, dict[str, Any]]:
        """Every shared entry as seed 000 shows it: ``{key: {value, timestamp, owner}}``."""
        page = self.memory.list_entries(SHARED_NAMESPACE, self.agent_id, limit=1000)
        out: dict[str, dict[str, Any]] = {}
        while True:
            for e in page.items:
                out[e.key] = {"value": e.value, "timestamp": e.updated_at, "owner": e.owner}
            if page.next_cursor is None:
                return out
            page = self.memory.list_entries(
                SHARED_NAMESPACE, self.agent_id, limit=1000, cursor=page.next_cursor
            )

    def record_interaction_in_memory(
        self, user_message: str, response: str, session_id: str = "default"
    ) -> Entry:
        """Append one exchange to this agent's interaction record (atomic, never lost)."""
        interaction = {
            "user_message": user_message,
            "agent_response": response,
            "timestamp": time.time(),
            "session_id": session_id,
        }
        while True:
            current = self.memory.get_entry(SHARED_NAMESPACE, self.memory_key, self.agent_id)
            record = dict(current.value) if current and isinstance(current.value, dict) else {}
            interactions = list(record.get("interactions") or [])
            interactions.append(interaction)
            record.update(
                interactions=interactions,
                last_updated=interaction["timestamp"],
                agent_name=self.name,
                agent_id=self.agent_id,
            )
            try:
                return self.memory.write(
                    SHARED_NAMESPACE,
                    self.memory_key,
                    record,
                    self.agent_id,
                    expected_version=current.version if current else 0,
                )
            except ConflictError as exc:
                if exc.reason != "version_mismatch":
                    raise

    def get_memory(self, conversation_id: str) -> Conversation:
        """The conversation memory of ``conversation_id`` (fields, lists, messages; SPEC §7)."""
        return self.memory.conversation(conversation_id, self.agent_id)

    def cleanup_memory(self, conversation_id: str) -> int:
        """Delete a conversation's memory; return how many entries went."""
        return self.memory.conversations.cleanup(conversation_id)

    def get_memory_stats(self) -> dict[str, Any]:
        """``{total_conversations, conversations: [{conversation_id, total_fields, ...}]}``."""
        return self.memory.conversations.stats()

    def get_interactions(self, session_id: str | None = None) -> list[dict[str, Any]]:
        """This agent's recorded interactions, oldest first (optionally of one session)."""
        record = self.memory.read(SHARED_NAMESPACE, self.memory_key, self.agent_id) or {}
        items = list(record.get("interactions") or [])
        if session_id is not None:
            items = [i for i in items if i.get("session_id") == session_id]
        return items
