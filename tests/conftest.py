"""Shared test data: paths, a small article in our own words (with a promo line), the shipped cleaner,
and a small model trained on a slice of the fixtures."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

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

# ARTICLE as a web page. The promo is an in-body ``<p>See Also: <a>...</a></p>``, which main-content
# extraction keeps: only the classifier can take it out.
HEADLINE = "Harbor Lane Foods raises its forecast"
BODY = [p for p in ARTICLE.removeprefix("date 2024-10-24 ").split("\n\n") if p != PROMO]
PROMO_HTML = f'<p>See Also: <a href="/five-dividend-stocks">{PROMO.removeprefix("See Also: ")}</a></p>'
# Promo a page might carry in its body, all of it well above any threshold on its own.
MORE_PROMO_HTML = [
    "<p>Sign up for our free morning newsletter and get the day's top stories delivered to your inbox every "
    "morning.</p>",
    '<p>Read more: <a href="/ferry">Ferry timetable changes as the bridge reopens next week</a></p>',
    "<p>Subscribe today and save 50% on your first year of unlimited digital access. Cancel anytime.</p>",
    "<p>Follow us on Facebook, Twitter and Instagram for the latest news and updates from the city.</p>",
    '<p>Don\'t miss: <a href="/getaways">The ten best weekend getaways within two hours of the city</a></p>',
]


def html_page(blocks: Sequence[str]) -> str:
    """A news page: site navigation, headline, ``blocks`` (one HTML element each) as the story, footer."""
    story = "\n".join(blocks)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{HEADLINE} | Example Business News</title></head>
<body>
<nav class="site-nav"><a href="/">Home</a> <a href="/markets">Markets</a> <a href="/tech">Tech</a></nav>
<article>
<h1>{HEADLINE}</h1>
<div class="story-body">
{story}
</div>
</article>
<footer><p>&copy; 2025 Example Business News</p></footer>
</body></html>"""


PAGE = html_page([f"<p>{p}</p>" for p in BODY[:2]] + [PROMO_HTML] + [f"<p>{p}</p>" for p in BODY[2:]])
# A closing line the model finds promo-like (tests check its score lies between the thresholds they use).
MILD_PROMO = "Have a tip about the company? Email our newsroom."
MILD_PROMO_PAGE = html_page([f"<p>{p}</p>" for p in BODY] + [f"<p>{MILD_PROMO}</p>"])
# One paragraph of story and a page of promo: the classifier would remove most of what was extracted.
MOSTLY_PROMO_PAGE = html_page([f"<p>{BODY[0]}</p>", PROMO_HTML, *MORE_PROMO_HTML])


@pytest.fixture(scope="session")
def shipped() -> Cleaner:
    return Cleaner.load()


@pytest.fixture(scope="session")
def cautious_page_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped model with a text threshold of 0.3 and a page threshold of 0.999 in its sidecar (the
    sidecar is what sets them), so that a line the model finds promo-like sits between the two whatever
    the shipped thresholds are."""
    import json
    import shutil

    from cleaner.model import shipped_model_path

    folder = tmp_path_factory.mktemp("cautious-model")
    source = shipped_model_path()
    shutil.copy(source, folder / source.name)
    meta = json.loads(source.with_suffix(".json").read_text("utf-8"))
    meta["threshold"], meta["html_threshold"] = 0.3, 0.999
    (folder / source.with_suffix(".json").name).write_text(json.dumps(meta), "utf-8")
    return folder / source.name


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
