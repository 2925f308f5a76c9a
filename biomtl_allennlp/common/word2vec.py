"""
Reading word2vec vectors in the binary format (the paper's
`wikipedia-pubmed-and-PMC-w2v.bin`); allennlp reads the text format itself.
"""
import logging
import mmap
import os
from typing import Dict, Iterator, Optional, Set, Tuple

import numpy
import torch
from allennlp.common.file_utils import cached_path
from allennlp.data.vocabulary import Vocabulary

logger = logging.getLogger(__name__)


def is_word2vec_binary(path: str) -> bool:
    """
    True for a word2vec binary file: a `.bin` name, or a `<count> <dim>` header followed
    by bytes that are not text.
    """
    if path.endswith(".bin"):
        return True
    local = cached_path(path)
    if local.endswith((".gz", ".bz2", ".lzma", ".zip", ".tar")) or os.path.isdir(local):
        return False
    with open(local, "rb") as handle:
        header = handle.readline().split()
        sample = handle.read(4096)
    if len(header) != 2 or not all(field.isdigit() for field in header):
        return False
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return any(ord(c) < 32 and c not in "\n\r\t" for c in text)


def iter_word2vec_binary(
    path: str, keep: Optional[Set[str]] = None
) -> Iterator[Tuple[str, numpy.ndarray]]:
    """
    Yields `(word, vector)` from a word2vec binary file, only for words in `keep` if given.
    Raises `ValueError` naming the file for a malformed header or a truncated file.
    """
    local = cached_path(path)
    with open(local, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        end_of_header = data.find(b"\n")
        try:
            count, dim = (int(field) for field in data[:end_of_header].split())
        except ValueError:
            raise ValueError(
                f"{path}: not a word2vec binary file (first line must be '<count> <dim>')"
            ) from None
        vector_bytes = 4 * dim
        position = end_of_header + 1
        size = len(data)
        for number in range(count):
            while position < size and data[position] in b"\n\r":
                position += 1
            space = data.find(b" ", position)
            if space < 0 or space + 1 + vector_bytes > size:
                raise ValueError(
                    f"{path}: truncated at entry {number + 1} of {count} (byte {position})"
                )
            word = data[position:space].decode("utf-8", errors="replace")
            position = space + 1
            if keep is None or word in keep:
                # Slicing the map copies the bytes, so no view of it outlives the file.
                raw = data[position : position + vector_bytes]
                yield word, numpy.frombuffer(raw, dtype="<f4").astype(numpy.float32)
            position += vector_bytes


def word2vec_binary_tokens(path: str) -> Iterator[str]:
    """All words of a word2vec binary file, in order."""
    local = cached_path(path)
    with open(local, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        end_of_header = data.find(b"\n")
        count, dim = (int(field) for field in data[:end_of_header].split())
        position = end_of_header + 1
        for _ in range(count):
            while data[position] in b"\n\r":
                position += 1
            space = data.find(b" ", position)
            yield data[position:space].decode("utf-8", errors="replace")
            position = space + 1 + 4 * dim


def read_word2vec_binary_weight(
    path: str, embedding_dim: int, vocab: Vocabulary, namespace: str
) -> torch.FloatTensor:
    """
    An embedding matrix for `namespace`: the file's vector for every vocabulary token that
    has one, random normal (with the file's mean and std) for the others, as allennlp does
    for text files.
    """
    token_to_index = vocab.get_token_to_index_vocabulary(namespace)
    vectors: Dict[str, numpy.ndarray] = {}
    for word, vector in iter_word2vec_binary(path, keep=set(token_to_index)):
        if vector.shape[0] != embedding_dim:
            raise ValueError(
                f"{path}: vectors have {vector.shape[0]} dimensions, embedding_dim is "
                f"{embedding_dim}"
            )
        vectors[word] = vector
    if not vectors:
        raise ValueError(f"{path}: no vector for any of the {len(token_to_index)} words")
    stacked = numpy.stack(list(vectors.values()))
    weight = torch.empty(len(token_to_index), embedding_dim).normal_(
        float(stacked.mean()), float(stacked.std())
    )
    for word, vector in vectors.items():
        weight[token_to_index[word]] = torch.from_numpy(vector)
    logger.info(
        "Pretrained vectors for %d of %d words in namespace %s",
        len(vectors),
        len(token_to_index),
        namespace,
    )
    return weight
