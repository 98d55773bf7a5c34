"""Manual text pipeline: PDF extraction, de-duplication hashes, chunking and embedders (no database)."""

from __future__ import annotations

import hashlib
import itertools
import math
import os
import random
import sys
import types
from typing import Any, ClassVar

import pytest

from homeops.manuals.embeddings import HashingEmbedder, load_embedder
from homeops.manuals.extraction import (
    ExtractionError,
    chunk_pages,
    content_hash,
    extract_pdf,
    file_hash,
    normalise_text,
)
from tests.pdf_writer import CORRUPT_PDF, make_encrypted_pdf, make_pdf

FILLER = [
    "Read all safety instructions before first use of the appliance.",
    "Keep children away from the door while the machine is running.",
    "Use only detergents designed for automatic dishwashers.",
    "The warranty does not cover damage caused by incorrect installation.",
    "Check the spray arms for blockages if dishes come out dirty.",
]
MANUAL_PAGES = [
    "Safety (read first)\n\n" + " ".join(FILLER[:3]),
    "Installation: connect the hose to a tap with a back\\flow valve. " + "x" * 150,
    (
        "Care and cleaning\n\nRegular main-\ntenance keeps the appliance efficient. "
        "Descale the heating element with citric acid every three months."
    ),
    "Warranty\n\n" + " ".join(FILLER[3:]),
]


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


# --- extraction -------------------------------------------------------------------------------------------


def test_extraction_round_trip_keeps_pages_in_order_and_metadata() -> None:
    doc = extract_pdf(make_pdf(MANUAL_PAGES, title="Dishwasher DW-100 user manual"))

    assert doc.page_count == len(doc.pages) == 4
    for extracted, original in zip(doc.pages, MANUAL_PAGES, strict=True):
        assert normalise_text(extracted) == normalise_text(original)
    assert "back\\flow" in doc.pages[1] and "(read first)" in doc.pages[0]
    assert doc.metadata["title"] == "Dishwasher DW-100 user manual"
    assert doc.metadata["producer"].startswith("homeops test writer")
    assert "author" not in doc.metadata


def test_file_hash_is_sha256_of_the_bytes() -> None:
    data = make_pdf(["hello"])
    assert file_hash(data) == hashlib.sha256(data).hexdigest()
    assert len(file_hash(b"")) == 64


def test_resaved_variants_differ_in_file_hash_but_share_content_hash() -> None:
    files = [make_pdf(MANUAL_PAGES, variant=v) for v in range(3)] + [make_pdf(MANUAL_PAGES, title="Other")]

    assert len({file_hash(data) for data in files}) == len(files)
    assert len({content_hash(extract_pdf(data).pages) for data in files}) == 1


def test_content_hash_ignores_case_whitespace_and_hyphenated_line_breaks() -> None:
    original = ["Clean the filter monthly. Regular maintenance prevents odours.", "Call service if E4 shows."]
    reformatted = [
        "CLEAN  the filter\nmonthly.\n\n   Regular main-\ntenance pre\u00advents odours.  ",
        "call\tservice if e4 shows.",
    ]
    reworded = ["Clean the filter weekly. Regular maintenance prevents odours.", "Call service if E4 shows."]

    from_pdf = [
        content_hash(extract_pdf(make_pdf(pages)).pages) for pages in (original, reformatted, reworded)
    ]

    assert from_pdf[0] == from_pdf[1] == content_hash(original)
    assert from_pdf[2] != from_pdf[0]


def test_content_hash_ignores_blank_pages_but_not_page_text() -> None:
    assert content_hash(["Page one.", "", "  ", "Page two."]) == content_hash(["Page one.", "Page two."])
    assert content_hash(["Page one.", "Page two."]) != content_hash(["Page one.", "Page three."])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Regular main-\ntenance", "regular maintenance"),
        ("main-  \r\n  tenance", "maintenance"),
        ("main\u00ad\ntenance and de\u00adscaling", "maintenance and descaling"),
        ("\ufb01lter\u00a0\uff21\uff22", "filter ab"),  # ligature, no-break space, full-width letters
        ("  Tabs\t and\n\nnewlines\x00 ", "tabs and newlines"),
        ("self-cleaning oven", "self-cleaning oven"),  # a hyphen not at a line break stays
        ("step 1 -\nstep 2", "step 1 - step 2"),  # a dash between spaces is not hyphenation
    ],
)
def test_normalise_text(raw: str, expected: str) -> None:
    assert normalise_text(raw) == expected


