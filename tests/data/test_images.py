"""Tests for corel_jax.data.images and corel_jax.data.folder: own images from folders and arrays."""

import io
import os

import numpy as np
import pytest
from image_helpers import in_sorted_order, save_png, write_folder
from PIL import Image

from corel_jax import data
from corel_jax.data import folder

DIGITS = data.load("digits", "test")  # (449, 8, 8, 1), labels 0..9


@pytest.fixture(autouse=True)
def cache_dir(tmp_path, monkeypatch):
    """Every test caches into its own folder."""
    path = tmp_path / "cache"
    monkeypatch.setenv("COREL_JAX_CACHE", str(path))
    return path


def one_line(err) -> str:
    text = str(err.value)
    assert "\n" not in text
    return text


class TestFolders:
    def test_class_subfolders_give_labels_in_sorted_order(self, tmp_path):
        images, labels = DIGITS.images[:60], DIGITS.labels[:60]
        names = write_folder(
            tmp_path / "set", images, labels, class_names=[f"c{k}" for k in range(10)]
        )
        found = data.load_images(tmp_path / "set")
        want_images, want_labels, want_names = in_sorted_order(names, images, labels, names)
        np.testing.assert_array_equal(found.images, want_images)  # PNG is lossless
        assert found.class_names == tuple(f"c{k}" for k in sorted(set(labels)))
        names_of_labels = np.array(found.class_names)[found.labels]
        np.testing.assert_array_equal(names_of_labels, [f"c{k}" for k in want_labels])
        assert found.names == tuple(want_names) and found.source == str(tmp_path / "set")

    def test_a_flat_folder_is_unlabelled_and_other_files_are_skipped(self, tmp_path):
        names = write_folder(tmp_path / "flat", DIGITS.images[:12])
        (tmp_path / "flat" / "notes.txt").write_text("not an image")
        save_png(tmp_path / "flat" / ".hidden.png", DIGITS.images[0])
        found = data.load_images(tmp_path / "flat")
        assert found.labels is None and found.class_names == () and found.names == tuple(names)
        np.testing.assert_array_equal(found.images, DIGITS.images[:12])

    def test_class_folders_are_searched_recursively_and_one_file_is_a_set_of_one(self, tmp_path):
        save_png(tmp_path / "set" / "a" / "deep" / "x.png", DIGITS.images[0])
        save_png(tmp_path / "set" / "b" / "y.png", DIGITS.images[1])
        save_png(tmp_path / "set" / "b" / ".skip" / "z.png", DIGITS.images[2])
        found = data.load_images(tmp_path / "set")
        assert found.names == ("a/deep/x.png", "b/y.png") and found.labels.tolist() == [0, 1]
        single = data.load_images(tmp_path / "set" / "b" / "y.png")
        assert single.names == ("y.png",) and single.labels is None
        np.testing.assert_array_equal(single.images[0], DIGITS.images[1])

    def test_select_keeps_the_names_of_the_selected_images(self, tmp_path):
        write_folder(tmp_path / "set", DIGITS.images[:40], DIGITS.labels[:40])
        found = data.load_images(tmp_path / "set")
        three = found.select([3])
        assert set(three.labels.tolist()) == {3} and all(n.startswith("3/") for n in three.names)
        with pytest.raises(ValueError, match=r"no image of label\(s\) \[42\]"):
            found.select([42])
        write_folder(tmp_path / "flat", DIGITS.images[:4])
        with pytest.raises(ValueError, match="has no labels"):
            data.load_images(tmp_path / "flat").select([0])


