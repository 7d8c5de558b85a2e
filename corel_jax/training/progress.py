"""Training progress: a tqdm bar on a terminal, log lines otherwise, and ``metrics.jsonl`` rows."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import jax

__all__ = ["Progress"]

logger = logging.getLogger(__name__)


class Progress:
    """Reports training chunks; only process 0 reports.

    Metrics are averaged over the steps since the last row; a row of
    ``WORKDIR/metrics.jsonl`` (and a log line when stdout is not a terminal)
    is written when a chunk crosses a multiple of ``log_every`` and at the end.

    Args:
      total: the run's last step.
      start: the step it starts from (a resumed run's checkpoint).
      workdir: where ``metrics.jsonl`` is appended to.
      log_every: steps per row.
      enabled: False reports nothing and writes nothing.
    """

    def __init__(self, total: int, start: int, workdir: Path, log_every: int, *, enabled: bool):
        self.enabled = enabled and jax.process_index() == 0
        self.total, self.log_every, self.last = total, log_every, start
        self.sums: dict[str, float] = {}
        self.steps, self.examples, self.seconds = 0, 0, 0.0
        self.bar = None
        if self.enabled and sys.stdout.isatty():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=start, unit="step", dynamic_ncols=True)
        self.log = open(Path(workdir) / "metrics.jsonl", "a") if self.enabled else None

    def update(
        self, step: int, epoch: int, metrics: dict, steps: int, examples: int, seconds: float
    ) -> None:
        """Records a chunk of ``steps`` steps ending at ``step`` with mean ``metrics``."""
        if not self.enabled:
            return
        for k, v in metrics.items():
            self.sums[k] = self.sums.get(k, 0.0) + float(v) * steps
        self.steps += steps
        self.examples += examples
        self.seconds += seconds
        if self.bar is not None:
            shown = {k: f"{float(v):.4g}" for k, v in metrics.items() if k in ("rec", "conn")}
            self.bar.set_postfix(shown, ex_s=f"{examples / seconds:.0f}", refresh=False)
            self.bar.update(steps)
        if step // self.log_every > self.last // self.log_every or step >= self.total:
            self.flush(step, epoch)

    def flush(self, step: int, epoch: int) -> None:
        """Writes the row of the steps recorded since the last one (if any)."""
        if self.log is None or self.steps == 0:  # no log: not enabled
            return
        record = {k: v / self.steps for k, v in self.sums.items()}
        record.update(
            step=step,
            epoch=epoch,
            examples_per_s=self.examples / self.seconds,
            time=time.time(),
        )
        self.log.write(json.dumps(record) + "\n")
        self.log.flush()
        if self.bar is None:
            terms = " ".join(f"{k} {record[k]:.4g}" for k in ("rec", "conn", "loss") if k in record)
            logger.info(
                "step %d/%d epoch %d %s examples/s %.0f",
                step, self.total, epoch, terms, record["examples_per_s"],
            )  # fmt: skip
        self.last, self.sums, self.steps, self.examples, self.seconds = step, {}, 0, 0, 0.0

    def close(self) -> None:
        """Closes the bar and the file."""
        if self.bar is not None:
            self.bar.close()
        if self.log is not None:
            self.log.close()
