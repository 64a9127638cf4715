"""HTML: turn a web page into the paragraphs the classifier decides on.

    bytes --decode (BOM, declared charset, UTF-8, charset-normalizer)--> str
          --parse once (lxml, exactly as trafilatura parses)--> page tree
          --trafilatura--> the main content as blocks (paragraphs, headings, lists, quotes, tables)
          --segment--> one Paragraph per block, found again in the page tree by its text

Main-content extraction keeps in-body promo (a plain ``<p>See Also: ...</p>`` passes it untouched) and
throws away what the page knew about each block. Finding the block again in the page tree recovers it,
and the HTML path hands it on in the ``Paragraph`` fields the featurizer reads: ``tag`` (the block's
tag), ``link_density`` (share of its characters inside links) and ``container`` (class/id tokens of
the block and its nearest enclosing elements, plus the names of landmark elements such as ``aside``).

When trafilatura finds nothing (a fragment, an odd page) the page is segmented with BeautifulSoup
instead of returning empty. Bad markup never raises: the worst outcome is no paragraphs.

Hands on ``(paragraphs, metadata)``, the same pair ``segment_text`` gives for plain text, so one model
decides on both; :func:`segment_html` also says where in the page each paragraph came from (the fixture
reader uses that to carry labels over from the markup). Deciding on pages (:func:`analyze_html`)
differs from text in two rules, both because extraction has already done part of the job: a stricter
default threshold, and the extractor keeps the page whole when the classifier would remove most of it.
"""

from __future__ import annotations

import codecs
import logging
import re
import warnings
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

from cleaner.segment import Paragraph

if TYPE_CHECKING:
    from cleaner.clean import Cleaner, CleanResult, RoundObserver
    from cleaner.model import ModelInfo

__all__ = [
    "HTML_THRESHOLD", "HtmlSegmentation", "declared_encoding", "decode_html", "segment_html", "html_to_paragraphs",
    "page_threshold", "html_cleaner", "PageDecision", "decide_segmentations", "analyze_segmentations", "analyze_html",
    "analyze_html_batch", "label_of", "removes_most",
]

LOGGER = logging.getLogger(__name__)

CONTAINER_DEPTH = 4  # block-level elements (the block itself included) whose class/id tokens are read
# After main-content extraction, promo is much rarer among the paragraphs than in the fixtures the
# model is calibrated on, and real pages stray further from them than text feeds do: the HTML path may
# ask for stronger evidence before removing a paragraph. `cleaner train` chooses the page threshold on
# the held-out HTML fixtures and stores it in the sidecar; this is the fallback for models without one.
HTML_THRESHOLD = 0.97
# The classifier removes insertions; it does not overrule the extractor on what the article is. A page
# where it would remove more than this share of the extracted characters is kept whole.
MAX_REMOVED_SHARE = 0.5
HEADLINE_WITHIN = 5  # the headline, when extraction keeps it, comes before the story (menus may precede it)
CONTAINER_MAX_CHARS = 240  # container strings are cues, not documents: keep them bounded
# Above these the tokens describe the whole page ("post type-post category-video"), not the block.
_CONTAINER_STOP = frozenset({"article", "main", "body", "html"})
# Landmark elements whose name is as telling as a class name.
_LANDMARKS = frozenset({"aside", "nav", "footer", "header", "form", "figure", "figcaption"})
_INLINE = frozenset({
    "a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "dfn", "em", "font", "i", "kbd", "mark", "q",
    "s", "samp", "small", "span", "strong", "sub", "sup", "time", "u", "var", "wbr", "br", "img", "label",
})
# Never text a reader sees.
_INVISIBLE = frozenset({"script", "style", "noscript", "template", "svg", "math", "head", "title",
                        "iframe", "object", "select", "option", "button", "textarea"})
# Tags that say more than trafilatura's generic <p> does.
_TELLING_TAGS = frozenset({"figcaption", "caption", "li", "dd", "dt", "td", "th", "blockquote", "pre",
                           "h1", "h2", "h3", "h4", "h5", "h6"})
