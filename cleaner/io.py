"""IO: read inputs into records, and write cleaned records back in the input's own format.

Reading hands on, for each input :class:`Source`, a stream in input order of

- one :class:`Header` once the file is known to be of its format (CSV columns, Parquet schema, JSON
  shape), so that an output can be written even when every record is rejected;
- :class:`Record`: one article, its location (``feed.jsonl:17``) and every field of the input record;
- :class:`Reject`: a location and why it cannot be cleaned (encoding, binary, empty, malformed,
  missing field, oversized, unsupported format, unreadable).

Nothing is dropped silently: a record is either yielded or rejected. Writing (:func:`open_output`) takes
the records back with their cleaned results and writes the input's format, to a temporary file that is
renamed into place only once the input is complete, so an interrupted run never leaves a half-written
output. Inputs are only ever opened for reading.

Formats: ``txt``, ``html``, ``jsonl``, ``json`` (array, object, or JSON lines), ``csv``, ``tsv``,
``parquet``; each may be gzip-compressed (recognised by its magic bytes, not only by ``.gz``).
"""

from __future__ import annotations

import codecs
import csv
import fnmatch
import gzip
import io
import json
import os
import sys
import tempfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any, BinaryIO, Callable, Iterator, Mapping, Protocol, Sequence

import charset_normalizer
from charset_normalizer.md import mess_ratio
import pyarrow as pa
import pyarrow.parquet as pq

from cleaner.html import declared_encoding

__all__ = [
    "FORMATS", "DEFAULT_INCLUDE", "MAX_RECORD_BYTES_DEFAULT", "ReadOptions", "Source", "Header", "Record",
    "Reject", "find_sources", "read_source", "decode_bytes", "looks_binary", "output_relative", "open_output",
    "atomic_path", "annotations",
]

EXTENSIONS = {
    ".txt": "txt", ".text": "txt", ".html": "html", ".htm": "html", ".jsonl": "jsonl", ".ndjson": "jsonl",
    ".json": "json", ".csv": "csv", ".tsv": "tsv", ".parquet": "parquet",
}
FORMATS = ("txt", "html", "jsonl", "json", "csv", "tsv", "parquet")
DEFAULT_INCLUDE = tuple(f"*{ext}{gz}" for ext in EXTENSIONS for gz in ("", ".gz"))
# A news article is a few kB; 5 MB is room for a bloated HTML page while still stopping a runaway line
# (a dump with no newlines) from being read into memory whole.
MAX_RECORD_BYTES_DEFAULT = 5_000_000
SNIFF_BYTES = 8192
GZIP_MAGIC = b"\x1f\x8b"
ANNOTATION_FIELDS = ("cleaner_metadata", "cleaner_removed")

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)
# Bytes that occur in text; anything else below 0x20 is a sign of a binary file.
_TEXT_BYTES = bytes({7, 8, 9, 10, 11, 12, 13, 27} | set(range(0x20, 0x100)))
_NO_BOM_UTF16_32 = ["utf_16", "utf_16_be", "utf_16_le", "utf_32", "utf_32_be", "utf_32_le"]
_READ_ERRORS = (OSError, EOFError, zlib.error)
_DETECT_SAMPLE = 65536
_CLEAN_MESS = 0.1


@dataclass(frozen=True)
class ReadOptions:
    """How inputs are found and read. Defaults suit a folder of mixed news exports."""

    format: str | None = None  # None: each file's format comes from its extension
    text_field: str = "text"  # the article in JSON records
    text_column: str = "text"  # the article in CSV/TSV/Parquet rows
    encoding: str | None = None  # the declared encoding of input that is not UTF-8
    max_record_bytes: int = MAX_RECORD_BYTES_DEFAULT
    include: tuple[str, ...] = DEFAULT_INCLUDE  # globs for the files taken from folders

    def __post_init__(self) -> None:
        if self.format is not None and self.format not in FORMATS:
            raise ValueError(f"unknown format {self.format!r} (one of {', '.join(FORMATS)})")
        if self.max_record_bytes < 1:
            raise ValueError(f"max_record_bytes must be at least 1, got {self.max_record_bytes!r}")
        if self.encoding is not None:
            codecs.lookup(self.encoding)  # LookupError names the unknown encoding


