"""Explain: the decisions are the cleaner's own, and the drivers are real features of the model."""

from __future__ import annotations

import pytest

from cleaner import Cleaner
from cleaner.explain import explain, explain_html, explain_text
from cleaner.html import html_cleaner
from cleaner.model import feature_names
from cleaner.segment import segment_text
from tests.conftest import ARTICLE, MOSTLY_PROMO_PAGE, PAGE, PROMO


def test_explanation_matches_the_cleaner_decisions(cleaner: Cleaner) -> None:
    explanation = explain_text(cleaner, ARTICLE, top=4)
    result = cleaner.analyze(ARTICLE)
    assert explanation.metadata == {"date": "2024-10-24"}
    assert explanation.threshold == cleaner.threshold
    assert [(p.index, p.text, p.label, p.score, p.kept) for p in explanation.paragraphs] == [
        (p.index, p.text, p.label, p.score, p.kept) for p in result.paragraphs
    ]


def test_drivers_are_the_strongest_model_features(cleaner: Cleaner) -> None:
    names = set(feature_names(cleaner.pipeline))
    explanation = explain_text(cleaner, ARTICLE, top=3)
    for paragraph in explanation.paragraphs:
        weights = [abs(d.weight) for d in paragraph.drivers]
        assert len(paragraph.drivers) == 3 and weights == sorted(weights, reverse=True)
        assert all(d.feature in names for d in paragraph.drivers)
    promo = next(p for p in explanation.paragraphs if p.text == PROMO)
    assert not promo.kept and promo.drivers[0].weight > 0  # the strongest push is toward removal


def test_explain_segmented_input_and_keep_boilerplate(cleaner: Cleaner) -> None:
    paragraphs, metadata = segment_text(ARTICLE)
    lenient = cleaner.with_config(keep_boilerplate=True)
    explanation = explain(lenient, paragraphs, metadata, top=0)
    assert all(p.drivers == () for p in explanation.paragraphs)
    assert explain(cleaner, (), {}).paragraphs == ()


@pytest.mark.parametrize(("page", "whole"), [(PAGE, False), (MOSTLY_PROMO_PAGE, True)], ids=["promo", "mostly-promo"])
def test_a_page_is_explained_with_the_decisions_of_the_html_path(cleaner: Cleaner, page: str, whole: bool) -> None:
    explanation = explain_html(cleaner, page.encode("utf-8"), top=2)
    result = cleaner.analyze_html(page)
    assert (explanation.threshold, explanation.kept_whole) == (html_cleaner(cleaner).threshold, whole)
    assert explanation.metadata == result.metadata
    assert [(p.index, p.text, p.label, p.score, p.kept) for p in explanation.paragraphs] == [
        (p.index, p.text, p.label, p.score, p.kept) for p in result.paragraphs
    ]
    assert all(len(p.drivers) == 2 for p in explanation.paragraphs)


def test_a_threshold_set_is_the_one_a_page_is_explained_at(cleaner: Cleaner) -> None:
    strict = cleaner.with_config(threshold=0.5)
    assert explain_html(strict, PAGE).threshold == 0.5
    assert explain_html(cleaner, "").paragraphs == ()