_HEADING = re.compile(r"^h[1-6]$")
_SQUASH = re.compile(r"[\s\u200b-\u200d\u2060\ufeff\u00ad]+")
_SPACES = re.compile(r"[ \t\f\v\u00a0\u2000-\u200b\u3000]+")
_META_CHARSET = re.compile(
    rb"""<meta[^>]+?charset\s*=\s*["']?\s*([a-zA-Z0-9._:-]+)""", re.IGNORECASE
)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([a-zA-Z0-9._:-]+)["']""", re.IGNORECASE)
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
# Browsers read these labels as windows-1252 (WHATWG Encoding Standard); so do we.
_WHATWG_ALIASES = {"iso-8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252", "us-ascii": "cp1252",
                   "ascii": "cp1252", "iso8859-1": "cp1252", "l1": "cp1252"}
_SNIFF_BYTES = 4096  # where a declared charset must appear (HTML spec: the first 1024; pages are sloppier)
CELL_SEPARATOR = " | "  # between table cells in a table paragraph, as trafilatura writes tables
_LOCATE_EDGE = 40  # chars of a block's head/tail used to find it when its full text is not on the page


# ---------------------------------------------------------------------------------------------------
# Decoding


def declared_encoding(data: bytes) -> str | None:
    """The charset a page declares (XML declaration or meta tag), read as browsers read it."""
    head = data[:_SNIFF_BYTES]
    match = _XML_ENCODING.match(head) or _META_CHARSET.search(head)
    if not match:
        return None
    label = match.group(1).decode("ascii", "ignore").strip().lower()
    label = _WHATWG_ALIASES.get(label, label)
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    # A declaration readable as ASCII cannot be UTF-16/32 text; browsers read such pages as UTF-8.
    return "utf-8" if name.startswith(("utf-16", "utf-32")) else name


def decode_html(data: bytes) -> str:
    """Decode page bytes: byte-order mark, then the charset the page declares, then UTF-8, then a guess.

    A declaration that does not decode the bytes is ignored (pages lie); undecodable bytes end up as
    U+FFFD rather than an error.
    """
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                          (codecs.BOM_UTF16_BE, "utf-16-be")):
        if data.startswith(bom):
            return data[len(bom):].decode(encoding, "replace")
    declared = declared_encoding(data)
    for encoding in ([declared] if declared else []) + ["utf-8"]:
        try:
            return data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(data).best()
        if best is not None:
            return str(best)
    except Exception:  # a detector failure must not lose the page
        LOGGER.debug("charset detection failed", exc_info=True)
    return data.decode("cp1252" if declared is None else declared, "replace")


def _as_text(html: str | bytes) -> str:
    if isinstance(html, (bytes, bytearray, memoryview)):
        return decode_html(bytes(html))
    if not isinstance(html, str):
        raise TypeError(f"expected str or bytes, got {type(html).__name__}")
    return html


# ---------------------------------------------------------------------------------------------------
# Blocks of trafilatura's output


_BLOCKS = frozenset({"p", "head", "list", "table", "quote", "code", "div", "graphic"})
_WORDY = re.compile(r"\w")  # a block without a single word character is decoration ("* * *")


