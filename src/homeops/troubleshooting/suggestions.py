"""Deterministic, explainable troubleshooting suggestions (no LLM).

Known problems of the device's catalog model are scored by overlap with what the user reported:

* each error code of the problem reported by the user (or written in their text) scores ``CODE_WEIGHT``,
  more than three exactly matching symptoms: a code is the most specific evidence there is;
* each symptom of the problem scores by its best match: ``exact`` (the user listed it), ``partial`` (one
  phrase contains the other, or the phrase appears in the summary/messages) or ``related`` (at least two
  thirds of its significant words, lightly stemmed, appear in what the user wrote).

Ties are broken by severity (critical first), then frequency (very common first). Each suggestion says
which symptoms and codes matched and why. Manual passages come from the full-text index of the device's
linked manuals — the shared library's and the device's own home's uploads, never another home's — first every
significant word must match, then any of them (OR), ranked by PostgreSQL; each says its ``source`` (the
verified library or the household's own unverified upload).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from homeops.catalog.models import CommonProblem, ProblemFrequency, ProblemSeverity
from homeops.catalog.repository import CatalogRepository
from homeops.devices.links import LinkRepository
from homeops.devices.models import Device
from homeops.manuals.repository import ManualRepository
from homeops.manuals.schemas import source_of
from homeops.troubleshooting.schemas import (
    PassageSuggestion,
    ProblemSuggestion,
    Suggestions,
    normalise_error_codes,
    normalise_symptoms,
)

WEIGHTS = {"exact": 3.0, "partial": 2.0, "related": 1.0}
CODE_WEIGHT = 10.0
MAX_PROBLEMS = 5
MAX_PASSAGES = 3
MAX_SEARCH_TERMS = 16
MIN_PHRASE_CHARS = 3

_SEVERITY_RANK = {s: i for i, s in enumerate(ProblemSeverity)}  # critical → low
_FREQUENCY_RANK = {f: i for i, f in enumerate(ProblemFrequency)}  # very_common → rare
_WORD = re.compile(r"[a-z0-9]+")
_CODE_TOKEN = re.compile(r"[A-Z0-9][A-Z0-9_-]*")
_STOPWORD_TEXT = (
    "a an and are as at be been but by can could did do does doesn for from had has have how i if in into is it "
    "its just me my no not of on or our so some than that the their them then there these they this to too "
    "was we were what when where which while who why will with won would you your after again all also any "
    "because before being both each few more most much other over same should such under until very"
)
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


@dataclass(frozen=True)
class Report:
    """What the user told us: normalised symptoms and codes, and free text (summary + their messages)."""

    symptoms: list[str]
    error_codes: list[str]
    text: str


@dataclass(frozen=True)
class SymptomMatch:
    symptom: str
    kind: str  # exact | partial | related
    evidence: str


# --- text helpers -------------------------------------------------------------------------------------
def _phrase(value: str) -> str:
    return " ".join(_WORD.findall(value.lower()))


def stem(word: str) -> str:
    """A light suffix stripper: leaks/leaking/leaked → leak, noises/noise → nois, stopped → stop."""
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
        word = word[:-1]
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word


def significant_words(text: str) -> list[str]:
    """Lower-cased words that carry meaning: no stop words, at least 3 characters (or containing a digit)."""
    out: list[str] = []
    for word in _WORD.findall(text.lower()):
        if word in STOPWORDS or (len(word) < 3 and not any(c.isdigit() for c in word)):
            continue
        if word not in out:
            out.append(word)
    return out


def _contains(haystack: str, needle: str) -> bool:
    return len(needle) >= MIN_PHRASE_CHARS and f" {needle} " in f" {haystack} "


# --- ranking ------------------------------------------------------------------------------------------
def match_symptom(problem_symptom: str, report: Report, text_stems: set[str]) -> SymptomMatch | None:
    wanted = _phrase(problem_symptom)
    if not wanted:
        return None
    reported = [_phrase(s) for s in report.symptoms]
    if wanted in reported:
        return SymptomMatch(problem_symptom, "exact", wanted)
    for phrase, original in zip(reported, report.symptoms, strict=True):
        if _contains(phrase, wanted) or _contains(wanted, phrase):
            return SymptomMatch(problem_symptom, "partial", original)
    if _contains(_phrase(report.text), wanted):
        return SymptomMatch(problem_symptom, "partial", "your description")
    words = significant_words(wanted)
    hits = [w for w in words if stem(w) in text_stems]
    if words and 3 * len(hits) >= 2 * len(words):
        return SymptomMatch(problem_symptom, "related", ", ".join(hits))
    return None


def _text_codes(text: str) -> set[str]:
    return set(_CODE_TOKEN.findall(text.upper()))


def score_problem(problem: CommonProblem, report: Report, text_stems: set[str]) -> ProblemSuggestion:
    codes_in_text = _text_codes(report.text)
    matched_codes = [
        c
        for c in normalise_error_codes([str(c) for c in problem.error_codes or []])
        if c in report.error_codes or c in codes_in_text
    ]
    matches = [
        m for s in problem.symptoms or [] if (m := match_symptom(str(s), report, text_stems)) is not None
    ]
    score = CODE_WEIGHT * len(matched_codes) + sum(WEIGHTS[m.kind] for m in matches)
    return ProblemSuggestion(
        problem_id=problem.id,
        problem_description=problem.problem_description,
        root_cause=problem.root_cause,
        solution=problem.solution,
        severity=problem.severity,
        frequency=problem.frequency,
        estimated_repair_cost=problem.estimated_repair_cost,
        score=score,
        matched_symptoms=[m.symptom for m in matches],
        matched_error_codes=matched_codes,
        why=_why(problem, matches, matched_codes, score),
    )


def _why(problem: CommonProblem, matches: list[SymptomMatch], codes: list[str], score: float) -> str:
    tie = f"severity {problem.severity.value}, {problem.frequency.value.replace('_', ' ')}"
    if not matches and not codes:
        return f"Nothing you reported matches this known problem of the model ({tie})."
    parts = []
    if codes:
        parts.append(f"error code{'s' if len(codes) > 1 else ''} {', '.join(codes)} (+{CODE_WEIGHT:g} each)")
    for m in matches:
        detail = {
            "exact": "you reported exactly this",
            "partial": f"close to {m.evidence!r}"
            if m.evidence != "your description"
            else "in your description",
            "related": f"shared words: {m.evidence}",
        }[m.kind]
        parts.append(f"symptom {m.symptom!r} ({detail}, +{WEIGHTS[m.kind]:g})")
    return f"Matched {'; '.join(parts)}. Score {score:g}; {tie}."


def rank_problems(
    problems: Sequence[CommonProblem], report: Report, limit: int = MAX_PROBLEMS
) -> list[ProblemSuggestion]:
    """Best first: score, then severity, then frequency, then description (stable and deterministic)."""
    text_stems = {stem(w) for w in significant_words(" ".join([report.text, *report.symptoms]))}
    scored = [score_problem(p, report, text_stems) for p in problems]
    scored.sort(
        key=lambda s: (
            -s.score,
            _SEVERITY_RANK[s.severity],
            _FREQUENCY_RANK[s.frequency],
            s.problem_description,
            str(s.problem_id),
        )
    )
    return scored[:limit]


def search_queries(report: Report) -> list[str]:
    """websearch_to_tsquery inputs, strictest first: every significant word, then any of them."""
    terms = significant_words(" ".join([report.text, *report.symptoms, *report.error_codes]))[
        :MAX_SEARCH_TERMS
    ]
    if not terms:
        return []
    strict = " ".join(terms)
    return [strict] if len(terms) == 1 else [strict, " or ".join(terms)]


def make_report(
    summary: str, symptoms: Iterable[str], error_codes: Iterable[str], messages: Iterable[str] = ()
) -> Report:
    return Report(
        symptoms=normalise_symptoms(list(symptoms)),
        error_codes=normalise_error_codes(list(error_codes)),
        text="\n".join([summary, *messages]),
    )


# --- gathering ----------------------------------------------------------------------------------------
class SuggestionEngine:
    def __init__(self, session: AsyncSession) -> None:
        self.catalog = CatalogRepository(session)
        self.manuals = ManualRepository(session)
        self.links = LinkRepository(session)

    async def model_id_for(self, device: Device) -> uuid.UUID | None:
        """The device's catalog model, else the model its manufacturer name and model number name."""
        if device.model_id is not None:
            return device.model_id
        if device.manufacturer_name and device.model_number:
            found = await self.catalog.model_by_make_and_number(device.manufacturer_name, device.model_number)
            if found is not None:
                return found[0].id
        return None

    async def build(
        self,
        home_id: uuid.UUID,
        device_id: uuid.UUID,
        model_id: uuid.UUID | None,
        report: Report,
        now: datetime,
    ) -> Suggestions:
        """The ranked problems and passages; ``now`` (the unit of work's clock) stamps ``generated_at``."""
        problems = rank_problems(await self.catalog.problems(model_id), report) if model_id else []
        passages = await self.passages(home_id, device_id, report)
        return Suggestions(model_id=model_id, problems=problems, passages=passages, generated_at=now)

    async def passages(
        self, home_id: uuid.UUID, device_id: uuid.UUID, report: Report
    ) -> list[PassageSuggestion]:
        manual_ids = await self.links.manual_ids_for_device(device_id, home_id)
        if not manual_ids:
            return []
        found: dict[tuple[Any, Any], dict[str, Any]] = {}
        for query in search_queries(report):
            for row in await self.manuals.fulltext(query, manual_ids, [home_id], MAX_PASSAGES):
                found.setdefault((row["manual_id"], row["chunk_index"]), row)
            if len(found) >= MAX_PASSAGES:
                break
        return [
            PassageSuggestion(
                manual_id=r["manual_id"],
                title=r["title"] or r["file_name"],
                page=r["page"],
                snippet=r["snippet"],
                score=float(r["score"]),
                source=source_of(r["visibility"]),
            )
            for r in list(found.values())[:MAX_PASSAGES]
        ]


