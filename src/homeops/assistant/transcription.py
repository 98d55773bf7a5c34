"""Pluggable speech-to-text for uploaded media (seed 003 ``transcriptions``).

No transcriber is installed by default: media processing then completes without a transcript and the API
says ``transcription_status: "unavailable"``. A real offline engine is chosen by the ``transcriber`` setting
(``HOMEOPS_TRANSCRIBER``):

* ``faster-whisper:<local model directory>`` -- :class:`FasterWhisperTranscriber`; needs the optional
  ``transcription`` extra (``faster-whisper``) and a CTranslate2 Whisper model already on disk. Nothing is
  ever downloaded.

The transcriber is a process resource of the assistant domain (:func:`resources`, declared in
``assistant/domain.py``); jobs read it with :func:`transcriber_of`. Deployments (and tests) may put any object
implementing :class:`Transcriber` into the runtime's resources under :data:`TRANSCRIBER`.
"""

from __future__ import annotations

import io
import logging
import math
import os
from dataclasses import dataclass, field
from typing import Any, Protocol

from homeops.core.config import Settings
from homeops.core.runtime import Runtime

log = logging.getLogger(__name__)

FASTER_WHISPER = "faster-whisper"
TRANSCRIBER = "assistant.transcriber"
# Why there is no transcriber when the configured one failed to load (absent otherwise).
TRANSCRIBER_UNAVAILABLE = "assistant.transcriber_unavailable"
NO_TRANSCRIBER = "no transcriber installed"


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


def resources(settings: Settings) -> dict[str, Any]:
    """The assistant's process resources: the configured transcriber, or none. A transcriber that fails to
    load does not stop the process: media processing records why there is no transcript."""
    try:
        return {TRANSCRIBER: load_transcriber(settings.transcriber) if settings.transcriber else None}
    except (ValueError, RuntimeError) as exc:
        log.error("transcriber unavailable: %s", exc)
        return {TRANSCRIBER: None, TRANSCRIBER_UNAVAILABLE: f"transcriber failed to load: {exc}"[:300]}


def transcriber_of(runtime: Runtime) -> Transcriber | None:
    """The process's transcriber, or None (see :func:`unavailable_reason`)."""
    transcriber: Transcriber | None = runtime.resource(TRANSCRIBER)
    return transcriber


def unavailable_reason(runtime: Runtime) -> str:
    """Why :func:`transcriber_of` is None: none configured, or the configured one failed to load."""
    reason: str | None = runtime.resource(TRANSCRIBER_UNAVAILABLE)
    return reason or NO_TRANSCRIBER
