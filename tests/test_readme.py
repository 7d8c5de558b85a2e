"""The README's examples run: its Python blocks in order, and its command lines parse."""

import re
from pathlib import Path

import jax.numpy as jnp
from docs_helpers import blocks, check_command_lines, command_lines

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_python_blocks_run_in_order(tmp_path, monkeypatch):
    """Every ```python block of the README, run in order in one namespace (in a temp dir):
    the training step example trains."""
    monkeypatch.chdir(tmp_path)
    python_blocks = blocks(README, "python")
    assert python_blocks
    namespace: dict = {}
    for i, block in enumerate(python_blocks):
        code = compile(block, f"README.md python block {i}", "exec")
        if "from_backbone(" in block:  # needs a trained backbone: checked below, not run
            continue
        exec(code, namespace)
    # the step's loss is the reconstruction error plus the connectivity loss, finite
    assert jnp.isfinite(namespace["loss"])
    first = namespace["loss"]
    for _ in range(20):
        params, opt_state, loss = namespace["train_step"](
            namespace["params"], namespace["opt_state"], namespace["x"]
        )
        namespace.update(params=params, opt_state=opt_state)
    assert loss < first


def test_the_detector_example_uses_the_detectors_interface():
    """The novelty-detection block names methods the detector has (it needs a trained
    backbone to run; tests/oneclass/test_detector.py runs the same calls)."""
    from corel_jax.oneclass import CORELDetector

    (block,) = [b for b in blocks(README, "python") if "from_backbone(" in b]
    for method in re.findall(r"\.(\w+)\(", block):
        assert hasattr(CORELDetector, method), method


def test_command_lines_parse():
    """Every corel-jax command of the README's bash blocks parses."""
    seen = check_command_lines(command_lines(README))
    assert seen["corel-jax"] >= 1


def test_front_page_size_and_links():
    """At most 250 lines; links and images are absolute URLs (they also work on PyPI)."""
    assert len(README.splitlines()) <= 250
    targets = [t for _, t in re.findall(r"(!?\[[^\]]*\])\(([^)]+)\)", README)]
    assert targets
    for target in targets:
        assert target.startswith("https://"), target
