"""The library API a pipeline relies on: exact output on the user's example, invariants, streaming, threads."""

from __future__ import annotations

import itertools
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cleaner
from cleaner import CleanerConfig, clean
from cleaner.segment import segment_text


def test_example_article_comes_out_exactly_as_expected(shipped, example_paths):
    article, expected, _ = example_paths
    assert shipped.clean(article.read_text("utf-8")) == expected.read_text("utf-8").rstrip("\n")


def test_example_article_labels_and_metadata(shipped, example_paths):
    article, _, labels = example_paths
    truth = json.loads(labels.read_text("utf-8"))
    result = shipped.analyze(article.read_text("utf-8"))
    assert dict(result.metadata) == truth["metadata"]
    assert [p.kept for p in result.paragraphs] == [p["label"] == "body" for p in truth["paragraphs"]]
    removed = {p.text: p.label for p in result.removed}
    assert removed["Did You Know?"] == "promo"
    assert removed["See Also: " + truth["paragraphs"][3]["text"][len("See Also: "):]] == "promo"
    assert all(0.0 <= p.score <= 1.0 for p in result.paragraphs)


def test_module_level_clean_uses_the_shipped_model():
    text = (
        "The city council voted 7-2 on Tuesday to expand the bus network into the northern suburbs.\n\n"
        "See Also: 10 Stocks Billionaires Are Buying Ahead Of The Holidays\n\n"
        "The expansion will cost $14 million over three years, officials said."
    )
    assert clean(text) == (
        "The city council voted 7-2 on Tuesday to expand the bus network into the northern suburbs.\n\n"
        "The expansion will cost $14 million over three years, officials said."
    )


def test_keep_boilerplate_keeps_credits_but_still_drops_promo(shipped):
    text = (
        "Shares of the chipmaker rose 4% after it raised its full-year revenue forecast on Thursday.\n\n"
        "Read Next: Why This Dividend Stock Could Be A Buy Before Christmas\n\n"
        "The company now expects sales of $8.2 billion, up from an earlier $7.9 billion estimate.\n\n"
        "Photo: Shutterstock"
    )
    default = shipped.analyze(text)
    keeping = shipped.with_config(keep_boilerplate=True).analyze(text)
    assert [p.label for p in default.paragraphs] == ["body", "promo", "body", "boilerplate"]
    assert [p.kept for p in keeping.paragraphs] == [True, False, True, True]


def test_threshold_trades_recall_for_precision(shipped, example_paths):
    article, _, _ = example_paths
    text = article.read_text("utf-8")
    strict = shipped.with_config(threshold=0.999).analyze(text)
    loose = shipped.with_config(threshold=0.001).analyze(text)
    assert len(strict.removed) <= len(shipped.analyze(text).removed) <= len(loose.removed)


def test_bad_config_and_bad_input_types_are_clear_errors(shipped):
    with pytest.raises(ValueError, match="threshold"):
        CleanerConfig(threshold=1.5)
    with pytest.raises(TypeError, match="article 0: expected str, got bytes"):
        shipped.clean(b"bytes are not text")  # type: ignore[arg-type]


def test_clean_many_streams_lazily_and_keeps_order(shipped):
    def endless():
        for i in itertools.count():
            yield f"Story number {i} reports that the mayor opened a new library branch on Main Street."

    streaming = shipped.with_config(batch_size=4)
    first = list(itertools.islice(streaming.clean_many(endless()), 6))  # would hang if it read everything
    assert first == [f"Story number {i} reports that the mayor opened a new library branch on Main Street." for i in range(6)]


def test_clean_many_equals_clean_one_by_one(shipped, fixture_articles):
    texts = [a.text for a in fixture_articles[:40]]
    assert list(shipped.with_config(batch_size=7).clean_many(texts)) == [shipped.clean(t) for t in texts]


def test_one_cleaner_shared_across_threads(shipped, fixture_articles):
    texts = [a.text for a in fixture_articles[:60]]
    expected = [shipped.clean(t) for t in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(shipped.clean, texts)) == expected



# ---- invariants, with hypothesis -------------------------------------------------------------------

def _realistic_paragraphs():
    from tests.conftest import FIXTURES
    from cleaner.fixtures import load_fixtures

    return sorted({p.text for a in load_fixtures(FIXTURES)[::3] for p in a.paragraphs})


REALISTIC = _realistic_paragraphs()
SEPARATORS = st.sampled_from(["\n\n", "\r\n\r\n", "\n \n", "\n\t\n\n", "\r\r"])
paragraph = st.one_of(st.sampled_from(REALISTIC), st.text(min_size=1, max_size=80))
article = st.builds(
    lambda parts, seps, prefix: prefix + "".join(p + s for p, s in zip(parts, seps)),
    st.lists(paragraph, min_size=0, max_size=14),
    st.lists(SEPARATORS, min_size=14, max_size=14),
    st.sampled_from(["", "date 2024-10-24 ", " date 2023-01-02 "]),
)
PROPERTY = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(article)
def test_output_is_an_in_order_subset_of_input_paragraphs_unchanged(shipped, text):
    paragraphs, _ = segment_text(text)
    inputs = [p.text for p in paragraphs]
    output = shipped.clean(text)
    kept = output.split("\n\n") if output else []
    iterator = iter(inputs)
    assert all(any(k == candidate for candidate in iterator) for k in kept)  # in order, unchanged, none invented


@PROPERTY
@given(article)
def test_same_input_same_output_and_idempotent(shipped, text):
    once = shipped.clean(text)
    assert shipped.clean(text) == once
    assert shipped.clean(once) == once


@PROPERTY
@given(st.text())
def test_any_string_never_raises(shipped, text):
    result = shipped.analyze(text)
    assert isinstance(result.text, str)
    assert shipped.clean(result.text) == result.text


def test_public_api_is_small_and_exported():
    assert set(cleaner.__all__) == {
        "clean", "Cleaner", "CleanerConfig", "CleanResult", "ParagraphResult", "Paragraph", "ModelError", "__version__",
    }
