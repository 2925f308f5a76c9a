"""
BioCreative II gene mention (BC2GM) scoring with alternative matches, as in the official
evaluation (`alt_eval.perl`).

Mention files (`GENE.eval`, `ALTGENE.eval`, predictions) have one mention per line:

    sentence_id|start end|mention text

where `start` and `end` are inclusive character offsets into the sentence with all whitespace
removed (so they only count non-whitespace characters).

A predicted mention is a true positive when its offsets equal those of a gold `GENE.eval` mention
of its sentence, or those of an `ALTGENE.eval` alternative of that gold mention. Alternatives are
listed per sentence; an alternative stands for every gold mention of its sentence that it
overlaps. Each gold mention is counted at most once (predictions and gold mentions are paired by
a maximum matching, so the result does not depend on the order of the lines); a prediction that
pairs with no gold mention, e.g. a second prediction for an already matched gold mention, is a
false positive. Gold mentions left unpaired are false negatives. Repeated identical prediction
lines count once.

Command line (`biomtl_allennlp/commands/bc2gm_eval.py`):

    allennlp bc2gm-eval --gold GENE.eval --alt ALTGENE.eval \\
        --predictions pred.eval [--output-file scores.json]
"""
from collections import defaultdict
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple, Union

from biomtl_allennlp.common.errors import InputFormatError
from biomtl_allennlp.common.scoring import precision_recall_f1
from biomtl_allennlp.common.tags import bioul_to_spans
from biomtl_allennlp.data.text_lines import open_lines

# (sentence_id, start, end), offsets inclusive and counted over non-whitespace characters.
Mention = Tuple[str, int, int]
# (sentence_id, tokens, tags) with BIOUL (or BIO / IOBES) tags.
TaggedSentence = Tuple[str, Sequence[str], Sequence[str]]


def read_mentions(path: str) -> List[Tuple[Mention, str]]:
    """
    Reads a `sentence_id|start end|text` file.

    # Returns

    `[((sentence_id, start, end), text), ...]` in file order. Blank lines are skipped; a
    malformed line raises `InputFormatError` naming the file and line, a file that cannot be
    read `InputFormatError` naming the file. A leading byte-order mark is removed.
    """
    mentions: List[Tuple[Mention, str]] = []
    for line_number, line in enumerate(open_lines(path), start=1):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        fields = line.split("|", 2)
        offsets = fields[1].split() if len(fields) == 3 else []
        if len(offsets) != 2 or not all(o.isdigit() for o in offsets):
            raise InputFormatError(
                f"expected 'sentence_id|start end|text', got {line!r}", path, line_number
            )
        start, end = int(offsets[0]), int(offsets[1])
        if end < start:
            raise InputFormatError(f"end before start: {line!r}", path, line_number)
        mentions.append(((fields[0].strip(), start, end), fields[2]))
    return mentions


def tags_to_mentions(
    sentence_id: str, tokens: Sequence[str], tags: Sequence[str], entity_type: Optional[str] = None
) -> List[Tuple[Mention, str]]:
    """
    Converts a tagged sentence to BC2GM mentions: token spans decoded from BIOUL tags (BIO and
    IOBES work too) become inclusive offsets over the sentence's non-whitespace characters. The
    tokens must be the sentence's characters, split (whitespace inside a token is ignored).

    # Parameters

    sentence_id : `str`
    tokens : `Sequence[str]`
    tags : `Sequence[str]`
    entity_type : `str`, optional (default = `None`)
        Keep only spans of this type (default: all).

    # Returns

    `[((sentence_id, start, end), mention_text), ...]`, the text being the tokens joined by spaces.
    """
    if len(tokens) != len(tags):
        raise ValueError(f"sentence {sentence_id}: {len(tokens)} tokens but {len(tags)} tags")
    lengths = [len("".join(token.split())) for token in tokens]
    starts: List[int] = []
    offset = 0
    for length in lengths:
        starts.append(offset)
        offset += length
    mentions: List[Tuple[Mention, str]] = []
    for span_type, first, last in bioul_to_spans(tags):
        if entity_type is not None and span_type != entity_type:
            continue
        start, end = starts[first], starts[last] + lengths[last] - 1
        if end < start:  # only empty tokens
            continue
        mentions.append(((sentence_id, start, end), " ".join(tokens[first : last + 1])))
    return mentions