def _inline_text(element: Any) -> str:
    """Text of a trafilatura element, ``<lb/>`` as a line break; lines trimmed, empty lines dropped."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        if node.text:
            parts.append(node.text)
        for child in node:
            if child.tag == "lb":
                parts.append("\n")
            elif child.tag in _BLOCKS:  # a block nested in a cell or an item starts a line of its own
                parts.append("\n")
                walk(child)
                parts.append("\n")
            elif child.tag != "graphic":
                walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(element)
    lines = (_SPACES.sub(" ", line).strip() for line in "".join(parts).split("\n"))
    return "\n".join(line for line in lines if line)


def _list_text(element: Any) -> str:
    """A list as one paragraph, one line per item (nested lists flattened in order), as text fixtures
    write lists."""
    lines: list[str] = []
    for item in element.iter("item"):
        own = [item.text or ""]
        for child in item:
            if child.tag in ("list", "item"):
                pass  # nested items come on lines of their own, from the outer iter()
            elif child.tag in _BLOCKS:  # a <p> or <head> inside an item reads as a separate phrase
                own.append(" " + _inline_text(child) + " ")
            else:
                own.append(_inline_text(child) if child.tag != "lb" else "\n")
            own.append(child.tail or "")
        text = _SPACES.sub(" ", " ".join("".join(own).split("\n"))).strip()
        if text:
            lines.append(text)
    return "\n".join(lines)


def _table_text(element: Any) -> str:
    rows = []
    for row in element.iter("row"):
        cells = [_inline_text(cell).replace("\n", " ") for cell in row.iter("cell")]
        if any(cells):
            rows.append(CELL_SEPARATOR.join(cells))
    return "\n".join(rows)


def _extracted_blocks(container: Any) -> Iterator[tuple[str, str]]:
    """``(tag, text)`` for each block of trafilatura's XML body, in order.

    Text can also sit loose in the body, between blocks (as ``text``/``tail``, or in inline elements):
    each run of it becomes a paragraph of its own.
    """
    loose: list[str] = [container.text or ""]

    def flush() -> Iterator[tuple[str, str]]:
        text = _SPACES.sub(" ", " ".join("".join(loose).split("\n"))).strip()
        loose.clear()
        if text:
            yield "p", text

    for element in container:
        tag = element.tag
        if tag not in _BLOCKS:  # inline: hi, ref, lb, del...
            loose.append("\n" if tag == "lb" else _inline_text(element))
            loose.append(element.tail or "")
            continue
        yield from flush()
        if tag == "list":
            yield "li", _list_text(element)
        elif tag == "table" and any(child.tag in _BLOCKS for cell in element.iter("cell") for child in cell):
            for row in element.iter("row"):  # a layout table: its cells hold the page's own blocks
                if row.getparent() is element:
                    for cell in row.findall("cell"):
                        yield from _extracted_blocks(cell)
        elif tag == "table":
            yield "table", _table_text(element)
        elif tag == "quote" and any(child.tag in _BLOCKS for child in element):
            for inner_tag, text in _extracted_blocks(element):
                yield ("blockquote" if inner_tag == "p" else inner_tag), text
        elif tag == "quote":
            yield "blockquote", _inline_text(element)
        elif tag == "head":
            rend = (element.get("rend") or "").lower()
            yield (rend if _HEADING.match(rend) else "h2"), _inline_text(element)
        elif tag == "code":
            yield "pre", "\n".join(line.rstrip() for line in "".join(element.itertext()).strip().split("\n"))
        elif tag == "div":
            yield from _extracted_blocks(element)
        elif tag == "p":
            yield "p", _inline_text(element)
        loose.append(element.tail or "")
    yield from flush()


# ---------------------------------------------------------------------------------------------------
# Finding a block again in the page


def _squash(text: str) -> str:
    return _SQUASH.sub("", text).lower()


class _PageText:
    """The visible text of a page, whitespace removed, as runs that remember their element.

    A run is one text node (an element's ``text`` or a ``tail``); its owner is the element the text
    sits in, and ``linked`` says whether it sits inside an ``<a>``.
    """

    def __init__(self, root: Any) -> None:
        from lxml import etree

        pieces: list[str] = []
        self.starts: list[int] = []
        self.owners: list[Any] = []
        self.linked: list[bool] = []
        position = 0
        links = 0
        walker = etree.iterwalk(root, events=("start", "end"))
        hidden: Any = None  # the invisible element whose subtree is being skipped

        def add(text: str | None, owner: Any) -> None:
            nonlocal position
            if not text or text.isspace() or owner is None:  # most tails are indentation
                return
            squashed = _squash(text)
            if squashed:
                pieces.append(squashed)
                self.starts.append(position)
                self.owners.append(owner)
                self.linked.append(links > 0)
                position += len(squashed)

        for event, element in walker:
            tag = element.tag if isinstance(element.tag, str) else ""
            if event == "start":
                if tag.lower() in _INVISIBLE or not tag:
                    hidden = element
                    walker.skip_subtree()
                    continue
                if tag == "a":
                    links += 1
                add(element.text, element)
            else:
                if element is hidden:
                    hidden = None
                elif tag == "a":
                    links -= 1
                add(element.tail, element.getparent())
        self.text = "".join(pieces)
        self.cursor = 0

    def find(self, squashed: str) -> tuple[int, int] | None:
        """Span of a block's squashed text, searched from the previous block on (blocks come in page
        order), then anywhere; when the text was altered in extraction, by its head and tail."""
        if not squashed:
            return None
        for start_from in (self.cursor, 0):
            index = self.text.find(squashed, start_from)
            if index >= 0:
                self.cursor = index + len(squashed)
                return index, index + len(squashed)
        head, tail = squashed[:_LOCATE_EDGE], squashed[-_LOCATE_EDGE:]
        for start_from in (self.cursor, 0):
            begin = self.text.find(head, start_from)
            if begin < 0:
                continue
            end = self.text.find(tail, begin)
            if end >= 0 and end + len(tail) - begin <= 2 * len(squashed) + _LOCATE_EDGE:
                self.cursor = end + len(tail)
                return begin, end + len(tail)
        return None

    def runs(self, span: tuple[int, int]) -> tuple[list[Any], float]:
        """Owners of the runs a span covers (distinct, in order) and the share of its chars in links."""
        begin, end = span
        first = max(bisect_right(self.starts, begin) - 1, 0)
        last = bisect_left(self.starts, end)
        owners: list[Any] = []
        seen: set[Any] = set()
        linked = 0
        for i in range(first, last):
            run_end = self.starts[i + 1] if i + 1 < len(self.starts) else len(self.text)
            overlap = min(run_end, end) - max(self.starts[i], begin)
            if overlap <= 0:
                continue
            if self.linked[i]:
                linked += overlap
            if self.owners[i] not in seen:
                seen.add(self.owners[i])
                owners.append(self.owners[i])
        return owners, linked / max(end - begin, 1)


def _common_ancestor(elements: Sequence[Any]) -> Any:
    chain = [elements[0], *elements[0].iterancestors()]
    depth = {element: k for k, element in enumerate(chain)}
    deepest = 0
    for element in elements[1:]:
        node = element
        while node is not None and node not in depth:
            node = node.getparent()
        if node is None:
            return chain[-1]
        deepest = max(deepest, depth[node])
    return chain[deepest]


# Page nodes are lxml elements (trafilatura path) or BeautifulSoup tags (fallback); these read both.


def _is_lxml(node: Any) -> bool:
    from lxml import etree

    return isinstance(node, etree._Element)


def _tag_name(node: Any) -> str:
    tag = node.tag if _is_lxml(node) else getattr(node, "name", None)
    return tag.lower() if isinstance(tag, str) else ""


def _parent(node: Any) -> Any:
    return node.getparent() if _is_lxml(node) else node.parent


def _container(node: Any) -> str:
    """Class/id tokens of the block and its nearest block-level ancestors, plus landmark names."""
    tokens: list[str] = []
    levels = 0
    while node is not None and levels < CONTAINER_DEPTH:
        tag = _tag_name(node)
        if not tag or tag in _CONTAINER_STOP:
            break
        if tag in _LANDMARKS:
            tokens.append(tag)
        for attribute in ("class", "id"):
            value = node.get(attribute)
            if isinstance(value, list):  # BeautifulSoup splits class
                value = " ".join(value)
            if value and value.strip():
                tokens.append(value.strip())
        if tag not in _INLINE:
            levels += 1
        node = _parent(node)
    container = " ".join(dict.fromkeys(tokens))
    return container[:CONTAINER_MAX_CHARS]


def _block_tag(node: Any) -> str:
    """The nearest block-level element's tag, at or above ``node``."""
    while node is not None and _tag_name(node) in _INLINE:
        node = _parent(node)
    return _tag_name(node) if node is not None else ""


