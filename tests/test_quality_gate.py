"""The pinned quality gate, run on the full fixture set held out by publisher style (as CI does)."""

from __future__ import annotations

from cleaner.evaluate import cross_validate
from cleaner.gate import check_gate, read_gate
from tests.conftest import REPO


def test_held_out_quality_meets_the_pinned_gate(fixture_articles, shipped):
    metrics = cross_validate(fixture_articles, threshold=shipped.info.threshold).metrics()
    assert check_gate(metrics, read_gate(REPO / "tests" / "quality_gate.json")) == []
