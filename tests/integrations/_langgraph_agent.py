"""A LangGraph agent process for the two-process test (issue 5, acceptance 3).

Runs a two-node ``StateGraph`` whose nodes read and write through a ``HivememStore`` on a
``hivemem serve`` URL: ``remember`` (the store injected as a ``store`` parameter) puts this
agent's note under ``("notes", <agent>)``; ``recall`` (the store from ``get_store()``) reads
every note under ``("notes",)`` and this agent's own notes back with ``get``. The graph runs
until the notes of ``--expect`` show up (another process stores them), then the process
prints the final state as JSON on stdout and exits 0 (1 if they never came).

    python _langgraph_agent.py URL TOKEN AGENT NOTE --expect OTHER [--async]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from langgraph.config import get_store
from langgraph.graph import END, START, StateGraph
from langgraph.store.base import BaseStore  # noqa: TC002 - LangGraph reads node hints
from typing_extensions import TypedDict

from hivemem.integrations.langgraph import HivememStore


class State(TypedDict):
    agent: str
    note: str
    seen: dict[str, list[str]]
    rounds: int


def remember(state: State, *, store: BaseStore) -> dict[str, Any]:
    mine = store.get(("notes", state["agent"]), "log")
    notes = list(mine.value["notes"]) if mine is not None else []
    if state["note"] not in notes:
        notes.append(state["note"])
        store.put(("notes", state["agent"]), "log", {"notes": notes, "by": state["agent"]})
    return {"rounds": state["rounds"] + 1}


def recall(state: State) -> dict[str, Any]:
    store = get_store()
    seen = {item.namespace[1]: item.value["notes"] for item in store.search(("notes",))}
    own = store.get(("notes", state["agent"]), "log")
    assert own is not None and state["note"] in own.value["notes"]
    return {"seen": seen}


async def aremember(state: State, *, store: BaseStore) -> dict[str, Any]:
    mine = await store.aget(("notes", state["agent"]), "log")
    notes = list(mine.value["notes"]) if mine is not None else []
    if state["note"] not in notes:
        notes.append(state["note"])
        await store.aput(("notes", state["agent"]), "log", {"notes": notes, "by": state["agent"]})
    return {"rounds": state["rounds"] + 1}


async def arecall(state: State) -> dict[str, Any]:
    store = get_store()
    found = await store.asearch(("notes",))
    own = await store.aget(("notes", state["agent"]), "log")
    assert own is not None and state["note"] in own.value["notes"]
    return {"seen": {item.namespace[1]: item.value["notes"] for item in found}}


def build(store: BaseStore, use_async: bool) -> Any:
    builder = StateGraph(State)
    builder.add_node("remember", aremember if use_async else remember)
    builder.add_node("recall", arecall if use_async else recall)
    builder.add_edge(START, "remember")
    builder.add_edge("remember", "recall")
    builder.add_edge("recall", END)
    return builder.compile(store=store)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("token")
    parser.add_argument("agent")
    parser.add_argument("note")
    parser.add_argument("--expect", required=True)
    parser.add_argument("--async", dest="use_async", action="store_true")
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()

    deadline = time.monotonic() + args.timeout
    state: dict[str, Any] = {"agent": args.agent, "note": args.note, "seen": {}, "rounds": 0}

    def done(state: dict[str, Any]) -> bool:
        return args.expect in state["seen"] or time.monotonic() > deadline

    if args.use_async:

        async def run() -> dict[str, Any]:
            nonlocal state
            async with HivememStore(url=args.url, token=args.token) as store:
                graph = build(store, use_async=True)
                while True:
                    state = await graph.ainvoke(state)
                    if done(state):
                        return state
                    await asyncio.sleep(0.05)

        state = asyncio.run(run())
    else:
        with HivememStore(url=args.url, token=args.token) as store:
            graph = build(store, use_async=False)
            while True:
                state = graph.invoke(state)
                if done(state):
                    break
                time.sleep(0.05)
    print(json.dumps(state, sort_keys=True))
    return 0 if args.expect in state["seen"] else 1


if __name__ == "__main__":
    sys.exit(main())