@dataclass(frozen=True)
class Source:
    """One input file (``path=None``: standard input) and where its output goes under an output folder."""

    path: Path | None
    name: str  # as shown in locations: the path as given or found, or "<stdin>"
    format: str | None  # None: not recognised
    relative: PurePath  # the input's place in the tree being mirrored


@dataclass(frozen=True)
class Header:
    """What a file's format knows before its first record: CSV columns, a Parquet schema, a JSON shape."""

    value: Any


@dataclass(frozen=True)
class Record:
    """One article read from an input.

    ``fields`` is the record as read, the text field included and in input order: the writer replaces
    the text in place, so an output record keeps the input's fields and their order. ``markup`` says
    how the text is segmented: ``text`` (blank-line paragraphs) or ``html`` (a web page, segmented and
    decided by ``cleaner.html``).
    """

    source: str
    location: str
    text: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    markup: str = "text"


@dataclass(frozen=True)
class Reject:
    """An input record (or a whole file) that cannot be cleaned: where it is and why.

    ``kind`` is a short code for counting: encoding, binary, empty, malformed, missing-field, oversized,
    unsupported, unreadable, conflict (output problems) or failed (the cleaner raised on it).
    """

    source: str
    location: str
    reason: str
    kind: str

    def to_dict(self) -> dict[str, str]:
        return {"location": self.location, "reason": self.reason, "kind": self.kind, "source": self.source}


Item = Header | Record | Reject


# ---------------------------------------------------------------------------------------------- finding


def format_of(path: PurePath, forced: str | None = None) -> str | None:
    """The format of a file: ``forced`` if given, else from its extension (``.gz`` looked through)."""
    if forced:
        return forced
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return EXTENSIONS.get(PurePath(name).suffix)


def find_sources(paths: Sequence[str], options: ReadOptions, exclude: Path | None = None) -> Iterator[Source]:
    """The input files named by ``paths`` (files, folders searched recursively, ``-`` for stdin), in order.

    Folders are walked in sorted order, hidden entries skipped, files kept when they match an include
    glob; ``exclude`` (the output folder) is never walked into, so outputs are not read back as inputs.
    """
    excluded = exclude.resolve() if exclude is not None else None
    for given in paths:
        if given == "-":
            fmt = options.format or "txt"
            yield Source(None, "<stdin>", fmt, PurePath(f"stdin.{fmt}"))
            continue
        path = Path(given)
        if not path.is_dir():
            yield Source(path, given, format_of(path, options.format), PurePath(path.name))
            continue
        for root, dirs, files in os.walk(path):
            root_path = Path(root)
            dirs[:] = sorted(
                d for d in dirs if not d.startswith(".") and (root_path / d).resolve() != excluded
            )
            for name in sorted(files):
                if name.startswith(".") or not any(fnmatch.fnmatch(name, glob) for glob in options.include):
                    continue
                file = root_path / name
                yield Source(file, str(file), format_of(file, options.format), file.relative_to(path))


# ---------------------------------------------------------------------------------------------- decoding


def looks_binary(head: bytes) -> bool:
    """True for bytes that are not text: a NUL byte, or many control characters (as ``file`` judges)."""
    if not head or any(head.startswith(bom) for bom, _ in _BOMS):
        return False
    if b"\x00" in head:
        return True
    return len(head.translate(None, _TEXT_BYTES)) / len(head) > 0.1


def _detect(data: bytes) -> str | None:
    # Non-UTF-8 news text is overwhelmingly Windows-1252 (which is also what browsers read latin-1 as),
    # while charset-normalizer's pick between Western code pages on one short article is close to a coin
    # flip (mac_latin2 for French, cp852 for curly quotes). So cp1252 wins whenever it reads as clean
    # text by charset-normalizer's own measure; Cyrillic, Greek or Central European bytes read as cp1252
    # score far worse (above 1.0 against at most 0.05) and go to the detector.
    try:
        western = data[:_DETECT_SAMPLE].decode("cp1252")
    except UnicodeDecodeError:
        western = None
    if western is not None and mess_ratio(western, 1.0) <= _CLEAN_MESS:
        return "cp1252"
    best = charset_normalizer.from_bytes(data, cp_exclusion=_NO_BOM_UTF16_32).best()
    return best.encoding if best is not None else None


