"""A fast, deterministic embedder for tests that need vectors but not MiniLM's meaning."""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["HashEmbedder"]


class HashEmbedder:
    """Words hashed into ``dim`` dimensions, L2-normalised (never a zero vector).

    Texts sharing words get similar vectors, so semantic search ranks sensibly, while a
    batch of a thousand records costs milliseconds rather than MiniLM's seconds.
    """

    def __init__(self, dim: int = 16) -> None:
        self.dim = dim
        self.name = f"test/hash-{dim}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        out[:, 0] = 0.1
        for row, text in enumerate(texts):
            for word in text.lower().split():
                out[row, zlib.crc32(word.encode("utf-8", "replace")) % self.dim] += 1.0
        normed: np.ndarray = out / np.linalg.norm(out, axis=1, keepdims=True)
        return normed
