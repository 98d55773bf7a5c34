"""Pluggable text embedders for manual passages, chosen by a spec string.

* ``None`` / ``""`` -- no embedder: HomeOps searches manuals with PostgreSQL full-text search only.
* ``"sentence-transformers:<model name or local path>"`` -- a semantic model loaded from local files
  only (the optional ``sentence-transformers`` package must be installed and the model already present;
  nothing is downloaded at run time).
* ``"hashing:<dim>"`` -- :class:`HashingEmbedder`, deterministic and dependency-free. It is *lexical*, not
  semantic: texts are similar only when they share words or word pairs. Meant for tests and as a tiny
  offline fallback.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
import re
from typing import Any, Protocol

from homeops.manuals.extraction import normalise_text

SENTENCE_TRANSFORMERS = "sentence-transformers"
HASHING = "hashing"
_TOKEN = re.compile(r"\w+")


class Embedder(Protocol):
    """Turns texts into fixed-size vectors; ``name`` identifies the model that made a stored vector."""

    name: str
    dim: int

    def embed(self, texts: list[str]) -> list[list[float]]:
        """One ``dim``-long vector per text, in order."""
        ...


class HashingEmbedder:
    """Feature hashing of token unigrams and bigrams into ``dim`` signed buckets, L2-normalised.

    Tokens are the ``\\w+`` runs of :func:`normalise_text`. Each feature is hashed with blake2b: the first
    8 bytes pick the bucket, the 9th byte's low bit the sign. A text without tokens maps to the zero vector.
    Lexical only: synonyms or paraphrases are not recognised as similar.
    """

    def __init__(self, dim: int) -> None:
        if dim <= 0:
            raise ValueError(f"hashing embedder needs a positive dimension, got {dim}")
        self.dim = dim
        self.name = f"{HASHING}:{dim}"

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Embed each text independently (see the class docstring)."""
        return [self._embed_one(text) for text in texts]

    def _embed_one(self, text: str) -> list[float]:
        vector = [0.0] * self.dim
        for feature in _features(text):
            digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=9).digest()
            bucket = int.from_bytes(digest[:8], "big") % self.dim
            vector[bucket] += 1.0 if digest[8] & 1 else -1.0
        norm = math.sqrt(sum(value * value for value in vector))
        return [value / norm for value in vector] if norm else vector


def _features(text: str) -> list[str]:
    """Unigrams and space-joined bigrams of the normalised text's tokens."""
    tokens = _TOKEN.findall(normalise_text(text))
    return tokens + [f"{a} {b}" for a, b in itertools.pairwise(tokens)]


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from local files only, producing unit-length vectors."""

    def __init__(self, model: str) -> None:
        os.environ["HF_HUB_OFFLINE"] = "1"  # before the import: huggingface_hub reads it at import time
        try:
            from sentence_transformers import (  # type: ignore[import-not-found,unused-ignore]
                SentenceTransformer,
            )
        except ImportError as exc:
            raise RuntimeError(
                f"embedder {SENTENCE_TRANSFORMERS}:{model} needs the 'sentence-transformers' package "
                "(pip install sentence-transformers)"
            ) from exc
        try:
            self._model: Any = SentenceTransformer(model, local_files_only=True)
        except Exception as exc:  # missing files surface as OSError, ValueError, HF hub errors...
            raise RuntimeError(
                f"cannot load sentence-transformers model {model!r} from local files "
                f"(downloads are disabled; put the model in the Hugging Face cache or pass a path): {exc}"
            ) from exc
        self.name = f"{SENTENCE_TRANSFORMERS}:{model}"
        self.dim = len(self.embed(["dimension probe"])[0])

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Encode ``texts`` with the model, normalised to unit length."""
        if not texts:
            return []
        vectors = self._model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
        return [[float(value) for value in vector] for vector in vectors]


def load_embedder(spec: str | None) -> Embedder | None:
    """The embedder described by ``spec`` (see the module docstring); ``None`` for no embedder.

    Raises ``ValueError`` for a malformed or unknown spec and ``RuntimeError`` when a
    sentence-transformers embedder cannot be loaded.
    """
    if not spec or not spec.strip():
        return None
    kind, sep, arg = spec.strip().partition(":")
    arg = arg.strip()
    if not sep or not arg:
        raise ValueError(f"embedder spec must look like 'kind:argument', got {spec!r}")
    if kind == HASHING:
        try:
            dim = int(arg)
        except ValueError:
            raise ValueError(f"hashing embedder dimension must be an integer, got {arg!r}") from None
        return HashingEmbedder(dim)
    if kind == SENTENCE_TRANSFORMERS:
        return SentenceTransformerEmbedder(arg)
    raise ValueError(f"unknown embedder kind {kind!r} (expected {HASHING!r} or {SENTENCE_TRANSFORMERS!r})")