def predictions_to_eval_lines(
    predictions: Iterable[TaggedSentence], entity_type: Optional[str] = None
) -> List[str]:
    """`sentence_id|start end|text` lines for `(sentence_id, tokens, tags)` predictions."""
    lines = []
    for sentence_id, tokens, tags in predictions:
        for (sid, start, end), text in tags_to_mentions(sentence_id, tokens, tags, entity_type):
            lines.append(f"{sid}|{start} {end}|{text}")
    return lines


def write_predictions(
    path: str, predictions: Iterable[TaggedSentence], entity_type: Optional[str] = None
) -> None:
    """Writes `predictions_to_eval_lines(predictions)` to `path`, one per line."""
    with open(path, "w", encoding="utf-8") as handle:
        for line in predictions_to_eval_lines(predictions, entity_type):
            handle.write(line + "\n")


def _max_matching(candidates: Dict[Mention, List[int]]) -> int:
    """Size of a maximum matching of predictions to gold indices (Kuhn's augmenting paths)."""
    owner: Dict[int, Mention] = {}

    def augment(prediction: Mention, seen: Set[int]) -> bool:
        for gold in candidates[prediction]:
            if gold in seen:
                continue
            seen.add(gold)
            if gold not in owner or augment(owner[gold], seen):
                owner[gold] = prediction
                return True
        return False

    return sum(1 for prediction in sorted(candidates) if augment(prediction, set()))


def score(
    gold_path: str,
    alt_path: Optional[str],
    predictions: Union[str, Iterable[Mention], Iterable[Tuple[Mention, str]]],
) -> Dict[str, float]:
    """
    Scores predictions against `GENE.eval` (`gold_path`) with the alternatives of `ALTGENE.eval`
    (`alt_path`, or `None` for exact matching only).

    # Parameters

    gold_path : `str`
    alt_path : `str`, optional
    predictions : a path to a prediction file in the same format, or mentions
        `(sentence_id, start, end)` (or `((sentence_id, start, end), text)` as returned by
        `tags_to_mentions` / `read_mentions`).

    # Returns

    `{"precision", "recall", "f1", "tp", "fp", "fn"}`, precision/recall/F1 as fractions.
    """
    gold = [mention for mention, _ in read_mentions(gold_path)]
    alternatives = [mention for mention, _ in read_mentions(alt_path)] if alt_path else []
    if isinstance(predictions, str):
        predicted = [mention for mention, _ in read_mentions(predictions)]
    else:
        predicted = [
            item[0] if isinstance(item[0], tuple) else item  # type: ignore[misc]
            for item in predictions
        ]
    predicted_set = sorted(set((str(s), int(b), int(e)) for s, b, e in predicted))

    # Gold mention index -> acceptable (start, end) offsets: its own and overlapping alternatives.
    gold_by_sentence: Dict[str, List[int]] = defaultdict(list)
    for index, (sentence_id, _, _) in enumerate(gold):
        gold_by_sentence[sentence_id].append(index)
    acceptable: Dict[Tuple[str, int, int], List[int]] = defaultdict(list)
    for index, mention in enumerate(gold):
        acceptable[mention].append(index)
    for sentence_id, start, end in alternatives:
        for index in gold_by_sentence.get(sentence_id, []):
            _, gold_start, gold_end = gold[index]
            overlaps = start <= gold_end and gold_start <= end
            if overlaps and index not in acceptable[(sentence_id, start, end)]:
                acceptable[(sentence_id, start, end)].append(index)

    candidates = {p: acceptable.get(p, []) for p in predicted_set}
    tp = _max_matching(candidates)
    return precision_recall_f1(tp, len(predicted_set) - tp, len(gold) - tp)
