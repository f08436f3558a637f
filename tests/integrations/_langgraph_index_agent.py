"""A LangGraph agent process for the semantic-search two-process test (issue 16, item 5).

``put`` stores the fixture items (``_lg_fixture.catalog``) through a
``HivememStore(index={"embed": "hivemem", ...})`` on a ``hivemem serve`` URL, in one
batch; ``search`` runs a ``StateGraph`` whose node asks ``store.search(("kb",),
query=...)`` for every query of the fixture through another ``HivememStore`` with the same
index, and prints the top results as JSON on stdout.

    python _langgraph_index_agent.py put URL TOKEN
    python _langgraph_index_agent.py search URL TOKEN
"""

from __future__ import annotations

import json
import sys
from typing import Any

from _lg_fixture import QUERIES, catalog
from langgraph.graph import END, START, StateGraph
from langgraph.store.base import BaseStore, PutOp
from typing_extensions import TypedDict

from hivemem.integrations.langgraph import HivememStore

#: The fixture items both processes (and the test's reference) use.
ITEMS = 100
FIELDS = ["text", "items[*].text"]
INDEX: Any = {"embed": "hivemem", "fields": FIELDS}


class Ask(TypedDict):
    queries: list[str]
    top: list[list[Any]]


def ask(state: Ask, *, store: BaseStore) -> dict[str, Any]:
    """The node: the best item for each query, as ``[namespace, key, score]``."""
    top = []
    for query in state["queries"]:
        best = store.search(("kb",), query=query, limit=1)[0]
        top.append([list(best.namespace), best.key, best.score])
    return {"top": top}


def build(store: BaseStore) -> Any:
    builder = StateGraph(Ask)
    builder.add_node("ask", ask)
    builder.add_edge(START, "ask")
    builder.add_edge("ask", END)
    return builder.compile(store=store)


def puts() -> list[PutOp]:
    return [PutOp(ns, key, value) for ns, key, value in catalog(ITEMS)]


def main() -> int:
    mode, url, token = sys.argv[1:4]
    with HivememStore(url=url, token=token, index=INDEX) as store:
        if mode == "put":
            store.batch(puts())  # one batch: each distinct text embedded once, together
            print(json.dumps({"stored": len(store.search(("kb",), limit=1000))}))
        else:
            state = build(store).invoke({"queries": QUERIES, "top": []})
            print(json.dumps(state["top"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
