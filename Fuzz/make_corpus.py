"""Seed corpora of the fuzz targets (issue 17): small valid inputs, a few hundred bytes each.

Writes Fuzz/corpus/<target>/ for safetensors, npy, idx, gzip, einops, png, jpeg, mask and pth (numpy
only; the safetensors and npy seeds also include the reference files of Tests/Fixtures/io, written
by the safetensors and numpy libraries). The checkpoint seeds are written by the fuzz target
itself, which knows its model and optimisers:  FUZZ_WRITE_SEEDS=Fuzz/corpus/checkpoint Fuzz/.build/release/fuzz-checkpoint
Run:  python3 Fuzz/make_corpus.py
"""
import gzip
import json
import os
import shutil
import struct
import zlib

import numpy as np

FUZZ = os.path.dirname(os.path.abspath(__file__))
HERE = os.path.join(FUZZ, "corpus")
FIXTURES = os.path.join(FUZZ, "..", "Tests", "Fixtures", "io")
rng = np.random.default_rng(0)


def folder(target):
    path = os.path.join(HERE, target)
    os.makedirs(path, exist_ok=True)
    return path


def write(target, name, data):
    with open(os.path.join(folder(target), name), "wb") as f:
        f.write(data)


# --- safetensors: the reference files, and every dtype the reader accepts --------------------
for name in sorted(os.listdir(FIXTURES)):
    if name.endswith(".safetensors"):
        shutil.copy(os.path.join(FIXTURES, name), folder("safetensors"))


def safetensors(tensors, metadata=None):
    """The safetensors bytes of (name, dtype, shape, raw bytes) in order, as the Python library
    lays them out (header padded with spaces to a multiple of 8)."""
    header, offset, body = {}, 0, b""
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        body += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + body


dtypes = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
          "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1", "BOOL": "?"}
write("safetensors", "every_dtype.safetensors",
      safetensors([(f"t_{k.lower()}", k, (2, 2), (np.arange(4) % 2).astype(v).tobytes()) for k, v in dtypes.items()]))
bf16 = (rng.standard_normal(6).astype("<f4").view("<u4") >> 16).astype("<u2").tobytes()
write("safetensors", "bf16_scalar_empty.safetensors",
      safetensors([("bf16", "BF16", (2, 3), bf16), ("scalar", "F32", (), struct.pack("<f", 1.5)),
                   ("empty", "F32", (0, 4), b""), ("empty3d", "F64", (0, 3, 5), b"")], metadata={"format": "pt"}))
write("safetensors", "metadata_only.safetensors", safetensors([], metadata={"epoch": "3"}))
write("safetensors", "empty3d.safetensors", safetensors([("e", "F32", (0, 3, 5), b"")]))

# --- npy: the reference files (every dtype, Fortran order, versions 1-3, big-endian, object) --
for name in sorted(os.listdir(FIXTURES)):
    if name.endswith(".npy"):
        shutil.copy(os.path.join(FIXTURES, name), folder("npy"))
np.save(os.path.join(folder("npy"), "empty3d.npy"), np.zeros((2, 0, 8), np.float32))
with open(os.path.join(folder("npy"), "empty3d_fortran.npy"), "wb") as f:  # np.save would say C order
    np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": True, "shape": (0, 3, 8)})


# --- idx: MNIST's format (magic 0 0 8 rank, big-endian sizes, unsigned bytes) -----------------
def idx(shape, values=None):
    count = int(np.prod(shape))
    values = rng.integers(0, 256, count, dtype=np.uint8) if values is None else np.asarray(values, np.uint8)
    return bytes([0, 0, 8, len(shape)]) + b"".join(struct.pack(">I", d) for d in shape) + values.tobytes()


idx_seeds = {
    "labels.idx": idx((10,), np.arange(10)),
    "images.idx": idx((3, 5, 5)),
    "matrix.idx": idx((4, 6)),
    "rank4.idx": idx((2, 2, 3, 2)),
    "empty.idx": idx((0, 28, 28)),
}
for name, data in idx_seeds.items():
    write("idx", name, data)

# --- gzip: the IDX seeds compressed (as the datasets ship), and one left plain ---------------
for name, data in idx_seeds.items():
    write("gzip", name + ".gz", gzip.compress(data, compresslevel=9, mtime=0))
write("gzip", "plain-labels.idx", idx_seeds["labels.idx"])

