import math
import sys

import pytest
import torch
from allennlp.commands import main
from allennlp.common.testing import ModelTestCase
from allennlp.data import Batch

from biomtl_allennlp.dataset_readers.multitask_ner import MultiTaskNerDatasetReader
from biomtl_allennlp.nn.autocast import cpu_bfloat16_lstm_supported
from tests.conftest import FIXTURES

VARIANTS = ["stm", "mtm_c", "mtm_w", "mtm_cw"]


@pytest.mark.usefixtures("demo_data_root")
class TestMultiTaskCrfTagger(ModelTestCase):
    def setup_method(self):
        super().setup_method()

    def set_up_variant(self, variant):
        self.set_up_model(FIXTURES / "configs" / f"{variant}.jsonnet", "train")
        self.reader = MultiTaskNerDatasetReader(
            ["demo-gene"], token_indexers=self.instances[0]["tokens"]._token_indexers
        )

    @pytest.mark.parametrize("variant", VARIANTS)
    def test_can_train_save_and_load(self, variant):
        self.set_up_variant(variant)
        self.ensure_model_can_train_save_and_load(self.param_file, seed=1)

    @pytest.mark.parametrize("variant", VARIANTS)
    def test_batch_predictions_are_consistent(self, variant):
        self.set_up_variant(variant)
        self.ensure_batch_predictions_are_consistent()

    def test_heads_and_sharing_follow_the_config(self):
        self.set_up_variant("mtm_c")
        assert self.model.datasets == ["demo-chemical", "demo-disease", "demo-gene"]
        assert set(self.model._encoders) == set(self.model.datasets)
        self.set_up_variant("mtm_w")
        assert set(self.model._private_embedders["chars"]) == set(self.model.datasets)
        # The shared text field embedder has only the word embeddings; each private char
        # layer is built from the config with its own parameters.
        assert set(self.model._text_field_embedder._token_embedders) == {"tokens"}
        copies = [dict(e.named_parameters()) for e in self.model._private_embedders["chars"].values()]
        assert copies[0].keys() == copies[1].keys()
        assert all(not torch.equal(copies[0][name], copies[1][name]) for name in copies[0])
        self.set_up_variant("mtm_cw")
        assert not self.model._private_embedders and not hasattr(self.model, "_encoders")

    def test_each_head_scores_only_its_dataset(self):
        self.set_up_variant("mtm_cw")
        self.model.eval()
        batch = Batch(self.instances)
        batch.index_instances(self.vocab)
        output = self.model(**batch.as_tensor_dict())
        for row, instance in zip(output["predicted_tags"], self.instances):
            assert list(row) == [instance["metadata"]["dataset"]]
        metrics = self.model.get_metrics(reset=True)
        for name in self.model.datasets:
            assert 0.0 <= metrics[f"{name}_f1"] <= 1.0
        assert metrics["macro_f1"] == pytest.approx(
            sum(metrics[f"{name}_f1"] for name in self.model.datasets) / 3
        )

    @pytest.mark.parametrize("variant", ["mtm_c", "mtm_w"])
    def test_mixed_batch_loss_matches_per_dataset_batches(self, variant):
        # Private layers run per dataset inside a mixed batch (MTM-W stacks the rows again for
        # its one shared encoder pass): the summed loss must not depend on how rows are batched.
        self.set_up_variant(variant)
        self.model.eval()

        def summed_loss(instances):
            batch = Batch(instances)
            batch.index_instances(self.vocab)
            return self.model(**batch.as_tensor_dict())["loss"].item() * len(instances)

        by_dataset = {}
        for instance in self.instances:
            by_dataset.setdefault(instance["metadata"]["dataset"], []).append(instance)
        assert len(by_dataset) == 3
        separate = sum(summed_loss(group) for group in by_dataset.values())
        assert summed_loss(self.instances) == pytest.approx(separate, rel=1e-5)

    def test_unlabelled_instances_get_every_head(self):
        self.set_up_variant("mtm_w")
        self.model.eval()
        instance = self.reader.text_to_instance(["p53", "binds", "cisplatin", "."])
        output = self.model.forward_on_instance(instance)
        assert set(output["tags"]) == set(self.model.datasets)
        for name, tags in output["tags"].items():
            assert len(tags) == 4
            assert all(tag == "O" or tag[:2] in ("B-", "I-", "L-", "U-") for tag in tags)

    def test_loss_weights(self):
        self.set_up_variant("mtm_cw")
        batch = Batch(self.instances)
        batch.index_instances(self.vocab)
        tensors = batch.as_tensor_dict()
        self.model.eval()
        base = self.model(**tensors)["loss"]
        self.model._loss_weights["demo-gene"] = 0.0
        without_gene = self.model(**tensors)["loss"]
        gene_rows = [i for i, m in enumerate(tensors["metadata"]) if m["dataset"] == "demo-gene"]
        assert gene_rows and without_gene < base
        with pytest.raises(ValueError, match="loss_weights"):
            from biomtl_allennlp.models.multitask_crf_tagger import MultiTaskCrfTagger

            MultiTaskCrfTagger(
                self.vocab,
                self.model._text_field_embedder,
                self.model._encoder,
                loss_weights={"nope": 1.0},
            )

    def test_loss_normalization(self):
        """The weighted NLL sum divided by the batch's sentences, its tokens, or nothing,
        against a hand sum of each sentence's NLL (alone, unweighted) times its weight."""
        from allennlp.common import Params
        from allennlp.models import Model

        self.set_up_variant("mtm_cw")

        def built(**overrides):
            params = Params.from_file(self.param_file).pop("model")
            for key, value in overrides.items():
                params[key] = value
            model = Model.from_params(vocab=self.vocab, params=params)
            model.load_state_dict(self.model.state_dict())
            return model.eval()

        def loss(model, instances):
            batch = Batch(instances)
            batch.index_instances(self.vocab)
            return model(**batch.as_tensor_dict())["loss"].item()

        weights = {"demo-chemical": 0.5, "demo-disease": 2.0, "demo-gene": 1.0}
        unweighted_sum = built(loss_normalization="sum")
        expected_sum = sum(
            weights[instance["metadata"]["dataset"]] * loss(unweighted_sum, [instance])
            for instance in self.instances
        )
        tokens = sum(len(instance["tokens"]) for instance in self.instances)
        losses = {
            normalization: loss(built(loss_weights=weights, loss_normalization=normalization), self.instances)
            for normalization in ("sentence", "token", "sum")
        }
        assert losses["sum"] == pytest.approx(expected_sum, rel=1e-5)
        assert losses["sentence"] == pytest.approx(expected_sum / len(self.instances), rel=1e-5)
        assert losses["token"] == pytest.approx(expected_sum / tokens, rel=1e-5)
        assert loss(built(loss_weights=weights), self.instances) == losses["sentence"]
        with pytest.raises(Exception, match="loss_normalization must be one of"):
            built(loss_normalization="mean")

    def test_scan_crf_equals_the_loop(self):
        """`crf_algorithm: "scan"` (the GPU path) gives the loop's loss, gradients and tags."""
        from allennlp.common import Params
        from allennlp.models import Model

        self.set_up_variant("mtm_cw")
        params = Params.from_file(self.param_file).pop("model")
        params["crf_algorithm"] = "scan"
        scan = Model.from_params(vocab=self.vocab, params=params)
        assert scan._crf.algorithm == "scan"
        scan.load_state_dict(self.model.state_dict())
        batch = Batch(self.instances)
        batch.index_instances(self.vocab)
        outputs = []
        for model in (self.model, scan):
            model.eval()
            output = model(**batch.as_tensor_dict())
            output["loss"].backward()
            outputs.append((output, {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}))
        (loop_output, loop_grads), (scan_output, scan_grads) = outputs
        assert scan_output["loss"].item() == pytest.approx(loop_output["loss"].item(), rel=1e-5)
        assert scan_output["predicted_tags"] == loop_output["predicted_tags"]
        assert scan_grads.keys() == loop_grads.keys()
        for name, grad in loop_grads.items():
            torch.testing.assert_close(scan_grads[name], grad, rtol=1e-4, atol=1e-5)

    @pytest.mark.parametrize("variant", VARIANTS)
    def test_mixed_precision_forward_and_backward(self, variant):
        """Under autocast (bfloat16 on CPU; allennlp's `use_amp` is float16 on CUDA) every
        layer runs, the CRF's loss stays float32, and it is the float32 loss up to the
        half-precision rounding of the layers below."""
        self.set_up_variant(variant)
        self.model.eval()
        batch = Batch(self.instances)
        batch.index_instances(self.vocab)
        tensors = batch.as_tensor_dict()
        expected = self.model(**tensors)["loss"]
        lstm_dtypes = []
        hooks = [
            module.register_forward_hook(lambda _, __, out: lstm_dtypes.append(out[0].dtype))
            for module in self.model.modules()
            if isinstance(module, torch.nn.LSTM)
        ]
        with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
            loss = self.model(**tensors)["loss"]
        for hook in hooks:
            hook.remove()
        assert loss.dtype == torch.float32
        # The LSTMs run in bfloat16 where this CPU has the kernel, else in float32
        # (`biomtl_allennlp.nn.autocast.run_lstm`).
        lstm_dtype = torch.bfloat16 if cpu_bfloat16_lstm_supported() else torch.float32
        assert lstm_dtypes and set(lstm_dtypes) == {lstm_dtype}
        loss.backward()
        assert all(torch.isfinite(p.grad).all() for p in self.model.parameters() if p.grad is not None)
        assert loss.item() == pytest.approx(expected.item(), rel=0.05)

    def test_unknown_dataset_is_a_clear_error(self):
        self.set_up_variant("stm")
        instance = self.reader.text_to_instance(["a", "b"], ["O", "O"], dataset="demo-gene")
        instance["metadata"].metadata["dataset"] = "other"
        with pytest.raises(ValueError, match="no head for"):
            self.model.forward_on_instance(instance)

    def test_evaluate_reports_per_dataset_and_per_type(self, tmp_path):
        self.set_up_variant("mtm_cw")
        save_dir = tmp_path / "model"
        self.ensure_model_can_train_save_and_load(self.param_file, seed=1)
        from allennlp.commands.train import train_model_from_file

        train_model_from_file(self.param_file, save_dir)
        output = tmp_path / "metrics.json"
        argv = ["allennlp", "evaluate", str(save_dir / "model.tar.gz"), "test",
                "--output-file", str(output)]
        old = sys.argv
        sys.argv = argv
        try:
            main()
        finally:
            sys.argv = old
        import json

        metrics = json.loads(output.read_text())
        for name, entity_type in [("demo-gene", "GENE"), ("demo-chemical", "Chemical"),
                                  ("demo-disease", "Disease")]:
            for measure in ("precision", "recall", "f1"):
                assert 0.0 <= metrics[f"{name}_{measure}"] <= 1.0
                assert f"{name}_{entity_type}_{measure}" in metrics
        assert "macro_f1" in metrics

    @pytest.mark.parametrize("variant", VARIANTS)
    def test_batch_equals_allennlps_crf_row_by_row(self, variant):
        """The stacked multi-head path (mixed batch, one CRF loop) gives what each head's own
        allennlp `ConditionalRandomField` gives on each sentence alone: the loss, the
        Viterbi paths, and span scores equal to the CRF's tag marginals."""
        from tests.modules.crf_reference import tag_marginals

        self.set_up_variant(variant)
        self.model.eval()
        batch = Batch(self.instances)
        batch.index_instances(self.vocab)
        with torch.no_grad():
            output = self.model(**batch.as_tensor_dict(), span_scores=True)

        captured = {}
        hooks = [
            self.model._projections[head].register_forward_hook(
                lambda module, inputs, out, head=head: captured.__setitem__(head, out)
            )
            for head in self.model.datasets
        ]
        expected_loss = 0.0
        try:
            for row, instance in enumerate(self.instances):
                single = Batch([instance])
                single.index_instances(self.vocab)
                tensors = single.as_tensor_dict()
                captured.clear()
                with torch.no_grad():
                    self.model(**tensors)
                head = instance["metadata"]["dataset"]
                crf = self.model._crf.crfs[head]
                logits, tags = captured[head], tensors["tags"]
                mask = torch.ones(tags.shape, dtype=torch.bool)
                expected_loss -= crf(logits, tags, mask).item()
                [(path, _)] = crf.viterbi_tags(logits, mask)
                assert output["predicted_tags"][row] == {head: path}
                left, right = output["span_score_parts"][row][head]
                marginals = tag_marginals(crf, logits[0])
                for t, tag in enumerate(path):
                    assert math.exp(left[t] + right[t]) == pytest.approx(float(marginals[t, tag]), abs=1e-6)
        finally:
            for hook in hooks:
                hook.remove()
        assert output["loss"].item() == pytest.approx(expected_loss / len(self.instances), rel=1e-5)

    def test_private_embedder_without_its_indexer_is_a_clear_error(self):
        # MTM-W's private char layers need the "chars" indexer in the text field.
        self.set_up_variant("mtm_w")
        from allennlp.common.checks import ConfigurationError

        batch = Batch(self.instances)
        batch.index_instances(self.vocab)
        tensors = batch.as_tensor_dict()
        del tensors["tokens"]["chars"]
        with pytest.raises(ConfigurationError, match=r"private_token_embedders \['chars'\] have no"):
            self.model(**tensors)