# ---------------------------------------------------------------------------------------------------
# Segmentation


@dataclass(frozen=True)
class HtmlSegmentation:
    """A page as paragraphs, with where each came from.

    ``sources[i]`` holds the page elements whose text makes up paragraph ``i`` (empty when it could
    not be found again); ``extractor`` is ``"trafilatura"``, ``"fallback"`` or ``"none"``.
    """

    paragraphs: tuple[Paragraph, ...]
    metadata: dict[str, str]
    sources: tuple[tuple[Any, ...], ...] = field(repr=False)
    extractor: str


def _parse(text: str) -> Any:
    import trafilatura

    text = _XML_DECLARATION.sub("", text, count=1)  # lxml refuses str input that declares an encoding
    if not text.strip():
        return None
    return trafilatura.load_html(text)


def _metadata(tree: Any) -> dict[str, str]:
    """What the page's head says about it, cheaply: title, canonical URL, publication date."""
    metadata: dict[str, str] = {}

    def first(xpath: str) -> str:
        for value in tree.xpath(xpath):
            value = _SPACES.sub(" ", str(value)).strip()
            if value:
                return value
        return ""

    title = first("//meta[@property='og:title']/@content") or first("//head/title/text()")
    url = first("//link[@rel='canonical']/@href") or first("//meta[@property='og:url']/@content")
    published = first("//meta[@property='article:published_time']/@content") or first(
        "//meta[@itemprop='datePublished']/@content") or first("//time/@datetime")
    if title:
        metadata["title"] = title
    if url:
        metadata["url"] = url
    date = re.match(r"\d{4}-\d{2}-\d{2}", published)
    if date:
        metadata["date"] = date.group(0)
    return metadata


