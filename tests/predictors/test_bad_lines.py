"""Bad bytes and bad lines (issue 41): a line that is not UTF-8, a JSON value that is not an
object and raw control characters inside JSON lines, through the predictor, `allennlp
tag-file` and `allennlp predict`."""
import gzip
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from biomtl_allennlp.commands.tag_file import tag_file
from biomtl_allennlp.common.errors import InputFormatError
from tests.predictors.test_biomedical_entities import check_document

ALLENNLP = str(Path(sys.executable).parent / "allennlp")
TEXT = "Cisplatin induced anemia in mice."
# The three-line file: byte 0xE4 (Latin-1 "ä") in the second line.
THREE_LINES = (
    json.dumps({"id": "1", "text": TEXT}).encode() + b"\n"
    + b'{"id": "2", "text": "N\xe4ive T cells"}\n'
    + json.dumps({"id": "3", "text": "Hydrogen peroxide and p53."}).encode() + b"\n"
)  # fmt: skip


def run(predictor, data: bytes, tmp_path, name="in.jsonl", batch_size=2):
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    output = io.StringIO()
    counts = tag_file(predictor, str(path), output, batch_size=batch_size)
    return [json.loads(line) for line in output.getvalue().splitlines()], counts, str(path)


class TestLoadLine:
    @pytest.mark.parametrize(
        "line, kind",
        [
            ('[{"pmid": "arr", "text": "Cisplatin"}]', "list"),
            ("[]", "list"),
            ('"Cisplatin induced anemia."', "str"),
            ("42", "int"),
            ("-1.5e3", "float"),
            ("true", "bool"),
            ("null", "NoneType"),
            ('  [1, 2]\t', "list"),
        ],
    )
    def test_a_json_value_that_is_not_an_object_is_an_error_line(self, make_predictor, line, kind):
        predictor = make_predictor()
        output = predictor.predict_json(predictor.load_line(line + "\n"))
        assert output == {"error": f"expected a JSON object, got {kind}", "line": line}

    @pytest.mark.parametrize(
        "line",
        ["true love of p53", "42 patients with anemia", "null mutants of BRCA1", '"Quoted" anemia', "[sic] anemia",
         "[Treatment of hypertension in the elderly]."],
    )
    def test_text_that_only_starts_like_json_is_text(self, make_predictor, line):
        predictor = make_predictor()
        check_document(predictor.predict_json(predictor.load_line(line + "\n")), line)

    @pytest.mark.parametrize("line", ['[{"pmid": "1", "text": "Cisplatin"', "[1, 2", '["a", ]', "[true, x]"])
    def test_a_broken_json_array_is_an_error_not_text(self, make_predictor, line):
        predictor = make_predictor()
        output = predictor.predict_json(predictor.load_line(line + "\n"))
        assert output["error"].startswith("invalid JSON") and output["line"] == line

    def test_raw_control_characters_in_json_lines(self, make_predictor):
        predictor = make_predictor()
        # Between values a carriage return or tab is JSON whitespace.
        output = predictor.predict_json(predictor.load_line('{"id": "ws",\r\t"text": "%s"}\n' % TEXT))
        assert output["id"] == "ws"
        check_document(output, TEXT)
        # Inside a string it must be escaped: the whole line is one error line.
        raw = '{"id": "cr", "text": "Cisplatin\rinduced anemia."}'
        output = predictor.predict_json(predictor.load_line(raw + "\r\n"))
        assert output["error"].startswith("invalid JSON: Invalid control character at") and output["line"] == raw
        escaped = predictor.predict_json(predictor.load_line(json.dumps({"text": "Cisplatin\rinduced"}) + "\n"))
        check_document(escaped, "Cisplatin\rinduced")

    def test_load_bytes(self, make_predictor):
        predictor = make_predictor()
        output = predictor.predict_json(predictor.load_bytes(b'{"text": "N\xe4ive T cells"}\r\n'))
        assert output == {
            "error": "not valid UTF-8: byte 0xe4 at byte 12 of the line (the file must be UTF-8)",
            "line": '{"text": "N\\xe4ive T cells"}',
        }
        fresh = make_predictor()  # a byte-order mark is removed from the first line only
        assert fresh.predict_json(fresh.load_bytes(b"\xef\xbb\xbf" + TEXT.encode() + b"\n"))["text"] == TEXT
        assert predictor.predict_json(predictor.error_input("too long", ids={"pmid": "7"})) == {
            "pmid": "7", "error": "too long",
        }  # fmt: skip


