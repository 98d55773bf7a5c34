"""How the assistant answers: a :class:`Responder` turns a :class:`ReplyContext` into a :class:`Reply`.

The context carries the question, the recent conversation, what it is about (a device or a catalog model)
and a :class:`Knowledge` object that retrieves manual passages and the model's common problems. The default
:class:`LibraryResponder` works offline and is deterministic (the same question over the same library gives
the same reply); an LLM responder can be plugged in later and use the same retrieval for grounded answers.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from homeops.catalog.models import CommonProblem, ProblemSeverity
from homeops.catalog.repository import CatalogRepository
from homeops.manuals.repository import ManualRepository
from homeops.manuals.schemas import ManualSource, source_of

MAX_TERMS = 30
MAX_PASSAGES = 3
MAX_PROBLEMS = 3
_WORD = re.compile(r"[0-9A-Za-z][0-9A-Za-z_-]*")
_MARK = re.compile(r"</?mark>")
# Words that say nothing about an appliance problem (websearch_to_tsquery drops English stop words itself;
# these also keep the problem overlap meaningful). "or"/"and"/"not" would be operators.
_STOP_TEXT = """
a about after again all also am an and any are as at be because been before being but by can could did do
does doing dont for from get gets got had has have having he her here how i if in into is it its just like me
my myself no nor not now of off on once only or other our out over please same she should so some still such
than that the their them then there these they this those through to too under until up very was we were what
when where which while who why will with would you your yours help need want know tell show thanks thank hi
hello question anyone something
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())
_SEVERITY_RANK = {s: i for i, s in enumerate(ProblemSeverity)}  # critical first


@dataclass(frozen=True)
class Passage:
    manual_id: uuid.UUID
    title: str
    page: int
    snippet: str
    score: float
    source: ManualSource = "verified"  # the verified library, or the household's own (unverified) upload

    def cite(self) -> str:
        """``<title>, p. <page>``, saying so when the passage is a household's own unverified upload."""
        where = f"{self.title}, p. {self.page}"
        return where if self.source == "verified" else f"{where}; your household's upload, not verified"


@dataclass(frozen=True)
class ProblemMatch:
    problem_id: uuid.UUID
    description: str
    severity: str
    root_cause: str | None
    solution: str | None
    matched_terms: list[str]
    matched_error_codes: list[str]


class Knowledge(Protocol):
    """What a responder may consult. ``note`` explains a widened or empty scope (or is ``None``)."""

    note: str | None

    async def passages(self, question: str, limit: int) -> list[Passage]: ...

    async def problems(self, question: str, limit: int) -> list[ProblemMatch]: ...


@dataclass(frozen=True)
class ReplyContext:
    question: str
    knowledge: Knowledge
    subject: str | None = None  # "your <device nickname>" / "<maker> <model number>"
    history: list[tuple[str, str]] = field(default_factory=list)  # (message_type, content), oldest first


@dataclass(frozen=True)
class Reply:
    content: str
    citations: list[dict[str, Any]]
    problems: list[dict[str, Any]]
    responder: str

    def metadata(self) -> dict[str, Any]:
        return {"citations": self.citations, "problems": self.problems, "responder": self.responder}


class Responder(Protocol):
    name: str

    async def respond(self, context: ReplyContext) -> Reply: ...


# --- text helpers ---------------------------------------------------------------------------------------
def _stem(word: str) -> str:
    """A deliberately light suffix stripper: leaking/leaks/leaked → leak."""
    for suffix in ("ing", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: -len(suffix)]
    return word


def terms(text: str) -> list[str]:
    """Distinct meaningful words of ``text``, lower-cased, in order of appearance."""
    out: list[str] = []
    for raw in _WORD.findall(text.lower()):
        word = raw.strip("-_")
        if len(word) >= 2 and word not in STOP_WORDS and word not in out:
            out.append(word)
    return out[:MAX_TERMS]


def search_queries(question: str) -> list[str]:
    """Progressively looser ``websearch_to_tsquery`` inputs: every word (AND), then any word (OR)."""
    words = terms(question)
    if not words:
        return []
    return [" ".join(words)] + ([" or ".join(words)] if len(words) > 1 else [])


def plain(snippet: str) -> str:
    return " ".join(_MARK.sub("", snippet).split())


