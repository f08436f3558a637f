"""How hybrid search turns its signals into one score (SPEC §10).

See docs/memories.md, "How search ranks", and docs/benchmarks.md for the measurements
behind each choice.

Each signal is brought to the scale of a cosine similarity before the weights apply:

* ``vector``: the cosine similarity of the query and the record (negative counts as 0);
* ``keyword``: BM25 as a z-score over every record the filters allow (records that do not
  match count as 0), divided by :data:`KEYWORD_SPREAD`, floored at 0 and capped at
  :data:`KEYWORD_CAP`. Unlike dividing by the best score of the query, a match only counts as
  much as it stands out from the whole namespace, so a common word matched well stays small,
  and the cap keeps one rare word from outranking a much closer meaning;
* ``previous``: the ``vector`` plus :data:`PREVIOUS_KEYWORD` times the ``keyword`` signal of the
  record said just before this one in the same session: in a conversation the question
  before an answer often holds the words and the meaning the answer lacks. (Until 2026-12
  this part was called ``context``, the name SPEC §10 gives the neighbours ``expand=`` adds.)

Ties break by time (newest first), then by content, then by record id: never by the order
records were indexed in, which differs between processes, and by the random id only between
records of the same time and content, so two identical runs rank alike.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from hivemem.memories import validity

if TYPE_CHECKING:
    import numpy as np
else:  # imported on first use: the server runs without the semantic extra
    from hivemem.memories._numpy import np

__all__ = ["KEYWORD_CAP", "KEYWORD_SPREAD", "PREVIOUS_KEYWORD", "KeywordScale", "moment"]

#: Standard deviations above the namespace's mean BM25 that count like a cosine of 1.
KEYWORD_SPREAD = 10.0
#: Most a keyword signal counts (twenty standard deviations above the mean).
KEYWORD_CAP = 2.0
#: Weight of the previous record's keyword signal against its vector signal in ``previous``.
PREVIOUS_KEYWORD = 2.0


class KeywordScale:
    """BM25 scores of one query as z-scores over ``n`` allowed records.

    Args:
        scores: BM25 by label (0 where nothing matched).
        matched: The labels that matched (and passed the filters).
        n: How many records the filters allow (the population of the z-score).
    """

    __slots__ = ("mean", "scores", "std")

    def __init__(self, scores: np.ndarray, matched: np.ndarray, n: int) -> None:
        self.scores = scores
        values = scores[matched]
        if n <= 0 or not values.shape[0]:
            self.mean, self.std = 0.0, 0.0
            return
        self.mean = float(values.sum()) / n
        var = float(np.dot(values, values)) / n - self.mean * self.mean
        self.std = math.sqrt(var) if var > 0 else 0.0

    def signal(self, label: int) -> float:
        """The keyword signal of ``label``: ``max(0, z) / KEYWORD_SPREAD``, at most the cap."""
        if self.std <= 0 or label >= self.scores.shape[0]:
            return 0.0
        z = (float(self.scores[label]) - self.mean) / self.std
        return min(KEYWORD_CAP, max(0.0, z) / KEYWORD_SPREAD)

    def signals(self, labels: np.ndarray) -> np.ndarray:
        """:meth:`signal` of each of ``labels`` (negative labels: none, 0)."""
        out = np.zeros(labels.shape[0], dtype=np.float64)
        if self.std <= 0:
            return out
        inside = (labels >= 0) & (labels < self.scores.shape[0])
        z = (self.scores[labels[inside]].astype(np.float64) - self.mean) / self.std
        out[inside] = np.minimum(KEYWORD_CAP, np.maximum(0.0, z) / KEYWORD_SPREAD)
        return out


def moment(record: dict[str, Any]) -> float:
    """When a record's content happened: ``occurred_at`` if it has one, else ``created_at``."""
    return validity.occurred_at(record)
