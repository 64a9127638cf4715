"""The HTML path: segmentation, page features, fallbacks, encodings, robustness, HTML fixtures."""

from __future__ import annotations

import doctest
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cleaner.html as html_module
from cleaner import Cleaner, CleanResult, Paragraph, ParagraphResult
from cleaner.fixtures import FixtureError, load_fixtures, parse_html_fixture
from cleaner.html import (
    HTML_THRESHOLD, MAX_REMOVED_SHARE, analyze_html, analyze_html_batch, analyze_segmentations, decide_segmentations,
    decode_html, html_cleaner, html_to_paragraphs, segment_html,
)
from tests.conftest import MOSTLY_PROMO_PAGE

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
HTML_FIXTURES = sorted((FIXTURES / "html").rglob("*.html"))

STORY = [
    "The harbour bridge reopened to traffic on Monday after eight months of repairs that cost the city "
    "about $41 million, officials said.",
    "Engineers replaced corroded steel cables and resurfaced the deck, which had been closed to cars since "
    "a routine inspection found cracks in two supports last spring.",
    "The bridge now carries a protected cycle lane on its eastern side, and the speed limit has been "
    "lowered to 40 km/h.",
    "Commuters said the reopening would cut their journeys by up to half an hour. The city expects about "
    "60,000 vehicles a day to use it.",
]


HEAD = '<meta charset="utf-8"><title>Harbour bridge reopens after repairs | Example Times</title>'


def page(body: str, head: str = HEAD) -> str:
    return f"""<!DOCTYPE html>
<html lang="en"><head>{head}</head>
<body>
<nav class="site-nav"><a href="/">Home</a> <a href="/news">News</a> <a href="/sport">Sport</a></nav>
<article>
<h1>Harbour bridge reopens after repairs</h1>
<div class="story-body">
{body}
</div>
</article>
<footer><p>&copy; 2025 Example Times</p></footer>
</body></html>"""


FULL_PAGE = page(f"""
<p>{STORY[0]}</p>
<p>{STORY[1]}</p>
<h2>What changed</h2>
<p>{STORY[2]}</p>
<ul><li>New steel cables on both towers</li><li>A resurfaced four-lane deck</li><li>A protected cycle lane</li></ul>
<blockquote><p>We built it to last another hundred years, the chief engineer said at the opening.</p></blockquote>
<table><tr><th>Item</th><th>Cost</th></tr>
<tr><td>Cables</td><td>$22 million</td></tr><tr><td>Deck</td><td>$19 million</td></tr></table>
<p>See Also: <a href="/news/ferry">Ferry timetable changes as the bridge reopens</a></p>
<div class="story-extra inline-promo-unit">
<p>Get the morning headlines in your inbox: sign up for the Daily Briefing newsletter today.</p></div>
<p>{STORY[3]}</p>
""")


def by_text(paragraphs: tuple[Paragraph, ...], start: str) -> Paragraph:
    matches = [p for p in paragraphs if p.text.startswith(start)]
    assert len(matches) == 1, [p.text for p in paragraphs]
    return matches[0]


# ---------------------------------------------------------------------------------------------------
# Segmentation of structure


def test_main_content_comes_out_in_order_without_page_chrome():
    paragraphs, _ = html_to_paragraphs(FULL_PAGE)
    texts = [p.text for p in paragraphs]
    assert texts[0] == STORY[0] and texts[-1] == STORY[3]
    positions = [texts.index(s) for s in STORY]
    assert positions == sorted(positions)
    assert not any(t in ("Home", "News", "Sport") or "2025 Example Times" in t for t in texts)


def test_structure_is_kept_as_tags():
    paragraphs, _ = html_to_paragraphs(FULL_PAGE)
    assert by_text(paragraphs, "What changed").tag == "h2"
    listed = by_text(paragraphs, "New steel cables")
    assert listed.tag == "li"
    assert listed.text.split("\n") == [
        "New steel cables on both towers", "A resurfaced four-lane deck", "A protected cycle lane",
    ]
    assert by_text(paragraphs, "We built it to last").tag == "blockquote"
    table = by_text(paragraphs, "Item | Cost")
    assert table.tag == "table"
    assert table.text.split("\n")[1:] == ["Cables | $22 million", "Deck | $19 million"]
    assert by_text(paragraphs, STORY[0]).tag == "p"


def test_headline_goes_to_metadata_not_to_paragraphs():
    paragraphs, metadata = html_to_paragraphs(FULL_PAGE)
    assert metadata["title"] == "Harbour bridge reopens after repairs"
    assert all(p.text != "Harbour bridge reopens after repairs" for p in paragraphs)


