"""The diagnostic analyzer behind an interface (seed 002 "AI diagnostic").

``DiagnosticAnalyzer`` takes what the homeowner gave — the photo's metadata, a description, a category hint,
and the device's known common problems from the catalog — and returns the seed's fields. The default,
``RuleAnalyzer``, works offline and says what it based its answer on (``explanation.basis``): the description's
terms it recognised, the category hint, a common problem of the device's model whose symptoms the description
mentions. Its confidence grows with the evidence; under 70 % the API adds a warning, and DIY advice is given
only for low-risk problems (the database refuses anything else). A real model can be plugged in as the
``marketplace.analyzer`` resource (same result type, same columns): no schema change.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from homeops.marketplace.models import RiskLevel, Urgency

LOW_CONFIDENCE = Decimal(70)


@dataclass(frozen=True)
class KnownProblem:
    """A common problem of the device's model (catalog ``common_problems``)."""

    description: str
    symptoms: tuple[str, ...]
    root_cause: str | None
    solution: str | None
    severity: str  # low | medium | high | critical
    estimated_repair_cost: str | None


@dataclass(frozen=True)
class AnalysisInput:
    image_format: str
    width: int
    height: int
    description: str | None
    category_hint: str | None
    device_category: str | None = None
    device_name: str | None = None
    known_problems: tuple[KnownProblem, ...] = ()


@dataclass(frozen=True)
class AnalysisResult:
    risk_level: RiskLevel
    problem_category: str
    problem_subcategory: str | None
    probable_cause: str
    risk_prediction: str
    recommended_action: str
    confidence: Decimal
    is_diy_possible: bool
    diy_advice: str | None
    estimated_cost_range: str | None
    urgency: Urgency
    model_version: str
    processing_time_ms: int
    explanation: dict[str, Any] = field(default_factory=dict)


class DiagnosticAnalyzer(Protocol):
    version: str

    def analyze(self, data: AnalysisInput) -> AnalysisResult: ...


@dataclass(frozen=True)
class Rule:
    category: str
    subcategory: str
    terms: tuple[str, ...]
    cause: str
    risk: RiskLevel
    prediction: str
    action: str
    urgency: Urgency
    cost: str
    diy: str | None = None


