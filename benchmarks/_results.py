"""Writes a benchmark's results: ``OUT`` (JSON) and, with a table, ``OUT`` minus its suffix + ``.md``."""

from __future__ import annotations

import json
import os


def write_results(out: str, results: dict, table: str | None = None) -> None:
    """Writes ``results`` to ``out`` as JSON and ``table`` next to it as Markdown."""
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        json.dump(results, f, indent=2, default=str)
    written = [out]
    if table is not None:
        md = os.path.splitext(out)[0] + ".md"
        with open(md, "w") as f:
            f.write(table + "\n")
        written.append(md)
    print("wrote " + " and ".join(written))