def _lift_headline(
    found: list[tuple[Paragraph, tuple[Any, ...]]], metadata: dict[str, str]
) -> list[tuple[Paragraph, tuple[Any, ...]]]:
    """Move the article's headline out of the paragraphs into ``metadata["title"]``.

    Extraction sometimes keeps the ``<h1>`` headline. It is not a paragraph of the story: like the
    text path's date prefix, it goes to metadata. Only a heading near the top that the page's own
    title contains counts (an ``<h2>``/``<h3>`` only when it is most of the title), so a story's
    subheads are never taken.
    """
    title = _squash(metadata.get("title", ""))
    for index, (paragraph, _) in enumerate(found[:HEADLINE_WITHIN]):
        squashed = _squash(paragraph.text)
        if not (title and squashed and squashed in title):
            continue
        if paragraph.tag == "h1" or (paragraph.tag in ("h2", "h3") and 2 * len(squashed) >= len(title)):
            metadata["title"] = paragraph.text
            return found[:index] + found[index + 1:]
    return found


def _from_trafilatura(tree: Any) -> list[tuple[Paragraph, tuple[Any, ...]]]:
    import trafilatura

    document = trafilatura.bare_extraction(
        tree, include_comments=False, include_tables=True, include_formatting=False, include_links=False,
        output_format="xml",
    )
    body = getattr(document, "body", None) if document is not None else None
    if body is None:
        return []
    page = _PageText(tree)
    paragraphs = []
    for kind, text in _extracted_blocks(body):
        if not _WORDY.search(text):
            continue
        span = page.find(_squash(text.replace(CELL_SEPARATOR, "") if kind == "table" else text))
        if span is None:
            paragraphs.append((Paragraph(text, kind), ()))
            continue
        owners, link_density = page.runs(span)
        if not owners:
            paragraphs.append((Paragraph(text, kind), ()))
            continue
        block = _common_ancestor(owners)
        original = _block_tag(block)
        tag = original if kind == "p" and original in _TELLING_TAGS else kind
        paragraphs.append(
            (Paragraph(text, tag, round(link_density, 4), _container(block)), tuple(owners))
        )
    return paragraphs


# BeautifulSoup fallback ----------------------------------------------------------------------------

_FALLBACK_DROP = ("script", "style", "noscript", "template", "svg", "math", "head", "title", "iframe",
                  "object", "nav", "button", "select", "textarea")


