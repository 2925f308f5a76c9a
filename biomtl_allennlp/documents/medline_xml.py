"""
Reading PubMed / MEDLINE XML (`PubmedArticleSet`: the annual baseline and the daily update
files `pubmed*.xml.gz`), streaming, with the standard library's expat parser.

For each `PubmedArticle` (and `PubmedBookArticle`) a `Document`: its PMID (ids
`{"pmid": ...}`), the `line` of its element in the file, its title
(`ArticleTitle`; for a book without a chapter title, `BookTitle`) and its abstract: the text
of the `Abstract`'s `AbstractText` parts joined by single spaces (their `Label`s are not
part of the text; `OtherAbstract`s, e.g. translations, are left out). So the document text
`title + " " + abstract` is the PubTator convention, and a citation without an abstract is
its title alone. Inline markup inside a title or an abstract part (`<i>`, `<sup>`,
`<sub>`, MathML, ...) contributes its text; each title and abstract part is stripped of
leading and trailing whitespace, and nothing else in the text is changed.

`format_citation` writes one citation back as XML.

For each `DeleteCitation` of an update file a `MedlineDeletion` with its PMIDs.

An entity reference that expat cannot resolve (`&foo;` in a file whose DOCTYPE names an
external DTD, which is not read: PubMed XML uses only the predefined entities and character
references) inside a title or abstract is left out of the text, as expat does, and reported
in the citation's `warnings` (`path:line: XML entity &foo; is not defined ...`), which
`tag-corpus` writes to the input's errors file. External entities (`<!ENTITY x SYSTEM
"...">`) and DTDs are never fetched; a reference to one is reported the same way. Without a DOCTYPE naming a DTD, expat
itself rejects an undefined entity (`not well-formed XML: undefined entity`).

Bad input raises `InputFormatError` naming the file and line: XML that is not well formed
(`path:line: not well-formed XML: ...`), a root element other than `PubmedArticleSet`, an
article without a PMID, a gzip file that is truncated or corrupt. Records are yielded as the
file is read (1 MiB at a time), so memory does not grow with the file.
"""
import gzip
import os
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO, Dict, Iterator, List, Optional, Union
from xml.parsers import expat
from xml.sax.saxutils import escape

from biomtl_allennlp.common.errors import InputFormatError
from biomtl_allennlp.documents.document import Document

PathLike = Union[str, "os.PathLike[str]"]

_CHUNK_BYTES = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
_ARTICLES = {"PubmedArticle": "MedlineCitation", "PubmedBookArticle": "BookDocument"}


@dataclass
class MedlineDeletion:
    """A `DeleteCitation` element: the PMIDs to delete, and its line in the file."""

    pmids: List[str]
    line: int


MedlineRecord = Union[Document, MedlineDeletion]


@dataclass
class _Article:
    line: int
    pmid: Optional[str] = None
    title: Optional[str] = None
    book_title: Optional[str] = None
    abstract_parts: List[str] = field(default_factory=list)
    warnings: List[str] = field(default_factory=list)


