"""`python -m research.pages`: every generated page under `docs/` is what its committed run
records give, byte for byte."""
import pytest

from research.pages import PAGES, main
from tests.conftest import PROJECT_ROOT


def test_every_generated_page_is_listed():
    generated = {
        str(path.relative_to(PROJECT_ROOT))
        for path in (PROJECT_ROOT / "docs").glob("results*.md")
        if not path.stem.endswith("_notes")
    }
    assert generated == set(PAGES)


def test_the_committed_pages_are_what_their_records_give(capsys):
    assert main(["--check"]) == 0, capsys.readouterr().out[-3000:]
    assert "every page is what its records give" in capsys.readouterr().out


def test_a_page_differing_from_its_records_is_reported(tmp_path, monkeypatch, capsys):
    from research import pages

    def write_page(page, out_dir=None):  # what the records give, one word changed
        written = out_dir / "results_gpu_1epoch.md"
        text = (PROJECT_ROOT / "docs" / "results_gpu_1epoch.md").read_text()
        written.write_text(text.replace("MTM-W", "MTM-X", 1))
        return written

    monkeypatch.setattr(pages, "write_page", write_page)
    assert main(["--check", "docs/results_gpu_1epoch.md"]) == 1
    out = capsys.readouterr().out
    assert "MTM-X" in out.split("+++ written again", 1)[1]
    assert out.rstrip().endswith("1 page(s) differ: docs/results_gpu_1epoch.md")


def test_unknown_page():
    with pytest.raises(SystemExit):
        main(["docs/nope.md"])