def test_a_subhead_that_the_title_happens_to_contain_stays():
    subhead = page(f"<p>{STORY[0]}</p><h2>Repairs</h2><p>{STORY[1]}</p><p>{STORY[2]}</p><p>{STORY[3]}</p>")
    paragraphs, _ = html_to_paragraphs(subhead)
    assert by_text(paragraphs, "Repairs").tag == "h2"


def test_page_metadata_is_read_from_the_head():
    head = (
        '<meta charset="utf-8"><title>Harbour bridge reopens | Example Times</title>'
        '<meta property="og:title" content="Harbour bridge reopens after repairs">'
        '<meta property="article:published_time" content="2025-03-04T14:20:00Z">'
        '<link rel="canonical" href="https://example.test/bridge">'
    )
    _, metadata = html_to_paragraphs(page("".join(f"<p>{s}</p>" for s in STORY), head))
    assert metadata == {
        "title": "Harbour bridge reopens after repairs", "url": "https://example.test/bridge", "date": "2025-03-04",
    }


# ---------------------------------------------------------------------------------------------------
# What the page adds: link density and containers


def test_link_density_is_the_share_of_characters_inside_links():
    paragraphs, _ = html_to_paragraphs(FULL_PAGE)
    see_also = by_text(paragraphs, "See Also:")
    linked = len("Ferrytimetablechangesasthebridgereopens")
    assert see_also.link_density == pytest.approx(linked / (linked + len("SeeAlso:")), abs=1e-3)
    assert by_text(paragraphs, STORY[0]).link_density == 0.0


def test_container_carries_class_tokens_of_the_block_and_its_ancestors():
    paragraphs, _ = html_to_paragraphs(FULL_PAGE)
    promo = by_text(paragraphs, "Get the morning headlines")
    assert "inline-promo-unit" in promo.container and "story-extra" in promo.container
    assert "story-body" in promo.container
    assert by_text(paragraphs, STORY[0]).container == "story-body"


def test_container_stops_at_the_article_and_names_landmarks(monkeypatch):
    import trafilatura

    body = "".join(f"<p>{s}</p>" for s in STORY)
    aside = (
        '<aside class="pullout" id="box-7"><p>A shorter route for cyclists will open across the new lane '
        "next spring, the council said in a statement on Monday.</p></aside>"
    )
    markup = (
        f'<html><body class="page-wide"><main class="layout"><article class="post category-video">'
        f'<div class="text">{body}{aside}</div></article></main></body></html>'
    )
    paragraphs, _ = html_to_paragraphs(markup)
    # nothing from article/main/body: "category-video" describes the page, not the block
    assert by_text(paragraphs, STORY[0]).container == "text"
    # trafilatura drops the aside; the fallback segmentation keeps it, and names the landmark
    monkeypatch.setattr(trafilatura, "bare_extraction", lambda *args, **kwargs: None)
    paragraphs, _ = html_to_paragraphs(markup)
    assert by_text(paragraphs, "A shorter route").container == "aside pullout box-7 text"
    assert by_text(paragraphs, STORY[0]).container == "text"


def test_sources_point_into_the_page():
    segmentation = segment_html(FULL_PAGE)
    assert segmentation.extractor == "trafilatura"
    assert len(segmentation.sources) == len(segmentation.paragraphs)
    first = segmentation.sources[0]
    assert [element.tag for element in first] == ["p"]
    assert first[0].text == STORY[0]


# ---------------------------------------------------------------------------------------------------
# Fallbacks


def test_a_one_block_fragment_is_segmented_directly():
    segmentation = segment_html('<div class="promo">See Also: <a href="/x">Five stocks</a></div>')
    assert segmentation.extractor == "fallback"  # trafilatura refuses a single-block fragment
    assert segmentation.paragraphs == (Paragraph("See Also: Five stocks", "div", 0.5556, "promo"),)


def test_a_fragment_keeps_its_paragraphs():
    paragraphs, _ = html_to_paragraphs(
        '<p>Stocks rose on Monday.</p><p class="promo">See Also: <a href="/x">Five stocks</a></p>'
    )
    assert [p.text for p in paragraphs] == ["Stocks rose on Monday.", "See Also: Five stocks"]
    assert paragraphs[1].container == "promo"
    assert paragraphs[1].link_density > 0.5