# --- the assistant's turn -----------------------------------------------------------------------------
def assistant_turn(suggestions: Suggestions, at: datetime) -> dict[str, Any]:
    """A deterministic reply summarising the suggestions, with the problems and pages it cites."""
    matched = [p for p in suggestions.problems if p.score > 0]
    lines: list[str] = []
    if matched:
        best = matched[0]
        lines.append(f"Most likely: {best.problem_description}. {best.why}")
        if best.root_cause:
            lines.append(f"Root cause: {best.root_cause}")
        if best.solution:
            lines.append(f"Suggested fix: {best.solution}")
        if len(matched) > 1:
            lines.append("Also possible: " + "; ".join(p.problem_description for p in matched[1:3]) + ".")
    elif suggestions.model_id is None:
        lines.append(
            "This device is not linked to a catalog model, so there are no known problems to compare."
        )
    else:
        lines.append("None of this model's known problems matches what you reported yet.")
    if suggestions.passages:
        lines.append("See " + "; ".join(_cite(p) for p in suggestions.passages[:2]) + ".")
    if not matched and not suggestions.passages:
        lines.append("Add symptoms or error codes, or escalate to a technician.")
    return {
        "role": "assistant",
        "content": "\n".join(lines),
        "at": at.isoformat(),
        "problem_ids": [str(p.problem_id) for p in matched[:3]],
        "citations": [
            {"manual_id": str(p.manual_id), "page": p.page, "source": p.source} for p in suggestions.passages
        ],
    }


def _cite(passage: PassageSuggestion) -> str:
    where = f"{passage.title}, page {passage.page}"
    return where if passage.source == "verified" else f"{where} (your household's upload, not verified)"


def user_turn(content: str, at: datetime) -> dict[str, Any]:
    return {"role": "user", "content": content, "at": at.isoformat()}
