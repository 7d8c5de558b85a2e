"""``python -m corel_jax`` is the ``corel-jax`` command line."""

import sys

from corel_jax.commands import main

if __name__ == "__main__":
    sys.exit(main())
