"""Pluggable speech-to-text for uploaded media (seed 003 ``transcriptions``).

No transcriber is installed by default: media processing then completes without a transcript and the API
says ``transcription_status: "unavailable"``. A real offline engine is chosen by the ``HOMEOPS_TRANSCRIBER``
environment variable:

* ``faster-whisper:<local model directory>`` -- :class:`FasterWhisperTranscriber`; needs the optional
  ``transcription`` extra (``faster-whisper``) and a CTranslate2 Whisper model already on disk. Nothing is
  ever downloaded.

Deployments (and tests) may also :func:`install` any object implementing :class:`Transcriber`.
"""

from __future__ import annotations

import io
import logging
import math
import os
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger(__name__)

ENV_VAR = "HOMEOPS_TRANSCRIBER"
FASTER_WHISPER = "faster-whisper"


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str
    confidence: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


class TranscriptionError(Exception):
    """The engine could not transcribe this file (a result, not a crash: the media is marked failed)."""


class Transcriber(Protocol):
    """Turns an audio or video file into text; ``name`` is recorded with each transcription."""

    name: str

    def transcribe(self, data: bytes, *, filename: str, content_type: str) -> Transcript:
        """Blocking; called from a worker thread. Raises :class:`TranscriptionError` for unusable input."""
        ...


class FasterWhisperTranscriber:
    """Whisper through CTranslate2 (``faster-whisper``), CPU, from a local model directory only."""

    def __init__(self, model_path: str) -> None:
        os.environ["HF_HUB_OFFLINE"] = "1"  # before the import: never reach the Hugging Face hub
        try:
            from faster_whisper import WhisperModel  # type: ignore[import-not-found,unused-ignore]
        except ImportError as exc:
            raise RuntimeError(
                f"transcriber {FASTER_WHISPER} needs the 'transcription' extra "
                "(pip install 'homeops[transcription]')"
            ) from exc
        if not os.path.isdir(model_path):
            raise RuntimeError(f"no Whisper model directory at {model_path!r} (models are never downloaded)")
        self._model: Any = WhisperModel(model_path, device="cpu", compute_type="int8", local_files_only=True)
        self.name = f"{FASTER_WHISPER}:{os.path.basename(model_path.rstrip('/'))}"

    def transcribe(self, data: bytes, *, filename: str, content_type: str) -> Transcript:
        try:
            segments, info = self._model.transcribe(io.BytesIO(data), vad_filter=True)
            parts = list(segments)
        except Exception as exc:  # undecodable media surfaces as av / ValueError / RuntimeError
            raise TranscriptionError(f"{type(exc).__name__}: {exc}"[:300]) from exc
        text = " ".join(p.text.strip() for p in parts if p.text.strip())
        confidence = (sum(math.exp(p.avg_logprob) for p in parts) / len(parts)) if parts else None
        return Transcript(
            text=text,
            language=str(info.language or "und")[:10],
            confidence=round(confidence, 4) if confidence is not None else None,
            metadata={"segments": len(parts), "language_probability": info.language_probability},
        )


def load_transcriber(spec: str | None) -> Transcriber | None:
    """The transcriber ``spec`` describes (see the module docstring); ``None`` for none.

    Raises ``ValueError`` for an unknown spec and ``RuntimeError`` when the engine cannot be loaded.
    """
    if not spec or not spec.strip():
        return None
    kind, sep, arg = spec.strip().partition(":")
    if kind != FASTER_WHISPER or not sep or not arg.strip():
        raise ValueError(
            f"transcriber spec must look like '{FASTER_WHISPER}:<model directory>', got {spec!r}"
        )
    return FasterWhisperTranscriber(arg.strip())


@dataclass
class _Runtime:
    transcriber: Transcriber | None = None
    reason: str = "no transcriber installed"
    loaded: bool = False


runtime = _Runtime()


def install(transcriber: Transcriber | None, reason: str = "no transcriber installed") -> None:
    """Uses ``transcriber`` from now on (``None``: none, for ``reason``)."""
    runtime.transcriber, runtime.reason, runtime.loaded = transcriber, reason, True


def current() -> tuple[Transcriber | None, str]:
    """The installed transcriber (loaded from ``HOMEOPS_TRANSCRIBER`` on first use), or why there is none."""
    if not runtime.loaded:
        try:
            install(load_transcriber(os.environ.get(ENV_VAR)))
        except (ValueError, RuntimeError) as exc:
            log.error("transcriber unavailable: %s", exc)
            install(None, f"transcriber failed to load: {exc}"[:300])
    return runtime.transcriber, runtime.reason
