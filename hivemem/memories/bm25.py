"""Keyword search: an incremental BM25 index over integer row labels.

Tokens are lowercase runs of letters and digits (Unicode aware) with a small English
stop-word list removed; identifiers such as ``INC-4821`` or ``v2.3.1`` also index whole
(``inc-4821``), so an exact ticket id or version matches as one rare term. Scores are
Okapi BM25 with ``k1=1.2``, ``b=0.75`` and the non-negative idf
``ln(1 + (N - df + 0.5) / (df + 0.5))``.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["BM25", "tokenize"]

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_COMPOUND = re.compile(r"[^\W_]+(?:[-.:/#][^\W_]+)+", re.UNICODE)

STOP_WORDS = frozenset(
    (
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "from",
        "has",
        "have",
        "he",
        "her",
        "his",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "she",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "you",
        "your",
        "do",
        "does",
        "did",
        "not",
        "no",
        "can",
        "could",
        "would",
        "should",
        "about",
        "any",
        "all",
        "been",
        "being",
        "had",
        "how",
        "just",
        "more",
        "most",
        "also",
        "very",
    )
)


def tokenize(text: str) -> list[str]:
    """The terms of ``text``: words and whole identifiers, lowercased, stop words dropped."""
    low = text.lower()
    terms = [w for w in _WORD.findall(low) if w not in STOP_WORDS]
    terms.extend(_COMPOUND.findall(low))
    return terms


class BM25:
    """Term postings of documents labelled by int; add, replace, remove, score."""

    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self.postings: dict[str, dict[int, int]] = {}
        self.lengths: dict[int, int] = {}
        self._terms: dict[int, tuple[str, ...]] = {}
        self._total = 0

    def __len__(self) -> int:
        return len(self.lengths)

    def upsert(self, label: int, text: str) -> None:
        """Index (or re-index) document ``label``."""
        self.remove(label)
        counts = Counter(tokenize(text))
        for term, tf in counts.items():
            self.postings.setdefault(term, {})[label] = tf
        length = sum(counts.values())
        self.lengths[label] = length
        self._terms[label] = tuple(counts)
        self._total += length

    def remove(self, label: int) -> None:
        """Forget document ``label`` (no-op when absent)."""
        terms = self._terms.pop(label, None)
        if terms is None:
            return
        for term in terms:
            posting = self.postings.get(term)
            if posting is not None:
                posting.pop(label, None)
                if not posting:
                    del self.postings[term]
        self._total -= self.lengths.pop(label)

    def scores(self, query: str, allowed: Callable[[int], bool] | None = None) -> dict[int, float]:
        """BM25 score of every document matching at least one query term (and ``allowed``)."""
        n = len(self.lengths)
        if not n:
            return {}
        avgdl = self._total / n or 1.0
        k1, b = self.k1, self.b
        out: dict[int, float] = {}
        lengths = self.lengths
        for term in set(tokenize(query)):
            posting = self.postings.get(term)
            if not posting:
                continue
            df = len(posting)
            idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
            for label, tf in posting.items():
                if allowed is not None and not allowed(label):
                    continue
                norm = tf + k1 * (1.0 - b + b * lengths[label] / avgdl)
                out[label] = out.get(label, 0.0) + idf * tf * (k1 + 1.0) / norm
        return out

    def top(
        self, query: str, k: int, allowed: Callable[[int], bool] | None = None
    ) -> list[tuple[int, float]]:
        """The ``k`` best ``(label, score)`` pairs, best first (ties: lower label first)."""
        scored = self.scores(query, allowed)
        return sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