def _from_soup(text: str) -> list[tuple[Paragraph, tuple[Any, ...]]]:
    """Every visible text block of the page: what a reader sees when extraction finds no article."""
    from bs4 import BeautifulSoup, NavigableString
    from bs4.element import Comment, Declaration, Doctype, ProcessingInstruction, Tag

    with warnings.catch_warnings():  # "looks like XML": it is a page, whatever it starts with
        warnings.simplefilter("ignore")
        try:
            soup = BeautifulSoup(text, "lxml")
        except Exception:  # the lxml builder is optional for bs4; the stdlib parser always works
            soup = BeautifulSoup(text, "html.parser")
    for element in soup.find_all(_FALLBACK_DROP):
        element.decompose()

    groups: list[tuple[Any, list[str], int, int]] = []  # block, pieces, chars, linked chars
    for node in soup.descendants:
        if isinstance(node, Tag):
            if node.name == "br" and groups:
                groups[-1][1].append("\n")
            continue
        if not isinstance(node, NavigableString) or isinstance(
            node, (Comment, Declaration, Doctype, ProcessingInstruction)
        ):
            continue
        block, linked = node.parent, False
        while block is not None and (block.name in _INLINE or block.name is None):
            linked = linked or block.name == "a"
            block = block.parent
        if block is None:
            continue
        if not groups or groups[-1][0] is not block:
            groups.append((block, [], 0, 0))
        owner, pieces, chars, linked_chars = groups[-1]
        squashed = len(_squash(str(node)))
        pieces.append(str(node))
        groups[-1] = (owner, pieces, chars + squashed, linked_chars + (squashed if linked else 0))

    paragraphs = []
    for block, pieces, chars, linked_chars in groups:
        lines = (_SPACES.sub(" ", line).strip() for line in "".join(pieces).split("\n"))
        para_text = " ".join(line for line in lines if line) if _tag_name(block) != "pre" else "".join(pieces).strip()
        if not _WORDY.search(para_text):
            continue
        paragraphs.append((
            Paragraph(para_text, _tag_name(block), round(linked_chars / max(chars, 1), 4), _container(block)),
            (block,),
        ))
    return paragraphs


def segment_html(html: str | bytes) -> HtmlSegmentation:
    """Paragraphs of a page's main content, with page metadata and the source of each paragraph."""
    text = _as_text(html)
    tree = None
    try:
        tree = _parse(text)
    except Exception:
        LOGGER.debug("lxml could not parse the page", exc_info=True)
    metadata: dict[str, str] = {}
    found: list[tuple[Paragraph, tuple[Any, ...]]] = []
    extractor = "none"
    if tree is not None:
        try:
            metadata = _metadata(tree)
            found = _lift_headline(_from_trafilatura(tree), metadata)
            extractor = "trafilatura"
        except Exception:  # trafilatura on hostile markup: fall back rather than fail the page
            LOGGER.debug("trafilatura failed on the page", exc_info=True)
            found = []
    if not found and text.strip():
        try:
            found = _from_soup(text)
            extractor = "fallback" if found else "none"
        except Exception:
            LOGGER.debug("BeautifulSoup fallback failed on the page", exc_info=True)
            extractor = "none"
    return HtmlSegmentation(
        tuple(p for p, _ in found), metadata, tuple(s for _, s in found), extractor if found else "none"
    )


def html_to_paragraphs(html: str | bytes) -> tuple[tuple[Paragraph, ...], dict[str, str]]:
    """The paragraphs of a page's main content and its metadata (title, url, date when the page says).

    Bytes are decoded with the charset the page declares; ``str`` is taken as already decoded.

        >>> paragraphs, metadata = html_to_paragraphs(
        ...     "<p>Stocks rose.</p><p class='promo'>Read more: <a href='/x'>Five stocks</a></p>")
        >>> [(p.text, p.tag, round(p.link_density, 2), p.container) for p in paragraphs]
        [('Stocks rose.', 'p', 0.0, ''), ('Read more: Five stocks', 'p', 0.53, 'promo')]
    """
    segmentation = segment_html(html)
    return segmentation.paragraphs, segmentation.metadata


