"""The tiny run of the two-process training test."""

from corel_jax.training.config import TrainConfig

NUM_IMAGES = 160  # two hosts x 80 examples: 4 steps of 20 per epoch on each host
CONFIG = TrainConfig(
    dataset="digits", model="mlp", hidden=(32,), num_branches=4, branch_dim=2, batch_size=20,
    epochs=2, steps_per_dispatch=1, checkpoint_every=4, log_every=1,
)  # fmt: skip