class _Handler:
    """expat callbacks: tracks the element path and collects the fields of the current
    article (or deletion) into `records`."""

    def __init__(self, parser: "expat.XMLParserType", name: str) -> None:
        self.parser = parser
        self.name = name
        self.path: List[str] = []
        self.records: List[MedlineRecord] = []
        self.article: Optional[_Article] = None
        self.deletion: Optional[MedlineDeletion] = None
        # The text being collected (of a PMID, title or abstract part) and its depth.
        self.text: Optional[List[str]] = None
        self.text_depth = 0

    def fail(self, message: str) -> InputFormatError:
        return InputFormatError(message, self.name, self.parser.CurrentLineNumber)

    def start(self, tag: str, attributes: Dict[str, str]) -> None:
        path = self.path
        if not path and tag != "PubmedArticleSet":
            raise self.fail(f"expected a PubmedArticleSet (PubMed XML), got <{tag}>")
        path.append(tag)
        depth = len(path)
        if self.text is not None:
            return  # inline markup inside a collected field
        if depth == 2 and tag in _ARTICLES:
            self.article = _Article(line=self.parser.CurrentLineNumber)
        elif depth == 2 and tag == "DeleteCitation":
            self.deletion = MedlineDeletion(pmids=[], line=self.parser.CurrentLineNumber)
        elif self._collects(tag, depth):
            self.text, self.text_depth = [], depth

    def _collects(self, tag: str, depth: int) -> bool:
        path = self.path
        if self.deletion is not None:
            return depth == 3 and tag == "PMID"
        if self.article is None or depth < 4:
            return False
        document = _ARTICLES[path[1]]
        if path[2] != document:
            return False
        if depth == 4:
            return tag in ("PMID", "ArticleTitle")
        if depth == 5 and path[3] == "Article" and tag == "ArticleTitle":
            return True
        if depth == 5 and path[3] == "Book" and tag == "BookTitle":
            return True
        # MedlineCitation/Article/Abstract/AbstractText or BookDocument/Abstract/AbstractText
        if tag != "AbstractText":
            return False
        if document == "MedlineCitation":
            return depth == 6 and path[3] == "Article" and path[4] == "Abstract"
        return depth == 5 and path[3] == "Abstract"

    def characters(self, data: str) -> None:
        if self.text is not None:
            self.text.append(data)

    def skipped_entity(self, name: str, is_parameter_entity: bool) -> None:
        """An entity reference expat could not resolve (its DTD is not read): reported when
        it falls inside a field of the text (elsewhere it changes nothing we read)."""
        if not is_parameter_entity:
            self._warn(f"XML entity &{name}; is not defined (the DTD is not read)")

    def external_entity(
        self, context: str, base: Optional[str], system_id: Optional[str], public_id: Optional[str]
    ) -> int:
        """An external entity (`<!ENTITY x SYSTEM "...">`) referenced: never fetched,
        reported like an unresolved one."""
        self._warn(f"XML entity &{context}; is external ({system_id!r}) and not fetched")
        return 1  # go on without it

    def _warn(self, problem: str) -> None:
        if self.text is None or self.article is None:
            return
        self.article.warnings.append(
            f"{self.name}:{self.parser.CurrentLineNumber}: {problem}; it is left out of the "
            f"text of <{self.path[self.text_depth - 1]}>"
        )

    def end(self, tag: str) -> None:
        depth = len(self.path)
        if self.text is not None and depth == self.text_depth:
            self._store(tag, "".join(self.text).strip())
            self.text = None
        elif depth == 2 and self.article is not None:
            self.records.append(self._citation(self.article))
            self.article = None
        elif depth == 2 and self.deletion is not None:
            self.records.append(self.deletion)
            self.deletion = None
        self.path.pop()

    def _store(self, tag: str, text: str) -> None:
        if self.deletion is not None:
            self.deletion.pmids.append(text)
            return
        article = self.article
        assert article is not None
        if tag == "PMID":
            article.pmid = text
        elif tag == "ArticleTitle":
            article.title = text
        elif tag == "BookTitle":
            article.book_title = text
        elif text:
            article.abstract_parts.append(text)

    def _citation(self, article: _Article) -> Document:
        if not article.pmid:
            raise InputFormatError(
                f"<{self.path[1]}> without a PMID (it starts here)", self.name, article.line
            )
        title = article.title if article.title else (article.book_title or "")
        return Document.from_parts(
            title,
            " ".join(article.abstract_parts),
            {"pmid": article.pmid},
            line=article.line,
            warnings=article.warnings,
        )


def format_citation(pmid: str, title: str, abstract: str) -> str:
    """One `<PubmedArticle>` element with this PMID, title and (single-part) abstract, that
    `read_medline` reads back as a `Document` of this PMID, title and abstract (for inputs built
    from other corpora: tests, benchmarks)."""
    return (
        f'<PubmedArticle><MedlineCitation><PMID Version="1">{escape(pmid)}</PMID><Article>'
        f"<ArticleTitle>{escape(title)}</ArticleTitle><Abstract><AbstractText>"
        f"{escape(abstract)}</AbstractText></Abstract></Article></MedlineCitation>"
        "</PubmedArticle>"
    )


def _open_binary(name: str) -> BinaryIO:
    try:
        handle = open(name, "rb")
    except FileNotFoundError:
        raise InputFormatError("file not found", name) from None
    except OSError as error:  # a folder, no permission, ...
        raise InputFormatError(f"cannot be read ({error})", name) from error
    if handle.peek(2)[:2] == _GZIP_MAGIC:
        return gzip.GzipFile(fileobj=handle, mode="rb")  # type: ignore[return-value]
    return handle


def read_medline(path: PathLike) -> Iterator[MedlineRecord]:
    """
    Yields the `Document`s and `MedlineDeletion`s of a PubMed XML file (`.xml`, or
    gzip-compressed, recognised by its content), in file order. See the module docstring.
    """
    name = os.fspath(path)
    parser = expat.ParserCreate()
    handler = _Handler(parser, name)
    parser.StartElementHandler = handler.start
    parser.EndElementHandler = handler.end
    parser.CharacterDataHandler = handler.characters
    parser.SkippedEntityHandler = handler.skipped_entity
    parser.ExternalEntityRefHandler = handler.external_entity
    parser.buffer_text = True
    with _open_binary(name) as handle:
        while True:
            try:
                chunk = handle.read(_CHUNK_BYTES)
            except (OSError, EOFError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
                raise InputFormatError(f"cannot be read ({error})", name) from error
            try:
                parser.Parse(chunk, not chunk)
            except expat.ExpatError as error:
                message = expat.ErrorString(error.code)
                raise InputFormatError(
                    f"not well-formed XML: {message} (column {error.offset + 1})",
                    name,
                    error.lineno,
                ) from None
            yield from handler.records
            handler.records.clear()
            if not chunk:
                break
