"""Shared test data: paths, a small article in our own words (with a promo line), the shipped cleaner,
and a small model trained on a slice of the fixtures."""

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

ARTICLE = (
    "date 2024-10-24 Shares of Harbor Lane Foods rose 4% on Tuesday after the grocer raised its full-year "
    "forecast, citing stronger demand at its suburban stores.\n\n"
    "What Happened: The company said same-store sales grew 6.1% in the third quarter, ahead of the 4.5% "
    "analysts had expected.\n\n"
    "See Also: Five Dividend Stocks Wall Street Analysts Love Heading Into 2025\n\n"
    "\"We saw customers trade up to our own brands,\" chief executive Dana Ruiz told analysts on a call.\n\n"
    "The company will report fourth-quarter results in February."
)
PROMO = "See Also: Five Dividend Stocks Wall Street Analysts Love Heading Into 2025"

USER_EXAMPLE = EXAMPLES / f"{EXAMPLE_ID}.txt"


@pytest.fixture(scope="session")
def shipped() -> Cleaner:
    return Cleaner.load()


@pytest.fixture(scope="session")
def cleaner(shipped: Cleaner) -> Cleaner:
    """The shipped cleaner, under the name the CLI and batch tests use."""
    return shipped


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


@pytest.fixture(scope="session")
def cleaned(cleaner: Cleaner) -> str:
    """What the cleaner makes of ARTICLE (the promo line and the date prefix gone)."""
    text = cleaner.clean(ARTICLE)
    assert PROMO not in text and "date 2024" not in text
    return text
