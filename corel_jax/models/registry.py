"""The models by name (``TrainConfig.model``), and the conventions that come with each.

Two papers' models are here, and each paper brings its own conventions for
inputs and reconstruction (:mod:`corel_jax.training.objectives` applies them):

* COREL's (``"branch"``, the paper's conv model, and ``"mlp"``): uint8 images
  scaled to [0, 1], the summed l1 reconstruction error;
* the Topological Autoencoders paper's (``"spheres_mlp"``, ``"deep_ae"``,
  :mod:`corel_jax.models.topoae`): images in [-1, 1], the mean squared error,
  BatchNorm statistics, and optionally a learnable latent scale.

:func:`is_topoae` is the one place that tells them apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias

from flax import nnx

from corel_jax.models.autoencoders import BranchAutoencoder, MLPAutoencoder
from corel_jax.models.topoae import DeepAutoencoder, SpheresAutoencoder

__all__ = ["MODELS", "Autoencoder", "create_model", "is_topoae"]

Autoencoder: TypeAlias = BranchAutoencoder | MLPAutoencoder | SpheresAutoencoder | DeepAutoencoder
"""Every model of :data:`MODELS`: each has ``input_shape``, ``latent_dim``, ``encode`` and ``decode``."""

# The paper's conv model, a small MLP, and the Topological Autoencoders paper's two models
# (its SPHERES MLP and its image MLP "DeepAE").
MODELS: tuple[str, ...] = ("branch", "mlp", "spheres_mlp", "deep_ae")
_TOPOAE: dict[str, type[SpheresAutoencoder] | type[DeepAutoencoder]] = {
    "spheres_mlp": SpheresAutoencoder,
    "deep_ae": DeepAutoencoder,
}


def is_topoae(model: str | nnx.Module) -> bool:
    """Whether a model (by name, or a model itself) is one of the Topological Autoencoders paper's.

    Those see uint8 images in [-1, 1] (COREL's in [0, 1]), are trained with
    the mean squared error (COREL's with the summed l1 error), carry BatchNorm
    statistics and may carry the learnable latent scale of the signature loss.
    """
    if isinstance(model, str):
        return model in _TOPOAE
    return isinstance(model, tuple(_TOPOAE.values()))


def create_model(
    name: str,
    *,
    input_shape: Sequence[int],
    num_branches: int = 16,
    branch_dim: int = 10,
    filters: Sequence[int] = (32, 64, 128),
    hidden: Sequence[int] = (256, 128),
    latent_scale: bool = False,
    rngs: nnx.Rngs,
) -> Autoencoder:
    """Builds an autoencoder by name.

    Args:
      name: ``"branch"`` (:class:`BranchAutoencoder`, the paper's conv model;
        uses ``filters``), ``"mlp"`` (:class:`MLPAutoencoder`; uses ``hidden``),
        or one of the TopoAE paper's fixed architectures (their hidden widths,
        a latent of ``num_branches x branch_dim`` values):
        ``"spheres_mlp"`` (:class:`~corel_jax.models.topoae.SpheresAutoencoder`)
        or ``"deep_ae"`` (:class:`~corel_jax.models.topoae.DeepAutoencoder`).
      input_shape: shape of one sample (``(H, W, C)`` for ``"branch"``).
      num_branches: number of independent branches.
      branch_dim: dims per branch.
      filters: conv channels of ``"branch"``.
      hidden: hidden sizes of ``"mlp"``.
      latent_scale: (``"spheres_mlp"``, ``"deep_ae"``) add the learnable
        latent-distance scale of the TopoAE loss.
      rngs: ``nnx.Rngs`` for initialisation.

    Returns:
      The model.

    Examples:
      >>> from flax import nnx
      >>> create_model("branch", input_shape=(8, 8, 1), num_branches=8,
      ...              rngs=nnx.Rngs(0)).latent_dim
      80
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, one of {MODELS}; got {type(name).__name__}.")
    if name not in MODELS:
        raise ValueError(f"Unknown model name {name!r}; expected one of {MODELS}.")
    if name in _TOPOAE:
        return _TOPOAE[name](
            input_shape=input_shape, latent_dim=num_branches * branch_dim,
            latent_scale=latent_scale, rngs=rngs,
        )  # fmt: skip
    # the layout argument each model takes: the conv channels, or the hidden widths
    cls, layout = (BranchAutoencoder, {"filters": filters}) if name == "branch" else (
        MLPAutoencoder, {"hidden": hidden})  # fmt: skip
    return cls(input_shape=input_shape, num_branches=num_branches, branch_dim=branch_dim,
               rngs=rngs, **layout)  # fmt: skip
