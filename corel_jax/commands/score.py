"""``corel-jax score``: score new images against a few inlier images with a trained backbone."""

from __future__ import annotations

import argparse
from pathlib import Path

from corel_jax._checks import check_positive, check_positive_int, is_number
from corel_jax._extras import require
from corel_jax._files import check_directory
from corel_jax.data.catalog import COLORS
from corel_jax.oneclass.names import DETECTOR_METHODS, method_label

HELP = ("Score images against a few inlier images with a trained backbone: a CSV row per image "
        "(higher = more normal), the most and least novel images (docs/own_images.md).")  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``corel-jax score``."""
    a = parser.add_argument
    a("--backbone", required=True, metavar="RUN",
      help="The backbone's training work directory (corel-jax train --workdir).")  # fmt: skip
    a("--inliers", required=True, metavar="PATH", help="A few normal images (the paper: 120): a "
      "folder (flat, or one subfolder per class) or an .npz/.npy file.")  # fmt: skip
    a("--images", required=True, metavar="PATH", help="The images to score, as --inliers; with "
      "class subfolders (or labels in the .npz), the AUROC is printed too.")  # fmt: skip
    a("--out", default="scores.csv", metavar="CSV", help="The CSV file: one row per image (its "
      "path or index, class, score, novel). The picture of the most and least novel images goes "
      "beside it, as the same name ending in .png.")  # fmt: skip
    a("--method", default="corel", choices=DETECTOR_METHODS, metavar="METHOD",
      help=f"{method_label('corel')} (the paper's score) or the {method_label('kde')} baseline "
      "of the same codes (the lambda=0 baseline: --backbone a run trained with --lam 0).")  # fmt: skip
    a("--radius", type=float, default=None, help="Ball radius (default: the backbone's eta).")
    a("--contamination", type=float, default=0.1, help="Share of the inliers' leave-one-out "
      "scores below the novelty threshold, in (0, 0.5]: images scoring below it are novel.")  # fmt: skip
    a("--normal", default=None, metavar="CLASS[,CLASS]", help="The classes of --images that the "
      "inliers stand for, for the AUROC (default: the inliers' class subfolders, or the name of "
      "their folder, when --images has such a class).")  # fmt: skip
    a("--image-size", type=int, nargs="+", default=None, metavar="SIZE",
      help="Resize every image to HEIGHT WIDTH (one number: a square); default: the size the "
      "backbone was trained with --image-size, else none.")  # fmt: skip
    a("--color", default=None, choices=COLORS, metavar="COLOR", help="Convert every image to "
      "gray or rgb; default: the backbone's --color, else none.")  # fmt: skip
    a("--show", type=int, default=8, help="Images per row of the picture.")
    a("--batch-size", type=int, default=1000, help="Images per encoding call.")


def _read(option: str, path: str, image_size, color):
    """The images of ``path``; an error message starts with the option."""
    from corel_jax.data.images import load_images

    try:
        return load_images(path, image_size=image_size, color=color)
    except ValueError as err:
        raise ValueError(f"{option}: {err}") from None


def _check_shape(option: str, found, model, run: str) -> None:
    """One line naming the options that convert ``found`` to the backbone's input shape."""
    from corel_jax.data.images import describe_shape

    have, want = tuple(found.images.shape[1:]), tuple(int(s) for s in model.input_shape)
    if have == want:
        return
    fixes = []
    if have[:2] != want[:2]:
        fixes.append(f"--image-size {want[0]} {want[1]}")
    if have[2] != want[2] and want[2] in (1, 3):
        fixes.append(f"--color {'gray' if want[2] == 1 else 'rgb'}")
    fix = f": pass {' '.join(fixes)} to convert them" if fixes else ""
    raise ValueError(f"{option}: the backbone in {run} takes {describe_shape(want)} images, but "
                     f"{found.source} holds {describe_shape(have)} images{fix}.")  # fmt: skip


def _check_options(args: argparse.Namespace) -> tuple[Path, Path]:
    """Every option checked before any work; returns the CSV and PNG paths."""
    c = args.contamination
    if not (is_number(c) and 0 < c <= 0.5):
        raise ValueError(f"--contamination must be in (0, 0.5]; got {c!r}.")
    if args.radius is not None:
        check_positive(args.radius, "--radius")
    check_positive_int(args.show, "--show")
    check_positive_int(args.batch_size, "--batch-size")
    if args.image_size is not None and len(args.image_size) not in (1, 2):
        raise ValueError(f"--image-size takes one or two numbers; got {args.image_size}.")
    if args.image_size is not None:
        for size in args.image_size:
            check_positive_int(size, "--image-size")
    out = Path(args.out)
    if out.suffix.lower() == ".png" or out.is_dir():
        raise ValueError(f"--out: give the CSV file's name (e.g. scores.csv); {out} is "
                         f"{'a folder' if out.is_dir() else 'a PNG name'}.")  # fmt: skip
    check_directory(out.parent, "--out")
    return out, out.with_suffix(".png")


