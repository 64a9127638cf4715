"""Held-out evaluation: styles never straddle a split, and the metrics add up."""

from __future__ import annotations

import pytest

from cleaner import evaluate as evaluation
from cleaner.evaluate import Evaluation, cross_validate


def test_metrics_from_known_decisions():
    result = Evaluation(
        styles=("a",) * 6,
        truth=("body", "body", "promo", "boilerplate", "body", "promo"),
        predicted=("body", "promo", "promo", "boilerplate", "body", "body"),
        kept=(True, False, False, False, True, True),
        article_exact=(("a", False),),
        threshold=0.5,
    ).metrics()
    assert result["removable"] == {"precision": 0.6667, "recall": 0.6667, "f1": 0.6667, "support": 3}
    assert result["body_lost"] == pytest.approx(1 / 3, abs=1e-4) and result["body_lost_count"] == 1
    assert result["confusion"]["matrix"] == [[2, 1, 0], [1, 1, 0], [0, 0, 1]]
    assert result["per_label"]["boilerplate"]["f1"] == 1.0
    assert result["articles_exact"] == 0.0


def test_cross_validation_never_trains_on_the_held_out_style(fixture_articles, monkeypatch):
    seen = []
    real_fold = evaluation._fold

    def spy(train, test, thresholds, random_state):
        train_styles = {a.style for a in train}
        test_styles = {a.style for a in test}
        seen.append((train_styles, test_styles))
        return real_fold(train, test, thresholds, random_state)

    monkeypatch.setattr(evaluation, "_fold", spy)
    styles = sorted({a.style for a in fixture_articles})[:3]
    subset = [a for a in fixture_articles if a.style in styles]
    result = cross_validate(subset, n_jobs=1, folds=0).metrics()
    assert len(seen) == 3
    for train_styles, test_styles in seen:
        assert len(test_styles) == 1 and not (train_styles & test_styles)
    assert result["paragraphs"] == sum(len(a.paragraphs) for a in subset)
    assert sum(map(sum, result["confusion"]["matrix"])) == result["paragraphs"]


def test_cross_validation_needs_two_styles(fixture_articles):
    one_style = [a for a in fixture_articles if a.style == fixture_articles[0].style]
    with pytest.raises(ValueError, match="at least 2 publisher styles"):
        cross_validate(one_style)


def test_pages_are_pooled_alone_with_the_page_rule(fixture_articles):
    """The page threshold is chosen on HTML fixtures only, decided as the HTML path decides: a page the
    classifier would strip of most of its text is kept whole."""
    page = next(a for a in fixture_articles if evaluation.is_page(a))
    text = next(a for a in fixture_articles if not evaluation.is_page(a))
    strip_all = [("promo", False)] * len(page.paragraphs)
    strip_first = [("promo", False)] + [("body", True)] * (len(page.paragraphs) - 1)
    results = [{0.9: [(page, strip_all), (text, [("body", True)] * len(text.paragraphs))]},
               {0.9: [(page, strip_first)]}]
    pooled = evaluation._pool(results, 0.9, 2, pages_only=True)
    assert pooled.styles == (page.style,) * (2 * len(page.paragraphs))  # the text article is left out
    assert all(pooled.kept[: len(page.paragraphs)])  # most of the page would go: kept whole
    assert pooled.kept[len(page.paragraphs):] == tuple(keep for _, keep in strip_first)
