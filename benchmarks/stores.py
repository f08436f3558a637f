"""Opening and filling the stores under test: hivemem and LangGraph's stores.

LangGraph's ``SqliteStore`` gets a connection configured like hivemem's (WAL journal and the
``synchronous`` level matching the hivemem durability it is compared with); its own
``from_conn_string`` would leave SQLite's defaults (rollback journal, ``synchronous=FULL``).
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

import hivemem

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

#: Keys per ``write_many`` / LangGraph ``batch`` call while filling.
FILL_BATCH = 10_000

try:
    from langgraph.store.base import PutOp
    from langgraph.store.memory import InMemoryStore
    from langgraph.store.sqlite import SqliteStore

    LANGGRAPH = True
except ImportError:  # optional: pip install 'hivemem[bench]'
    LANGGRAPH = False


def sqlite_url(path: Path) -> str:
    """The hivemem URL of a SQLite file (an absolute path)."""
    return f"sqlite:///{path.resolve()}"


def hive(url: str, **options: Any) -> hivemem.Memory:
    """Open a hivemem store (defaults unless ``options`` say otherwise)."""
    return hivemem.connect(url, agent="bench", **options)


def hive_async(url: str, **options: Any) -> hivemem.AsyncMemory:
    """Open a hivemem store for asyncio."""
    return hivemem.connect_async(url, agent="bench", **options)


def hive_fill(mem: hivemem.Memory, ns: str, keys: Sequence[str], value: Any) -> None:
    """Write every key with ``write_many`` batches."""
    for i in range(0, len(keys), FILL_BATCH):
        mem.write_many(ns, dict.fromkeys(keys[i : i + FILL_BATCH], value))


async def hive_afill(mem: hivemem.AsyncMemory, ns: str, keys: Sequence[str], value: Any) -> None:
    """Async twin of :func:`hive_fill`."""
    for i in range(0, len(keys), FILL_BATCH):
        await mem.write_many(ns, dict.fromkeys(keys[i : i + FILL_BATCH], value))


def lg_memory() -> Any:
    """A LangGraph ``InMemoryStore``."""
    return InMemoryStore()


def lg_sqlite(path: Path, synchronous: str) -> tuple[Any, sqlite3.Connection]:
    """A LangGraph ``SqliteStore`` on its own connection: WAL, ``synchronous`` as given.

    The connection is opened as ``SqliteStore.from_conn_string`` opens it (autocommit,
    shared between threads; the store serialises calls with its lock).
    """
    conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    store = SqliteStore(conn)
    store.setup()
    return store, conn


def lg_fill(store: Any, keys: Sequence[tuple[tuple[str, ...], str]], value: Any) -> None:
    """Put every ``(namespace, key)`` with ``batch`` calls (one transaction each)."""
    for i in range(0, len(keys), FILL_BATCH):
        store.batch([PutOp(ns, key, value) for ns, key in keys[i : i + FILL_BATCH]])
