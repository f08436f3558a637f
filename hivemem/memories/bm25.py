"""Keyword search: an incremental BM25 index over integer row labels.

Tokens are lowercase runs of letters and digits (Unicode aware) without a small English
stop-word list and without what contractions leave at their apostrophe (``s``, ``t``,
``ve``); words that carry meaning in a question (``no``, ``not``, ``more``, ``all``,
``can``) are kept. Identifiers such as ``INC-4821`` or ``v2.3.1`` also index whole
(``inc-4821``), so an exact ticket id or version matches as one rare term. Scores are
Okapi BM25 with ``k1=1.2``, ``b=0.75`` and the non-negative idf
``ln(1 + (N - df + 0.5) / (df + 0.5))``.

Postings are packed int64 arrays read as numpy views, so scoring a query is a few vector
operations per term even when a term occurs in most of a million documents. They are
append-only: a document's postings carry its generation, a re-indexed or removed document
bumps its generation (its old postings no longer match), and a term's array is compacted
once most of it is dead.
"""

from __future__ import annotations

import math
import re
from array import array
from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
else:  # imported on first use: the server runs without the semantic extra
    from hivemem.memories._numpy import np

__all__ = ["BM25", "best", "tokenize"]

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# Anchored at a word's start, without backtracking into a word: linear in the text (unanchored,
# a long run of word characters was retried from every position, quadratic).
_COMPOUND = re.compile(r"(?<![^\W_])[^\W_]++(?:[-.:/#][^\W_]++)+", re.UNICODE)

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
        "could",
        "would",
        "should",
        "about",
        "been",
        "being",
        "had",
        "how",
        "just",
        "also",
        "very",
    )
)
# What follows the apostrophe of a contraction or possessive ("she's", "don't", "I've"):
# dropped, or "Nora's" would match every "it's".
_CONTRACTION = re.compile(r"(?<=[^\W_])['\u2019](?:s|t|ve|ll|re|d|m)\b", re.UNICODE)


def tokenize(text: str) -> list[str]:
    """The terms of ``text``: words and whole identifiers, lowercased, stop words dropped."""
    low = _CONTRACTION.sub("", text.lower())
    terms = [w for w in _WORD.findall(low) if w not in STOP_WORDS]
    terms.extend(_COMPOUND.findall(low))
    return terms