def _summary(args, config, inliers, images, detector, scores, novel, auroc, normal, paths) -> str:
    """What the terminal shows."""
    import numpy as np

    n, k = len(images), int(novel.sum())
    trained = config.data if config.data is not None else config.dataset
    shape = "x".join(map(str, images.images.shape[1:]))
    lines = [
        f"backbone: {args.backbone} ({config.model}, lambda {config.lam:g}, trained on {trained})",
        f"inliers:  {len(inliers):,} images of {inliers.source}",
        f"scored:   {n:,} images of {images.source} ({shape})",
        f"method:   {method_label(args.method)}" + (
            f", radius {detector.radius:g}" if args.method == "corel" else ""),
        f"novel:    {k:,} of {n:,} images ({100 * k / n:.1f}%) score below {detector.offset_:g}, "
        f"the {100 * args.contamination:g}% quantile of the inliers' leave-one-out scores",
    ]  # fmt: skip
    if images.labels is not None:
        share = ", ".join(
            f"{name} {100 * novel[images.labels == c].mean():.0f}%"
            for c, name in enumerate(images.class_names) if np.any(images.labels == c)
        )  # fmt: skip
        lines.append(f"novel by class: {share}")
        if auroc is not None:
            positives = int(
                np.isin(images.labels, [images.class_names.index(c) for c in normal]).sum()
            )
            lines.append(f"AUROC:    {auroc:.4f} (normal: {', '.join(normal)}, {positives:,} "
                         f"images; the others novel)")  # fmt: skip
        else:
            lines.append("AUROC:    pass --normal CLASS (the classes of --images that the inliers "
                         "stand for) to compute it")  # fmt: skip
    most = np.argsort(scores, kind="stable")[:5]
    ties = int(np.sum(scores == scores[most[0]]))
    if ties > len(most):
        lines.append(f"most novel: {ties:,} images tie at the lowest score, {scores[most[0]]:g}")
    else:
        lines.append("most novel: " + ", ".join(f"{images.names[i]} ({scores[i]:g})" for i in most))
    lines.append(f"wrote {paths[0]} (one row per image) and {paths[1]} (the {min(args.show, n)} "
                 "most and least novel images)")  # fmt: skip
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Checks the options and the images, fits the detector, scores, writes the CSV and PNG."""
    csv_path, png_path = _check_options(args)
    given = [c.strip() for c in args.normal.split(",") if c.strip()] if args.normal else None
    require("matplotlib", purpose="the picture of corel-jax score")  # before any work
    from corel_jax.data.images import as_image_size
    from corel_jax.oneclass import image_report
    from corel_jax.oneclass.detector import CORELDetector
    from corel_jax.training.backbone import load_backbone

    try:
        model, config = load_backbone(args.backbone)
    except ValueError as err:
        raise ValueError(f"--backbone: {err}") from None
    image_size = as_image_size(args.image_size, "--image-size") or config.image_size
    color = args.color or config.color
    inliers = _read("--inliers", args.inliers, image_size, color)
    images = _read("--images", args.images, image_size, color)
    for option, found in (("--inliers", inliers), ("--images", images)):
        _check_shape(option, found, model, args.backbone)
    if len(inliers) < 2:
        raise ValueError(f"--inliers: {inliers.source} holds {len(inliers)} image; at least 2 "
                         "are needed (the paper uses 120).")  # fmt: skip
    normal = image_report.normal_classes(images, inliers, given)
    detector = CORELDetector(
        model, config=config, method=args.method,
        radius=config.eta if args.radius is None else args.radius,
        contamination=args.contamination, batch_size=args.batch_size,
    ).fit(inliers)  # fmt: skip
    scores = detector.score_samples(images)
    novel = scores < detector.offset_
    auroc = image_report.scores_auroc(images, scores, normal)
    title = (f"{method_label(args.method)}: {len(images):,} images of {images.source} against "
             f"{len(inliers):,} inliers of {inliers.source}")  # fmt: skip
    image_report.write_scores(images, scores, novel, csv_path, png_path, show=args.show,
                              title=title)  # fmt: skip
    print(_summary(args, config, inliers, images, detector, scores, novel, auroc, normal,
                   (csv_path, png_path)))  # fmt: skip
    return 0
