"""The paper's one-class evaluation ("Ours-120") and its baselines.

Modules: :mod:`~corel_jax.oneclass.scoring` (COREL's ball count and the
baselines' scorers), :mod:`~corel_jax.oneclass.protocol` (the inlier draws,
:func:`evaluate_methods` and :class:`OneClassResult`),
:mod:`~corel_jax.oneclass.methods` (the compared methods by name),
:mod:`~corel_jax.oneclass.names` (the defaults and names, without NumPy),
:mod:`~corel_jax.oneclass.backbone` (a trained backbone's codes as methods)
and :mod:`~corel_jax.oneclass.reports` (tables and files). The protocol is
described in ``docs/method.md#one-class-protocol``.

On your own images: :mod:`~corel_jax.oneclass.detector` (:class:`CORELDetector`,
a scikit-learn-style novelty detector on a trained backbone) and
:mod:`~corel_jax.oneclass.image_report` (its scores as a CSV, a picture and an
AUROC; ``docs/own_images.md``).
"""

from corel_jax._lazy import attach_stub

# Imported on first use (the command line reads the defaults without JAX):
# the names are the imports of __init__.pyi.
__getattr__, __dir__, __all__ = attach_stub(__name__, __file__)