def test_when_trafilatura_finds_nothing_the_page_is_segmented_with_beautifulsoup(monkeypatch):
    import trafilatura

    monkeypatch.setattr(trafilatura, "bare_extraction", lambda *args, **kwargs: None)
    segmentation = segment_html(FULL_PAGE)
    assert segmentation.extractor == "fallback"
    texts = [p.text for p in segmentation.paragraphs]
    assert all(s in texts for s in STORY)
    assert "Home News Sport" not in " ".join(texts)  # <nav> is dropped even in the fallback


def test_when_trafilatura_raises_the_page_still_comes_out(monkeypatch):
    import trafilatura

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(trafilatura, "bare_extraction", broken)
    paragraphs, _ = html_to_paragraphs(FULL_PAGE)
    assert STORY[0] in [p.text for p in paragraphs]


def test_scripts_styles_and_comments_never_become_text():
    paragraphs, _ = html_to_paragraphs(
        "<div><script>var promo = 'See Also';</script><style>p{color:red}</style>"
        "<!-- Read More: hidden --><p>Only this is text.</p></div>"
    )
    assert [p.text for p in paragraphs] == ["Only this is text."]


# ---------------------------------------------------------------------------------------------------
# Encodings


CAFE = "Le café «Chez Zoë» a rouvert ses portes ce matin, après deux ans de travaux."


@pytest.mark.parametrize(
    "declaration, encoding",
    [
        ('<meta charset="windows-1252">', "cp1252"),
        ('<meta charset="ISO-8859-1">', "cp1252"),  # read as windows-1252, as browsers do
        ('<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-15">', "iso8859-15"),
        ("<meta charset='koi8-r'>", "koi8-r"),
    ],
)
def test_declared_charset_is_honoured(declaration, encoding):
    text = CAFE if encoding != "koi8-r" else "Кафе \"У Зои\" снова открылось сегодня утром."
    data = f"<html><head>{declaration}</head><body><p>{text}</p></body></html>".encode(encoding)
    assert decode_html(data).count(text) == 1
    paragraphs, _ = html_to_paragraphs(data)
    assert [p.text for p in paragraphs] == [text]


def test_xml_declaration_is_honoured_and_stripped():
    data = f'<?xml version="1.0" encoding="iso-8859-15"?><html><body><p>{CAFE}</p></body></html>'.encode("iso8859-15")
    paragraphs, _ = html_to_paragraphs(data)
    assert [p.text for p in paragraphs] == [CAFE]


def test_curly_quotes_in_windows_1252_are_not_mojibake():
    data = b'<html><head><meta charset="iso-8859-1"></head><body><p>\x93We are back,\x94 she said.</p></body></html>'
    paragraphs, _ = html_to_paragraphs(data)
    assert paragraphs[0].text == "\u201cWe are back,\u201d she said."