class TestConversions:
    def test_mixed_sizes_need_image_size(self, tmp_path):
        small, big = DIGITS.images[0], np.kron(DIGITS.images[1][..., 0], np.ones((2, 2), np.uint8))
        save_png(tmp_path / "mixed" / "a.png", small)
        save_png(tmp_path / "mixed" / "b.png", big[..., None])
        save_png(tmp_path / "mixed" / "c.png", DIGITS.images[2])
        with pytest.raises(ValueError) as err:
            data.load_images(tmp_path / "mixed")
        text = one_line(err)
        assert "2 sizes" in text and "8x8: 2 (e.g. a.png)" in text and "16x16: 1" in text
        assert "--image-size (image_size=)" in text
        found = data.load_images(tmp_path / "mixed", image_size=(8, 8))
        np.testing.assert_array_equal(found.images[0], small)  # the right size: untouched
        # b.png, 16x16, is shrunk by Pillow's (antialiased) bilinear filter: it keeps the mean
        reference = Image.fromarray(big).resize((8, 8), Image.Resampling.BILINEAR)
        np.testing.assert_array_equal(found.images[1, ..., 0], np.asarray(reference))
        assert abs(found.images[1].mean() - big.mean()) < 2.0
        wide = data.load_images(tmp_path / "mixed", image_size=(12, 20))
        assert wide.images.shape == (3, 12, 20, 1)
        reference = Image.fromarray(small[..., 0]).resize((20, 12), Image.Resampling.BILINEAR)
        np.testing.assert_array_equal(wide.images[0, ..., 0], np.asarray(reference))

    def test_grayscale_and_colour_mixed_need_color(self, tmp_path, rng):
        rgb = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
        save_png(tmp_path / "mix" / "a_gray.png", DIGITS.images[0])
        save_png(tmp_path / "mix" / "b_gray.png", DIGITS.images[1])
        save_png(tmp_path / "mix" / "c_rgb.png", rgb)
        with pytest.raises(ValueError) as err:
            data.load_images(tmp_path / "mix")
        text = one_line(err)
        assert "grayscale: 2 (e.g. a_gray.png)" in text and "colour: 1 (e.g. c_rgb.png)" in text
        assert "--color (color=) gray" in text and "rgb" in text
        as_rgb = data.load_images(tmp_path / "mix", color="rgb").images
        assert as_rgb.shape == (3, 8, 8, 3)
        np.testing.assert_array_equal(as_rgb[0], np.repeat(DIGITS.images[0], 3, axis=-1))
        np.testing.assert_array_equal(as_rgb[2], rgb)
        as_gray = data.load_images(tmp_path / "mix", color="gray").images
        # ITU-R 601-2 luma, as Pillow's "L" mode defines it
        luma = rgb.astype(float) @ np.array([299, 587, 114]) / 1000
        assert np.abs(as_gray[2, ..., 0] - luma).max() <= 1.0
        np.testing.assert_array_equal(as_gray[0], DIGITS.images[0])

    def test_alpha_is_dropped_and_16_bit_is_scaled(self, tmp_path, rng):
        rgba = rng.integers(0, 256, size=(6, 6, 4), dtype=np.uint8)
        (tmp_path / "a").mkdir()
        Image.fromarray(rgba).save(tmp_path / "a" / "x.png")
        np.testing.assert_array_equal(data.load_images(tmp_path / "a").images[0], rgba[..., :3])
        values = rng.integers(0, 256, size=(6, 6)).astype(np.uint16)
        (tmp_path / "b").mkdir()
        Image.fromarray(values * 257).save(tmp_path / "b" / "x.png")  # 16-bit grayscale
        np.testing.assert_array_equal(data.load_images(tmp_path / "b").images[0, ..., 0], values)

    def test_the_exif_orientation_of_a_photo_is_applied(self, tmp_path):
        exif = Image.Exif()
        exif[0x0112] = 6  # stored 20 wide and 10 high, shown rotated by 90 degrees
        (tmp_path / "photos").mkdir()
        Image.new("RGB", (20, 10), (200, 30, 30)).save(tmp_path / "photos" / "p.jpg", exif=exif)
        found = data.load_images(tmp_path / "photos")
        assert found.images.shape == (1, 20, 10, 3)