def decode_bytes(data: bytes, declared: str | None = None) -> tuple[str | None, str]:
    """Decode input bytes: BOM, then UTF-8, then the declared encoding, then a detected one.

    Returns ``(text, encoding)``, or ``(None, reason)`` when nothing fits.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), encoding
            except UnicodeDecodeError:
                break
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        error = exc
    if declared:
        try:
            return data.decode(declared), declared
        except (UnicodeDecodeError, LookupError):
            pass
    detected = _detect(data)
    if detected:
        try:
            return data.decode(detected), detected
        except (UnicodeDecodeError, LookupError):
            pass
    tried = f", nor {declared}," if declared else ""
    return None, (
        f"not valid UTF-8 (byte 0x{data[error.start]:02x} at offset {error.start}){tried} "
        "and no other encoding fits"
    )


# ---------------------------------------------------------------------------------------------- reading


@contextmanager
def _open_binary(source: Source) -> Iterator[BinaryIO]:
    """The source's bytes, gunzipped when they start with the gzip magic."""
    if source.path is None:
        raw: Any = sys.stdin.buffer
        owned = False
    else:
        raw = open(source.path, "rb")
        owned = True
    try:
        if not hasattr(raw, "peek"):
            raw = io.BufferedReader(raw)
        yield gzip.GzipFile(fileobj=raw, mode="rb") if raw.peek(2)[:2] == GZIP_MAGIC else raw
    finally:
        if owned:
            raw.close()


def _whole_file_reject(source: Source, reason: str, kind: str) -> Reject:
    return Reject(source.name, source.name, reason, kind)


def _oversized(size: int, limit: int) -> str:
    return f"record of {size:,} bytes is larger than the limit of {limit:,} bytes"


def _text_record(
    fields: Any, location: str, source: Source, key: str, what: str, limit: int, size: int | None = None,
) -> Record | Reject:
    """A record whose article sits in ``fields[key]``, or the reason it cannot be one."""
    if not isinstance(fields, dict):
        return Reject(source.name, location, f"not a JSON object (got {type(fields).__name__})", "malformed")
    if key not in fields:
        return Reject(source.name, location, f"missing {what} {key!r}", "missing-field")
    if fields[key] is None:
        return Reject(source.name, location, f"{what} {key!r} is null", "missing-field")
    text = fields[key]
    if not isinstance(text, str):
        return Reject(source.name, location, f"{what} {key!r} is not text (got {type(text).__name__})", "missing-field")
    if size is None:
        size = len(text) if len(text) * 4 <= limit else len(text.encode("utf-8"))
    if size > limit:
        return Reject(source.name, location, _oversized(size, limit), "oversized")
    if not text.strip():
        return Reject(source.name, location, "empty article", "empty")
    return Record(source.name, location, text, fields)


def _read_document(source: Source, options: ReadOptions) -> Iterator[Item]:
    """A .txt or .html file: one article."""
    with _open_binary(source) as stream:
        data = stream.read(options.max_record_bytes + 1)
    if len(data) > options.max_record_bytes:
        limit = options.max_record_bytes
        yield _whole_file_reject(source, f"file is larger than the limit of {limit:,} bytes", "oversized")
        return
    if looks_binary(data[:SNIFF_BYTES]):
        yield _whole_file_reject(source, "binary file, not text", "binary")
        return
    markup = "html" if source.format == "html" else "text"
    declared = options.encoding or (declared_encoding(data) if markup == "html" else None)
    text, detail = decode_bytes(data, declared)
    if text is None:
        yield _whole_file_reject(source, detail, "encoding")
    elif not text.strip():
        yield _whole_file_reject(source, "empty article", "empty")
    else:
        yield Record(source.name, source.name, text, {}, markup)