RULES: tuple[Rule, ...] = (
    Rule(
        "plumbing",
        "pipe_leak",
        ("leak", "leaking", "drip", "dripping", "pipe", "water stain", "wet", "corrosion"),
        "A leaking or corroded pipe or fitting",
        RiskLevel.high,
        "Water damage to floors, cabinets and walls; mould within days",
        "Shut off the water supply to the area and have a plumber replace the damaged section",
        Urgency.immediate,
        "300–1,500",
    ),
    Rule(
        "plumbing",
        "clogged_drain",
        ("clog", "clogged", "slow drain", "blocked", "backing up", "standing water"),
        "A partial blockage in the drain line",
        RiskLevel.low,
        "A full blockage and overflow; odours",
        "Clear the trap and the drain line",
        Urgency.soon,
        "80–250",
        diy="Remove and clean the P-trap under the sink, then flush with hot water; avoid chemical cleaners.",
    ),
    Rule(
        "electrical",
        "wiring_fault",
        ("spark", "sparks", "burning smell", "scorch", "melted", "smoke", "exposed wire"),
        "Overheating wiring or a failing connection",
        RiskLevel.high,
        "Electrical fire or shock",
        "Switch off the circuit at the panel and call a licensed electrician; do not use the outlet",
        Urgency.immediate,
        "150–800",
    ),
    Rule(
        "electrical",
        "tripping_breaker",
        ("breaker", "tripping", "trips", "fuse", "power cut", "flicker", "flickering"),
        "An overloaded circuit or a faulty appliance on it",
        RiskLevel.medium,
        "Repeated outages; damage to connected equipment",
        "Have an electrician check the circuit's load and the breaker",
        Urgency.soon,
        "100–400",
    ),
    Rule(
        "hvac",
        "ac_not_cooling",
        ("not cooling", "warm air", "ac", "air conditioner", "compressor", "refrigerant", "ice"),
        "Low refrigerant, a dirty coil or a failing compressor",
        RiskLevel.medium,
        "The unit works harder and fails; higher energy bills",
        "Have the system serviced: coil cleaning, refrigerant check",
        Urgency.soon,
        "150–900",
    ),
    Rule(
        "hvac",
        "dirty_filter",
        ("filter", "dusty", "dust", "weak airflow", "airflow"),
        "A clogged air filter",
        RiskLevel.low,
        "Reduced airflow, frozen coils, poor air quality",
        "Replace or wash the air filter",
        Urgency.can_wait,
        "10–60",
        diy="Switch the unit off, take out the filter, wash it (or fit a new one of the same size) and let it dry.",
    ),
    Rule(
        "structural",
        "wall_crack",
        ("crack", "cracks", "cracked", "foundation", "settling", "bulge", "sagging"),
        "Movement of the structure or its foundation",
        RiskLevel.high,
        "Widening cracks, water ingress, structural failure",
        "Have a structural engineer assess the crack and monitor its width",
        Urgency.soon,
        "500–5,000",
    ),
    Rule(
        "waterproofing",
        "damp_mould",
        ("mould", "mold", "damp", "humidity", "peeling paint", "musty"),
        "Moisture from a leak, rising damp or poor ventilation",
        RiskLevel.medium,
        "Spreading mould, damaged finishes, health effects",
        "Find and fix the moisture source; improve ventilation; treat the affected area",
        Urgency.soon,
        "200–2,000",
    ),
    Rule(
        "roofing",
        "roof_leak",
        ("roof", "ceiling stain", "gutter", "shingle", "tile missing"),
        "Damaged roof covering or blocked gutters",
        RiskLevel.medium,
        "Water in the ceiling and insulation; rot",
        "Have the roof and gutters inspected and repaired",
        Urgency.soon,
        "200–3,000",
    ),
    Rule(
        "appliance_repair",
        "appliance_fault",
        ("washer", "dryer", "fridge", "refrigerator", "dishwasher", "oven", "error code", "noise"),
        "A faulty component of the appliance",
        RiskLevel.medium,
        "The appliance stops working; possible leaks",
        "Have the appliance checked by a repair technician",
        Urgency.soon,
        "100–500",
    ),
    Rule(
        "painting",
        "peeling_paint",
        ("paint", "peeling", "flaking", "chipped", "faded"),
        "Ageing or poorly adhering paint",
        RiskLevel.low,
        "Exposed surfaces weather and stain",
        "Scrape, prime and repaint the area",
        Urgency.can_wait,
        "100–600",
        diy="Scrape off the loose paint, sand the edges, apply a primer and two coats of paint.",
    ),
    Rule(
        "pest_control",
        "pests",
        ("termite", "ants", "cockroach", "mice", "rat", "droppings", "insects"),
        "An infestation",
        RiskLevel.medium,
        "Damage to wood and wiring; hygiene risks",
        "Have a pest control professional inspect and treat",
        Urgency.soon,
        "100–700",
    ),
)

_SEVERITY_RISK = {
    "low": RiskLevel.low,
    "medium": RiskLevel.medium,
    "high": RiskLevel.high,
    "critical": RiskLevel.high,
}
_URGENCY = {
    RiskLevel.low: Urgency.can_wait,
    RiskLevel.medium: Urgency.soon,
    RiskLevel.high: Urgency.immediate,
}
_DEVICE_CATEGORY = {
    "hvac": ("hvac", "air_conditioner", "heat_pump", "mini_split", "furnace", "thermostat", "boiler"),
    "plumbing": ("water_heater", "water_softener", "sump_pump"),
    "electrical": ("smoke_alarm", "ev_charger", "generator", "solar_inverter"),
    "appliance_repair": ("refrigerator", "dishwasher", "washer", "dryer", "oven", "range", "microwave"),
}


def _words(text: str) -> str:
    return " " + re.sub(r"[^a-z0-9]+", " ", text.lower()) + " "


def _hits(text: str, terms: tuple[str, ...]) -> list[str]:
    return [t for t in terms if f" {t} " in text]


