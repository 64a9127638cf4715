"""Shared test fixtures: paths, the shipped cleaner, and a small model trained on a slice of the fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from cleaner import Cleaner
from cleaner.evaluate import fit_pipeline
from cleaner.fixtures import load_fixtures

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"
EXAMPLES = REPO.parent / "shared" / "examples"
EXAMPLE_ID = "000_db6be9cb37a869b3"


@pytest.fixture(scope="session")
def shipped() -> Cleaner:
    return Cleaner.load()


@pytest.fixture(scope="session")
def fixture_articles():
    return load_fixtures(FIXTURES)


@pytest.fixture(scope="session")
def small_pipeline(fixture_articles):
    """A model trained on every fourth fixture article: quick to fit, good enough to exercise code paths."""
    return fit_pipeline(fixture_articles[::4])


@pytest.fixture()
def example_paths():
    article = EXAMPLES / f"{EXAMPLE_ID}.txt"
    if not article.exists():
        pytest.skip(f"the user's example article is not at {article} (../shared/examples is absent)")
    return article, EXAMPLES / f"{EXAMPLE_ID}.expected.txt", EXAMPLES / f"{EXAMPLE_ID}.labels.json"