class TestErrors:
    def test_no_images(self, tmp_path, cache_dir):
        with pytest.raises(ValueError, match="does not exist"):
            data.load_images(tmp_path / "missing")
        (tmp_path / "empty").mkdir()
        with pytest.raises(ValueError) as err:
            data.load_images(tmp_path / "empty")
        assert one_line(err).startswith(f"{tmp_path / 'empty'} holds no images; image files end in")
        (tmp_path / "empty" / "notes.txt").write_text("x")
        with pytest.raises(
            ValueError, match=r"holds no images \(it holds 1 other files, e.g. notes"
        ):
            data.load_images(tmp_path / "empty")
        save_png(tmp_path / "classes" / "a" / "x.png", DIGITS.images[0])
        (tmp_path / "classes" / "b").mkdir()
        with pytest.raises(ValueError, match="the class subfolder.s. b hold no images"):
            data.load_images(tmp_path / "classes")
        save_png(tmp_path / "classes" / "loose.png", DIGITS.images[0])
        with pytest.raises(ValueError, match=r"holds both image files \(1, e.g. loose.png\)"):
            data.load_images(tmp_path / "classes")
        with pytest.raises(ValueError, match="is neither a folder, an image file"):
            data.load_images(tmp_path / "empty" / "notes.txt")
        assert not cache_dir.exists()

    def test_undecodable_files_are_all_named_in_one_line(self, tmp_path, cache_dir):
        write_folder(tmp_path / "set", DIGITS.images[:5])
        (tmp_path / "set" / "garbage.png").write_bytes(b"not a png at all")
        buf = io.BytesIO()  # noise does not compress: its data is most of the file
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (8, 8), np.uint8)).save(
            buf, "PNG"
        )
        (tmp_path / "set" / "truncated.png").write_bytes(buf.getvalue()[:-30])
        with pytest.raises(ValueError) as err:
            data.load_images(tmp_path / "set")
        text = one_line(err)
        assert text.startswith(f"1 of 7 image files in {tmp_path / 'set'} cannot be decoded")
        assert "garbage.png (UnidentifiedImageError" in text
        (tmp_path / "set" / "garbage.png").unlink()  # the truncated file fails when decoded
        with pytest.raises(ValueError, match=r"1 of 6 .* truncated.png \(OSError"):
            data.load_images(tmp_path / "set")
        assert not cache_dir.exists()  # nothing cached


class TestCache:
    def test_a_folder_is_decoded_once_until_a_file_changes(self, tmp_path, monkeypatch, cache_dir):
        write_folder(tmp_path / "set", DIGITS.images[:10], DIGITS.labels[:10])
        first = data.load_images(tmp_path / "set")
        assert len(list(cache_dir.glob("images-set-*.npz"))) == 1

        def no_decoding():
            raise AssertionError("decoded again")

        with monkeypatch.context() as m:
            m.setattr(folder, "pillow", no_decoding)
            again = data.load_images(tmp_path / "set")
        np.testing.assert_array_equal(again.images, first.images)
        np.testing.assert_array_equal(again.labels, first.labels)
        assert (again.names, again.class_names) == (first.names, first.class_names)
        changed = tmp_path / "set" / first.names[0]
        save_png(changed, 255 - DIGITS.images[0])
        os.utime(changed, ns=(1, 1))  # another modification time, whatever the clock
        np.testing.assert_array_equal(
            data.load_images(tmp_path / "set").images[0], 255 - DIGITS.images[0]
        )
        data.load_images(tmp_path / "set", image_size=4)  # other settings: another entry
        assert len(list(cache_dir.glob("images-set-*.npz"))) == 3

    def test_an_unreadable_cache_entry_is_decoded_again(self, tmp_path, cache_dir):
        write_folder(tmp_path / "set", DIGITS.images[:4])
        data.load_images(tmp_path / "set")
        (entry,) = cache_dir.glob("images-set-*.npz")
        entry.write_bytes(b"broken")
        np.testing.assert_array_equal(data.load_images(tmp_path / "set").images, DIGITS.images[:4])


