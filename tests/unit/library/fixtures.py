#!/usr/bin/python3
"""Fixture generator and driver for the library tests (cs_image_get,
cs_thumbnail, cs_search_image).

    fixtures.py CHECKER

Writes the pictures below into a temporary folder's photos/, checks them with
PIL (so a wrong fixture fails here, not as a bug in the code under test),
then runs `CHECKER PHOTOS_DIR LIBRARY_DIR` and exits with its status. The C
test holds the same facts as constants; they are the design of the fixtures,
not values read back from capsearch.

Set CAPSEARCH_KEEP_FIXTURES=1 to keep the folder for inspection.
"""
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image, ImageOps

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)
YELLOW, MAGENTA, CYAN, BLACK = (255, 255, 0), (255, 0, 255), (0, 255, 255), (0, 0, 0)
RGBW = (RED, GREEN, BLUE, WHITE)
# Another set for the second quadrant picture, so the two do not share a
# colour layout (each must be the other's clear second in search by picture).
YMCK = (YELLOW, MAGENTA, CYAN, BLACK)


def quadrants(w, h, colours=RGBW):
    """Upright: the colours top-left, top-right, bottom-left, bottom-right."""
    img = np.zeros((h, w, 3), np.uint8)
    img[: h // 2, : w // 2] = colours[0]
    img[: h // 2, w // 2:] = colours[1]
    img[h // 2:, : w // 2] = colours[2]
    img[h // 2:, w // 2:] = colours[3]
    return img


def smooth(w, h, seed):
    """Low-frequency picture (gradients and large blocks): any two decent
    resamplers agree on its thumbnail."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.stack([255.0 * x / (w - 1), 255.0 * y / (h - 1),
                    128 + 100 * np.sin(x / w * 3.0 + seed)], axis=-1)
    for _ in range(3):
        x0, y0 = rng.integers(0, w - w // 3), rng.integers(0, h - h // 3)
        img[y0:y0 + h // 3, x0:x0 + w // 3] = rng.integers(0, 256, 3)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def rotated_jpeg(path):
    """Shown 240x160 (quadrants) but stored 160x240 with EXIF Orientation 6
    (a viewer turns the stored pixels 90 degrees clockwise), plus camera and
    date tags."""
    upright = Image.fromarray(quadrants(240, 160))
    stored = upright.transpose(Image.Transpose.ROTATE_90)   # counter-clockwise
    exif = Image.Exif()
    exif[0x0112] = 6                       # Orientation
    exif[0x010F] = "Canon"                 # Make
    exif[0x0110] = "Canon EOS 5D"          # Model
    exif[0x8769] = {0x9003: "2021:07:04 18:30:00"}   # Exif IFD: DateTimeOriginal
    stored.save(path, "JPEG", quality=95, exif=exif.tobytes())
    # The fixture itself: a viewer shows it upright, red top-left.
    with Image.open(path) as im:
        assert im.size == (160, 240)
        shown = np.asarray(ImageOps.exif_transpose(im).convert("RGB"), np.int32)
        assert shown.shape == (160, 240, 3)
        for (y, x), colour in {(40, 60): RED, (40, 180): GREEN, (120, 60): BLUE,
                               (120, 180): WHITE}.items():
            assert np.abs(shown[y, x] - colour).max() < 16, (y, x, shown[y, x])
        e = im.getexif()
        assert e.get_ifd(0x8769).get(0x9003) == "2021:07:04 18:30:00"
        assert e.get(0x010F) == "Canon" and e.get(0x0110) == "Canon EOS 5D"


def main():
    checker = sys.argv[1]
    top = tempfile.mkdtemp(prefix="cs-library-test-")
    photos = os.path.realpath(os.path.join(top, "photos"))
    os.mkdir(photos)
    try:
        rotated_jpeg(os.path.join(photos, "rotated.jpg"))
        photo = Image.fromarray(smooth(1600, 1000, 1))
        photo.save(os.path.join(photos, "photo.jpg"), "JPEG", quality=92)
        # The reference thumbnail: the decoded JPEG, box-averaged to 256x160.
        with Image.open(os.path.join(photos, "photo.jpg")) as im:
            ref = im.convert("RGB").resize((256, 160), Image.Resampling.BOX)
            with open(os.path.join(top, "photo-256.rgb"), "wb") as f:
                f.write(ref.tobytes())
        Image.fromarray(smooth(40, 30, 2)).save(os.path.join(photos, "small.png"))
        Image.fromarray(quadrants(90, 300, YMCK)).save(os.path.join(photos, "tall.png"))
        Image.fromarray(smooth(300, 200, 3)).save(os.path.join(photos, "gone.jpg"),
                                                  "JPEG", quality=90)
        status = subprocess.call([checker, photos, os.path.join(top, "library"),
                                  os.path.join(top, "photo-256.rgb")])
    finally:
        if os.environ.get("CAPSEARCH_KEEP_FIXTURES"):
            print("fixtures kept in", top, file=sys.stderr)
        else:
            shutil.rmtree(top, ignore_errors=True)
    sys.exit(status)


if __name__ == "__main__":
    main()
