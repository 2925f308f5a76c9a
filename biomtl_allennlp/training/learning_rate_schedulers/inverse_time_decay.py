import torch
from allennlp.training.learning_rate_schedulers.learning_rate_scheduler import (
    LearningRateScheduler,
    _PyTorchLearningRateSchedulerWrapper,
)


@LearningRateScheduler.register("inverse_time_decay")
class InverseTimeDecay(_PyTorchLearningRateSchedulerWrapper):
    """
    The paper's schedule: `lr_t = lr / (1 + decay_rate * t)` after `t` epochs.

    Registered as a `LearningRateScheduler` with name "inverse_time_decay".

    # Parameters

    optimizer : `torch.optim.Optimizer`
    decay_rate : `float`, optional (default = `0.05`)
    last_epoch : `int`, optional (default = `-1`)
    """

    def __init__(
        self, optimizer: torch.optim.Optimizer, decay_rate: float = 0.05, last_epoch: int = -1
    ) -> None:
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda epoch: 1.0 / (1.0 + decay_rate * epoch), last_epoch=last_epoch
        )
        super().__init__(scheduler)