class TestArrays:
    def test_npz_with_labels_and_npy(self, tmp_path):
        names = np.array(
            ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
        )
        np.savez(
            tmp_path / "d.npz",
            images=DIGITS.images[:20],
            labels=DIGITS.labels[:20],
            class_names=names,
        )
        found = data.load_images(tmp_path / "d.npz")
        np.testing.assert_array_equal(found.images, DIGITS.images[:20])
        np.testing.assert_array_equal(found.labels, DIGITS.labels[:20])
        assert found.class_names == tuple(names) and found.names == tuple(map(str, range(20)))
        np.save(tmp_path / "d.npy", DIGITS.images[:5, ..., 0])  # (N, H, W): grayscale
        plain = data.load_images(tmp_path / "d.npy")
        assert plain.labels is None and plain.images.shape == (5, 8, 8, 1)
        np.savez(tmp_path / "nolabels.npz", images=DIGITS.images[:3], labels=DIGITS.labels[:3] + 20)
        assert (
            len(data.load_images(tmp_path / "nolabels.npz").class_names)
            == 1 + DIGITS.labels[:3].max() + 20
        )

    def test_values_are_converted_to_uint8(self, tmp_path):
        floats = DIGITS.images[:4].astype(np.float32) / 255.0
        np.save(tmp_path / "f.npy", floats)
        np.testing.assert_array_equal(
            data.load_images(tmp_path / "f.npy").images, DIGITS.images[:4]
        )
        np.save(tmp_path / "i.npy", DIGITS.images[:4].astype(np.int16))
        np.testing.assert_array_equal(
            data.load_images(tmp_path / "i.npy").images, DIGITS.images[:4]
        )
        rgb = data.load_images(tmp_path / "i.npy", color="rgb", image_size=(16, 12)).images
        assert rgb.shape == (4, 16, 12, 3) and (rgb[..., 0] == rgb[..., 2]).all()

    @pytest.mark.parametrize(
        "arrays,match",
        [
            (
                {"pictures": np.zeros((2, 4, 4, 1), np.uint8)},
                "no array named 'images' .it holds: pictures",
            ),
            ({"images": np.zeros((2, 4, 4, 4), np.uint8)}, "drop the alpha channel"),
            ({"images": np.full((2, 4, 4, 1), 2.0)}, r"float images must lie in \[0, 1\]"),
            ({"images": np.full((2, 4, 4, 1), 300)}, "integer images must lie in 0..255"),
            ({"images": np.zeros((0, 4, 4, 1), np.uint8)}, "holds no images"),
            (
                {"images": np.zeros((2, 4, 4, 1), np.uint8), "labels": np.array([0])},
                "labels must be",
            ),
        ],
    )
    def test_malformed_array_files(self, tmp_path, arrays, match):
        np.savez(tmp_path / "bad.npz", **arrays)
        with pytest.raises(ValueError, match=match) as err:
            data.load_images(tmp_path / "bad.npz")
        one_line(err)
        (tmp_path / "broken.npz").write_bytes(b"PK not really")
        with pytest.raises(ValueError, match="cannot be read as a NumPy array file"):
            data.load_images(tmp_path / "broken.npz")


def test_describe_shape_and_image_size():
    from corel_jax.data.images import as_image_size, describe_shape

    assert (
        describe_shape((28, 28, 1)) == "28x28 grayscale" and describe_shape((4, 6, 3)) == "4x6 RGB"
    )
    assert describe_shape((1, 1, 101)) == "1x1x101"
    assert as_image_size(28) == (28, 28) and as_image_size([24, 32]) == (24, 32)
    with pytest.raises(ValueError, match="one or two positive ints"):
        as_image_size((0, 3))
    with pytest.raises(ValueError, match="color must be None or one of"):
        data.load_images(".", color="cmyk")
