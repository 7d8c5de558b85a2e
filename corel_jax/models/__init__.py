"""Autoencoders with an independent-branches latent space, in ``flax.nnx``.

:mod:`~corel_jax.models.autoencoders` holds the paper's convolutional model
(:class:`BranchAutoencoder`), a small fully connected one
(:class:`MLPAutoencoder`) and :func:`create_model`;
:mod:`~corel_jax.models.layers` their building blocks.
"""

from corel_jax.models.autoencoders import MODELS, BranchAutoencoder, MLPAutoencoder, create_model
from corel_jax.models.layers import BranchLinear, ConvTranspose2x, StridedConv3x3

__all__ = [
    "MODELS",
    "BranchAutoencoder",
    "BranchLinear",
    "ConvTranspose2x",
    "MLPAutoencoder",
    "StridedConv3x3",
    "create_model",
]
