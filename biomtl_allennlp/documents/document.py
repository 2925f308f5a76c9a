"""
`Document`: the one document type of the project's readers and writers. A document to tag,
as the `biomedical_entities` predictor and `allennlp tag-corpus` take it from any input
format (a JSON object, a PubTator or MEDLINE record, a line of text), or a gold document
read from a PubTator or BioC file: its ids, its text, its title and abstract parts where it
has them, and the entities found (or annotated) in it.
"""
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

from biomtl_allennlp.common.errors import InputFormatError
from biomtl_allennlp.documents.entity import ID_KEYS, Entity


@dataclass
class Document:
    """
    # Parameters

    text : `str`
        What is tagged: the text, or `title + " " + abstract` (as in PubTator, so offsets
        agree with PubTator files), just `title` without an abstract.
    ids : `Dict[str, Any]`
        The ids of the input (keys of `ID_KEYS`), echoed in its output.
    title : `str`, optional
        The title part, at offset 0 (a sentence of its own); `None` for a text document.
    abstract : `str`, optional
        The abstract part, at `abstract_start` (`""` when the document has only a title).
    entities : `List[Entity]`
        The entities found in `text` (character offsets into it): predicted, or the gold
        entities of a PubTator or BioC file.
    relations : `List[Tuple[str, ...]]`
        A PubTator file's relation lines (e.g. `("CID", "D016651", "D003490")`, without
        the PMID column), so that writing the document back reproduces them; otherwise
        ignored.
    line : `int`, optional
        Where the document starts in its file (a MEDLINE `PubmedArticle` element).
    warnings : `List[str]`
        What its reader found wrong without refusing the document (`path:line: message`,
        e.g. an XML entity left out of the text); `allennlp tag-corpus` writes them to the
        input's errors file.
    """

    text: str
    ids: Dict[str, Any] = field(default_factory=dict)
    title: Optional[str] = None
    abstract: Optional[str] = None
    entities: List[Entity] = field(default_factory=list)
    relations: List[Tuple[str, ...]] = field(default_factory=list)
    line: Optional[int] = None
    warnings: List[str] = field(default_factory=list)

    @classmethod
    def from_parts(
        cls, title: str, abstract: str, ids: Optional[Dict[str, Any]] = None, **fields: Any
    ) -> "Document":
        """A document of a title and an abstract (`""`: none): its text is
        `title + " " + abstract`, or just `title` without an abstract, as in PubTator, so
        that offsets agree with PubTator files."""
        text = f"{title} {abstract}" if abstract else title
        return cls(text=text, ids=dict(ids or {}), title=title, abstract=abstract, **fields)

    @property
    def pmid(self) -> Any:
        """The document's `pmid` id (a PubTator or MEDLINE document's PMID), else `None`."""
        return self.ids.get("pmid")

    @property
    def title_end(self) -> Optional[int]:
        """Where the title ends when an abstract follows it (a sentence boundary)."""
        return len(self.title) if self.title is not None and self.abstract else None

    @property
    def abstract_start(self) -> Optional[int]:
        """The offset of the abstract in `text`, when there is one."""
        return len(self.title) + 1 if self.title is not None and self.abstract else None

    def to_json(self) -> Dict[str, Any]:
        """The predictor input of the document (which `from_json` reads back): its ids, then
        `title` and `abstract`, or `text`."""
        if self.title is not None:
            return {**self.ids, "title": self.title, "abstract": self.abstract}
        return {**self.ids, "text": self.text}

    @classmethod
    def from_json(cls, json_dict: Any) -> "Document":
        """
        The document of a predictor input: `{"text": ...}` or `{"title": ..., "abstract":
        ...}` (`abstract` may be missing or null), with ids under `ID_KEYS`. Raises
        `InputFormatError` (without a place) for what is no document: not an object,
        missing keys, a `text`, `title` or `abstract` that is not a string, empty or
        whitespace-only text.
        """
        if not isinstance(json_dict, dict):
            raise InputFormatError(f"expected a JSON object, got {type(json_dict).__name__}")
        ids = ids_of(json_dict)
        if "text" in json_dict:
            text = json_dict["text"]
            if not isinstance(text, str):
                raise InputFormatError(f"'text' must be a string, got {_type_name(text)}")
            document = cls(text=text, ids=ids)
        elif "title" in json_dict or "abstract" in json_dict:
            parts = []
            for key in ("title", "abstract"):
                value = json_dict.get(key)
                if value is None:
                    value = ""
                if not isinstance(value, str):
                    raise InputFormatError(f"'{key}' must be a string, got {_type_name(value)}")
                parts.append(value)
            title, abstract = parts
            document = cls.from_parts(title, abstract, ids)
        else:
            raise InputFormatError(
                f"missing key: expected 'text', or 'title' and 'abstract'; got keys {sorted(json_dict)}"
            )
        if not document.text:
            raise InputFormatError("empty text")
        if not document.text.strip():
            raise InputFormatError("text contains only whitespace")
        return document


def ids_of(json_dict: Mapping[str, Any]) -> Dict[str, Any]:
    """The ids of an input object (its keys of `ID_KEYS`), in `ID_KEYS` order."""
    return {key: json_dict[key] for key in ID_KEYS if key in json_dict}


def first_id(json_dict: Mapping[str, Any], default: str = "-") -> str:
    """The first id of `ID_KEYS` that `json_dict` has (not null), as a string, else `default`."""
    return next((str(json_dict[key]) for key in ID_KEYS if json_dict.get(key) is not None), default)


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__
