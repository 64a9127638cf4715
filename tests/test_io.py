"""Reading inputs into records and rejects, and writing outputs atomically, on small files made here."""

from __future__ import annotations

import csv
import gzip
import io
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePath

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cleaner import io as cio
from cleaner.clean import ParagraphResult
from cleaner.io import Header, ReadOptions, Record, Reject, Source, find_sources, open_output, read_source
from tests.conftest import ARTICLE


def read(path: Path, **options: object) -> list:
    opts = ReadOptions(**options)  # type: ignore[arg-type]
    (source,) = find_sources([str(path)], opts)
    return list(read_source(source, opts))


def records(items: list) -> list[Record]:
    return [i for i in items if isinstance(i, Record)]


def rejects(items: list) -> list[Reject]:
    return [i for i in items if isinstance(i, Reject)]


def write_jsonl(path: Path, lines: list[str | dict]) -> Path:
    path.write_text("".join((json.dumps(x) if isinstance(x, dict) else x) + "\n" for x in lines), "utf-8")
    return path


# ---------------------------------------------------------------------------------------------- finding


def test_find_sources_walks_folders_sorted_with_includes_and_skips_hidden_and_output(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    for name in ["b.txt", "a/z.jsonl", "a/y.csv.gz", "notes.md", ".hidden.txt", ".git/x.txt", "out/done.txt"]:
        (corpus / name).parent.mkdir(parents=True, exist_ok=True)
        (corpus / name).write_text("x")
    found = list(find_sources([str(corpus)], ReadOptions(), exclude=corpus / "out"))
    # a folder's own files first, then its subfolders, each sorted: the same order on every machine
    assert [s.relative for s in found] == [PurePath("b.txt"), PurePath("a/y.csv.gz"), PurePath("a/z.jsonl")]
    assert {s.format for s in found} == {"txt", "csv", "jsonl"}
    only_txt = list(find_sources([str(corpus)], ReadOptions(include=("*.txt",)), exclude=corpus / "out"))
    assert [s.relative for s in only_txt] == [PurePath("b.txt")]


def test_find_sources_files_and_stdin(tmp_path: Path) -> None:
    path = tmp_path / "feed.data"
    path.write_text("x")
    file_source, stdin = find_sources([str(path), "-"], ReadOptions(format="jsonl"))
    assert file_source == Source(path, str(path), "jsonl", PurePath("feed.data"))
    assert stdin.path is None and stdin.name == "<stdin>" and stdin.format == "jsonl"
    (unknown,) = find_sources([str(path)], ReadOptions())
    assert unknown.format is None
    assert rejects(list(read_source(unknown, ReadOptions())))[0].kind == "unsupported"


@pytest.mark.parametrize(
    ("name", "expected"),
    [("a.txt", "txt"), ("a.HTM", "html"), ("a.jsonl.gz", "jsonl"), ("a.ndjson", "jsonl"), ("a.json", "json"),
     ("a.csv", "csv"), ("a.tsv.gz", "tsv"), ("a.parquet", "parquet"), ("a.md", None), ("a.gz", None)],
)
def test_format_of(name: str, expected: str | None) -> None:
    assert cio.format_of(PurePath(name)) == expected


@pytest.mark.parametrize(
    ("fmt", "name", "annotate", "expected"),
    [("txt", "a/b.txt", False, "a/b.txt"), ("txt", "a/b.txt", True, "a/b.json"), ("html", "p.html", False, "p.txt"),
     ("html", "p.html.gz", True, "p.json.gz"), ("txt", "b.txt.gz", False, "b.txt.gz"),
     ("jsonl", "f.jsonl", True, "f.jsonl"), ("parquet", "d.parquet", True, "d.parquet")],
)
def test_output_relative(fmt: str, name: str, annotate: bool, expected: str) -> None:
    source = Source(Path(name), name, fmt, PurePath(name))
    assert cio.output_relative(source, annotate) == PurePath(expected)


# ---------------------------------------------------------------------------------------------- decoding


def test_plain_text_is_one_record_and_a_utf8_bom_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"\xef\xbb\xbf" + ARTICLE.encode())
    (record,) = read(path)
    assert record == Record(str(path), str(path), ARTICLE, {}, "text")


def test_undeclared_windows_1252_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    text = "He said \u201chello\u201d \u2014 it\u2019s fine. Le caf\u00e9 \u00e9tait tr\u00e8s bon."
    path.write_bytes(text.encode("cp1252"))
    assert records(read(path))[0].text == text


