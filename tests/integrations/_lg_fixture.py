"""Fixture data and a deterministic embedder for the LangGraph semantic-search tests.

Imported by ``test_langgraph.py`` and by the agent processes of
``test_langgraph_processes.py`` (``_langgraph_index_agent.py``), so every process builds
the same items.

:func:`bag_embed` is a hashed bag of words: each lower-cased word adds ``+1`` or ``-1`` to
one of :data:`BAG_DIMS` coordinates. Its vectors are small integers, exactly representable
in float32, so stores that keep float32 vectors compute the same cosines as stores that keep
the float64 lists; texts sharing words score higher, as with a real model.
"""

from __future__ import annotations

import hashlib
import random
import re
from typing import TYPE_CHECKING, Any

from hivemem.integrations.langgraph import encode_key

if TYPE_CHECKING:
    from collections.abc import Sequence

#: Dimensions of :func:`bag_embed`'s vectors.
BAG_DIMS = 64

TOPICS: dict[str, list[str]] = {
    "cooking": [
        "bake sourdough bread with a crisp crust",
        "simmer a tomato soup with fresh basil",
        "grill salmon fillets with lemon butter",
        "whisk pancake batter for a weekend breakfast",
        "roast winter vegetables with olive oil and thyme",
        "knead pizza dough and let it rise overnight",
    ],
    "travel": [
        "book a night train across the Alps",
        "pack light for a week of hiking in Norway",
        "find a quiet hotel near the old harbour in Lisbon",
        "renew a passport before a flight to Japan",
        "rent a bicycle to tour the canals of Amsterdam",
        "plan a road trip along the Pacific coast",
    ],
    "programming": [
        "debug a race condition in asynchronous Python code",
        "write unit tests for a REST API written in Go",
        "profile a slow SQL query and add an index",
        "refactor a large JavaScript module into small functions",
        "set up continuous integration for a Rust crate",
        "fix a memory leak in a long-running C++ service",
    ],
    "music": [
        "practise jazz chords on an old upright piano",
        "tune a twelve-string guitar by ear",
        "record a string quartet in a small church",
        "learn the drum pattern of a bossa nova",
        "compose a short film score for strings and brass",
        "restore a vintage vinyl record player",
    ],
    "gardening": [
        "prune apple trees at the end of winter",
        "sow tomato seeds indoors in early spring",
        "build a compost heap from kitchen scraps",
        "protect young lettuce from slugs and snails",
        "water a vegetable garden during a summer drought",
        "plant tulip bulbs in the autumn",
    ],
}

ACTIVITIES = [activity for topic in sorted(TOPICS) for activity in TOPICS[topic]]
PEOPLE = ["Ann", "Bob", "Chen", "Dara", "Emil", "Fatima", "Goran", "Hana"]
CONTEXTS = [
    "this weekend",
    "before the holidays",
    "with a friend",
    "for the first time",
    "after work",
    "on a tight budget",
]

#: Namespaces of the fixture, odd characters included (they are escaped in hivemem keys).
SPACES: list[tuple[str, ...]] = [
    ("kb", "team:a/b"),
    ("kb", "100%"),
    ("kb", "ünï ☃"),
    ("kb", "plain", "deep"),
    ("notes",),
]

#: Queries the comparison tests ask.
QUERIES = [
    "how do I bake bread at home",
    "a train journey through the mountains",
    "tests for an API and a slow database query",
    "playing piano chords",
    "growing tomatoes in the garden",
]


def catalog(n: int = 300, seed: int = 11) -> list[tuple[tuple[str, ...], str, dict[str, Any]]]:
    """``n`` items ``(namespace, key, value)``, in hivemem key order.

    No item holds one text twice (LangGraph's ``InMemoryStore`` fails on that: it embeds
    each distinct text once but expects one vector per place), nor do two puts of one
    batch: the reference stores get their items one put at a time.

    Values hold a ``text`` sentence, a ``title``, a list ``items`` of notes with ``text``
    (0 to 3), the ``topic``, a number ``n`` and sometimes no ``text`` at all (every 17th).
    """
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        topic = rng.choice(sorted(TOPICS))
        activity = rng.choice(TOPICS[topic])
        value: dict[str, Any] = {
            "text": f"{rng.choice(PEOPLE)} wants to {activity} {rng.choice(CONTEXTS)}.",
            "title": activity.split(" ", 3)[-1],
            "items": [
                {"text": f"note: {note}"} for note in rng.sample(ACTIVITIES, rng.randint(0, 3))
            ],
            "topic": topic,
            "n": i,
        }
        if i % 17 == 5:
            del value["text"]
            value["items"] = []
        rows.append((SPACES[i % len(SPACES)], f"doc-{i:04d}", value))
    # Both stores then see the items in the same order: ties in score keep it.
    return sorted(rows, key=lambda row: encode_key(row[0], row[1]))


def bag_embed(texts: Sequence[str]) -> list[list[float]]:
    """A deterministic hashed bag-of-words embedding (see the module)."""
    out = []
    for text in texts:
        vector = [0.0] * BAG_DIMS
        for word in re.findall(r"[a-z0-9]+", text.lower()):
            digest = hashlib.sha256(word.encode()).digest()
            vector[digest[0] % BAG_DIMS] += 1.0 if digest[1] & 1 else -1.0
        out.append(vector)
    return out


async def abag_embed(texts: Sequence[str]) -> list[list[float]]:
    """:func:`bag_embed` as an async function (LangGraph accepts either)."""
    return bag_embed(texts)
