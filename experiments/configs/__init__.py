"""One config per row of the paper's tables (see the README's "Experiments" section)."""
