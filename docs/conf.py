"""Sphinx configuration of the corel_jax documentation.

Build (offline, warnings are errors):

    pip install -e ".[docs]"
    python -m sphinx -W --keep-going -b html docs docs/_build/html

Pages are MyST Markdown; the API reference is autodoc over the Google-style
docstrings (napoleon). Nothing is fetched from the network at build time.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # document this checkout, not an installed copy

import corel_jax  # noqa: E402


def _materialize_lazy_all() -> None:
    """autodoc accepts a list or tuple as ``__all__``; the packages that re-export lazily
    (``corel_jax._lazy``) compute theirs on first use. Compute them now."""
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(corel_jax.__path__, "corel_jax."):
        if info.ispkg and info.name != "corel_jax.commands":
            package = importlib.import_module(info.name)
            names = getattr(package, "__all__", None)
            if names is not None and not isinstance(names, list | tuple):
                package.__all__ = list(names)


project = "corel_jax"
author = "corel_jax developers"
copyright = "corel_jax developers"
release = corel_jax.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "sphinx_copybutton",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = [
    "_build",
    # tables written by the experiments; included into results.md, not pages of their own
    "demo_fashion_mnist_results.md",
    "fashion_mnist_lam20_results.md",
    "fashion_mnist_lambda_sweep.md",
]

# MyST: $...$ and $$...$$ math (docs/method.md), ::: fences, and #anchor links
# to headings (docs/method.md#the-connectivity-loss and the like).
myst_enable_extensions = ["dollarmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# autodoc + napoleon: Google-style docstrings, signatures in source order.
autodoc_default_options = {"member-order": "bysource", "show-inheritance": True}
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
# Annotations as written in the source, not expanded (ArrayLike is a union of ten types).
autodoc_type_aliases = {
    "jax.typing.ArrayLike": "jax.typing.ArrayLike",
    "ArrayLike": "jax.typing.ArrayLike",
    "jax.Array": "jax.Array",
    "Metric": "corel_jax.persistence.Metric",
}
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_use_ivar = True  # "Attributes:" as fields: autodoc documents the members once
napoleon_custom_sections = [("References", "notes_style")]

html_theme = "sphinx_book_theme"
html_title = f"corel_jax {release}"
html_theme_options = {
    "repository_url": "https://github.com/corel-jax/corel-jax",
    "use_repository_button": True,
    "path_to_docs": "docs",
    "show_toc_level": 2,
}
html_static_path = ["_static"]
html_css_files = ["custom.css"]
copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True


class CommandHelp(SphinxDirective):
    """``corel-jax-help [COMMAND]``: the command line's ``--help`` text, read from its parser.

    The text is generated at build time from ``corel_jax.commands.build_parser``,
    so the page never disagrees with the program.
    """

    optional_arguments = 1

    def run(self) -> list[nodes.Node]:
        from corel_jax import commands

        os.environ["COLUMNS"] = "92"  # argparse wraps to the terminal's width
        parser = commands.build_parser()
        if self.arguments:
            subparsers = next(
                a for a in parser._actions if isinstance(a, argparse._SubParsersAction)
            )
            parser = subparsers.choices[self.arguments[0]]
        text = parser.format_help()
        return [nodes.literal_block(text, text, language="text")]


_TOCTREE = re.compile(r"```\{toctree\}\n(.*?)```", flags=re.DOTALL)


def _listed_pages() -> set[str]:
    """Every page named in a toctree of any page (globs are not used)."""
    listed = set()
    for page in DOCS.rglob("*.md"):
        if "_build" in page.parts:
            continue
        base = page.parent.relative_to(DOCS)
        for body in _TOCTREE.findall(page.read_text(encoding="utf-8")):
            for line in body.splitlines():
                entry = re.sub(r".*<(.+)>$", r"\1", line.strip())  # "Title <page>"
                if entry and not entry.startswith(":"):
                    listed.add((base / entry).as_posix().removesuffix(".md"))
    return listed


def _add_unlisted_guides(app, docname: str, source: list[str]) -> None:
    """Lists every top-level page that no toctree names in the index's "Guides" toctree.

    A guide added beside the others (docs/NAME.md) appears in the site with no
    edit of the index, and a page that does not exist is never referenced, so
    the build never depends on which optional pages are present.
    """
    if docname != root_doc:
        return
    listed = _listed_pages() | {root_doc}
    excluded = set(exclude_patterns)
    extra = sorted(
        page.stem
        for page in DOCS.glob("*.md")
        if page.stem not in listed and page.name not in excluded
    )
    if extra:
        marker = ":caption: Guides\n"
        head, sep, tail = source[0].partition(marker)
        if not sep:
            raise ValueError("index.md has no toctree with ':caption: Guides'")
        body, fence, rest = tail.partition("```")
        source[0] = head + sep + body.rstrip("\n") + "\n" + "\n".join(extra) + "\n" + fence + rest


_ALIAS_REPR = re.compile(r"TypeAliasForwardRef\('([\w.]+)'\)")


def _plain_aliases(app, what, name, obj, options, signature, return_annotation):
    """``TypeAliasForwardRef('jax.typing.ArrayLike') | None`` (an alias inside a union) as
    ``jax.typing.ArrayLike | None``."""
    unwrap = lambda text: text and _ALIAS_REPR.sub(r"\1", text)  # noqa: E731
    return unwrap(signature), unwrap(return_annotation)


def _skip_namedtuple_fields(app, what, name, obj, skip, options):
    """NamedTuple fields' generated "Alias for field number N" entries: the class
    docstring's Attributes section describes them."""
    if (getattr(obj, "__doc__", None) or "").startswith("Alias for field number"):
        return True
    return None


def setup(app):
    _materialize_lazy_all()
    app.connect("autodoc-process-signature", _plain_aliases)
    app.connect("autodoc-skip-member", _skip_namedtuple_fields)
    app.add_directive("corel-jax-help", CommandHelp)
    app.connect("source-read", _add_unlisted_guides)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
