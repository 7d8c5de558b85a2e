"""One config per row of the paper's tables (see ``experiments/README.md``)."""
