import torch
from allennlp.modules.seq2seq_encoders.seq2seq_encoder import Seq2SeqEncoder

from biomtl_allennlp.nn.autocast import run_lstm
from biomtl_allennlp.nn.padded import gather_rows, reversal_indices


@Seq2SeqEncoder.register("padded_bilstm")
class PaddedBiLstm(Seq2SeqEncoder):
    """
    A bidirectional LSTM over right-padded sequences that never packs them.

    allennlp's `"lstm"` encoder packs its input, and on CPU a packed `nn.LSTM` runs step by
    step, several times slower than the fused kernel used for plain tensors. A padded
    bidirectional `nn.LSTM` would be wrong (its backward direction would read padding
    first), so this runs two unidirectional LSTMs per layer: one over the sequence, one
    over each row's reversed sequence (padding left at the end). Every real position is
    computed before any padding, so the outputs equal those of a packed bidirectional
    LSTM; outputs at padded positions are zero.

    Registered as a `Seq2SeqEncoder` with name "padded_bilstm".

    # Parameters

    input_size : `int`
    hidden_size : `int`
        Per direction; the output has `2 * hidden_size` dimensions.
    num_layers : `int`, optional (default = `1`)
    dropout : `float`, optional (default = `0.0`)
        Dropout between layers.
    """

    def __init__(
        self, input_size: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0
    ) -> None:
        super().__init__(stateful=False)
        self._input_size = input_size
        self._hidden_size = hidden_size
        self._forward_layers = torch.nn.ModuleList()
        self._backward_layers = torch.nn.ModuleList()
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else 2 * hidden_size
            self._forward_layers.append(torch.nn.LSTM(layer_input, hidden_size, batch_first=True))
            self._backward_layers.append(torch.nn.LSTM(layer_input, hidden_size, batch_first=True))
        self._dropout = torch.nn.Dropout(dropout)

    def get_input_dim(self) -> int:
        return self._input_size

    def get_output_dim(self) -> int:
        return 2 * self._hidden_size

    def is_bidirectional(self) -> bool:
        return True

    def forward(self, inputs: torch.Tensor, mask: torch.BoolTensor) -> torch.Tensor:
        """
        # Parameters

        inputs : `torch.Tensor`
            Shape: (batch_size, num_tokens, input_size)
        mask : `torch.BoolTensor`
            Shape: (batch_size, num_tokens), right-padded.

        # Returns

        `torch.Tensor`
            Shape: (batch_size, num_tokens, 2 * hidden_size)
        """
        # Shape: (batch_size, num_tokens)
        reverse = reversal_indices(mask.sum(dim=1), mask.size(1))
        outputs = inputs
        for layer, (forward_lstm, backward_lstm) in enumerate(
            zip(self._forward_layers, self._backward_layers)
        ):
            if layer > 0:
                outputs = self._dropout(outputs)
            forward_states, _ = run_lstm(forward_lstm, outputs)
            reversed_states, _ = run_lstm(backward_lstm, gather_rows(outputs, reverse))
            # Shape: (batch_size, num_tokens, 2 * hidden_size)
            outputs = torch.cat([forward_states, gather_rows(reversed_states, reverse)], dim=-1)
        return outputs * mask.unsqueeze(-1)
