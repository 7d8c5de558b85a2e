"""The package's version: the one place it is written.

``pyproject.toml`` reads it (``[tool.setuptools.dynamic]``), ``corel_jax.__version__``
re-exports it, and ``corel-jax --version`` prints it. Release notes: ``CHANGELOG.md``.
"""

__version__ = "0.2.0.dev0"
