"""`research.run_folder`: an epoch's weights and the per-epoch metrics of a run folder."""
import json

import pytest

from biomtl_allennlp.common.errors import InputFormatError
from research.run_folder import epoch_metrics, epoch_weights


def test_epoch_weights_names_the_checkpoint_after_that_epoch(tmp_path):
    # allennlp's checkpointer counts completed epochs: the weights after epoch 0 are e1_b0.
    (tmp_path / "model_state_e1_b0.th").write_bytes(b"")
    (tmp_path / "model_state_e3_b0.th").write_bytes(b"")
    assert epoch_weights(tmp_path, 0) == tmp_path / "model_state_e1_b0.th"
    assert epoch_weights(tmp_path, 2) == tmp_path / "model_state_e3_b0.th"
    with pytest.raises(InputFormatError, match=r"model_state_e2_b0\.th: not found .*epoch 1"):
        epoch_weights(tmp_path, 1)


def test_epoch_metrics_are_in_epoch_order_and_refuse_a_gap(tmp_path):
    # Numeric order, not the file names' (epoch 10 sorts before 2 as text); metrics.json is not an epoch's.
    for epoch in [0, 1, 2, 10, 3, 4, 5, 6, 7, 8, 9]:
        (tmp_path / f"metrics_epoch_{epoch}.json").write_text(json.dumps({"epoch": epoch}))
    (tmp_path / "metrics.json").write_text("{}")
    assert [m["epoch"] for m in epoch_metrics(tmp_path)] == list(range(11))
    (tmp_path / "metrics_epoch_3.json").unlink()
    with pytest.raises(InputFormatError, match=r"metrics_epoch_3\.json missing"):
        epoch_metrics(tmp_path)
    with pytest.raises(InputFormatError, match=r"no metrics_epoch_\*\.json"):
        epoch_metrics(tmp_path / "metrics_epoch_0.json")