class RuleAnalyzer:
    """Offline, explainable: keyword rules per service category plus the device model's known problems."""

    version = "offline-rules-1"

    def analyze(self, data: AnalysisInput) -> AnalysisResult:
        started = time.perf_counter()
        text = _words(data.description or "")
        basis: list[dict[str, Any]] = []
        scored: list[tuple[int, Rule, list[str]]] = []
        for rule in RULES:
            hits = _hits(text, rule.terms)
            score = len(hits) * 2 + (3 if data.category_hint == rule.category and hits else 0)
            if score:
                scored.append((score, rule, hits))
        scored.sort(key=lambda s: -s[0])

        problem = self._known_problem(text, data.known_problems)
        confidence = Decimal(35)
        if problem is not None:
            kp, matched = problem
            risk = _SEVERITY_RISK.get(kp.severity, RiskLevel.medium)
            category = self._device_service(data.device_category) or data.category_hint or "appliance_repair"
            basis.append({"kind": "device_known_problem", "problem": kp.description, "symptoms": matched})
            confidence += Decimal(30 + 8 * min(len(matched), 3))
            cause = kp.root_cause or kp.description
            action = kp.solution or "Have a technician inspect the device"
            subcategory, prediction, cost = (
                "known_problem",
                f"If not fixed: {kp.description.lower()} gets worse",
                kp.estimated_repair_cost,
            )
            diy = kp.solution if risk is RiskLevel.low and kp.solution else None
            urgency = _URGENCY[risk]
        elif scored:
            score, rule, hits = scored[0]
            risk, category, subcategory = rule.risk, rule.category, rule.subcategory
            basis.append(
                {"kind": "description_terms", "terms": hits, "rule": f"{rule.category}/{rule.subcategory}"}
            )
            confidence += Decimal(12 * min(len(hits), 4))
            cause, prediction, action, cost, urgency, diy = (
                rule.cause,
                rule.prediction,
                rule.action,
                rule.cost,
                rule.urgency,
                rule.diy,
            )
        else:
            category = data.category_hint or self._device_service(data.device_category) or "general"
            risk, subcategory, urgency, diy, cost = RiskLevel.medium, None, Urgency.soon, None, None
            cause = "The photo and description do not point at a known problem"
            prediction = "Unknown: small problems at home tend to grow when left alone"
            action = "Describe what you see (leak, crack, noise, smell, error code) or ask a professional to inspect"
            basis.append({"kind": "no_match", "note": "no recognised term in the description"})
        if data.category_hint:
            agrees = data.category_hint == category
            basis.append({"kind": "category_hint", "value": data.category_hint, "agrees": agrees})
            if agrees:
                confidence += Decimal(10)
        if data.device_name:
            basis.append({"kind": "device", "value": data.device_name, "category": data.device_category})
        basis.append(
            {
                "kind": "image",
                "format": data.image_format,
                "width": data.width,
                "height": data.height,
                "note": "the offline analyzer does not read the pixels",
            }
        )
        confidence = min(confidence, Decimal(95))
        diy_possible = risk is RiskLevel.low and diy is not None
        return AnalysisResult(
            risk_level=risk,
            problem_category=category,
            problem_subcategory=subcategory,
            probable_cause=cause,
            risk_prediction=prediction,
            recommended_action=action,
            confidence=confidence.quantize(Decimal("0.01")),
            is_diy_possible=diy_possible,
            diy_advice=diy if diy_possible else None,
            estimated_cost_range=cost,
            urgency=urgency,
            model_version=self.version,
            processing_time_ms=int((time.perf_counter() - started) * 1000),
            explanation={"analyzer": self.version, "basis": basis},
        )

    @staticmethod
    def _device_service(device_category: str | None) -> str | None:
        if not device_category:
            return None
        for service, categories in _DEVICE_CATEGORY.items():
            if device_category in categories:
                return service
        return None

    @staticmethod
    def _known_problem(
        text: str, problems: tuple[KnownProblem, ...]
    ) -> tuple[KnownProblem, list[str]] | None:
        best: tuple[KnownProblem, list[str]] | None = None
        for kp in problems:
            matched = [s for s in kp.symptoms if _words(s).strip() and _words(s) in text]
            if matched and (best is None or len(matched) > len(best[1])):
                best = (kp, matched)
        return best


ANALYZER = "marketplace.analyzer"


def resources(settings: object) -> dict[str, Any]:
    """The marketplace's process resource: the diagnostic analyzer (replace it to plug in a model)."""
    return {ANALYZER: RuleAnalyzer()}
