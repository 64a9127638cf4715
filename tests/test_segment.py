from cleaner.segment import Paragraph, segment_text, split_metadata_prefix, split_paragraphs


def test_blank_lines_split_paragraphs_and_single_breaks_stay_inside():
    text = "First line\ncontinues here.\n\nSecond paragraph."
    assert split_paragraphs(text) == ["First line\ncontinues here.", "Second paragraph."]


def test_crlf_cr_tabs_and_stray_spaces_are_handled():
    text = "  One.\r\n \t \r\nTwo.\rstill two.\r\r\n\n\nThree.  \t"
    assert split_paragraphs(text) == ["One.", "Two.\nstill two.", "Three."]


def test_empty_and_whitespace_only_give_no_paragraphs():
    assert split_paragraphs("") == []
    assert split_paragraphs(" \n\t\r\n  ") == []
    assert segment_text("   \n\n ") == ((), {})


def test_date_prefix_moves_to_metadata_and_sentence_stays():
    paragraphs, metadata = segment_text(" date 2024-10-24 In a recent development, troops arrived.\n\nMore.")
    assert metadata == {"date": "2024-10-24"}
    assert paragraphs == (Paragraph("In a recent development, troops arrived."), Paragraph("More."))


def test_date_prefix_only_on_first_paragraph():
    paragraphs, metadata = segment_text("Lead.\n\ndate 2024-10-24 Not a prefix here.")
    assert metadata == {}
    assert paragraphs[1].text == "date 2024-10-24 Not a prefix here."


def test_prefix_lookalikes_are_not_metadata():
    for text in ("date night in Paris was a hit.", "Dated 2024-10-24 records show", "date 2024-13 is odd"):
        assert split_metadata_prefix(text) == (text, {})


def test_stacked_prefixes_are_taken_together_keeping_the_first_date():
    assert split_metadata_prefix("date 2024-10-24 date 2024-10-25 Body.") == ("Body.", {"date": "2024-10-24"})


def test_prefix_alone_leaves_no_empty_paragraph():
    paragraphs, metadata = segment_text("date 2024-10-24\n\nBody.")
    assert metadata == {"date": "2024-10-24"}
    assert [p.text for p in paragraphs] == ["Body."]