def test_encrypted_pdf_is_rejected_even_with_an_empty_user_password() -> None:
    with pytest.raises(ExtractionError) as info:
        extract_pdf(make_encrypted_pdf(["Secret service codes."]))
    assert info.value.reason == "encrypted"


def test_corrupt_pdf_is_rejected() -> None:
    with pytest.raises(ExtractionError) as info:
        extract_pdf(CORRUPT_PDF)
    assert info.value.reason == "corrupt"


@pytest.mark.parametrize("data", [b"", b"hello world", b"PK\x03\x04zipfile", b"\n%PDF-1.4", b"%PDF"])
def test_non_pdf_is_rejected(data: bytes) -> None:
    with pytest.raises(ExtractionError) as info:
        extract_pdf(data)
    assert info.value.reason == "not_pdf"


@pytest.mark.parametrize("pages", [["", "   "], []])
def test_pdf_without_text_is_empty(pages: list[str]) -> None:
    with pytest.raises(ExtractionError) as info:
        extract_pdf(make_pdf(pages))
    assert info.value.reason == "empty"


def test_damaged_pdfs_raise_only_extraction_errors() -> None:
    good = make_pdf(MANUAL_PAGES, title="t")
    rng = random.Random(1234)
    samples = [good[:cut] for cut in range(5, len(good), 97)]
    for _ in range(60):
        damaged = bytearray(good)
        for _ in range(rng.randint(1, 20)):
            damaged[rng.randrange(5, len(damaged))] = rng.randrange(256)
        samples.append(bytes(damaged))

    for data in samples:
        try:
            doc = extract_pdf(data)
        except ExtractionError as exc:
            assert exc.reason in {"corrupt", "empty"}
        else:
            assert doc.page_count == len(doc.pages)


# --- chunking ---------------------------------------------------------------------------------------------


def _long_pages() -> list[str]:
    rng = random.Random(7)
    return [" ".join(rng.choice(FILLER) for _ in range(n)) for n in (40, 0, 3, 25)]


def test_chunks_cite_one_page_and_are_indexed_consecutively() -> None:
    pages = _long_pages()
    chunks = chunk_pages(pages, target_chars=500, overlap_chars=80)

    assert [chunk.index for chunk in chunks] == list(range(len(chunks)))
    assert {chunk.page for chunk in chunks} == {1, 3, 4}  # the blank page 2 yields nothing
    assert [chunk.page for chunk in chunks] == sorted(chunk.page for chunk in chunks)
    for chunk in chunks:
        assert normalise_text(chunk.text) in normalise_text(pages[chunk.page - 1])


def test_chunks_respect_size_bounds_and_overlap() -> None:
    target, overlap = 500, 80
    pages = _long_pages()
    chunks = chunk_pages(pages, target_chars=target, overlap_chars=overlap)

    for chunk in chunks:
        assert 0 < len(chunk.text) <= target
        assert chunk.text == chunk.text.strip() and "  " not in chunk.text and "\n" not in chunk.text
    for previous, current in itertools.pairwise(chunks):
        if previous.page != current.page:
            continue
        assert len(previous.text) >= target // 2
        shared = max(k for k in range(overlap + 1) if previous.text.endswith(current.text[:k]))
        assert 0 < shared <= overlap
        assert current.text[shared] == " "


def test_chunks_keep_every_sentence_and_break_between_sentences() -> None:
    pages = _long_pages()
    chunks = chunk_pages(pages, target_chars=500, overlap_chars=80)

    for page_number, page in enumerate(pages, start=1):
        page_chunks = [chunk.text for chunk in chunks if chunk.page == page_number]
        for sentence in (s for s in FILLER if s in page):
            assert any(sentence in text for text in page_chunks), sentence
        for text in page_chunks:
            assert text.endswith(".")


def test_chunking_splits_text_without_sentence_breaks() -> None:
    pages = ["word " * 700, "x" * 3000]
    chunks = chunk_pages(pages, target_chars=400, overlap_chars=50)

    assert all(len(chunk.text) <= 400 for chunk in chunks)
    assert "".join(chunk.text for chunk in chunks if chunk.page == 2).count("x") >= 3000
    assert all(chunk.text.split(" ")[0] == "word" for chunk in chunks if chunk.page == 1)


