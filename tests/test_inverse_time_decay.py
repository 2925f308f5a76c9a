import pytest
import torch
from allennlp.common import Params
from allennlp.training.learning_rate_schedulers import LearningRateScheduler


def test_learning_rate_follows_the_papers_schedule():
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=0.01, momentum=0.9)
    scheduler = LearningRateScheduler.from_params(
        Params({"type": "inverse_time_decay", "decay_rate": 0.05}), optimizer=optimizer
    )
    rates = []
    for epoch in range(4):
        rates.append(optimizer.param_groups[0]["lr"])
        scheduler.step(None)
    assert rates == pytest.approx([0.01 / (1 + 0.05 * t) for t in range(4)])