class _Lines:
    """The decoded lines of a byte stream, each at most ``limit`` bytes.

    A line that cannot be decoded or is too long is replaced by an empty line and its problem kept until
    :meth:`take_problem`, so that the record containing it (a JSON line, a CSV row over several lines)
    is rejected rather than the whole file.
    """

    def __init__(self, stream: BinaryIO, declared: str | None, limit: int) -> None:
        self.number = 0
        self._limit = limit
        self._declared = declared
        self._problem: tuple[str, str] | None = None
        self._size = 0
        head = stream.peek(4)[:4] if hasattr(stream, "peek") else b""
        bom = next((encoding for bom, encoding in _BOMS if head.startswith(bom)), None)
        self._stream: Any = stream
        if bom == "utf-8-sig":
            stream.read(len(codecs.BOM_UTF8))
        elif bom:  # UTF-16/32 with a BOM (Excel's "Unicode text"): decode the stream as a whole
            self._stream = io.TextIOWrapper(stream, encoding=bom, newline="")

    def __iter__(self) -> "_Lines":
        return self

    def _flag(self, reason: str, kind: str) -> str:
        if self._problem is None:
            self._problem = (reason, kind)
        return "\n"

    def __next__(self) -> str:
        raw = self._stream.readline(self._limit + 1)
        if not raw:
            raise StopIteration
        self.number += 1
        if len(raw) > self._limit and raw[-1:] not in ("\n", b"\n"):
            size = len(raw)
            while (rest := self._stream.readline(1 << 20)) and rest[-1:] not in ("\n", b"\n"):
                size += len(rest)
            return self._flag(_oversized(size + len(rest), self._limit), "oversized")
        self._size += len(raw)
        if self._size > self._limit:
            return self._flag(_oversized(self._size, self._limit), "oversized")
        if isinstance(raw, str):
            return raw
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            text, detail = decode_bytes(raw, self._declared)
            return text if text is not None else self._flag(detail, "encoding")

    def take_problem(self) -> tuple[str, str] | None:
        """The problem of the lines read since the last call, if any; starts the next record."""
        problem, self._problem, self._size = self._problem, None, 0
        return problem


def _sniff_binary(stream: BinaryIO) -> bool:
    return looks_binary(stream.peek(SNIFF_BYTES)[:SNIFF_BYTES]) if hasattr(stream, "peek") else False


def _json_lines(lines: Iterator[tuple[int, str, tuple[str, str] | None]], source: Source,
                options: ReadOptions) -> Iterator[Item]:
    """Records from numbered JSON lines, each with the problem its reader met, if any."""
    for number, line, problem in lines:
        location = f"{source.name}:{number}"
        if problem:
            yield Reject(source.name, location, *problem)
            continue
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield Reject(source.name, location, f"malformed JSON line ({exc.msg} at column {exc.colno})", "malformed")
            continue
        yield _text_record(value, location, source, options.text_field, "field", options.max_record_bytes, len(line))


def _read_jsonl(source: Source, options: ReadOptions) -> Iterator[Item]:
    with _open_binary(source) as stream:
        if _sniff_binary(stream):
            yield _whole_file_reject(source, "binary file, not JSON lines", "binary")
            return
        yield Header("lines")
        lines = _Lines(stream, options.encoding, options.max_record_bytes)
        yield from _json_lines(((lines.number, line, lines.take_problem()) for line in lines), source, options)


def _read_json(source: Source, options: ReadOptions) -> Iterator[Item]:
    """A .json file: an array of records, one record, or (as many exports are) JSON lines.

    Arrays and single documents are parsed whole; use JSON lines for corpora that do not fit in memory.
    """
    with _open_binary(source) as stream:
        data = stream.read()
    if looks_binary(data[:SNIFF_BYTES]):
        yield _whole_file_reject(source, "binary file, not JSON", "binary")
        return
    text, detail = decode_bytes(data, options.encoding)
    del data
    if text is None:
        yield _whole_file_reject(source, detail, "encoding")
        return
    try:
        document = json.loads(text) if text.strip() else []
    except json.JSONDecodeError as exc:
        if exc.msg != "Extra data":
            yield _whole_file_reject(
                source, f"malformed JSON ({exc.msg} at line {exc.lineno} column {exc.colno})", "malformed"
            )
            return
        yield Header("lines")
        numbered = ((number, line, None) for number, line in enumerate(text.splitlines(), 1))
        yield from _json_lines(numbered, source, options)
        return
    limit, key = options.max_record_bytes, options.text_field
    if isinstance(document, list):
        yield Header("array")
        for index, value in enumerate(document, 1):
            yield _text_record(value, f"{source.name}:{index}", source, key, "field", limit)
    else:
        yield Header("object")
        yield _text_record(document, source.name, source, key, "field", limit)


