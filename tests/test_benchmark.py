"""The article-extraction benchmark script: its metric, and a short run when the data is on this machine."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "article_extraction.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("article_extraction", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


bench = _load_script()


def _data_or_skip() -> Path:
    try:
        return bench.resolve_data()
    except bench.DataMissing as exc:
        pytest.skip(f"benchmark data absent, skipping: {exc}")


# ---------------------------------------------------------------------------------------------------
# The metric (no data needed)


def test_shingles_are_token_4grams():
    assert bench.shingles("The cat, the hat; and a bat.") == {
        ("The", "cat", "the", "hat"): 1, ("cat", "the", "hat", "and"): 1, ("the", "hat", "and", "a"): 1,
        ("hat", "and", "a", "bat"): 1,
    }
    assert bench.shingles("two words") == {("two", "words"): 1}  # shorter than n: one short shingle
    assert bench.shingles("") == {} and bench.shingles(None) == {}


def test_document_score_is_normalised():
    text = "one two three four five six seven"
    assert bench.score_document(text, text) == (1.0, 0.0, 0.0)
    tp, fp, fn = bench.score_document(text, text + " eight nine")
    assert tp + fp + fn == pytest.approx(1.0) and fp > 0 and fn == 0
    assert bench.score_document(text, "") == (0.0, 0.0, 1.0)
    assert bench.score_document("", "") == (0.0, 0.0, 0.0)


def test_aggregate_averages_over_documents_then_takes_the_harmonic_mean():
    scores = [(1.0, 0.0, 0.0), (0.5, 0.5, 0.0), (0.0, 0.0, 1.0)]  # perfect, half junk, nothing extracted
    metrics = bench.aggregate(scores)
    assert metrics["precision"] == pytest.approx((1.0 + 0.5) / 2)  # no prediction: not in precision
    assert metrics["recall"] == pytest.approx((1.0 + 1.0 + 0.0) / 3)
    p, r = metrics["precision"], metrics["recall"]
    assert metrics["f1"] == pytest.approx(2 * p * r / (p + r))


def test_missing_data_skips_with_a_message(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(bench.DATA_ENV, raising=False)
    assert bench.main(["--data", str(tmp_path / "nowhere")]) == 0
    assert "skipped" in capsys.readouterr().err
    monkeypatch.setenv(bench.DATA_ENV, str(tmp_path))
    with pytest.raises(bench.DataMissing, match=bench.DATA_ENV):
        bench.resolve_data()


# ---------------------------------------------------------------------------------------------------
# A handful of real pages (skipped when the data is absent)


def test_scorer_on_a_handful_of_real_pages():
    pages = bench.load_pages(_data_or_skip(), limit=8)
    assert len(pages) == 8 and all(p.truth for p in pages)
    truth_only = bench.aggregate([bench.score_document(p.truth, p.truth) for p in pages])
    assert truth_only == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    trafilatura = bench.run("trafilatura", bench.trafilatura_extractor(), pages)
    assert 0.7 < trafilatura.precision <= 1.0 and 0.8 < trafilatura.recall <= 1.0
    cleaner = bench.CleanerExtractor()
    result = bench.run("cleaner", cleaner, pages)
    assert len(cleaner.results) == len(pages)
    # The cleaner only removes paragraphs from what trafilatura extracts: it finds no more of the body.
    assert result.recall <= trafilatura.recall + 0.01
    report = bench.removal_report(pages, cleaner.results)
    assert report["dropped"] == report["body_lost"] + report["junk_caught"]


# ---------------------------------------------------------------------------------------------------
# The audit of the body the cleaner lost (no data needed)


def _decided(*paragraphs: tuple[str, bool]):
    from cleaner.clean import CleanResult, ParagraphResult

    return CleanResult(tuple(
        ParagraphResult(i, text, "body" if kept else "boilerplate", 0.1 if kept else 0.95, kept)
        for i, (text, kept) in enumerate(paragraphs)
    ))


def test_audit_splits_the_recall_lost_by_judgement():
    body = "The council voted on Tuesday to close the old bridge for repairs until the spring."
    credit = "Originally published by the County Ledger and shared with permission here."
    subhead = "What the closure means for the morning commute downtown"
    pages = [bench.Page("p1", "", "\n".join([body, credit, subhead]))]
    results = [_decided((body, True), (credit, False), (subhead, False), ("Share this story on social media", False))]
    judgements = {("p1", bench.paragraph_key(credit)): "removable"}
    rows = {row["judgement"]: row for row in bench.audit_losses(pages, results, judgements)}
    as_is = bench.aggregate([bench.score_document(pages[0].truth, results[0].text)])["recall"]
    # The share prompt is not in the truth: junk caught, not audited. The subhead has no judgement yet.
    assert rows["removable"]["paragraphs"] == 1 and rows["not judged"]["paragraphs"] == 1
    assert rows["body"]["paragraphs"] == rows["unsure"]["paragraphs"] == 0
    assert rows["body"]["recall_if_kept"] == pytest.approx(as_is)
    assert as_is < rows["not judged"]["recall_if_kept"] < 1.0
    assert rows["removable"]["recall_if_kept"] > as_is
    assert rows["all but removable"]["recall_if_kept"] == pytest.approx(rows["not judged"]["recall_if_kept"])


def test_the_shipped_audit_file_is_well_formed_and_stores_no_page_text():
    raw = bench.AUDIT.read_text("utf-8")
    judgements = bench.load_audit()
    assert judgements and set(judgements.values()) <= set(bench.JUDGEMENTS)
    assert all(len(key) == 16 and int(key, 16) >= 0 for _, key in judgements)
    assert '"text"' not in raw


def test_a_bad_audit_file_names_the_file_and_entry(tmp_path):
    path = tmp_path / "audit.json"
    path.write_text('{"judgements": [{"page": "p", "paragraph_sha1": "00", "judgement": "maybe"}]}', "utf-8")
    with pytest.raises(SystemExit, match=r"audit\.json, entry 1: judgement must be one of"):
        bench.load_audit(path)
    path.write_text("not json", "utf-8")
    with pytest.raises(SystemExit, match=r"audit\.json: cannot read its judgements"):
        bench.load_audit(path)