def test_declared_encoding_is_tried_before_detection(tmp_path: Path) -> None:
    # Short Polish text in cp1250 also reads as plausible cp1252; only the declaration gets it right.
    text = "Rz\u0105d og\u0142osi\u0142 w poniedzia\u0142ek nowe \u015brodki"
    path = tmp_path / "a.txt"
    path.write_bytes(text.encode("cp1250"))
    assert records(read(path, encoding="cp1250"))[0].text == text
    assert records(read(path))[0].text != text


def test_latin1_declared_in_html_meta_is_used(tmp_path: Path) -> None:
    page = '<html><head><meta charset="iso-8859-1"></head><body><p>Caf\u00e9 \u00ae</p></body></html>'
    path = tmp_path / "p.html"
    path.write_bytes(page.encode("latin-1"))
    (record,) = read(path)
    assert record.text == page and record.markup == "html"


def test_latin1_declared_page_with_cp1252_quotes_reads_as_browsers_do(tmp_path: Path) -> None:
    # Pages that declare iso-8859-1 often hold Windows curly quotes (0x93/0x94); browsers, and the
    # library's decode_html, read such labels as windows-1252. The batch reader must agree.
    page = '<html><head><meta charset="iso-8859-1"></head><body><p>\u201cHello,\u201d she said.</p></body></html>'
    path = tmp_path / "q.html"
    path.write_bytes(page.encode("cp1252"))
    (record,) = read(path)
    assert record.text == page


def test_undecodable_bytes_are_rejected_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(bytes(range(0x80, 0x100)) * 3)
    (reject,) = read(path)
    assert reject.kind == "encoding" and "not valid UTF-8 (byte 0x80 at offset 0)" in reject.reason


