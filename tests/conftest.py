"""Shared test data: one small article in our own words (with a promo line), and the shipped model."""

from __future__ import annotations

from pathlib import Path

import pytest

from cleaner import Cleaner

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

USER_EXAMPLE = Path(__file__).resolve().parents[1].parent / "shared" / "examples" / "000_db6be9cb37a869b3.txt"


@pytest.fixture(scope="session")
def cleaner() -> Cleaner:
    return Cleaner.load()


@pytest.fixture(scope="session")
def cleaned(cleaner: Cleaner) -> str:
    """What the cleaner makes of ARTICLE (the promo line and the date prefix gone)."""
    text = cleaner.clean(ARTICLE)
    assert PROMO not in text and "date 2024" not in text
    return text
