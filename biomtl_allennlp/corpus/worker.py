"""
The workers of `allennlp tag-corpus`: Ray actors (`ray.remote(TaggerWorker)` in
`tagger.tag_corpus`), each holding one `biomedical_entities` predictor (the archive is
loaded once per actor; its `EntityExtractor` tags), with `threads` torch threads. A worker
tags a batch of documents with `predict_batch_json` and formats each output with the
predictor's own `dump_line`, so the lines are those that `allennlp predict` writes.
"""
import json
import resource
from typing import Any, Dict, List, Optional, Tuple, Union

from biomtl_allennlp.corpus.inputs import BiocRecord
from biomtl_allennlp.documents.document import Document

# A worker's result for one document: its output text, its error output as a JSON line (or
# `None`), and the types of its entities.
Result = Tuple[str, Optional[str], List[str]]


class TaggerWorker:
    """
    One worker (wrapped by `ray.remote` in `tag_corpus`): loads the archive's
    `biomedical_entities` predictor once and tags batches of documents.

    # Parameters

    archive : `str`
        A `model.tar.gz` of a `multitask_crf_tagger`.
    output_format : `str`
        `"pubtator"` (the predictor's `"pubtator"`), or another of `OUTPUT_FORMATS` (the
        predictor's `"json"`; documents of BioC outputs come as `BiocRecord`s, see
        `inputs.output_record`).
    threads : `int`
        torch threads of this worker.
    cuda_device : `int`
        -1 for CPU; with Ray-assigned GPUs (`num_gpus`), 0 is the worker's first GPU. On
        a GPU the CRF runs as `"scan"` (`biomtl_allennlp.pretrained.archive_overrides`).
    predictor_args : `Dict[str, Any]`
        Further constructor arguments of the predictor (`min_score`, `overlap_policy`, ...).
    """

    def __init__(
        self,
        archive: str,
        output_format: str,
        threads: int = 1,
        cuda_device: int = -1,
        predictor_args: Optional[Dict[str, Any]] = None,
    ) -> None:
        import torch

        import biomtl_allennlp  # noqa: F401  (registers the components)
        from biomtl_allennlp.common.archives import predictor_from_path
        from biomtl_allennlp.pretrained import archive_overrides

        torch.set_num_threads(threads)
        self.predictor = predictor_from_path(
            archive,
            "biomedical_entities",
            cuda_device=cuda_device,
            overrides=archive_overrides(cuda_device),
            output_format="pubtator" if output_format == "pubtator" else "json",
            **(predictor_args or {}),
        )

    def tag(
        self, documents: List[Union[Document, BiocRecord]]
    ) -> List[Tuple[str, Optional[str], List[str]]]:
        """Per document (a `Document`, or a `BiocRecord`): its output lines (as
        `allennlp predict` writes them; for a BioC record the document as its BioC file
        holds it), its error output as a JSON line (or `None`; a BioC document's errors,
        one line per passage), and the types of its entities."""
        plain = [index for index, document in enumerate(documents) if not isinstance(document, BiocRecord)]
        results: List[Any] = [None] * len(documents)
        outputs = self.predictor.predict_batch_json([documents[index] for index in plain]) if plain else []
        for index, output in zip(plain, outputs):
            error = json.dumps(output) if "error" in output else None
            types = [entity["type"] for entity in output.get("entities", [])]
            results[index] = (self.predictor.dump_line(output), error, types)
        records = [(index, document) for index, document in enumerate(documents) if isinstance(document, BiocRecord)]
        if records:
            from biomtl_allennlp.documents.bioc_writer import format_document, tag_documents

            tagged = tag_documents(self.predictor.predict_batch_json, [r.document for _, r in records])
            for (index, record), (entities, errors) in zip(records, tagged):
                text = format_document(record.document, record.output_format)
                error = "\n".join(json.dumps(e) for e in errors) if errors else None
                results[index] = (text, error, [entity.type for entity in entities])
        return results

    def stats(self) -> Dict[str, float]:
        """Tokens tagged so far and the peak resident memory of this worker's process."""
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return {
            "tokens": float(self.predictor.tokens_processed),
            "peak_memory_mb": peak_kib / 1024,
        }

