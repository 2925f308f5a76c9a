"""
Which head of a multi-head tagger scores which rows of a batch (`HeadRows`), and the
"stacked" layout of every per-head tensor below the heads' layers.
"""
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import torch


@dataclass
class HeadRows:
    """
    Which head scores which rows of a batch. Every tensor below the CRFs that is per head
    is "stacked": the rows of the first head present, then those of the next, in the
    model's head order. A row of a named dataset is in its head only; raw text (no
    dataset) is in every head.
    """

    batch_size: int
    # (head name, batch rows of that head), heads in model order, only heads present.
    segments: List[Tuple[str, torch.LongTensor]]
    # Shape: (num_rows,): the batch row of each stacked row.
    batch_rows: torch.LongTensor
    # Shape: (num_rows,): the index into the model's heads of each stacked row.
    heads: torch.LongTensor

    @classmethod
    def of_batch(
        cls,
        heads: Sequence[str],
        metadata: Optional[List[Dict[str, Any]]],
        mask: torch.BoolTensor,
        labelled: bool,
    ) -> "HeadRows":
        """
        Each row's dataset (`metadata[row]["dataset"]`), or every head for raw text (no
        dataset in any row).

        # Parameters

        heads : `Sequence[str]`
            The model's heads, in order.
        metadata : `List[Dict[str, Any]]`, optional
        mask : `torch.BoolTensor`
            Shape: (batch_size, num_tokens)
        labelled : `bool`
            Whether the batch has gold tags (which need a dataset per row).
        """
        batch_size = mask.size(0)
        names = [(entry or {}).get("dataset") for entry in (metadata or [{}] * batch_size)]
        if all(name is None for name in names):
            if labelled:
                raise ValueError(
                    "tags were given without metadata naming each row's dataset; tag ids "
                    "only mean something in their dataset's label namespace"
                )
            names_of_row = [set(heads)] * batch_size
        else:
            unknown = sorted({name for name in names if name not in heads} - {None})
            if unknown or None in names:
                raise ValueError(
                    f"batch rows name datasets this model has no head for: "
                    f"{unknown or ['(none) mixed with named datasets']}; heads: {list(heads)}"
                )
            names_of_row = [{name} for name in names]
        segments = []
        head_indices = []
        for index, head in enumerate(heads):
            head_rows = [row for row, row_heads in enumerate(names_of_row) if head in row_heads]
            if head_rows:
                rows = torch.tensor(head_rows, dtype=torch.long, device=mask.device)
                segments.append((head, rows))
                head_indices.append(torch.full_like(rows, index))
        batch_rows = torch.cat([head_rows for _, head_rows in segments])
        return cls(batch_size, segments, batch_rows, torch.cat(head_indices))

    def stack(self, tensor: torch.Tensor) -> torch.Tensor:
        """Batch rows -> stacked rows (along the first dimension)."""
        return tensor.index_select(0, self.batch_rows)

    def split(self, stacked: torch.Tensor) -> Iterator[Tuple[str, torch.Tensor]]:
        """`(head, that head's part)` of a stacked tensor."""
        sizes = [len(rows) for _, rows in self.segments]
        return zip((head for head, _ in self.segments), stacked.split(sizes))

    def unstack(self, values: Sequence[Any]) -> List[Dict[str, Any]]:
        """Per stacked row values -> per batch row `{head: value}`."""
        output: List[Dict[str, Any]] = [{} for _ in range(self.batch_size)]
        heads = [head for head, rows in self.segments for _ in range(len(rows))]
        for row, head, value in zip(self.batch_rows.tolist(), heads, values):
            output[row][head] = value
        return output
