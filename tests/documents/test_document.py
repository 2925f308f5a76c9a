"""`Document` and the line and JSON-lines readers of `documents/`."""
import gzip

import pytest

from biomtl_allennlp.common.errors import InputFormatError
from biomtl_allennlp.documents.document import Document, first_id
from biomtl_allennlp.documents.json_lines import BadRecord, read_byte_lines, read_json_lines
from biomtl_allennlp.documents.lines import InputLine, LineReader, error_output


def test_title_and_abstract_parts_and_their_offsets():
    document = Document.from_json({"pmid": 7, "title": "A title.", "abstract": "An abstract.", "x": 1})
    assert document == Document(text="A title. An abstract.", ids={"pmid": 7}, title="A title.", abstract="An abstract.")
    assert document.title_end == 8 and document.abstract_start == 9
    assert document.text[document.abstract_start :] == document.abstract
    alone = Document.from_json({"title": "Only a title", "abstract": None})
    assert (alone.text, alone.abstract, alone.title_end, alone.abstract_start) == ("Only a title", "", None, None)
    text = Document.from_json({"id": "d", "text": "Some text."})
    assert (text.title, text.title_end, text.ids) == (None, None, {"id": "d"})


@pytest.mark.parametrize(
    "value, message",
    [
        ([1], "expected a JSON object, got list"),
        ({"txt": "x", "b": 1}, "missing key: expected 'text', or 'title' and 'abstract'; got keys ['b', 'txt']"),
        ({"text": 3}, "'text' must be a string, got int"),
        ({"title": None, "abstract": 2}, "'abstract' must be a string, got int"),
        ({"text": ""}, "empty text"),
        ({"text": " \n"}, "text contains only whitespace"),
    ],
)
def test_what_is_no_document(value, message):
    with pytest.raises(InputFormatError) as error:
        Document.from_json(value)
    assert str(error.value) == message


def test_first_id_and_error_outputs():
    assert first_id({"id": None, "doc_id": 4, "pmid": None}) == "4" and first_id({}) == "-"
    assert error_output("bad", {"pmid": "1"}, "x" * 1001) == {"pmid": "1", "error": "bad", "line": "x" * 1000 + "..."}


def test_a_line_keeps_its_line_beside_the_users_object():
    reader = LineReader()
    read = reader.read_line('{"text": "p53", "line": "mine"}\r\n')
    assert isinstance(read, InputLine) and read == {"text": "p53", "line": "mine"}
    assert read.line == '{"text": "p53", "line": "mine"}' and read.error is None
    title = reader.read_line("12|t|A title\n")
    assert title == {} and title.skip
    flushed = reader.flush()
    assert flushed == {"pmid": "12", "title": "A title", "abstract": ""} and reader.flush() is None
    assert flushed.error is None and not flushed.skip


def test_json_lines_are_split_at_line_feeds_and_bad_lines_named(tmp_path):
    path = tmp_path / "in.jsonl.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(b'\xef\xbb\xbf{"text":\r "ab"}\n\n[1]\n{"text": "\xe4"}\n')
    assert [number for number, _ in read_byte_lines(str(path))] == [1, 3, 4]
    records = list(read_json_lines(str(path)))
    assert records[0] == (1, {"text": "ab"})  # a carriage return between values is JSON whitespace
    assert records[1] == BadRecord(f"{path}:3: expected a JSON object, got list", "[1]")
    assert records[2].message.startswith(f"{path}:4: not valid UTF-8: byte 0xe4")
    with pytest.raises(InputFormatError, match="cannot be read"):
        list(read_byte_lines(str(tmp_path / "missing.jsonl")))
