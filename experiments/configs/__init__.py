"""One config per row of the paper's tables (see ``docs/experiments.md``)."""