def removes_most(texts: Sequence[str], kept: Sequence[bool]) -> bool:
    """Whether dropping the paragraphs not ``kept`` would remove more than :data:`MAX_REMOVED_SHARE` of
    the page's characters (the page rule; the evaluator applies it to the HTML fixtures too)."""
    total = sum(len(text) for text in texts)
    removed = sum(len(text) for text, keep in zip(texts, kept) if not keep)
    return bool(total) and removed > MAX_REMOVED_SHARE * total


def _removes_most(result: "CleanResult") -> bool:
    return removes_most([p.text for p in result.paragraphs], [p.kept for p in result.paragraphs])


def _kept_whole(result: "CleanResult") -> "CleanResult":
    """Every paragraph kept; labels and scores still say what the classifier thought."""
    return replace(result, paragraphs=tuple(replace(p, kept=True) for p in result.paragraphs))


def page_threshold(info: "ModelInfo") -> float:
    """A model's threshold for web pages: the one chosen on held-out HTML fixtures and stored in its
    sidecar, else :data:`HTML_THRESHOLD`."""
    return HTML_THRESHOLD if info.html_threshold is None else info.html_threshold


def html_cleaner(cleaner: "Cleaner") -> "Cleaner":
    """The cleaner the HTML path decides with: the user's threshold if one is set, else the model's
    :func:`page_threshold`."""
    if cleaner.config.threshold is not None:
        return cleaner
    return cleaner.with_config(threshold=page_threshold(cleaner.info))


@dataclass(frozen=True)
class PageDecision:
    """The HTML path's decisions on one page: ``result`` as :func:`analyze_html` returns it, the
    ``threshold`` it was decided at, and ``kept_whole`` when the extractor won (see
    :func:`decide_segmentations`), so that ``cleaner explain`` can say which rule took the decision."""

    result: "CleanResult"
    threshold: float
    kept_whole: bool


def decide_segmentations(
    cleaner: "Cleaner", segmentations: Sequence[HtmlSegmentation], observe: "RoundObserver | None" = None,
) -> list[PageDecision]:
    """Decide on already segmented pages, in one classifier call per round; the one place the HTML
    path's rules are applied.

    Two rules differ from plain text, both because extraction has already done part of the job: the
    default threshold is the model's page threshold (see :func:`html_cleaner`), and on a page where the
    classifier would remove more than :data:`MAX_REMOVED_SHARE` of what trafilatura extracted, every
    paragraph is kept (their labels and scores still say what the classifier thought). ``observe`` sees
    each round's features, as in ``Cleaner.analyze_paragraphs``.
    """
    deciding = html_cleaner(cleaner)
    results = deciding.analyze_paragraphs([(s.paragraphs, s.metadata) for s in segmentations], observe)
    decisions = []
    for segmentation, result in zip(segmentations, results):
        whole = segmentation.extractor == "trafilatura" and _removes_most(result)
        decisions.append(PageDecision(_kept_whole(result) if whole else result, deciding.threshold, whole))
    return decisions


def analyze_segmentations(
    cleaner: "Cleaner", segmentations: Sequence[HtmlSegmentation]
) -> list["CleanResult"]:
    """Every paragraph of already segmented pages with its decision, by :func:`decide_segmentations`."""
    return [decision.result for decision in decide_segmentations(cleaner, segmentations)]


def analyze_html_batch(cleaner: "Cleaner", pages: Iterable[str | bytes]) -> list["CleanResult"]:
    """Every paragraph of several pages with its decision; one classifier call per round for all."""
    return analyze_segmentations(cleaner, [segment_html(page) for page in pages])


def analyze_html(cleaner: "Cleaner", html: str | bytes) -> "CleanResult":
    """Every paragraph of a page's main content with its label, score and kept flag, plus metadata."""
    return analyze_html_batch(cleaner, [html])[0]


def label_of(sources: Sequence[Any], attribute: str = "data-label") -> set[str | None]:
    """The labels the markup gives a paragraph: for each source element, the nearest ancestor-or-self
    carrying ``attribute`` (``None`` when there is none)."""
    labels: set[str | None] = set()
    for node in sources:
        while node is not None and _tag_name(node) and node.get(attribute) is None:
            node = _parent(node)
        labels.add(node.get(attribute) if node is not None and _tag_name(node) else None)
    return labels


