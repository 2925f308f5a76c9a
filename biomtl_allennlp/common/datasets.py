"""
Where each dataset's files are.

A dataset entry in a config is either a built-in name (the paper's five corpora, mapped to
their folders in the Crichton et al. repository), a folder under the data root, or a local
path / URL of a folder holding `train.tsv`, `devel.tsv` and `test.tsv`.
"""
import os
import re
from typing import Optional

DATA_ROOT_ENV = "BIOMTL_DATA_ROOT"

# Where the corpora can be fetched (named in the error for a missing root; never read
# implicitly: nothing downloads at run time unless a config names a URL itself).
PUBLIC_DATA_URL = "https://github.com/cambridgeltl/MTL-Bioinformatics-2016/tree/master/data"

# JNLPBA uses the BIO `JNLPBA` folder: the public `JNLPBA-IOBES` files have sentence
# boundaries shifted by one token.
BUILTIN_DATASETS = {
    "BC2GM": "BC2GM-IOBES",
    "BC4CHEMD": "BC4CHEMD-IOBES",
    "BC5CDR": "BC5CDR-IOBES",
    "NCBI-disease": "NCBI-disease-IOBES",
    "JNLPBA": "JNLPBA",
}

# The paper's corpora that the shared data root holds (all but BC4CHEMD), in the paper's
# order: the default of the benchmarks and of the reproduction (`research`).
BENCHMARK_DATASETS = ("BC2GM", "BC5CDR", "NCBI-disease", "JNLPBA")

SPLITS = ("train", "devel", "test")

_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def is_url(path: str) -> bool:
    return bool(_URL.match(path))


def resolve_data_root(data_root: Optional[str] = None) -> Optional[str]:
    """The `data_root` parameter, else `$BIOMTL_DATA_ROOT`, else `None` (no root)."""
    root = data_root or os.environ.get(DATA_ROOT_ENV)
    if not root:
        return None
    return root if is_url(root) else os.path.expanduser(root)


def dataset_folder(entry: str, data_root: Optional[str]) -> str:
    """
    The folder (path or URL) of a dataset entry.

    Built-in names map to their folder under the root; an absolute path, a path starting
    with `.` or `~`, or a URL is used as it is; any other entry is a folder under the root,
    and with no root (`None`) it is an error that says how to give one.
    """
    if is_url(entry) or os.path.isabs(entry) or entry.startswith((".", "~")):
        return os.path.expanduser(entry)
    folder = BUILTIN_DATASETS.get(entry, entry)
    if data_root is None:
        raise ValueError(
            f"dataset {entry!r} is a name under the data root, and no data root is set: "
            f"set ${DATA_ROOT_ENV} or the reader's 'data_root' to a folder holding "
            f"{folder}/train.tsv, devel.tsv and test.tsv (the corpora of {PUBLIC_DATA_URL}), "
            f"or give the dataset as a path"
        )
    if is_url(data_root):
        return data_root.rstrip("/") + "/" + folder
    return os.path.join(data_root, folder)


def split_file(folder: str, split: str) -> str:
    if is_url(folder):
        return folder.rstrip("/") + f"/{split}.tsv"
    return os.path.join(folder, f"{split}.tsv")


def dataset_name(entry: str) -> str:
    """
    The name used for a dataset's label namespace, head and metrics: a built-in name or
    folder name as it is; for a path or URL, its last component.
    """
    if is_url(entry) or os.path.isabs(entry) or entry.startswith((".", "~")):
        return os.path.basename(entry.rstrip("/"))
    return entry


def label_namespace(name: str) -> str:
    """Each dataset's tags live in their own (unpadded) vocabulary namespace."""
    return f"{name}_labels"


LABEL_NAMESPACE_SUFFIX = "_labels"
