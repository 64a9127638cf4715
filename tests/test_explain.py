"""Explain: the decisions are the cleaner's own, and the drivers are real features of the model."""

from __future__ import annotations

from cleaner import Cleaner
from cleaner.explain import explain, explain_text
from cleaner.model import feature_names
from cleaner.segment import segment_text
from tests.conftest import ARTICLE, PROMO


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
