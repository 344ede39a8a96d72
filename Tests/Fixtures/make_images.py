"""Small PNG and JPEG files written by PIL, and the pixels PIL decodes from them (HWC), for
ImageFileTests: Tests/Fixtures/images/*.png|jpg and images.json. Corrupt variants go to
malformed/ (img-*.png, img-*.jpg). Run with /tmp/venv/bin/python."""
import io
import os
import zlib

import numpy as np
import torch
from PIL import Image, ImageOps
from torchvision.transforms.v2 import functional as F

from fixture_util import save, HERE

OUT = os.path.join(HERE, "images")
BAD = os.path.join(HERE, "malformed")
rng = np.random.default_rng(0)
W, H = 7, 5   # odd sizes: partial JPEG blocks and PNG rows of odd length


def smooth(channels, hi=255):
    """A gradient with some noise: compresses well yet tests every channel."""
    y, x = np.mgrid[0:H, 0:W]
    planes = [(x * 30 + y * 20 + c * 50 + rng.integers(0, 20, (H, W))) % (hi + 1) for c in range(channels)]
    return np.stack(planes, axis=-1)


def pixels(img):
    a = np.asarray(img)
    return a.reshape(a.shape[0], a.shape[1], -1).astype(np.float64)


entries = {}


def png(name, img, **kw):
    path = os.path.join(OUT, name + ".png")
    img.save(path, **kw)
    decoded = Image.open(path)
    decoded.load()
    if decoded.mode == "1":   # numpy gives booleans; the decoders give 0 or 255, as convert("L")
        decoded = decoded.convert("L")
    if decoded.mode == "P":
        decoded = decoded.convert("RGBA" if "transparency" in decoded.info else "RGB")
    entries[name] = pixels(decoded)


gray = smooth(1)[..., 0].astype(np.uint8)
png("gray8", Image.fromarray(gray, "L"))
png("gray16", Image.fromarray((smooth(1, 65535)[..., 0] * 7 % 65536).astype(np.uint16)))
png("gray_alpha8", Image.fromarray(smooth(2).astype(np.uint8), "LA"))
png("rgb8", Image.fromarray(smooth(3).astype(np.uint8), "RGB"))
png("rgba8", Image.fromarray(smooth(4).astype(np.uint8), "RGBA"))


def write_interlaced_png(path, array):
    """An Adam7-interlaced 8-bit RGB PNG (PIL cannot write one): each pass's rows, filter 0."""
    def chunk(kind, body):
        return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")
    h, w, _ = array.shape
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    raw = b""
    for x0, y0, dx, dy in passes:
        sub = array[y0::dy, x0::dx]
        if sub.size:
            raw += b"".join(b"\0" + row.tobytes() for row in sub)
    ihdr = w.to_bytes(4, "big") + h.to_bytes(4, "big") + bytes([8, 2, 0, 0, 1])
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    decoded = Image.open(path)
    assert decoded.info.get("interlace") == 1
    entries[os.path.basename(path)[:-4]] = pixels(decoded)


write_interlaced_png(os.path.join(OUT, "rgb8_interlaced.png"), smooth(3).astype(np.uint8))
palette = Image.fromarray(smooth(3).astype(np.uint8), "RGB").quantize(colors=6)
png("palette", palette)
png("palette_trns", palette, transparency=2)
# A class-index mask: palette indices 0…5 (what SegmentationFolder reads as labels).
entries["palette_indices"] = pixels(np.asarray(palette))
png("gray1", Image.fromarray(gray > 100).convert("1"))
# 16-bit RGB: PIL cannot write it; written by the library's encoder in the tests instead.

def jpeg(name, img, **kw):
    path = os.path.join(OUT, name + ".jpg")
    img.save(path, quality=90, **kw)
    decoded = Image.open(path)
    decoded = ImageOps.exif_transpose(decoded)
    entries[name] = pixels(decoded)

rgb = Image.fromarray(smooth(3).astype(np.uint8), "RGB").resize((16, 12))
jpeg("jpeg_gray", Image.fromarray(gray, "L"))
jpeg("jpeg_rgb", rgb)
jpeg("jpeg_rgb_progressive", rgb, progressive=True)
jpeg("jpeg_gray_progressive", Image.fromarray(gray, "L"), progressive=True)
for orientation in (3, 6, 8, 5, 7, 2, 4):
    exif = Image.Exif()
    exif[0x0112] = orientation
    jpeg(f"jpeg_exif{orientation}", rgb, exif=exif.tobytes())

