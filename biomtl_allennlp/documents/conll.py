"""
The CoNLL output of the `biomedical_entities` predictor: per document a `# doc <id>` line
and a `# columns: token<TAB>HEAD...` line, then per sentence (window) one
`token<TAB>tag...` line per token, each head's BIOUL tag in its column, and a blank line
after each sentence.
"""
from typing import Any, Dict, Optional, Sequence

from biomtl_allennlp.documents.document import first_id
from biomtl_allennlp.documents.pubtator import clean_pmid


def format_conll(outputs: Dict[str, Any], heads: Optional[Sequence[str]] = None) -> str:
    """
    The CoNLL lines of one predicted document (it needs the `"sentences"` that
    `output_format="conll"` adds): `# doc <id>` (the first id of `ID_KEYS` present,
    cleaned with `clean_pmid`, else `-`), `# columns: token<TAB>HEAD...`, then per
    sentence one `token<TAB>tag...` line per token and a blank line. `heads` gives the
    columns (default: the sorted heads of the sentences; the predictor passes the model's
    sorted `datasets`, so a document without tokens gets the same columns line).
    Raises `ValueError` for a token that is empty or contains whitespace (it would
    break the line / column structure) and for tags that do not fit the tokens.
    """
    pmid = first_id(outputs)
    sentences = outputs.get("sentences")
    if sentences is None:
        raise ValueError("format_conll: the output has no 'sentences' (output_format='conll')")
    if heads is None:
        heads = sorted({head for sentence in sentences for head in sentence["tags"]})
    heads = list(heads)
    lines = [f"# doc {clean_pmid(pmid)}", "# columns: " + "\t".join(["token"] + heads)]
    for number, sentence in enumerate(sentences):
        tokens, tags = sentence["tokens"], sentence["tags"]
        if sorted(tags) != sorted(heads):
            raise ValueError(
                f"format_conll: sentence {number} has tags of heads {sorted(tags)}, "
                f"expected {sorted(heads)}"
            )
        for head in heads:
            if len(tags[head]) != len(tokens):
                raise ValueError(
                    f"format_conll: sentence {number}: {len(tags[head])} tags of head "
                    f"{head!r} for {len(tokens)} tokens"
                )
        for position, token in enumerate(tokens):
            row = [token] + [tags[head][position] for head in heads]
            for column, value in enumerate(row):
                if not value or any(character.isspace() for character in value):
                    raise ValueError(
                        f"format_conll: {'tag' if column else 'token'} {value!r} "
                        f"(sentence {number}, token {position}) is empty or contains "
                        "whitespace; it cannot be written as a CoNLL column"
                    )
            lines.append("\t".join(row))
        lines.append("")
    return "\n".join(lines) + "\n"
