import torch
from allennlp.modules.seq2seq_encoders import LstmSeq2SeqEncoder

from biomtl_allennlp.modules.seq2seq_encoders.padded_bilstm import PaddedBiLstm


def test_equals_allennlps_packed_bidirectional_lstm():
    """The fast unpacked path gives the outputs of the simple packed one."""
    torch.manual_seed(0)
    padded = PaddedBiLstm(input_size=5, hidden_size=4, num_layers=2)
    packed = LstmSeq2SeqEncoder(5, 4, num_layers=2, bidirectional=True)
    # Copy weights: layer l forward -> weight_*_l{l}, backward -> weight_*_l{l}_reverse.
    lstm = packed._module
    for layer in range(2):
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(lstm, f"{name}_l{layer}").data.copy_(
                getattr(padded._forward_layers[layer], f"{name}_l0"))
            getattr(lstm, f"{name}_l{layer}_reverse").data.copy_(
                getattr(padded._backward_layers[layer], f"{name}_l0"))
    inputs = torch.randn(3, 6, 5)
    mask = torch.tensor([[1] * 6, [1] * 3 + [0] * 3, [1] + [0] * 5], dtype=torch.bool)
    expected = packed(inputs, mask)
    actual = padded(inputs, mask)
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-6)
    assert padded.get_output_dim() == 8 and padded.is_bidirectional()