# --- retrieval over the manual library and the catalog ---------------------------------------------------
class LibraryKnowledge:
    """Full-text search over ``manual_ids`` (``None``: the whole library) — the shared library's passages and
    those of the household uploads of ``homes`` only (a device's home; the caller's homes) — and ``model_id``'s
    common problems."""

    def __init__(
        self,
        session: AsyncSession,
        manual_ids: list[uuid.UUID] | None,
        model_id: uuid.UUID | None,
        note: str | None = None,
        *,
        homes: list[uuid.UUID],
    ) -> None:
        self.manuals = ManualRepository(session)
        self.catalog = CatalogRepository(session)
        self.manual_ids = manual_ids
        self.model_id = model_id
        self.note = note
        self.homes = homes

    async def passages(self, question: str, limit: int) -> list[Passage]:
        if self.manual_ids == []:
            return []
        for query in search_queries(question):
            rows = await self.manuals.fulltext(query, self.manual_ids, self.homes, limit * 3)
            if rows:
                return _best_per_page(rows, limit)
        return []

    async def problems(self, question: str, limit: int) -> list[ProblemMatch]:
        if self.model_id is None:
            return []
        asked = {_stem(w): w for w in reversed(terms(question))}
        tokens = {w.upper() for w in _WORD.findall(question)}
        scored = []
        for problem in await self.catalog.problems(self.model_id):
            match = _match(problem, asked, tokens)
            score = 3 * len(match.matched_error_codes) + len(match.matched_terms)
            if score:
                scored.append(
                    (-score, _SEVERITY_RANK.get(problem.severity, 9), problem.problem_description, match)
                )
        scored.sort(key=lambda s: s[:3])
        return [s[3] for s in scored[:limit]]


def _best_per_page(rows: list[dict[str, Any]], limit: int) -> list[Passage]:
    out: list[Passage] = []
    seen: set[tuple[uuid.UUID, int]] = set()
    for row in rows:  # already ranked: score desc, manual, chunk
        key = (row["manual_id"], row["page"])
        if key in seen:
            continue
        seen.add(key)
        out.append(
            Passage(
                row["manual_id"],
                row["title"] or row["file_name"],
                row["page"],
                plain(row["snippet"]),
                float(row["score"]),
                source_of(row["visibility"]),
            )
        )
        if len(out) == limit:
            break
    return out


def _match(problem: CommonProblem, asked: dict[str, str], tokens: set[str]) -> ProblemMatch:
    described = " ".join([problem.problem_description, *map(str, problem.symptoms)])
    stems = {_stem(w) for w in terms(described)}
    matched = sorted(asked[s] for s in asked.keys() & stems)
    codes = sorted(str(c) for c in problem.error_codes if str(c).upper() in tokens)
    return ProblemMatch(
        problem.id,
        problem.problem_description,
        str(problem.severity),
        problem.root_cause,
        problem.solution,
        matched,
        codes,
    )


# --- the default responder --------------------------------------------------------------------------------
class LibraryResponder:
    """Answers from retrieved passages and problems only; cites ``(<title>, p. <page>)`` — and says so when a
    passage comes from the household's own unverified upload rather than the verified library."""

    name = "library"

    async def respond(self, context: ReplyContext) -> Reply:
        knowledge = context.knowledge
        passages = await knowledge.passages(context.question, MAX_PASSAGES)
        problems = await knowledge.problems(context.question, MAX_PROBLEMS)
        about = f" about {context.subject}" if context.subject else ""
        lines: list[str] = []
        if knowledge.note:
            lines.append(knowledge.note)
        if not passages and not problems:
            lines.append(
                f"I could not find anything{about} in the manual library that answers this. Try rephrasing "
                "with the words your manual would use (a part name or an error code), or open a "
                "troubleshooting session for the device to work through its known problems step by step."
            )
            return Reply("\n".join(lines), [], [], self.name)
        if passages:
            lines.append(f"Here is what the manuals say{about}:")
            lines.extend(f"- {p.snippet} ({p.cite()})" for p in passages)
        if problems:
            lines.append("Known problems of this model that match your description:")
            for m in problems:
                why = ", ".join([*m.matched_error_codes, *m.matched_terms])
                line = f"- {m.description} [{m.severity}; matched: {why}]"
                if m.root_cause:
                    line += f" Likely cause: {m.root_cause}"
                if m.solution:
                    line += f" Suggested fix: {m.solution}"
                lines.append(line)
        lines.append("If this does not solve it, open a troubleshooting session or a service ticket.")
        citations = [
            {
                "manual_id": str(p.manual_id),
                "title": p.title,
                "page": p.page,
                "snippet": p.snippet,
                "source": p.source,
            }
            for p in passages
        ]
        found = [
            {
                "problem_id": str(m.problem_id),
                "description": m.description,
                "severity": m.severity,
                "matched_terms": m.matched_terms,
                "matched_error_codes": m.matched_error_codes,
            }
            for m in problems
        ]
        return Reply("\n".join(lines), citations, found, self.name)
