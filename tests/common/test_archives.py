"""Loading crafted model archives: members that would land outside the temporary folder,
links and device files are refused before anything is written (issue 41)."""
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest
from allennlp.models.archival import load_archive

from biomtl_allennlp.common.archives import (
    UnsafeArchiveError,
    check_archive,
    load_archive_safely,
    predictor_from_path,
)
from biomtl_allennlp.common.errors import InputFormatError
from biomtl_allennlp.pretrained import tagger_path

ALLENNLP = str(Path(sys.executable).parent / "allennlp")
PAYLOAD = b"pwned\n"


def crafted(path: Path, *extra: tarfile.TarInfo, first: bool = True) -> Path:
    """The shipped model's members plus `extra` members (before them when `first`)."""
    bad = []
    for info in extra:
        data = None
        if info.isfile():
            info.size = len(PAYLOAD)
            data = io.BytesIO(PAYLOAD)
        bad.append((info, data))
    with tarfile.open(tagger_path(), "r:gz") as source, tarfile.open(path, "w:gz") as target:
        members = [(info, source.extractfile(info) if info.isfile() else None) for info in source]
        for info, data in bad + members if first else members + bad:
            target.addfile(info, data)
    return path


def member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.mode = 0o644
    return info


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """`tmp_path/tmp` is the temporary folder archives are unpacked in; `../x` members of
    an archive unpacked there would land in `tmp_path`."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    return tmp_path


def everything_under(folder: Path):
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


CASES = {
    "parent": (lambda root: [member("../escaped.txt")], "member '../escaped.txt' would be written outside"),
    "nested-parent": (lambda root: [member("vocabulary/../../escaped.txt")], "would be written outside"),
    "absolute": (lambda root: [member(str(root / "absolute.txt"))], "has an absolute name"),
    "symlink": (
        lambda root: [member("vocabulary2", tarfile.SYMTYPE, str(root / "outside")),
                      member("vocabulary2/escaped.txt")],
        "is a symbolic link to",
    ),  # fmt: skip
    "hardlink": (lambda root: [member("weights2.th", tarfile.LNKTYPE, "/etc/passwd")], "is a hard link"),
    "device": (lambda root: [member("null", tarfile.CHRTYPE)], "not a regular file or folder"),
    "fifo": (lambda root: [member("pipe", tarfile.FIFOTYPE)], "not a regular file or folder"),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("first", [True, False])
def test_crafted_archives_are_refused_and_write_nothing(sandbox, case, first):
    make, message = CASES[case]
    (sandbox / "outside").mkdir()
    archive = crafted(sandbox / "evil.tar.gz", *make(sandbox), first=first)
    before = everything_under(sandbox)
    with pytest.raises(UnsafeArchiveError, match=message) as raised:
        load_archive_safely(archive)
    assert str(raised.value).startswith(f"{archive}: unsafe model archive, not loaded: member ")
    with pytest.raises(UnsafeArchiveError):
        predictor_from_path(archive, "biomedical_entities")
    assert everything_under(sandbox) == before  # nothing outside, and the temp folder is gone
    assert not os.listdir(sandbox / "tmp")


@pytest.mark.parametrize("case", ["parent", "absolute", "symlink", "device"])
def test_allennlp_load_archive_refuses_them_too_with_the_plugin_imported(sandbox, case):
    """`allennlp predict` / `evaluate` go through allennlp's own `load_archive`: the plugin
    makes tarfile's "data" filter the default, so the same members are refused (an
    absolute name is made relative by the filter: it lands inside the temporary folder)."""
    assert tarfile.TarFile.extraction_filter is not None
    make, _ = CASES[case]
    (sandbox / "outside").mkdir()
    archive = crafted(sandbox / "evil.tar.gz", *make(sandbox), first=False)
    if case == "absolute":
        assert load_archive(str(archive)).model is not None
    else:
        with pytest.raises(tarfile.FilterError):
            load_archive(str(archive))
    # allennlp leaves its temporary folder behind on an error (`cleanup=False`), with the
    # members before the refused one in it; nothing is written outside it
    assert [name for name in everything_under(sandbox) if not name.startswith("tmp")] == [
        "evil.tar.gz", "outside",
    ]  # fmt: skip


def test_allennlp_predict_command_with_a_crafted_archive(tmp_path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    archive = crafted(tmp_path / "evil.tar.gz", member("../escaped.txt"), first=False)
    documents = tmp_path / "in.jsonl"
    documents.write_text(json.dumps({"text": "Cisplatin."}) + "\n")
    result = subprocess.run(
        [ALLENNLP, "predict", str(archive), str(documents), "--include-package", "biomtl_allennlp",
         "--silent", "--output-file", str(tmp_path / "out.jsonl")],
        capture_output=True, text=True, env={**os.environ, "TMPDIR": str(scratch)},
    )  # fmt: skip
    assert result.returncode != 0
    assert "OutsideDestinationError" in result.stderr and "escaped.txt" in result.stderr
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "out.jsonl").exists()


def test_the_shipped_archive_passes_and_loads(sandbox):
    check_archive(str(tagger_path()))
    predictor = predictor_from_path(tagger_path(), "biomedical_entities")
    entities = predictor.predict_json({"text": "Cisplatin induced nephrotoxicity."})["entities"]
    assert {"Chemical", "Disease"} <= {entity["type"] for entity in entities}
    assert not os.listdir(sandbox / "tmp")  # the unpacked folder is removed


def test_not_an_archive(tmp_path):
    junk = tmp_path / "model.tar.gz"
    junk.write_bytes(b"not a tar file at all")
    with pytest.raises(InputFormatError, match=r"model\.tar\.gz: not a readable model archive"):
        load_archive_safely(junk)
    with pytest.raises(InputFormatError, match=r"missing\.tar\.gz: model archive not found"):
        load_archive_safely(tmp_path / "missing.tar.gz")


def test_dictionary_urls_in_a_config_are_opt_in(tmp_path, monkeypatch):
    from biomtl_allennlp.data.token_indexers.dictionary_features_indexer import DictionaryFeaturesIndexer

    monkeypatch.delenv("BIOMTL_ALLOW_REMOTE_FILES", raising=False)
    fetched = []
    monkeypatch.setattr(
        "biomtl_allennlp.data.token_indexers.dictionary_features_indexer.cached_path",
        lambda path: fetched.append(path) or str(local),
    )
    local = tmp_path / "dict.tsv"
    local.write_text("cisplatin\tChemical\n")
    url = "https://example.org/dictionary.tsv"
    with pytest.raises(InputFormatError, match="dictionary_path is a URL; fetching URLs named in a config"):
        DictionaryFeaturesIndexer(url)
    assert fetched == []  # refused before any fetch
    assert DictionaryFeaturesIndexer(str(local)).entity_types == ["Chemical"]  # local paths as before
    monkeypatch.setenv("BIOMTL_ALLOW_REMOTE_FILES", "1")
    assert DictionaryFeaturesIndexer(url).entity_types == ["Chemical"]
    assert fetched == [str(local), url]


class _RunsCodeWhenUnpickled:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (str(self.marker),))


def test_weights_that_run_code_when_unpickled_are_refused(sandbox):
    """torch loads weights with `weights_only=True`: a pickle calling os.mkdir is refused."""
    import torch

    marker = sandbox / "code-ran"
    weights = sandbox / "weights.th"
    torch.save({"payload": _RunsCodeWhenUnpickled(marker)}, weights)
    archive = sandbox / "evil.tar.gz"
    with tarfile.open(tagger_path(), "r:gz") as source, tarfile.open(archive, "w:gz") as target:
        for info in source:
            if info.name == "weights.th":
                target.add(weights, arcname="weights.th")
            else:
                target.addfile(info, source.extractfile(info) if info.isfile() else None)
    with pytest.raises(Exception, match="Weights only load failed"):
        load_archive_safely(archive)
    assert not marker.exists()
