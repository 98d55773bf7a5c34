"""An explainable, lexicon-based sentiment score for complaints (seed 003 ``complaints.sentiment_score``).

Every scored word comes from :data:`LEXICON` (weights from -3 to +3, tuned for appliance and service
complaints) or :data:`PHRASES`. A weight is

* multiplied by a preceding intensifier ("very", "extremely") or down-toner ("slightly", "minor"),
* flipped and halved when one of the three words before it negates it ("not good", "never works"),
* multiplied by 1.5 when the word is written in capitals inside a mixed-case text ("WORST"),

then the sum is amplified by exclamation marks (+15 % each, at most four) and squashed into [-1, 1] with
``s / sqrt(s² + 15)`` (the normalisation VADER uses). The result lists every term that contributed, so a
reader can see why a complaint scored as it did. Deterministic and dependency-free.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

METHOD = "lexicon-v1"
ALPHA = 15.0
NEGATION_WINDOW = 3
NEGATION_FACTOR = -0.5
CAPS_FACTOR = 1.5
EXCLAMATION_STEP = 0.15
MAX_EXCLAMATIONS = 4
NEUTRAL_BAND = 0.05

# fmt: off
LEXICON: dict[str, float] = {
    # negative
    "terrible": -3, "awful": -3, "horrible": -3, "worst": -3, "dangerous": -3, "unsafe": -3, "furious": -3,
    "outraged": -3, "unacceptable": -3, "incompetent": -3, "scam": -3, "fraud": -3, "nightmare": -3,
    "hate": -3, "useless": -2.5, "defective": -2.5, "angry": -2.5, "ridiculous": -2.5, "rude": -2.5,
    "burning": -2.5, "fire": -2.5, "flooded": -2.5, "lied": -2.5, "worse": -2.5, "broken": -2, "broke": -2,
    "failed": -2, "fail": -2, "fails": -2, "failure": -2, "faulty": -2, "damaged": -2, "damage": -2,
    "disappointed": -2, "disappointing": -2, "frustrated": -2, "frustrating": -2, "bad": -2, "waste": -2,
    "wasted": -2, "smoke": -2, "ignored": -2, "unhappy": -2, "upset": -2, "dead": -2, "flood": -2,
    "annoyed": -1.5, "annoying": -1.5, "poor": -1.5, "leak": -1.5, "leaking": -1.5, "leaks": -1.5,
    "mess": -1.5, "wrong": -1.5, "delayed": -1.5, "slow": -1, "late": -1, "noisy": -1, "loud": -1,
    "problem": -1, "problems": -1, "stopped": -1, "error": -1, "delay": -1, "dirty": -1, "refund": -1,
    "issue": -0.5, "issues": -0.5, "waiting": -0.5,
    # positive
    "great": 3, "excellent": 3, "love": 3, "perfect": 3, "wonderful": 3, "amazing": 3, "good": 2,
    "happy": 2, "satisfied": 2, "pleased": 2, "helpful": 2, "appreciate": 2, "appreciated": 2,
    "reliable": 2, "recommend": 2, "thanks": 1.5, "thank": 1.5, "fixed": 1.5, "resolved": 1.5,
    "polite": 1.5, "friendly": 1.5, "nice": 1.5, "better": 1.5, "fine": 1, "quick": 1, "quickly": 1,
    "fast": 1, "works": 1, "working": 1, "ok": 0.5, "okay": 0.5,
}
PHRASES: dict[tuple[str, ...], float] = {
    ("stopped", "working"): -2, ("waste", "of", "money"): -3, ("fire", "hazard"): -3,
    ("no", "longer", "works"): -2,
}
INTENSIFIERS: dict[str, float] = {
    "very": 1.5, "extremely": 2.0, "really": 1.3, "so": 1.3, "totally": 1.5, "completely": 1.5,
    "absolutely": 1.5, "incredibly": 1.8, "utterly": 1.8, "super": 1.4, "too": 1.2,
    "slightly": 0.5, "somewhat": 0.6, "minor": 0.5, "bit": 0.6, "little": 0.7, "fairly": 0.8,
}
NEGATORS = frozenset({
    "not", "no", "never", "none", "nothing", "neither", "nor", "cannot", "without", "hardly", "barely",
    "dont", "doesnt", "didnt", "isnt", "wasnt", "arent", "werent", "wont", "cant", "couldnt", "shouldnt",
    "wouldnt", "havent", "hasnt", "hadnt", "aint",
})
# fmt: on

_TOKEN = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?|!")


@dataclass(frozen=True)
class Term:
    term: str
    weight: float
    contribution: float
    negated: bool = False
    modifier: str | None = None
    emphasis: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "term": self.term,
            "weight": self.weight,
            "contribution": round(self.contribution, 3),
            "negated": self.negated,
            "modifier": self.modifier,
            "emphasis": self.emphasis,
        }


@dataclass(frozen=True)
class Sentiment:
    score: float
    label: str
    raw: float
    exclamations: int
    terms: list[Term] = field(default_factory=list)

    def explain(self) -> dict[str, Any]:
        """What is stored in ``complaints.metadata["sentiment"]``."""
        return {
            "method": METHOD,
            "score": self.score,
            "label": self.label,
            "raw": round(self.raw, 3),
            "exclamations": self.exclamations,
            "terms": [t.as_dict() for t in self.terms],
        }


def analyse(text: str) -> Sentiment:
    """Scores ``text`` (see the module docstring)."""
    tokens = _TOKEN.findall(text)
    mixed_case = any(c.islower() for c in text)
    words = [t for t in tokens if t != "!"]
    exclamations = min(len(tokens) - len(words), MAX_EXCLAMATIONS)
    norm = [w.lower().replace("'", "") for w in words]
    terms: list[Term] = []
    negate_left = 0
    i = 0
    while i < len(norm):
        word = norm[i]
        matched = _phrase_at(norm, i)
        if matched is not None:
            key, weight = matched
        elif word in LEXICON:
            key, weight = (word,), LEXICON[word]
        else:
            if word in NEGATORS:
                negate_left = NEGATION_WINDOW + 1
            negate_left = max(negate_left - 1, 0)
            i += 1
            continue
        previous = norm[i - 1] if i > 0 else ""
        factor = INTENSIFIERS.get(previous, 1.0)
        emphasis = mixed_case and any(
            len(words[j]) > 1 and words[j].isupper() for j in range(i, i + len(key))
        )
        negated = negate_left > 0
        contribution = (
            weight * factor * (CAPS_FACTOR if emphasis else 1.0) * (NEGATION_FACTOR if negated else 1.0)
        )
        terms.append(
            Term(
                " ".join(key),
                float(weight),
                contribution,
                negated,
                previous if previous in INTENSIFIERS else None,
                emphasis,
            )
        )
        negate_left = max(negate_left - len(key), 0)
        i += len(key)
    raw = sum(t.contribution for t in terms) * (1 + EXCLAMATION_STEP * exclamations)
    score = round(raw / math.sqrt(raw * raw + ALPHA), 4) if raw else 0.0
    label = "negative" if score <= -NEUTRAL_BAND else "positive" if score >= NEUTRAL_BAND else "neutral"
    return Sentiment(score, label, raw, exclamations, terms)


def _phrase_at(words: list[str], i: int) -> tuple[tuple[str, ...], float] | None:
    for phrase, weight in PHRASES.items():
        if tuple(words[i : i + len(phrase)]) == phrase:
            return phrase, weight
    return None
