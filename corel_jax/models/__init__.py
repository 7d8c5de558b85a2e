"""The autoencoders, in ``flax.nnx``.

:mod:`~corel_jax.models.autoencoders` holds COREL's models with an
independent-branches latent space: the paper's convolutional model
(:class:`BranchAutoencoder`) and a small fully connected one
(:class:`MLPAutoencoder`); :mod:`~corel_jax.models.layers` their building
blocks; :mod:`~corel_jax.models.topoae` the Topological Autoencoders paper's
two models; :mod:`~corel_jax.models.registry` the models by name
(:func:`create_model`) and the conventions each paper's models follow
(:func:`is_topoae`).

Needs flax (the ``train`` extra: ``pip install "corel-jax[train]"``).
"""

from corel_jax._extras import check_installed

# Without flax: one line naming the extra, not a traceback through a submodule.
check_installed(("flax",), purpose="corel_jax.models")

from corel_jax.models.autoencoders import BranchAutoencoder, MLPAutoencoder  # noqa: E402
from corel_jax.models.layers import BranchLinear, ConvTranspose2x, StridedConv3x3  # noqa: E402
from corel_jax.models.registry import MODELS, Autoencoder, create_model, is_topoae  # noqa: E402
from corel_jax.models.topoae import DeepAutoencoder, SpheresAutoencoder, count_params  # noqa: E402

__all__ = [
    "MODELS",
    "Autoencoder",
    "BranchAutoencoder",
    "BranchLinear",
    "ConvTranspose2x",
    "DeepAutoencoder",
    "MLPAutoencoder",
    "SpheresAutoencoder",
    "StridedConv3x3",
    "count_params",
    "create_model",
    "is_topoae",
]