@pytest.mark.parametrize("data", [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", bytes(range(32)) * 10])
def test_binary_files_are_rejected(tmp_path: Path, data: bytes) -> None:
    for name in ("a.txt", "a.jsonl", "a.csv", "a.json"):
        path = tmp_path / name
        path.write_bytes(data)
        (reject,) = read(path)
        assert reject.kind == "binary" and reject.location == str(path)


def test_utf16_with_bom_is_text_not_binary(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(ARTICLE.encode("utf-16"))
    assert records(read(path))[0].text == ARTICLE


@pytest.mark.parametrize("content", ["", "  \n\n \t\n"])
def test_empty_article_is_rejected(tmp_path: Path, content: str) -> None:
    path = tmp_path / "a.txt"
    path.write_text(content)
    (reject,) = read(path)
    assert reject.kind == "empty" and reject.reason == "empty article"


def test_oversized_file_is_rejected_without_reading_it_whole(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("x" * 101)
    assert read(path, max_record_bytes=101)[0].text == "x" * 101
    (reject,) = read(path, max_record_bytes=100)
    assert reject.kind == "oversized" and "limit of 100 bytes" in reject.reason


@pytest.mark.parametrize("name", ["p.htm", "p.html", "p.HTML", "p.html.gz"])
def test_an_html_file_is_one_html_record_of_the_page_as_written(tmp_path: Path, name: str) -> None:
    page = "<html><body><p>Stocks rose.</p><p>See Also: <a href='/x'>Five stocks</a></p></body></html>"
    path = tmp_path / name
    path.write_bytes(gzip.compress(page.encode()) if name.endswith(".gz") else page.encode())
    (record,) = read(path)
    assert (record.text, record.markup, record.fields) == (page, "html", {})


# ---------------------------------------------------------------------------------------------- JSON


def test_jsonl_records_keep_their_fields_and_bad_lines_are_rejected_with_line_numbers(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "feed.jsonl", [
        {"id": 1, "text": ARTICLE, "url": "u1"},
        "{broken",
        "",
        {"id": 3, "body": ARTICLE},
        {"id": 4, "text": None},
        {"id": 5, "text": 17},
        {"id": 6, "text": " \n"},
        "[1, 2]",
        {"text": "Second article.", "id": 9},
    ])
    items = read(path)
    assert items[0] == Header("lines")
    assert [(r.location, r.fields) for r in records(items)] == [
        (f"{path}:1", {"id": 1, "text": ARTICLE, "url": "u1"}), (f"{path}:9", {"text": "Second article.", "id": 9}),
    ]
    assert [(r.location.rsplit(":", 1)[1], r.kind) for r in rejects(items)] == [
        ("2", "malformed"), ("4", "missing-field"), ("5", "missing-field"), ("6", "missing-field"),
        ("7", "empty"), ("8", "malformed"),
    ]
    reasons = [r.reason for r in rejects(items)]
    assert reasons[1] == "missing field 'text'" and reasons[2] == "field 'text' is null"
    assert reasons[3] == "field 'text' is not text (got int)" and reasons[5] == "not a JSON object (got list)"


def test_jsonl_text_field_option(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "feed.jsonl", [{"body": ARTICLE}])
    assert records(read(path, text_field="body"))[0].text == ARTICLE


def test_jsonl_oversized_line_is_rejected_and_reading_goes_on(tmp_path: Path) -> None:
    rows: list[str | dict] = [{"text": "a" * 500}, {"text": "short"}, {"text": "b" * 70000}, {"text": "end"}]
    path = write_jsonl(tmp_path / "feed.jsonl", rows)
    items = read(path, max_record_bytes=200)
    assert [r.text for r in records(items)] == ["short", "end"]
    assert [(r.location.rsplit(":", 1)[1], r.kind) for r in rejects(items)] == [("1", "oversized"), ("3", "oversized")]
    assert "70,0" in rejects(items)[1].reason  # the size of the whole line, not of the part read


def test_jsonl_line_in_another_encoding_is_decoded_and_undecodable_line_rejected(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl"
    path.write_bytes(
        b'{"text": "fine"}\n'
        + '{"text": "caf\u00e9 cr\u00e8me \u00e9t\u00e9"}\n'.encode("cp1252")
        + b'{"text": "' + bytes(range(0x80, 0x100)) + b'"}\n'
    )
    items = read(path)
    assert [r.text for r in records(items)] == ["fine", "caf\u00e9 cr\u00e8me \u00e9t\u00e9"]
    (reject,) = rejects(items)
    assert reject.location == f"{path}:3" and reject.kind == "encoding"


def test_json_array_object_and_json_lines_named_json(tmp_path: Path) -> None:
    array = tmp_path / "a.json"
    array.write_text(json.dumps([{"text": "one"}, {"nope": 1}, {"text": "three"}]))
    items = read(array)
    assert items[0] == Header("array") and [r.text for r in records(items)] == ["one", "three"]
    assert rejects(items)[0].location == f"{array}:2"
    single = tmp_path / "o.json"
    single.write_text(json.dumps({"text": "solo", "id": 1}, indent=2))
    items = read(single)
    assert items[0] == Header("object") and records(items)[0].location == str(single)
    lines = write_jsonl(tmp_path / "l.json", [{"text": "x"}, {"text": "y"}])
    items = read(lines)
    assert items[0] == Header("lines") and [r.location for r in records(items)] == [f"{lines}:1", f"{lines}:2"]


def test_malformed_json_document_is_one_reject(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text('[{"text": "one"}, {"text": ')
    (reject,) = read(path)
    assert reject.kind == "malformed" and reject.location == str(path)


# ---------------------------------------------------------------------------------------------- CSV, Parquet


def test_csv_rows_with_multiline_fields_bom_and_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "feed.csv"
    with open(path, "w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text", "source"])
        writer.writerow(["1", ARTICLE, "wire"])
        writer.writerow(["2", "too few"])
        writer.writerow(["3", "", "wire"])
        writer.writerow(["4", "Last one.", "wire"])
    items = read(path)
    assert items[0] == Header(("id", "text", "source"))
    assert [r.fields for r in records(items)] == [
        {"id": "1", "text": ARTICLE, "source": "wire"}, {"id": "4", "text": "Last one.", "source": "wire"},
    ]
    first_line_of_row_2 = 2 + ARTICLE.count("\n") + 1
    assert [(r.location, r.kind) for r in rejects(items)] == [
        (f"{path}:{first_line_of_row_2}", "malformed"), (f"{path}:{first_line_of_row_2 + 1}", "empty"),
    ]


def test_csv_missing_column_rejects_every_row(tmp_path: Path) -> None:
    path = tmp_path / "feed.csv"
    path.write_text("id,body\n1,x\n2,y\n")
    items = read(path)
    assert [r.reason for r in rejects(items)] == ["missing column 'text'"] * 2
    assert [r.text for r in records(read(path, text_column="body"))] == ["x", "y"]


def test_csv_with_repeated_column_names_is_rejected_whole(tmp_path: Path) -> None:
    path = tmp_path / "feed.csv"
    path.write_text("id,text,id\n1,x,2\n")
    (reject,) = read(path)
    assert reject.kind == "malformed" and "repeated column names ['id']" in reject.reason


def test_tsv_and_a_latin1_row(tmp_path: Path) -> None:
    path = tmp_path / "feed.tsv"
    path.write_bytes("id\ttext\n1\tplain\n".encode() + "2\tcaf\u00e9 cr\u00e8me br\u00fbl\u00e9e\n".encode("latin-1"))
    assert [r.text for r in records(read(path))] == ["plain", "caf\u00e9 cr\u00e8me br\u00fbl\u00e9e"]


def test_parquet_rows_nulls_and_types(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"id": [1, 2, 3], "text": [ARTICLE, None, "ok"], "score": [0.5, 1.5, 2.5]}), path)
    items = read(path)
    assert isinstance(items[0], Header) and items[0].value.names == ["id", "text", "score"]
    assert [r.fields for r in records(items)] == [
        {"id": 1, "text": ARTICLE, "score": 0.5}, {"id": 3, "text": "ok", "score": 2.5},
    ]
    assert [(r.location, r.reason) for r in rejects(items)] == [(f"{path}:2", "column 'text' is null")]
    numbers = tmp_path / "n.parquet"
    pq.write_table(pa.table({"text": [1, 2]}), numbers)
    assert [r.reason for r in rejects(read(numbers))] == ["column 'text' is not text (got int)"] * 2


def test_corrupt_parquet_is_one_reject(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    path.write_bytes(b"PAR1 not really")
    (reject,) = read(path)
    assert reject.kind == "malformed" and "Parquet" in reject.reason


# ---------------------------------------------------------------------------------------------- gzip, stdin


def test_gzip_is_read_transparently_even_without_gz_extension(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"text": "zipped"}\n'))
    assert [r.text for r in records(read(path))] == ["zipped"]
    disguised = tmp_path / "a.txt"
    disguised.write_bytes(gzip.compress(ARTICLE.encode()))
    assert records(read(disguised))[0].text == ARTICLE
    pq_gz = tmp_path / "d.parquet.gz"
    buffer = io.BytesIO()
    pq.write_table(pa.table({"text": ["from parquet"]}), buffer)
    pq_gz.write_bytes(gzip.compress(buffer.getvalue()))
    assert [r.text for r in records(read(pq_gz))] == ["from parquet"]


def test_truncated_gzip_rejects_the_rest_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl.gz"
    data = gzip.compress(b"".join(b'{"text": "line %d"}\n' % i for i in range(2000)))
    path.write_bytes(data[: len(data) // 2])
    items = read(path)
    assert items[-1].kind == "unreadable" and "cannot read" in items[-1].reason
    assert 0 < len(records(items)) < 2000


def test_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b'{"text": "from stdin"}\n')))
    opts = ReadOptions(format="jsonl")
    (source,) = find_sources(["-"], opts)
    assert [r.location for r in records(list(read_source(source, opts)))] == ["<stdin>:1"]


# ---------------------------------------------------------------------------------------------- writing


@dataclass(frozen=True)
class FakeResult:
    text: str
    metadata: dict = field(default_factory=lambda: {"date": "2024-10-24"})
    removed: tuple = (ParagraphResult(2, "See Also: buy", "promo", 0.97, False),)


def write(source: Source, target: Path | None, items: list, annotate: bool = False, **options: object) -> None:
    with open_output(source, target, ReadOptions(**options), annotate) as output:  # type: ignore[arg-type]
        for item in items:
            if isinstance(item, Header):
                output.header(item.value)
            elif isinstance(item, Record):
                output.write(item, FakeResult(item.text.upper()))


@pytest.mark.parametrize("gz", [False, True])
def test_jsonl_round_trip_keeps_fields_and_order_and_adds_annotations(tmp_path: Path, gz: bool) -> None:
    path = write_jsonl(tmp_path / "in.jsonl", [{"a": 1, "text": "one", "z": [1]}, {"text": "two", "b": None}])
    target = tmp_path / ("out.jsonl.gz" if gz else "out.jsonl")
    (source,) = find_sources([str(path)], ReadOptions())
    write(source, target, read(path), annotate=True)
    raw = gzip.decompress(target.read_bytes()) if gz else target.read_bytes()
    rows = [json.loads(line) for line in raw.decode().splitlines()]
    assert [list(r) for r in rows] == [["a", "text", "z", "cleaner_metadata", "cleaner_removed"],
                                       ["text", "b", "cleaner_metadata", "cleaner_removed"]]
    assert rows[0]["text"] == "ONE" and rows[0]["cleaner_metadata"] == {"date": "2024-10-24"}
    assert rows[0]["cleaner_removed"] == [{"index": 2, "label": "promo", "score": 0.97, "text": "See Also: buy"}]


@pytest.mark.parametrize("shape", ["array", "object"])
def test_json_round_trip_keeps_its_shape(tmp_path: Path, shape: str) -> None:
    path = tmp_path / "in.json"
    document = [{"text": "one"}, {"text": "two"}] if shape == "array" else {"text": "one", "k": 2}
    path.write_text(json.dumps(document))
    (source,) = find_sources([str(path)], ReadOptions())
    write(source, tmp_path / "out.json", read(path))
    expected = [{"text": "ONE"}, {"text": "TWO"}] if shape == "array" else {"text": "ONE", "k": 2}
    assert json.loads((tmp_path / "out.json").read_text()) == expected


def test_csv_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text('id,text\n1,"multi\n\nline"\n2,x\n')
    (source,) = find_sources([str(path)], ReadOptions())
    write(source, tmp_path / "out.csv", read(path), annotate=True)
    rows = list(csv.DictReader((tmp_path / "out.csv").open(newline="")))
    assert [r["text"] for r in rows] == ["MULTI\n\nLINE", "X"]
    assert json.loads(rows[0]["cleaner_removed"])[0]["label"] == "promo"


def test_parquet_round_trip_keeps_schema(tmp_path: Path) -> None:
    path = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": pa.array([1, 2], pa.int32()), "text": ["one", "two"]}), path)
    (source,) = find_sources([str(path)], ReadOptions())
    write(source, tmp_path / "out.parquet", read(path), annotate=True)
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.schema.field("id").type == pa.int32()
    assert table.column("text").to_pylist() == ["ONE", "TWO"]
    assert json.loads(table.column("cleaner_metadata")[0].as_py()) == {"date": "2024-10-24"}


def test_text_output_is_the_text_and_one_newline_or_a_json_record_when_annotated(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("hello")
    (source,) = find_sources([str(path)], ReadOptions())
    write(source, tmp_path / "out.txt", read(path))
    assert (tmp_path / "out.txt").read_bytes() == b"HELLO\n"
    write(source, tmp_path / "out.json", read(path), annotate=True)
    assert json.loads((tmp_path / "out.json").read_text())["text"] == "HELLO"


def test_rejected_article_leaves_no_output_but_an_all_rejected_feed_does(tmp_path: Path) -> None:
    empty = tmp_path / "a.txt"
    empty.write_text("")
    (source,) = find_sources([str(empty)], ReadOptions())
    write(source, tmp_path / "out" / "a.txt", read(empty))
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())
    feed = write_jsonl(tmp_path / "f.jsonl", ["{bad"])
    (source,) = find_sources([str(feed)], ReadOptions())
    write(source, tmp_path / "out" / "f.jsonl", read(feed))
    assert (tmp_path / "out" / "f.jsonl").read_bytes() == b""


def test_failed_write_leaves_no_partial_file_and_the_old_output_intact(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "in.jsonl", [{"text": "one"}, {"text": "two"}])
    (source,) = find_sources([str(path)], ReadOptions())
    target = tmp_path / "out" / "in.jsonl"
    target.parent.mkdir()
    target.write_text("previous complete output\n")
    with pytest.raises(KeyboardInterrupt):
        with open_output(source, target, ReadOptions(), False) as output:
            output.header("lines")
            output.write(records(read(path))[0], FakeResult("ONE"))
            raise KeyboardInterrupt
    assert target.read_text() == "previous complete output\n"
    assert [p.name for p in target.parent.iterdir()] == ["in.jsonl"]  # no temporary file left


def test_atomic_path_renames_on_success_only(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "x.txt"
    with cio.atomic_path(target) as tmp:
        tmp.write_text("done")
        assert not target.exists()
    assert target.read_text() == "done" and oct(target.stat().st_mode)[-3:] in ("644", "664")
    with pytest.raises(RuntimeError), cio.atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError
    assert target.read_text() == "done" and len(list(target.parent.iterdir())) == 1


def test_stdout_output(tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    path = write_jsonl(tmp_path / "in.jsonl", [{"text": "one"}])
    (source,) = find_sources([str(path)], ReadOptions())
    write(source, None, read(path))
    assert capsysbinary.readouterr().out == b'{"text": "ONE"}\n'