class _Postings:
    """One term's postings: ``(label, tf, generation)`` triples packed in an int64 array.

    24 bytes a posting (a list of tuples took about 100). Scoring reads them through a
    zero-copy numpy view; the index's users serialise changes and queries (the namespace
    index's lock), so no view outlives a query and the array can always grow.
    """

    __slots__ = ("data", "dead")

    def __init__(self) -> None:
        self.data = array("q")
        self.dead = 0

    @property
    def size(self) -> int:
        """Postings held, live or dead."""
        return len(self.data) // 3

    @property
    def df(self) -> int:
        """Live documents holding the term (each has exactly one live posting)."""
        return len(self.data) // 3 - self.dead

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Views of the labels, tfs and generations of every posting (live or dead)."""
        if not self.data:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty
        view = np.frombuffer(self.data, dtype=np.int64).reshape(-1, 3)
        return view[:, 0], view[:, 1], view[:, 2]

    def compact(self, current: np.ndarray) -> None:
        """Drop the postings of documents re-indexed or removed since (``current`` gens)."""
        rows = np.frombuffer(self.data, dtype=np.int64).reshape(-1, 3)
        kept = rows[current[rows[:, 0]] == rows[:, 2]]
        data = array("q")
        data.frombytes(kept.tobytes())
        self.data, self.dead = data, 0


class BM25:
    """Term postings of documents labelled by int; add, replace, remove, score."""

    def __init__(self, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self.postings: dict[str, _Postings] = {}
        self._terms: dict[int, tuple[str, ...]] = {}  # by label: its terms (indexed labels)
        self._total = 0
        self._gen = np.zeros(1024, dtype=np.int64)  # by label: current generation
        self._len = np.zeros(1024, dtype=np.float64)  # by label: document length

    def __len__(self) -> int:
        return len(self._terms)

    def _reserve(self, label: int) -> None:
        if label >= self._gen.shape[0]:
            cap = max(label + 1, 2 * self._gen.shape[0])
            for name in ("_gen", "_len"):
                old = getattr(self, name)
                new = np.zeros(cap, dtype=old.dtype)
                new[: old.shape[0]] = old
                setattr(self, name, new)

    def upsert(self, label: int, text: str) -> None:
        """Index (or re-index) document ``label``."""
        self.remove(label)
        self._reserve(label)
        counts = Counter(tokenize(text))
        gen = int(self._gen[label]) + 1
        self._gen[label] = gen
        postings = self.postings
        for term, tf in counts.items():
            posting = postings.get(term)
            if posting is None:
                posting = postings[term] = _Postings()
            posting.data.extend((label, tf, gen))
        length = sum(counts.values())
        self._len[label] = length
        self._terms[label] = tuple(counts)
        self._total += length

    def remove(self, label: int) -> None:
        """Forget document ``label`` (no-op when absent)."""
        terms = self._terms.pop(label, None)
        if terms is None:
            return
        self._gen[label] += 1  # its postings no longer match
        for term in terms:
            posting = self.postings[term]
            posting.dead += 1
            if posting.df == 0:
                del self.postings[term]
            elif posting.dead > 32 and posting.dead * 2 > posting.size:
                posting.compact(self._gen)
        self._total -= int(self._len[label])

    def dense(self, query: str, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Scores of the documents matching ``query`` (and ``allowed``, a mask by label).

        Returns:
            ``(scores, labels)``: ``scores[label]`` for every label in this index's label
            space (0 where nothing matched) and the matching labels, ascending.
        """
        n = len(self._terms)
        acc = np.zeros(self._gen.shape[0], dtype=np.float64)
        hit = np.zeros(self._gen.shape[0], dtype=np.bool_)
        if not n:
            return acc, np.zeros(0, dtype=np.int64)
        avgdl = self._total / n or 1.0
        k1, b = self.k1, self.b
        for term in set(tokenize(query)):
            posting = self.postings.get(term)
            if posting is None:
                continue
            df = posting.df
            idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
            labels, tfs, gens = posting.arrays()
            valid = self._gen[labels] == gens
            if allowed is not None:
                inside = labels < allowed.shape[0]
                valid &= inside
                valid[inside] &= allowed[labels[inside]]
            labels, tfs = labels[valid], tfs[valid]
            norm = tfs + k1 * (1.0 - b + b * self._len[labels] / avgdl)
            acc[labels] += idf * tfs * (k1 + 1.0) / norm
            hit[labels] = True
        return acc, np.flatnonzero(hit)

    def scores(self, query: str, allowed: np.ndarray | None = None) -> dict[int, float]:
        """BM25 score of every document matching at least one query term (and ``allowed``)."""
        acc, labels = self.dense(query, allowed)
        return dict(zip(labels.tolist(), acc[labels].tolist(), strict=True))

    def top(self, query: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The ``k`` best ``(label, score)`` pairs, best first (ties: lower label first)."""
        acc, labels = self.dense(query, allowed)
        return best(acc, labels, k)


def best(scores: np.ndarray, labels: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The ``k`` of ``labels`` with the highest ``scores[label]``, best first, ties by label."""
    if k <= 0 or not labels.shape[0]:
        return []
    values = scores[labels]
    if labels.shape[0] > k:
        cut = np.partition(values, labels.shape[0] - k)[labels.shape[0] - k]
        keep = values >= cut
        labels, values = labels[keep], values[keep]
    order = np.lexsort((labels, -values))[:k]
    return list(zip(labels[order].tolist(), values[order].tolist(), strict=True))