def _read_csv(source: Source, options: ReadOptions) -> Iterator[Item]:
    # Rows are bounded by our own line reader, so the csv module's 128 kB field cap (which would reject
    # long articles) is lifted rather than used as the limit.
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    delimiter = "\t" if source.format == "tsv" else ","
    with _open_binary(source) as stream:
        if _sniff_binary(stream):
            yield _whole_file_reject(source, f"binary file, not {source.format.upper()}", "binary")
            return
        lines = _Lines(stream, options.encoding, options.max_record_bytes)
        rows = csv.reader(lines, delimiter=delimiter)
        try:
            header = next(rows)
        except StopIteration:
            header = None
        except csv.Error as exc:
            yield _whole_file_reject(source, f"malformed header ({exc})", "malformed")
            return
        problem = lines.take_problem()
        if problem:
            yield _whole_file_reject(source, f"header: {problem[0]}", problem[1])
            return
        if header is None:
            return  # an empty file holds no records
        if header and header[0].startswith("\ufeff"):
            header[0] = header[0][1:]
        duplicates = sorted({name for name in header if header.count(name) > 1})
        if duplicates:  # records are keyed by column name: a repeated name would lose a column
            yield _whole_file_reject(source, f"malformed header: repeated column names {duplicates}", "malformed")
            return
        yield Header(tuple(header))
        column = options.text_column
        while True:
            location = f"{source.name}:{lines.number + 1}"
            try:
                row = next(rows)
            except StopIteration:
                break
            except csv.Error as exc:
                lines.take_problem()
                yield Reject(source.name, location, f"malformed row ({exc})", "malformed")
                continue
            problem = lines.take_problem()
            if problem:
                yield Reject(source.name, location, *problem)
            elif not row:
                continue
            elif len(row) != len(header):
                yield Reject(
                    source.name, location, f"malformed row: {len(row)} values for {len(header)} columns", "malformed"
                )
            else:
                yield _text_record(
                    dict(zip(header, row)), location, source, column, "column", options.max_record_bytes
                )


def _starts_with(path: Path, magic: bytes) -> bool:
    with open(path, "rb") as handle:
        return handle.read(len(magic)) == magic


def _read_parquet(source: Source, options: ReadOptions) -> Iterator[Item]:
    if source.path is None or _starts_with(source.path, GZIP_MAGIC):
        # Parquet needs to seek (its index is at the end): buffer stdin or a gzipped file in memory.
        with _open_binary(source) as stream:
            where: Any = pa.BufferReader(stream.read())
    else:
        where = source.path
    try:
        parquet = pq.ParquetFile(where)
    except (pa.ArrowException, OSError) as exc:
        yield _whole_file_reject(source, f"not a readable Parquet file ({exc})", "malformed")
        return
    yield Header(parquet.schema_arrow)
    number = 0
    for batch in parquet.iter_batches(batch_size=1024):
        for row in batch.to_pylist():
            number += 1
            yield _text_record(
                row, f"{source.name}:{number}", source, options.text_column, "column", options.max_record_bytes
            )


_READERS: dict[str, Callable[[Source, ReadOptions], Iterator[Item]]] = {
    "txt": _read_document, "html": _read_document, "jsonl": _read_jsonl, "json": _read_json,
    "csv": _read_csv, "tsv": _read_csv, "parquet": _read_parquet,
}


def read_source(source: Source, options: ReadOptions) -> Iterator[Item]:
    """Every record of one input, in order; problems become :class:`Reject` items, never exceptions.

    A read error part-way through (a truncated gzip, a vanished file) rejects the rest of the file at
    the point it happened.
    """
    reader = _READERS.get(source.format or "")
    if reader is None:
        yield _whole_file_reject(
            source, "unknown format: name it by extension (.txt, .jsonl, ...) or pass --format", "unsupported"
        )
        return
    try:
        yield from reader(source, options)
    except _READ_ERRORS as exc:
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
        yield _whole_file_reject(source, f"cannot read: {detail}", "unreadable")