@pytest.mark.parametrize(
    "bom, encoding", [(b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")]
)
def test_byte_order_mark_wins(bom, encoding):
    data = bom + f'<html><head><meta charset="windows-1252"></head><body><p>{CAFE}</p></body></html>'.encode(encoding)
    assert CAFE in decode_html(data)


def test_undeclared_bytes_are_utf8_or_detected():
    assert CAFE in decode_html(f"<p>{CAFE}</p>".encode("utf-8"))
    long_french = " ".join([CAFE] * 20)
    assert "café" in decode_html(f"<html><body><p>{long_french}</p></body></html>".encode("cp1252"))


def test_a_lying_declaration_falls_back_to_what_decodes():
    french = " ".join([CAFE] * 20)
    data = f'<html><head><meta charset="utf-8"></head><body><p>{french}</p></body></html>'.encode("cp1252")
    assert "café" in decode_html(data)


def test_utf16_declared_in_ascii_bytes_reads_as_utf8():
    data = f'<html><head><meta charset="utf-16"></head><body><p>{CAFE}</p></body></html>'.encode("utf-8")
    assert CAFE in decode_html(data)


def test_str_input_is_taken_as_decoded():
    paragraphs, _ = html_to_paragraphs(f'<html><head><meta charset="koi8-r"></head><body><p>{CAFE}</p></body></html>')
    assert paragraphs[0].text == CAFE


def test_other_types_are_refused():
    with pytest.raises(TypeError, match="str or bytes"):
        html_to_paragraphs(42)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------
# Broken markup never raises


BROKEN = [
    "", "   ", "\x00", "<", "<<<>>><div", "</p></div></html>", "<html>", "<html><body></body></html>",
    "<p>unclosed <b>bold <i>italic", "<table><tr><td>cell<td>cell</table></p>", "<div" * 2000,
    "<p>" + "<span>" * 3000 + "deep" + "</span>" * 3000 + "</p>", "<?xml version='1.0'?><p>x</p>",
    '<?xml version="1.0" encoding="nonsense"?><p>x</p>', "<html><head><meta charset='nonsense'></head></html>",
    "<svg><text>not prose</text></svg>", "<p>a</p>" * 500, "\ufeff<p>bom in str</p>", "<p>\udcff lone surrogate</p>",
]


@pytest.mark.parametrize("markup", BROKEN, ids=range(len(BROKEN)))
def test_broken_markup_never_raises(markup):
    paragraphs, metadata = html_to_paragraphs(markup)
    assert isinstance(paragraphs, tuple) and isinstance(metadata, dict)
    assert all(isinstance(p, Paragraph) and p.text.strip() for p in paragraphs)


@pytest.mark.parametrize(
    "data", [b"", b"\x00\xff\xfe\x00", b"\xff" * 100, b"<meta charset=utf-16><p>x", bytes(range(256))]
)
def test_broken_bytes_never_raise(data):
    paragraphs, _ = html_to_paragraphs(data)
    assert isinstance(paragraphs, tuple)


_MARKUP_BITS = st.sampled_from(
    ["<p>", "</p>", "<div class='related'>", "</div>", "<a href='/x'>", "</a>", "<br>", "<li>", "<table>",
     "<td>", "<h2>", "<!--", "-->", "<script>", "</script>", "&amp;", "&#0;", "&nbsp;", "See Also: ",
     "Stocks rose. ", "\n", " ", "<", ">", "é", "\u200b"]
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_MARKUP_BITS, max_size=60).map("".join))
def test_random_markup_never_raises(markup):
    paragraphs, _ = html_to_paragraphs(markup)
    for paragraph in paragraphs:
        assert 0.0 <= paragraph.link_density <= 1.0


def test_same_page_same_paragraphs():
    assert html_to_paragraphs(FULL_PAGE) == html_to_paragraphs(FULL_PAGE)
    assert html_to_paragraphs(FULL_PAGE.encode("utf-8")) == html_to_paragraphs(FULL_PAGE)


def test_docstring_examples():
    assert doctest.testmod(html_module).failed == 0


# ---------------------------------------------------------------------------------------------------
# Deciding on pages


@pytest.fixture(scope="module")
def shipped() -> Cleaner:
    return Cleaner.load()


def test_analyze_html_returns_an_in_order_subset(shipped):
    result = analyze_html(shipped, FULL_PAGE)
    paragraphs, metadata = html_to_paragraphs(FULL_PAGE)
    assert [p.text for p in result.paragraphs] == [p.text for p in paragraphs]
    assert result.metadata == metadata
    kept = [p.text for p in result.paragraphs if p.kept]
    assert result.text == "\n\n".join(kept)
    assert STORY[0] in kept


def test_batch_matches_one_by_one(shipped):
    pages = [FULL_PAGE, "<p>Stocks rose on Monday.</p>", ""]
    assert analyze_html_batch(shipped, pages) == [analyze_html(shipped, p) for p in pages]


def test_html_path_uses_the_models_page_threshold_unless_one_is_set(shipped):
    assert shipped.config.threshold is None and shipped.info.html_threshold is not None
    assert html_cleaner(shipped).threshold == shipped.info.html_threshold
    explicit = shipped.with_config(threshold=0.3)
    assert html_cleaner(explicit).threshold == 0.3
    older = Cleaner(shipped.pipeline, replace(shipped.info, html_threshold=None))  # a sidecar without one
    assert html_cleaner(older).threshold == HTML_THRESHOLD


def _result(kept: list[bool], lengths: list[int]) -> CleanResult:
    return CleanResult(tuple(
        ParagraphResult(i, "x" * n, "body" if k else "promo", 0.1 if k else 0.99, k)
        for i, (k, n) in enumerate(zip(kept, lengths))
    ))


def test_the_extractor_wins_when_the_classifier_would_remove_most_of_the_page():
    from cleaner.html import _kept_whole, _removes_most

    mostly = _result([False, True], [80, 20])
    assert _removes_most(mostly)
    restored = _kept_whole(mostly)
    assert all(p.kept for p in restored.paragraphs)
    assert [p.label for p in restored.paragraphs] == ["promo", "body"]  # what the classifier thought stays
    some = _result([False, True], [int(100 * MAX_REMOVED_SHARE) - 1, 100 - int(100 * MAX_REMOVED_SHARE) + 1])
    assert not _removes_most(some) and not _removes_most(_result([], []))


def test_decisions_say_when_the_extractor_won_and_only_trafilatura_wins(shipped):
    promo = segment_html(MOSTLY_PROMO_PAGE)
    assert promo.extractor == "trafilatura"
    fallback = replace(promo, extractor="fallback")  # no extractor to defer to: the classifier decides
    story = segment_html(FULL_PAGE)
    whole, unguarded, ordinary = decide_segmentations(shipped, [promo, fallback, story])
    assert whole.kept_whole and all(p.kept for p in whole.result.paragraphs)
    assert not unguarded.kept_whole and not all(p.kept for p in unguarded.result.paragraphs)
    assert [p.label for p in unguarded.result.paragraphs] == [p.label for p in whole.result.paragraphs]
    assert not ordinary.kept_whole and {d.threshold for d in (whole, unguarded, ordinary)} == {shipped.info.html_threshold}
    assert [d.result for d in (whole, ordinary)] == analyze_segmentations(shipped, [promo, story])


# ---------------------------------------------------------------------------------------------------
# HTML fixtures


LABELLED = """<html><head><title>Bridge</title></head><body>
<nav data-label="boilerplate:site-nav"><a href="/">Home</a></nav>
<div class="story" data-label="body">
<p>{0}</p>
<p data-label="promo:see-also">See Also: <a href="/x">Ferry timetable changes as the bridge reopens</a></p>
<p>{1}</p>
<p>{2}</p>
<p class="credit" data-label="boilerplate:photo-credit">Photo: City of Example press office</p>
<p>{3}</p>
</div></body></html>"""


def test_html_fixture_labels_come_from_the_nearest_labelled_element(tmp_path):
    path = tmp_path / "001-bridge.html"
    paragraphs, labels, tags = parse_html_fixture(LABELLED.format(*STORY), path)
    assert [p.text for p in paragraphs][:2] == [STORY[0], "See Also: Ferry timetable changes as the bridge reopens"]
    assert dict(zip([p.text[:12] for p in paragraphs], zip(labels, tags)))["See Also: Fe"] == ("promo", "see-also")
    assert labels.count("body") == 4
    assert [t for l, t in zip(labels, tags) if l == "boilerplate"] in ([], ["photo-credit"])


def test_html_fixture_uses_the_inference_segmentation(tmp_path):
    source = LABELLED.format(*STORY)
    paragraphs, _, _ = parse_html_fixture(source, tmp_path / "x.html")
    assert tuple(paragraphs) == html_to_paragraphs(source)[0]


@pytest.mark.parametrize(
    "markup, message",
    [
        ('<div class="story"><p>{0}</p><p>{1}</p><p>{2}</p><p>{3}</p></div>', "outside every element"),
        ('<div class="story" data-label="news"><p>{0}</p><p>{1}</p><p>{2}</p><p>{3}</p></div>', "unknown label"),
        ('<div class="story" data-label="promo"><p>{0}</p><p>{1}</p><p>{2}</p><p>{3}</p></div>', "needs its family"),
        ('<div class="story" data-label="body"><p>{0}</p><p>{1} <span data-label="promo:see-also">See Also</span></p>'
         "<p>{2}</p><p>{3}</p></div>", "spans blocks labelled"),
    ],
)
def test_html_fixture_errors_name_the_problem(tmp_path, markup, message):
    source = f"<html><body>{markup.format(*STORY)}</body></html>"
    with pytest.raises(FixtureError, match=message):
        parse_html_fixture(source, tmp_path / "bad.html")


def test_html_fixtures_are_loaded_with_the_text_ones():
    articles = load_fixtures(FIXTURES)
    html = [a for a in articles if a.path.suffix == ".html"]
    assert len(html) >= 20
    assert len({a.style for a in html}) >= 5
    assert any(a.path.suffix == ".txt" for a in articles)


@pytest.mark.parametrize("path", HTML_FIXTURES, ids=[f"{p.parent.name}/{p.name}" for p in HTML_FIXTURES])
def test_each_html_fixture_parses_with_body_and_something_to_drop(path):
    paragraphs, labels, tags = parse_html_fixture(path.read_text("utf-8"), path)
    assert labels.count("body") >= 3
    assert any(label != "body" for label in labels)
    assert all(p.tag for p in paragraphs)  # every paragraph came through the HTML path
