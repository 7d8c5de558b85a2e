"""Helpers of the own-images tests: datasets written as PNG folders and .npz files."""

import numpy as np
from PIL import Image


def save_png(path, image):
    """Writes one (H, W, 1) or (H, W, 3) uint8 image as a PNG (folders made)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(path)


def write_folder(root, images, labels=None, class_names=None):
    """``root/<class name>/<i:05d>.png`` (or ``root/<i:05d>.png`` without labels).

    Returns the images' names (paths under ``root``) in the order written.
    """
    names = []
    for i, image in enumerate(images):
        name = f"{i:05d}.png"
        if labels is not None:
            name = f"{class_names[labels[i]] if class_names else labels[i]}/{name}"
        save_png(root / name, image)
        names.append(name)
    return names


def in_sorted_order(names, *arrays):
    """``arrays`` reordered as load_images reads a folder: by the images' sorted names."""
    order = sorted(range(len(names)), key=lambda i: names[i])
    return [np.asarray(a)[order] for a in arrays]
