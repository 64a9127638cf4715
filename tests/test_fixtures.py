"""The fixture set: its format, and the coverage the product promises (issue 2)."""

from __future__ import annotations

from collections import Counter

import pytest

from cleaner.fixtures import FixtureError, fixtures_digest, load_fixtures, parse_text_fixture


def test_parser_reads_labels_tags_comments_and_continuations(tmp_path):
    path = tmp_path / "wire" / "001-x.txt"
    path.parent.mkdir()
    path.write_text(
        "# title: A test\n"
        "[body:date-prefix] date 2024-10-24 Stocks rose on Monday.\n"
        "\n"
        "[promo:see-also] See Also: Five Stocks To Watch\n"
        "[boilerplate:contact-info] Media Contact:\n"
        "  Jane Roe, press@example.com\n"
        "[body] The end.\n",
        "utf-8",
    )
    (article,) = load_fixtures(tmp_path)
    assert article.style == "wire"
    assert article.metadata == {"date": "2024-10-24"}
    assert [p.text for p in article.paragraphs] == [
        "Stocks rose on Monday.", "See Also: Five Stocks To Watch", "Media Contact:\nJane Roe, press@example.com", "The end.",
    ]
    assert article.labels == ("body", "promo", "boilerplate", "body")
    assert article.tags == ("date-prefix", "see-also", "contact-info", "")
    assert article.text.startswith("date 2024-10-24 Stocks rose")
    assert article.expected_text == "Stocks rose on Monday.\n\nThe end."


@pytest.mark.parametrize(
    "line, message",
    [
        ("[news] Hello", "unknown label 'news'"),
        ("[promo] Buy now", "a promo paragraph needs its family"),
        ("body Hello", "expected '\\[label\\] text'"),
        ("  orphan continuation", "continuation line before any paragraph"),
    ],
)
def test_parser_errors_name_file_line_and_problem(tmp_path, line, message):
    with pytest.raises(FixtureError, match=rf"x\.txt:1: {message}"):
        parse_text_fixture(line + "\n", tmp_path / "x.txt")


def test_missing_folder_and_empty_folder_are_clear_errors(tmp_path):
    with pytest.raises(FixtureError, match="does not exist"):
        load_fixtures(tmp_path / "nope")
    with pytest.raises(FixtureError, match="no fixture files"):
        load_fixtures(tmp_path)


def test_digest_changes_when_a_label_changes(tmp_path):
    path = tmp_path / "s" / "a.txt"
    path.parent.mkdir()
    path.write_text("[body] One.\n[body] Two.\n", "utf-8")
    before = fixtures_digest(tmp_path)
    path.write_text("[body] One.\n[promo:see-also] Two.\n", "utf-8")
    assert fixtures_digest(tmp_path) != before


# ---- what the shipped fixture set must cover ----------------------------------------------------

def test_fixture_set_size_and_styles(fixture_articles):
    assert len(fixture_articles) >= 200
    assert sum(len(a.paragraphs) for a in fixture_articles) >= 3000
    assert len({a.style for a in fixture_articles}) >= 15


def test_at_least_25_promo_and_boilerplate_families(fixture_articles):
    families = {f"{label}:{tag}" for a in fixture_articles for label, tag in zip(a.labels, a.tags) if label != "body"}
    assert len(families) >= 25


def test_promo_and_boilerplate_sit_at_start_middle_and_end(fixture_articles):
    places = Counter()
    for article in fixture_articles:
        n = len(article.labels)
        for i, label in enumerate(article.labels):
            if label != "body":
                places["start" if i < n / 3 else "end" if i >= 2 * n / 3 else "middle"] += 1
    assert min(places.values()) >= 200, places


def test_a_third_of_articles_carry_hard_negatives(fixture_articles):
    hard = [a for a in fixture_articles if any(l == "body" and t for l, t in zip(a.labels, a.tags))]
    assert len(hard) >= len(fixture_articles) / 3
    lead_ins = [p.text for a in fixture_articles for p, l, t in zip(a.paragraphs, a.labels, a.tags) if t == "lead-in"]
    assert any(t.startswith("What Happened:") for t in lead_ins) and any(t.startswith("Why It Matters:") for t in lead_ins)


def test_every_fixture_article_has_body(fixture_articles):
    for article in fixture_articles:
        assert "body" in article.labels, article.path