# ---------------------------------------------------------------------------------------------- writing


class Cleaned(Protocol):
    """What the writer needs of a cleaning result (a ``CleanResult`` has it)."""

    @property
    def text(self) -> str: ...

    @property
    def metadata(self) -> Mapping[str, str]: ...

    @property
    def removed(self) -> Sequence[Any]: ...


def annotations(result: Cleaned) -> dict[str, Any]:
    """The ``--annotate`` fields: the metadata lifted from the text, and each removed paragraph."""
    return {
        "cleaner_metadata": dict(result.metadata),
        "cleaner_removed": [
            {"index": p.index, "label": p.label, "score": round(p.score, 4), "text": p.text} for p in result.removed
        ],
    }


def output_relative(source: Source, annotate: bool = False) -> PurePath:
    """Where a source's output goes under the output folder: its own place, in its own format.

    Plain-text and HTML inputs come out as plain text (``page.html`` -> ``page.txt``); with annotations,
    which plain text has no room for, as a JSON record (``a.txt`` -> ``a.json``). ``.gz`` is kept.
    """
    relative = source.relative
    if source.format not in ("txt", "html"):
        return relative
    gz = relative.name.lower().endswith(".gz")
    stem = PurePath(relative.name[:-3]) if gz else PurePath(relative.name)
    suffix = ".json" if annotate else ".txt" if source.format == "html" else stem.suffix
    return relative.with_name(stem.with_suffix(suffix).name + (".gz" if gz else ""))


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _umask()  # read once at import, in the main thread: os.umask can only be read by setting it


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path``, renamed onto it when the block succeeds, removed otherwise."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes files private; outputs are ordinary files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Output:
    """The cleaned records of one input, written in its format to ``target`` (None: standard output).

    Used as a context manager: the file is renamed into place when the block ends normally and removed
    when it raises. An input that yields nothing (a rejected article) leaves no output file.
    """

    def __init__(self, target: Path | None, text_key: str, annotate: bool) -> None:
        self.target = target
        self.text_key = text_key
        self.annotate = annotate
        self.written = 0
        self.started = False
        self._stack: list[Any] = []
        self._tmp: Any = None

    def __enter__(self) -> "Output":
        if self.target is None:
            sys.stdout.flush()
            self.stream: Any = sys.stdout.buffer
        else:
            self._tmp = atomic_path(self.target)
            tmp = self._tmp.__enter__()
            raw = open(tmp, "wb")
            self._stack.append(raw)
            if self.target.name.lower().endswith(".gz"):
                # mtime=0 and no name: the same input gives byte-identical output
                raw = gzip.GzipFile(filename="", fileobj=raw, mode="wb", compresslevel=6, mtime=0)
                self._stack.append(raw)
            self.stream = raw
        return self

    def header(self, value: Any) -> None:
        self.started = True

    def write(self, record: Record, result: Cleaned) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        """Write what closes the format (an array's bracket, a Parquet footer)."""

    def keep(self) -> bool:
        return self.started or self.written > 0

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        commit = exc_type is None
        try:
            if commit and self.keep():
                self.finish()
            while self._stack:
                self._stack.pop().close()  # flushes: a full disk shows up here
            if self.target is None:
                self.stream.flush()
        except BaseException:
            commit = False
            raise
        finally:
            while self._stack:
                try:
                    self._stack.pop().close()
                except OSError:
                    pass  # already failing; the temporary file is removed below
            if self._tmp is not None:
                if commit and self.keep():
                    self._tmp.__exit__(None, None, None)
                else:
                    self._tmp.__exit__(RuntimeError, _DISCARD, None)

    def _record(self, record: Record, result: Cleaned) -> dict[str, Any]:
        out = dict(record.fields)
        out[self.text_key] = result.text
        if self.annotate:
            out.update(annotations(result))
        return out


_DISCARD = RuntimeError("output discarded")  # thrown into atomic_path to remove the temporary file


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


class _TextOutput(Output):
    """Plain text: the cleaned article and one newline; with annotations a JSON record instead."""

    def write(self, record: Record, result: Cleaned) -> None:
        if self.annotate:
            self.stream.write(_json({"text": result.text, **annotations(result)}) + b"\n")
        else:
            self.stream.write(result.text.encode("utf-8") + b"\n")
        self.written += 1


