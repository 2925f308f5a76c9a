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
    from biomtl_allennlp.common.datasets import dataset_folder

    assert dataset_folder("BC5CDR", "/data") == "/data/BC5CDR-IOBES"
    assert dataset_folder("JNLPBA", "/data") == "/data/JNLPBA"
    assert dataset_folder("NCBI-disease", "https://host/data/") == (
        "https://host/data/NCBI-disease-IOBES"
    )
    assert dataset_folder("AnatEM-IOBES", "/data") == "/data/AnatEM-IOBES"


def test_a_name_with_no_data_root_is_a_clear_error_not_a_download(monkeypatch, tmp_path):
    # No root: reading a dataset given by name says how to set one (it used to fall back to
    # downloading the public repository at run time).
    monkeypatch.delenv("BIOMTL_DATA_ROOT", raising=False)
    reader = MultiTaskNerDatasetReader(["BC5CDR"])  # building it needs no data (predict)
    with pytest.raises(ValueError, match=r"'BC5CDR'.*BIOMTL_DATA_ROOT.*BC5CDR-IOBES/train.tsv"):
        list(reader.read("train"))
    # A dataset given as a path needs no root.
    folder = tmp_path / "genes"
    folder.mkdir()
    (folder / "devel.tsv").write_text("BRCA1\tS-Gene\n\n", encoding="utf-8")
    (instance,) = MultiTaskNerDatasetReader([str(folder)]).read("devel")
    assert instance["metadata"]["words"] == ["BRCA1"]


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


def _many_sentences(count, tag):
    return "".join(f"w{i}\tO\nx{i % 7}\tS-{tag}\n" + "y\tO\n" * (i % 5) + "\n" for i in range(count))


@pytest.fixture
def larger_root(tmp_path):
    write_dataset(tmp_path, "genes", _many_sentences(37, "GENE"))
    write_dataset(tmp_path, "chems", _many_sentences(23, "CHEM"))
    return tmp_path


def _key(instance):
    return instance["metadata"]["dataset"], tuple(instance["metadata"]["words"]), tuple(instance["tags"].labels)


def test_worker_and_rank_shards_are_allennlps_partition_of_the_sentences(larger_root, monkeypatch):
    from allennlp.data.dataset_readers import dataset_reader
    from allennlp.data.dataset_readers.dataset_reader import WorkerInfo

    reader = MultiTaskNerDatasetReader(["genes", "chems"], data_root=str(larger_root))
    everything = [_key(instance) for instance in reader.read("train+devel")]
    assert len(everything) == 2 * (37 + 23)
    for world_size, num_workers in ((1, 3), (2, 1), (2, 2)):
        shards = []
        for rank in range(world_size):
            # What torch.distributed answers inside rank `rank` of a process group.
            monkeypatch.setattr(dataset_reader.util, "is_distributed", lambda: world_size > 1)
            monkeypatch.setattr(dataset_reader.dist, "get_rank", lambda: rank)
            monkeypatch.setattr(dataset_reader.dist, "get_world_size", lambda: world_size)
            for worker in range(num_workers):
                sharded = MultiTaskNerDatasetReader(["genes", "chems"], data_root=str(larger_root))
                sharded._set_worker_info(WorkerInfo(num_workers, worker))
                shard = [_key(instance) for instance in sharded.read("train+devel")]
                # Rank r keeps every world_size-th sentence from r, worker w every
                # num_workers-th of those from w: allennlp's own islice partition.
                assert shard == everything[rank::world_size][worker::num_workers]
                shards += shard
        assert sorted(shards) == sorted(everything)


def test_worker_processes_load_every_sentence_once_per_epoch(larger_root):
    from allennlp.data import Vocabulary
    from allennlp.data.data_loaders import MultiProcessDataLoader
    from allennlp.data.samplers import BucketBatchSampler

    def epochs(**loader_args):
        reader = MultiTaskNerDatasetReader(["genes", "chems"], data_root=str(larger_root))
        loader = MultiProcessDataLoader(
            reader, "train", batch_sampler=BucketBatchSampler(batch_size=4, sorting_keys=["tokens"]),
            **loader_args,
        )
        vocab = Vocabulary.from_instances(reader.read("train"))
        loader.index_with(vocab)
        seen = []
        for _ in range(2):
            rows = []
            for batch in loader:
                for row, metadata in enumerate(batch["metadata"]):
                    length = len(metadata["words"])
                    namespace = f"{metadata['dataset']}_labels"
                    tags = tuple(vocab.get_token_from_index(int(index), namespace)
                                 for index in batch["tags"][row, :length])
                    rows.append((metadata["dataset"], tuple(metadata["words"]), tags))
            seen.append(sorted(rows))
        return seen

    in_process = epochs()
    expected = sorted(
        _key(instance)
        for instance in MultiTaskNerDatasetReader(["genes", "chems"], data_root=str(larger_root)).read("train")
    )
    assert in_process == [expected, expected]
    assert epochs(num_workers=2, max_instances_in_memory=1000) == in_process
    assert epochs(num_workers=3, max_instances_in_memory=8) == in_process


def test_a_sentence_over_the_token_limit_is_refused_naming_file_and_line(tmp_path):
    """issue 41: a 10,000-token sentence (a missing blank line) took 6.8 GB in training."""
    long_sentence = "".join(f"w{i}\tO\n" for i in range(1001))
    write_dataset(tmp_path, "long", IOBES + "\n" + long_sentence)
    path = tmp_path / "long" / "train.tsv"
    reader = MultiTaskNerDatasetReader(["long"], data_root=str(tmp_path))
    with pytest.raises(InputFormatError) as raised:
        list(reader.read("train"))
    assert str(raised.value) == (
        f"{path}:14: sentence of 1001 tokens (lines 14-1014), over the limit of 1000 "
        "(max_sentence_tokens); a missing blank line between sentences? Split it, or raise the limit"
    )
    assert len(list(MultiTaskNerDatasetReader(["long"], data_root=str(tmp_path), max_sentence_tokens=None).read("train"))) == 3
    assert len(list(MultiTaskNerDatasetReader(["long"], data_root=str(tmp_path), max_sentence_tokens=1001).read("train"))) == 3
    with pytest.raises(ValueError, match="max_sentence_tokens must be a positive integer or null"):
        MultiTaskNerDatasetReader(["long"], data_root=str(tmp_path), max_sentence_tokens=0)