# PIL's encoder at quality 90 (4:2:0) on the decoded jpeg_rgb, decoded again: the library's encoder
# (the same libjpeg-turbo defaults) must give the same pixels.
again = io.BytesIO()
Image.open(os.path.join(OUT, "jpeg_rgb.jpg")).save(again, "JPEG", quality=90)
entries["jpeg_rgb_reencoded90"] = pixels(Image.open(again))

# torchvision's ToImage + ToDtype(float32, scale=True) on two of them, for Image.tensor().
for name in ("rgb8", "gray16"):
    img = Image.open(os.path.join(OUT, name + ".png"))
    t = F.to_image(img)
    if t.dtype == torch.uint8:
        entries[name + "_tensor"] = F.to_dtype(t, torch.float32, scale=True)
    else:   # PIL's I;16 arrives as int32 through to_image: scale as uint16 by hand, as ToDtype does.
        entries[name + "_tensor"] = t.to(torch.float32).mul_(1.0 / 65535)
# ToPILImage's rounding, mul(255).byte(): values straddling each step.
values = torch.tensor([0.0, 0.5 / 255, 0.999 / 255, 1 / 255, 0.5, 127.5 / 255, 254.99 / 255, 1.0]).reshape(1, 2, 4)
entries["to_pil_input"] = values
entries["to_pil_output"] = torch.from_numpy(np.asarray(F.to_pil_image(values)).astype(np.float32))

save("images", entries)

# Corrupt files for MalformedInputTests: each must throw an ImageFileError naming it.
def bad(name, data):
    with open(os.path.join(BAD, name), "wb") as f:
        f.write(data)

good_png = open(os.path.join(OUT, "rgb8.png"), "rb").read()
good_jpg = open(os.path.join(OUT, "jpeg_rgb.jpg"), "rb").read()
prog_jpg = open(os.path.join(OUT, "jpeg_rgb_progressive.jpg"), "rb").read()
bad("img-truncated.png", good_png[: len(good_png) // 2])
bad("img-signature-only.png", good_png[:8])
bad("img-bad-crc.png", good_png[:40] + bytes([good_png[40] ^ 0xFF]) + good_png[41:])
ihdr = bytearray(good_png)
ihdr[16:24] = (0x7FFFFFFF).to_bytes(4, "big") + (0x7FFFFFFF).to_bytes(4, "big")   # absurd size (CRC fixed below)
import zlib
ihdr[29:33] = zlib.crc32(bytes(ihdr[12:29])).to_bytes(4, "big")
bad("img-huge-dimensions.png", bytes(ihdr))
zero = bytearray(good_png)
zero[16:20] = (0).to_bytes(4, "big")
zero[29:33] = zlib.crc32(bytes(zero[12:29])).to_bytes(4, "big")
bad("img-zero-width.png", bytes(zero))
bad("img-truncated.jpg", good_jpg[: len(good_jpg) // 2])
bad("img-truncated-progressive.jpg", prog_jpg[: len(prog_jpg) * 2 // 3])
bad("img-soi-only.jpg", good_jpg[:3])
bad("img-header-only.jpg", good_jpg[: good_jpg.find(b"\xff\xda")])
sof = good_jpg.find(b"\xff\xc0")
huge = bytearray(good_jpg)
huge[sof + 5:sof + 9] = (20000).to_bytes(2, "big") * 2   # 20000 x 20000 > 2^28 pixels
bad("img-huge-dimensions.jpg", bytes(huge))
cmyk = io.BytesIO()
Image.new("CMYK", (4, 4), (10, 20, 30, 40)).save(cmyk, "JPEG")
bad("img-cmyk.jpg", cmyk.getvalue())
bad("img-not-an-image.png", b"GIF89a not a png at all")

# Good images that are no class-index masks (Image(maskContentsOf:) must refuse them).
def bad_mask(name, image):
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    bad(name, buffer.getvalue())

bad_mask("mask-rgb.mask.png", Image.fromarray(np.arange(48, dtype=np.uint8).reshape(4, 4, 3)))
bad_mask("mask-gray-alpha.mask.png", Image.fromarray(np.arange(16, dtype=np.uint8).reshape(4, 4)).convert("LA"))