class _JsonLinesOutput(Output):
    def write(self, record: Record, result: Cleaned) -> None:
        self.stream.write(_json(self._record(record, result)) + b"\n")
        self.written += 1


class _JsonOutput(Output):
    """A .json file in the shape it came in: an array, one object, or JSON lines."""

    shape = "array"

    def header(self, value: Any) -> None:
        super().header(value)
        self.shape = value
        if self.shape == "array":
            self.stream.write(b"[")

    def write(self, record: Record, result: Cleaned) -> None:
        data = _json(self._record(record, result))
        if self.shape == "array":
            self.stream.write((b",\n" if self.written else b"\n") + data)
        else:
            self.stream.write(data + b"\n")
        self.written += 1

    def finish(self) -> None:
        if self.shape == "array":
            self.stream.write(b"\n]\n" if self.written else b"]\n")


class _CsvOutput(Output):
    def __init__(self, target: Path | None, text_key: str, annotate: bool, delimiter: str) -> None:
        super().__init__(target, text_key, annotate)
        self.delimiter = delimiter
        self.columns: tuple[str, ...] = ()

    def __enter__(self) -> "_CsvOutput":
        super().__enter__()
        self.text = io.TextIOWrapper(self.stream, encoding="utf-8", newline="", write_through=True)
        self.rows = csv.writer(self.text, delimiter=self.delimiter)
        return self

    def header(self, value: Any) -> None:
        super().header(value)
        self.columns = tuple(value)
        extra = [name for name in ANNOTATION_FIELDS if name not in self.columns] if self.annotate else []
        self.rows.writerow(list(self.columns) + extra)
        self.extra = extra

    def write(self, record: Record, result: Cleaned) -> None:
        out = self._record(record, result)
        if self.annotate:
            for name in ANNOTATION_FIELDS:
                out[name] = json.dumps(out[name], ensure_ascii=False)
        self.rows.writerow([out.get(c, "") for c in self.columns] + [out[name] for name in self.extra])
        self.written += 1

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if hasattr(self, "text"):
            self.text.detach()  # the byte stream below is closed (or, for stdout, kept) by Output
        super().__exit__(exc_type, exc, tb)


class _ParquetOutput(Output):
    """Parquet with the input's schema (plus JSON-string annotation columns), in row groups of 10,000."""

    ROWS_PER_GROUP = 10_000

    def header(self, value: Any) -> None:
        super().header(value)
        schema: pa.Schema = value
        if self.annotate:
            for name in ANNOTATION_FIELDS:
                index = schema.get_field_index(name)
                if index >= 0:
                    schema = schema.remove(index)
                schema = schema.append(pa.field(name, pa.string()))
        self.schema = schema
        self.writer = pq.ParquetWriter(self.stream, schema)
        self.rows: list[dict[str, Any]] = []

    def write(self, record: Record, result: Cleaned) -> None:
        out = self._record(record, result)
        if self.annotate:
            for name in ANNOTATION_FIELDS:
                out[name] = json.dumps(out[name], ensure_ascii=False)
        self.rows.append(out)
        self.written += 1
        if len(self.rows) >= self.ROWS_PER_GROUP:
            self._flush()

    def _flush(self) -> None:
        if self.rows:
            self.writer.write_table(pa.Table.from_pylist(self.rows, schema=self.schema))
            self.rows = []

    def finish(self) -> None:
        self._flush()
        self.writer.close()


def open_output(source: Source, target: Path | None, options: ReadOptions, annotate: bool) -> Output:
    """The writer for one source's output, to use as a context manager."""
    fmt = source.format
    if fmt in ("txt", "html"):
        return _TextOutput(target, "text", annotate)
    if fmt == "jsonl":
        return _JsonLinesOutput(target, options.text_field, annotate)
    if fmt == "json":
        return _JsonOutput(target, options.text_field, annotate)
    if fmt in ("csv", "tsv"):
        return _CsvOutput(target, options.text_column, annotate, "\t" if fmt == "tsv" else ",")
    if fmt == "parquet":
        return _ParquetOutput(target, options.text_column, annotate)
    raise ValueError(f"no writer for format {fmt!r}")