class TestTagFile:
    def test_a_non_utf8_line_is_an_error_and_the_others_are_tagged(self, make_predictor, tmp_path):
        outputs, counts, path = run(make_predictor(), THREE_LINES, tmp_path)
        assert counts == {"lines": 3, "outputs": 3, "errors": 1}
        assert [output.get("id") for output in outputs] == ["1", None, "3"]
        check_document(outputs[0], TEXT)
        assert outputs[1] == {
            "error": f"{path}:2: not valid UTF-8: byte 0xe4 at byte 23 of the line (the file must be UTF-8)",
            "line": '{"id": "2", "text": "N\\xe4ive T cells"}',
        }
        check_document(outputs[2], "Hydrogen peroxide and p53.")

    def test_a_carriage_return_inside_a_line_does_not_split_it(self, make_predictor, tmp_path):
        data = (
            b'{"id": "a", "text": "Cisplatin\rinduced anemia."}\r\n'  # raw CR inside a string
            b'{"id": "b",\r"text": "Hydrogen peroxide."}\n'  # raw CR between values
            b"plain text\rwith a carriage return\n"
            b"\n  \n"
            b'[{"pmid": "arr", "text": "Cisplatin induced anemia."}]\n'
        )
        outputs, counts, path = run(make_predictor(), data, tmp_path, name="in.jsonl.gz")
        assert counts == {"lines": 4, "outputs": 4, "errors": 2}
        assert outputs[0]["error"].startswith(f"{path}:1: invalid JSON: Invalid control character")
        assert outputs[1]["id"] == "b"
        check_document(outputs[1], "Hydrogen peroxide.")
        check_document(outputs[2], "plain text\rwith a carriage return")
        assert outputs[3]["error"] == f"{path}:6: expected a JSON object, got list"

    def test_the_same_outputs_as_allennlp_predict_on_good_lines(self, make_predictor, tmp_path):
        good = b"".join(line + b"\n" for line in THREE_LINES.splitlines() if b"\xe4" not in line)
        outputs, _, _ = run(make_predictor(), good, tmp_path, batch_size=1)
        predictor = make_predictor()
        expected = [predictor.predict_json(predictor.load_line(line)) for line in good.decode().splitlines()]
        assert outputs == expected

    def test_command_line(self, tiny_archive_path, tmp_path):
        source = tmp_path / "three.jsonl"
        source.write_bytes(THREE_LINES)
        # allennlp predict dies on the bad byte, with no output (the case 4) ...
        predicted = tmp_path / "predict.jsonl"
        result = subprocess.run(
            [ALLENNLP, "predict", str(tiny_archive_path), str(source), "--include-package", "biomtl_allennlp",
             "--output-file", str(predicted), "--silent"],
            capture_output=True, text=True,
        )  # fmt: skip
        assert result.returncode != 0 and "UnicodeDecodeError" in result.stderr
        # ... tag-file reports the line and tags the others.
        out = tmp_path / "out.jsonl"
        result = subprocess.run(
            [ALLENNLP, "tag-file", str(tiny_archive_path), str(source), "--output-file", str(out),
             "--include-package", "biomtl_allennlp", "--batch-size", "2"],
            capture_output=True, text=True,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert f"tag-file: 3 lines, 3 outputs, 1 with errors, written to {out}" in result.stderr
        outputs = [json.loads(line) for line in out.read_text().splitlines()]
        assert [o.get("id") for o in outputs] == ["1", None, "3"]
        assert outputs[1]["error"].startswith(f"{source}:2: not valid UTF-8: byte 0xe4")
        missing = subprocess.run(
            [ALLENNLP, "tag-file", str(tiny_archive_path), str(tmp_path / "nothing.jsonl")],
            capture_output=True, text=True,
        )  # fmt: skip
        assert missing.returncode == 1
        assert f"error: {tmp_path / 'nothing.jsonl'}: cannot be read (No such file or directory)" in missing.stderr

    def test_a_truncated_gzip_file_is_reported_after_the_lines_before(self, make_predictor, tmp_path):
        noise = [os.urandom(16).hex() for _ in range(400)]  # compresses badly: the cut is mid-file
        data = gzip.compress(b"".join(json.dumps({"id": n, "text": TEXT}).encode() + b"\n" for n in noise))
        path = tmp_path / "cut.jsonl.gz"
        path.write_bytes(data[: len(data) // 2])
        output = io.StringIO()
        with pytest.raises(InputFormatError, match=r"cut\.jsonl\.gz:\d+: cannot be read"):
            tag_file(make_predictor(), str(path), output, batch_size=50)
        assert output.getvalue().count("\n") >= 50

    def test_a_title_without_its_abstract_line_at_the_end_is_tagged(self, make_predictor, tmp_path):
        """A PubTator title line whose `|a|` line never comes, last in the file, is tagged
        alone (the predictor's `flush`), as one before another document is."""
        data = (
            b"1|t|Cisplatin induced anemia.\n"
            b"1|a|Hydrogen peroxide and p53.\n"
            b"\n"
            b"2|t|Naloxone reverses hypotension.\n"
            b"3|t|Aspirin and p53.\n"
            b"\n"
        )
        outputs, counts, _ = run(make_predictor(), data, tmp_path, name="in.pubtator", batch_size=2)
        assert [output["pmid"] for output in outputs] == ["1", "2", "3"]
        assert counts == {"lines": 4, "outputs": 3, "errors": 0}
        check_document(outputs[2], "Aspirin and p53.")
        assert outputs[2]["title"] == "Aspirin and p53." and outputs[2]["abstract"] == ""
        predictor = make_predictor()
        assert predictor.flush() is None
        predictor.load_line("4|t|A title.")
        assert predictor.flush()["title"] == "A title." and predictor.flush() is None