# --- einops: pattern line, then name=value sizes and shape=… (see fuzz-einops) ----------------
einops_seeds = [
    ("space_to_depth", "b c (h h1) (w w1) -> b (h1 w1 c) h w", "shape=2,3,4,6\nh1=2\nw1=2"),
    ("split_group", "b (c g) h w -> g b c h w", "shape=2,4,3,2\ng=2"),
    ("ellipsis_merge", "a b ... e -> b (a ...) e", "shape=2,3,2,2,3"),
    ("transpose", "a b c -> c b a", ""),
    ("max_pool", "b c (h1 2) (w1 2) -> b c h1 w1", "shape=2,3,4,6"),
    ("adaptive", "b c (h1 h2) (w1 w2) -> b c h1 w1", "shape=2,3,4,6\nh1=2\nw1=3"),
    ("sum_ellipsis", "a ... (e1 e2) -> e1 a", "shape=2,3,2,4\ne2=2"),
    ("unit_axes", "a b c -> c 1 a", ""),
    ("repeat_compose", "a b c -> (c copy a b)", "copy=2\na=2\nb=3\nc=4"),
    ("repeat_anonymous", "1 b c d -> (d copy 1) 3 b c", "shape=1,2,4,3\ncopy=3"),
    ("repeat_ellipsis", " ... -> copy1 ... copy2 ", "shape=2,3\ncopy1=2\ncopy2=3"),
    ("list", "b h w -> h (b w)", ""),
    ("empty_axis", "a (b c) -> a b c", "shape=0,6\nb=2"),
    ("unit_group", "a () b c -> a b c", "shape=2,1,3,4"),
]
for name, pattern, lines in einops_seeds:
    write("einops", name + ".einops.txt", (pattern + "\n" + lines + "\n").encode())

# png, jpeg: the small files PIL writes for ImageFileTests (Tests/Fixtures/make_images.py).
IMAGES = os.path.join(FUZZ, "..", "Tests", "Fixtures", "images")
for name in sorted(os.listdir(IMAGES)):
    if name.endswith(".png"):
        shutil.copy(os.path.join(IMAGES, name), os.path.join(HERE, "png", name))
    elif name.split(".")[0] in ("jpeg_gray", "jpeg_rgb", "jpeg_rgb_progressive", "jpeg_gray_progressive", "jpeg_exif6", "jpeg_exif3"):
        shutil.copy(os.path.join(IMAGES, name), os.path.join(HERE, "jpeg", name))

# mask: the one-channel PNGs of the fixtures (gray 1/8/16-bit, palette with and without tRNS), two
# the mask reader refuses (gray+alpha, RGB), and class-index masks of every gray and palette bit
# depth, one of them interlaced.
for name in ("gray1", "gray8", "gray16", "palette", "palette_trns", "gray_alpha8", "rgb8"):
    shutil.copy(os.path.join(IMAGES, name + ".png"), os.path.join(folder("mask"), name + ".png"))


def png_chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def mask_png(classes, depth, palette=False, interlaced=False):
    """A PNG of class indices (H, W) at `depth` bits, gray or palette (a palette of 2^depth grays,
    at most 256), rows packed MSB first with filter 0; Adam7 passes when `interlaced`."""
    def packed(rows):
        out = b""
        for row in rows:
            bits = "".join(format(int(v), "0%db" % depth) for v in row)
            bits += "0" * (-len(bits) % 8)
            out += b"\0" + int(bits, 2).to_bytes(len(bits) // 8, "big")
        return out
    h, w = classes.shape
    if interlaced:
        passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
        raw = b"".join(packed(classes[y0::dy, x0::dx]) for x0, y0, dx, dy in passes if classes[y0::dy, x0::dx].size)
    else:
        raw = packed(classes)
    ihdr = struct.pack(">II", w, h) + bytes([depth, 3 if palette else 0, 0, 0, 1 if interlaced else 0])
    chunks = png_chunk(b"IHDR", ihdr)
    if palette:
        entries = min(1 << depth, 256)
        chunks += png_chunk(b"PLTE", b"".join(bytes([i * 255 // max(entries - 1, 1)] * 3) for i in range(entries)))
    return b"\x89PNG\r\n\x1a\n" + chunks + png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b"")


for depth in (1, 2, 4, 8, 16):
    classes = rng.integers(0, min(1 << depth, 11), (5, 7))
    write("mask", "gray%d_classes.png" % depth, mask_png(classes, depth))
    if depth <= 8:
        write("mask", "palette%d_classes.png" % depth, mask_png(classes, depth, palette=True))
write("mask", "palette4_interlaced.png", mask_png(rng.integers(0, 11, (9, 10)), 4, palette=True, interlaced=True))
# pth: the small torch.save files of Tests/Fixtures/torch (make_torchsave.py) whole, and their
# data.pkl alone (fuzz-pth wraps an input that is not a zip in an archive as its data.pkl).
import zipfile
TORCH = os.path.join(FUZZ, "..", "Tests", "Fixtures", "torch")
for name in ("dtypes_p2.pth", "dtypes_p5.pth", "checkpoint.pth", "legacy.pth"):
    shutil.copy(os.path.join(TORCH, name), folder("pth"))
    if name != "legacy.pth":
        with zipfile.ZipFile(os.path.join(TORCH, name)) as z:
            pickle = next(n for n in z.namelist() if n.endswith("/data.pkl"))
            write("pth", name.replace(".pth", ".pkl"), z.read(pickle))
