"""Helpers for running recurrent layers over right-padded batches without packing."""
import torch


def reversal_indices(lengths: torch.LongTensor, max_length: int) -> torch.LongTensor:
    """
    Indices that reverse the first `lengths[b]` positions of each row and leave the
    padding where it is.

    # Parameters

    lengths : `torch.LongTensor`
        Shape: (batch_size,)
    max_length : `int`

    # Returns

    `torch.LongTensor`
        Shape: (batch_size, max_length); position j of the reversed row reads position
        `lengths[b] - 1 - j` of the row. The mapping is its own inverse.
    """
    positions = torch.arange(max_length, device=lengths.device).unsqueeze(0)
    reversed_positions = lengths.unsqueeze(1) - 1 - positions
    return torch.where(
        reversed_positions >= 0, reversed_positions, positions.expand_as(reversed_positions)
    )


def gather_rows(tensor: torch.Tensor, indices: torch.LongTensor) -> torch.Tensor:
    """
    `tensor[b, indices[b, j]]` for every row.

    # Parameters

    tensor : `torch.Tensor`
        Shape: (batch_size, length, dim)
    indices : `torch.LongTensor`
        Shape: (batch_size, num_indices)

    # Returns

    `torch.Tensor`
        Shape: (batch_size, num_indices, dim)
    """
    return tensor.gather(1, indices.unsqueeze(-1).expand(-1, -1, tensor.size(-1)))
