"""Datasets as uint8 NHWC arrays: tensorflow-datasets, local IDX files, scikit-learn digits.

One entry point, :func:`load`, returns a :class:`Split` (images, labels, class
names, source). What each dataset is (its sources, shape, classes, tfds name,
default folders) is one table, :data:`CATALOG`:

==================  ===============================================  ==================
name                source                                           images
==================  ===============================================  ==================
``digits``          scikit-learn's embedded 8x8 digits (offline)     (N, 8, 8, 1)
``fashion_mnist``   IDX files: ``data_dir``, else Debian's           (N, 28, 28, 1)
                    ``dataset-fashion-mnist``; else tfds
``mnist``           IDX files in ``data_dir``, else tfds ``mnist``   (N, 28, 28, 1)
``cifar10``         tfds ``cifar10``                                 (N, 32, 32, 3)
``cifar100``        tfds ``cifar100``, the 100 fine labels           (N, 32, 32, 3)
``cifar20``         tfds ``cifar100``, its 20 coarse (superclass)    (N, 32, 32, 3)
                    labels (feature ``coarse_label``)
``svhn``            tfds ``svhn_cropped``                            (N, 32, 32, 3)
``imagenet32``      tfds ``imagenet_resized/32x32``: 1,000 classes,  (N, 32, 32, 3)
                    1,281,167 train images; "test" is ImageNet's
                    validation set (50,000)
``spheres``         generated: the Topological Autoencoders paper's  (N, 1, 1, 101)
                    SPHERES (ten small spheres in a large one),      float32
                    9,000 train / 1,000 test points
==================  ===============================================  ==================

Splits are "train" and "test". ``digits`` has no official split: its 1,797
images are split once with a fixed seed into 1,348 train / 449 test images.

:func:`load` only reads: tfds datasets must already be prepared in
``data_dir`` (or tfds's default, ``$TFDS_DATA_DIR`` or ``~/tensorflow_datasets``).
:func:`prepare` downloads and prepares a missing one with tensorflow-datasets
when the machine can reach its servers (the commands call it unless
``--offline`` is given); otherwise :class:`DatasetNotAvailableError` says how
to get the data, offline ways first. ``imagenet_resized`` needs the downsampled
ImageNet archives, which image-net.org hands out only to registered users.
Decoded tfds splits are cached (:mod:`corel_jax.data.cache`).

Your own images: :func:`load_images` reads a folder of image files (flat, or
one subfolder per class) or an ``.npz`` / ``.npy`` array as an
:class:`ImageSet`, resized and converted to one shape on request; decoded
folders are cached too.

Importing this package imports neither TensorFlow nor tfds.

Modules: :mod:`~corel_jax.data.catalog` (the table), :mod:`~corel_jax.data.loading`
(the entry points), one reader per source (:mod:`~corel_jax.data.digits`,
:mod:`~corel_jax.data.idx`, :mod:`~corel_jax.data.tfds_reader`), the
generated SPHERES data set of the Topological Autoencoders paper
(:mod:`~corel_jax.data.spheres`), your own images (:mod:`~corel_jax.data.images`; folders:
:mod:`~corel_jax.data.folder`),
the result type (:mod:`~corel_jax.data.split`) and :mod:`~corel_jax.data.cache`.
"""

from corel_jax._lazy import attach_stub

# Imported on first use (the command line reads the catalog without NumPy):
# the names are the imports of __init__.pyi.
__getattr__, __dir__, __all__ = attach_stub(__name__, __file__)
