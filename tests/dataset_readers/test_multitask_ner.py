import pytest
from allennlp.data.vocabulary import Vocabulary

from biomtl_allennlp.common.errors import InputFormatError
from biomtl_allennlp.dataset_readers.multitask_ner import MultiTaskNerDatasetReader
from tests.conftest import SHARED_DATA

IOBES = (
    "Mutations\tO\nin\tO\nBRCA1\tS-GENE\nand\tO\ntumor\tB-GENE\nnecrosis\tI-GENE\nfactor\tE-GENE\n"
    ".\tO\n\n"
    "No\tO\ngenes\tO\n.\tO\n"
)
BIO = (
    "-DOCSTART-\tO\n\n"
    "IL\tB-protein\n-\tI-protein\n2\tI-protein\nin\tO\nT\tB-cell_type\ncells\tI-cell_type\n\n"
)


def write_dataset(root, name, train, devel=None, test=None):
    folder = root / name
    folder.mkdir(parents=True)
    for split, text in (("train", train), ("devel", devel or train), ("test", test or train)):
        (folder / f"{split}.tsv").write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def root(tmp_path):
    write_dataset(tmp_path, "genes", IOBES)
    write_dataset(tmp_path, "jnlpba-like", BIO)
    return tmp_path


def test_reads_iobes_and_bio_as_bioul_with_dataset_tags(root):
    reader = MultiTaskNerDatasetReader(["genes", "jnlpba-like"], data_root=str(root))
    instances = list(reader.read("train"))
    assert len(instances) == 3
    first, second, third = instances
    assert [t.text for t in first["tokens"].tokens] == [
        "Mutations", "in", "BRCA1", "and", "tumor", "necrosis", "factor", "."
    ]
    assert first["tags"].labels == ["O", "O", "U-GENE", "O", "B-GENE", "I-GENE", "L-GENE", "O"]
    assert first["tags"]._label_namespace == "genes_labels"
    assert first["metadata"]["dataset"] == "genes"
    assert second["tags"].labels == ["O", "O", "O"]
    # BIO input, -DOCSTART- skipped.
    assert [t.text for t in third["tokens"].tokens] == ["IL", "-", "2", "in", "T", "cells"]
    assert third["tags"].labels == [
        "B-protein", "I-protein", "L-protein", "O", "B-cell_type", "L-cell_type"
    ]
    assert third["tags"]._label_namespace == "jnlpba-like_labels"
    assert third["metadata"].metadata == {"words": ["IL", "-", "2", "in", "T", "cells"],
                                 "dataset": "jnlpba-like"}
    # Each dataset's labels live in their own namespace.
    vocab = Vocabulary.from_instances(instances)
    assert set(vocab.get_token_to_index_vocabulary("genes_labels")) == {
        "O", "U-GENE", "B-GENE", "I-GENE", "L-GENE"
    }
    assert "U-GENE" not in vocab.get_token_to_index_vocabulary("jnlpba-like_labels")


def test_splits_joined_by_plus_and_cap_per_dataset(root):
    reader = MultiTaskNerDatasetReader(["genes"], data_root=str(root))
    assert len(list(reader.read("train+devel"))) == 4
    capped = MultiTaskNerDatasetReader(
        ["genes", "jnlpba-like"], data_root=str(root), max_instances_per_dataset=1
    )
    assert [i["metadata"]["dataset"] for i in capped.read("train")] == ["genes", "jnlpba-like"]
    train_only = MultiTaskNerDatasetReader(
        ["genes"], data_root=str(root), max_instances_per_dataset={"train": 1}
    )
    assert len(list(train_only.read("train"))) == 1
    assert len(list(train_only.read("test"))) == 2


def test_data_root_from_environment_and_paths(root, monkeypatch, tmp_path):
    monkeypatch.setenv("BIOMTL_DATA_ROOT", str(root))
    assert len(list(MultiTaskNerDatasetReader(["genes"]).read("test"))) == 2
    # A path entry works anywhere; its name is the folder name.
    reader = MultiTaskNerDatasetReader([str(root / "jnlpba-like")], data_root="/nonexistent")
    (instance,) = reader.read("devel")
    assert instance["metadata"]["dataset"] == "jnlpba-like"
    # With one dataset, a file path is read as that dataset.
    reader = MultiTaskNerDatasetReader(["genes"])
    assert len(list(reader.read(str(root / "genes" / "devel.tsv")))) == 2


def test_builtin_names_resolve_to_their_folders(monkeypatch):
    from biomtl_allennlp.common.datasets import dataset_folder, DEFAULT_DATA_ROOT

    assert dataset_folder("BC5CDR", "/data") == "/data/BC5CDR-IOBES"
    assert dataset_folder("JNLPBA", "/data") == "/data/JNLPBA"
    assert dataset_folder("NCBI-disease", DEFAULT_DATA_ROOT).endswith("/data/NCBI-disease-IOBES")
    assert dataset_folder("AnatEM-IOBES", "/data") == "/data/AnatEM-IOBES"


@pytest.mark.skipif(not (SHARED_DATA / "JNLPBA").exists(), reason="shared data not present")
def test_reads_the_real_corpora_heads():
    reader = MultiTaskNerDatasetReader(
        ["NCBI-disease", "JNLPBA"], data_root=str(SHARED_DATA), max_instances_per_dataset=50
    )
    instances = list(reader.read("devel"))
    assert len(instances) == 100
    assert {i["metadata"]["dataset"] for i in instances} == {"NCBI-disease", "JNLPBA"}


def test_missing_file_is_named(tmp_path):
    reader = MultiTaskNerDatasetReader(["nothing-here"], data_root=str(tmp_path))
    with pytest.raises(InputFormatError, match=r"nothing-here/train\.tsv: file not found"):
        list(reader.read("train"))


def test_unknown_split_with_several_datasets_is_an_error(root):
    reader = MultiTaskNerDatasetReader(["genes", "jnlpba-like"], data_root=str(root))
    with pytest.raises(ValueError, match="not a split name"):
        list(reader.read("training"))


def test_constructor_checks():
    with pytest.raises(ValueError, match="at least one dataset"):
        MultiTaskNerDatasetReader([])
    with pytest.raises(ValueError, match="unique"):
        MultiTaskNerDatasetReader(["a", "./x/a"])
    with pytest.raises(ValueError, match="label_encoding"):
        MultiTaskNerDatasetReader(["a"], label_encoding="BILOU")


def test_a_byte_order_mark_is_not_part_of_the_first_token(tmp_path):
    write_dataset(tmp_path, "bom", "\ufeff" + IOBES)
    reader = MultiTaskNerDatasetReader(["bom"], data_root=str(tmp_path))
    first = next(iter(reader.read("train")))
    assert first["tokens"].tokens[0].text == "Mutations"
    assert first["metadata"]["words"][0] == "Mutations"