def test_chunks_keep_case_and_join_hyphenated_words() -> None:
    [chunk] = chunk_pages(["Regular main-\ntenance of the\n  DW-100   prevents E4."])
    assert chunk.text == "Regular maintenance of the DW-100 prevents E4."


def test_phrase_on_page_three_is_found_in_a_page_three_chunk() -> None:
    filler = " ".join(FILLER) * 4
    pages = [filler, filler, filler + " Descale the heating element with citric acid. " + filler, filler]
    doc = extract_pdf(make_pdf(pages))
    chunks = chunk_pages(doc.pages, target_chars=300, overlap_chars=40)

    hits = [chunk for chunk in chunks if "descale the heating element" in chunk.text.lower()]
    assert hits and {chunk.page for chunk in hits} == {3}


@pytest.mark.parametrize(("target", "overlap"), [(10, 0), (500, 300), (500, -1)])
def test_chunking_rejects_bad_sizes(target: int, overlap: int) -> None:
    with pytest.raises(ValueError):
        chunk_pages(["text"], target_chars=target, overlap_chars=overlap)


# --- embeddings -------------------------------------------------------------------------------------------


def test_hashing_embedder_is_deterministic_and_normalised() -> None:
    texts = ["Descale the heating element.", "Clean the filter every month, then run a hot cycle."]
    first = HashingEmbedder(128).embed(texts)
    again = HashingEmbedder(128).embed(list(reversed(texts)))

    assert first == list(reversed(again))
    for vector in first:
        assert len(vector) == 128
        assert math.isclose(math.sqrt(sum(v * v for v in vector)), 1.0)
    assert HashingEmbedder(128).embed(["", "  !! "]) == [[0.0] * 128] * 2
    assert HashingEmbedder(128).embed([]) == []


def test_hashing_embedder_ranks_shared_words_above_unrelated_text() -> None:
    embedder = load_embedder("hashing:256")
    assert embedder is not None
    query, related, unrelated = embedder.embed(
        [
            "how do I clean the dishwasher filter",
            "Clean the dishwasher filter every month under running water.",
            "The warranty covers spare parts for two years after purchase.",
        ]
    )
    assert _cosine(query, related) > _cosine(query, unrelated) + 0.2


def test_load_embedder_without_spec_means_full_text_only() -> None:
    assert load_embedder(None) is None
    assert load_embedder("") is None
    assert load_embedder("   ") is None


def test_load_hashing_embedder_from_spec() -> None:
    embedder = load_embedder("hashing:64")
    assert isinstance(embedder, HashingEmbedder)
    assert (embedder.name, embedder.dim) == ("hashing:64", 64)


@pytest.mark.parametrize(
    "spec", ["hashing", "hashing:", "hashing:abc", "hashing:0", "hashing:-3", "openai:x"]
)
def test_bad_embedder_spec_raises(spec: str) -> None:
    with pytest.raises(ValueError):
        load_embedder(spec)


def test_sentence_transformers_missing_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # makes the import fail
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    with pytest.raises(RuntimeError, match="sentence-transformers"):
        load_embedder("sentence-transformers:all-MiniLM-L6-v2")


class _FakeModel:
    """Stands in for sentence_transformers.SentenceTransformer (not installed in the test environment)."""

    calls: ClassVar[list[tuple[str, dict[str, Any]]]] = []

    def __init__(self, model: str, **kwargs: Any) -> None:
        if model == "missing":
            raise OSError("not in the local cache")
        _FakeModel.calls.append((model, kwargs))

    def encode(self, texts: list[str], **kwargs: Any) -> list[list[float]]:
        assert kwargs["normalize_embeddings"] is True
        return [[0.6, 0.8, 0.0] for _ in texts]


def test_sentence_transformers_loads_offline_and_normalises(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = types.ModuleType("sentence_transformers")
    fake.SentenceTransformer = _FakeModel  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sentence_transformers", fake)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    _FakeModel.calls.clear()

    embedder = load_embedder("sentence-transformers:/models/minilm")

    assert embedder is not None
    assert (embedder.name, embedder.dim) == ("sentence-transformers:/models/minilm", 3)
    assert _FakeModel.calls == [("/models/minilm", {"local_files_only": True})]
    assert embedder.embed(["a", "b"]) == [[0.6, 0.8, 0.0]] * 2
    assert embedder.embed([]) == []
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    with pytest.raises(RuntimeError, match="local files"):
        load_embedder("sentence-transformers:missing")
