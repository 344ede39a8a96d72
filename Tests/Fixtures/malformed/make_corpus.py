"""A corpus of malformed inputs for the readers of data from outside (issue 17).

Every file here must make its reader throw an error, never crash, hang or use memory out of
proportion to the file; Tests/DeepNNTests/MalformedInputTests.swift loads them all, by extension:
  *.safetensors   Safetensors.read(from:)
  *.npy           Npy.read(from:)
  *.idx           IDXArray(contentsOf:)  (plain IDX)
  *.gz            IDXArray(contentsOf:)  (must be gzip; inflated no further than the header says)
  *.einops.txt    one EinopsCall per line, "operation | shape | pattern | sizes", run shape-only
fuzz-crashes/ holds inputs the fuzzers found (Fuzz/); those must not crash, but may load.

Run:  python3 Tests/Fixtures/malformed/make_corpus.py   (standard library only, deterministic)
"""
import gzip
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
BIG = 2 ** 62


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


# MARK: safetensors

def safetensors(header, data=b"", declared=None):
    text = header if isinstance(header, str) else json.dumps(header, separators=(",", ":"))
    raw = text.encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw) if declared is None else declared) + raw + data


def entry(shape, begin=0, end=0, dtype="F32"):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


write("st-zero-and-huge-dims.safetensors", safetensors({"a": entry([0, BIG, BIG])}))
write("st-huge-dims-around-zero.safetensors", safetensors({"a": entry([BIG, 0, 4], dtype="U8")}))
write("st-zero-and-max-int.safetensors", safetensors({"a": entry([0, 2 ** 63 - 1, 2], dtype="BOOL")}))
write("st-second-tensor-overflows.safetensors",
      safetensors({"a": entry([2], 0, 8), "b": entry([0, 2 ** 61, 2 ** 61], 8, 8)}, b"\0" * 8))
write("st-bytes-overflow.safetensors", safetensors({"a": entry([2 ** 40, 2 ** 40], 0, 4)}, b"\0" * 4))
write("st-element-size-overflow.safetensors", safetensors({"a": entry([2 ** 61 + 1], 0, 8, dtype="F64")}, b"\0" * 8))
write("st-offsets-at-int-max.safetensors", safetensors({"a": entry([0], 2 ** 63 - 1, 2 ** 63 - 1)}))
write("st-offsets-past-end.safetensors", safetensors({"a": entry([4], 0, 16)}, b"\0" * 8))
write("st-size-beyond-int64.safetensors", safetensors('{"a":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,4]}}', b"\0" * 4))
write("st-negative-size.safetensors", safetensors({"a": entry([-1, 4], 0, 16)}, b"\0" * 16))
write("st-header-length-huge.safetensors", safetensors({}, declared=2 ** 64 - 1))
write("st-header-length-past-end.safetensors", safetensors({}, declared=4096))
write("st-truncated-length.safetensors", b"\x10\x00\x00")
write("st-deep-nesting.safetensors", safetensors("[" * 5000))
write("st-unknown-dtype.safetensors", safetensors({"a": entry([1], 0, 1, dtype="F8_E4M3")}, b"\0"))

# MARK: npy


def npy(header, data=b"", version=1, declared=None):
    raw = header.encode("latin-1")
    prefix = 10 if version == 1 else 12
    raw += b" " * (-(prefix + len(raw) + 1) % 64) + b"\n"
    length = len(raw) if declared is None else declared
    size = struct.pack("<H", length) if version == 1 else struct.pack("<I", length)
    return b"\x93NUMPY" + bytes([version, 0]) + size + raw + data


def npy_header(shape, descr="<f4", fortran=False):
    return "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, "True" if fortran else "False", shape)


write("npy-zero-and-huge-dims.npy", npy(npy_header("(0, %d, 8)" % BIG)))
write("npy-zero-and-huge-dims-fortran.npy", npy(npy_header("(0, %d, 8)" % BIG, fortran=True)))
write("npy-huge-dims-around-zero-fortran.npy", npy(npy_header("(%d, 0, %d)" % (BIG, BIG), descr="|u1", fortran=True)))
write("npy-bytes-overflow.npy", npy(npy_header("(%d, %d)" % (2 ** 40, 2 ** 40))))
write("npy-size-beyond-int64.npy", npy(npy_header("(99999999999999999999,)")))
write("npy-negative-size.npy", npy(npy_header("(2, -1)")))
write("npy-header-length-huge.npy", npy(npy_header("(1,)"), version=2, declared=2 ** 32 - 1))
write("npy-header-length-past-end.npy", npy(npy_header("(1,)"), declared=60000))
write("npy-bad-magic.npy", b"PK\x03\x04" + b"\0" * 60)
write("npy-version-9.npy", b"\x93NUMPY\x09\x00" + b"\0" * 56)
write("npy-truncated-data.npy", npy(npy_header("(4, 4)"), b"\0" * 60))
write("npy-big-endian.npy", npy(npy_header("(1,)", descr=">f8"), b"\0" * 8))
write("npy-object.npy", npy(npy_header("(1,)", descr="|O"), b"\0" * 8))
write("npy-deep-nesting.npy", npy("(" * 5000))

# MARK: IDX


def idx(rank, sizes, data=b"", kind=0x08):
    return bytes([0, 0, kind, rank]) + b"".join(struct.pack(">I", s) for s in sizes) + data


write("idx-dims-overflow.idx", bytes.fromhex("00 00 08 02 ff 00 ff ff ff ff ff ff"))
write("idx-rank4-all-max.idx", idx(4, [2 ** 32 - 1] * 4))
write("idx-zero-and-max-dims.idx", idx(3, [0, 2 ** 32 - 1, 2 ** 32 - 1]))
write("idx-huge-count-little-data.idx", idx(1, [2 ** 32 - 1], b"\1" * 10))
write("idx-data-longer-than-announced.idx", idx(1, [3], b"\1" * 10))
write("idx-rank-0.idx", idx(0, []))
write("idx-rank-200.idx", idx(200, [1] * 4))
write("idx-float-elements.idx", idx(1, [1], b"\0" * 4, kind=0x0D))
write("idx-bad-magic.idx", b"\x1f\x00\x08\x01")
write("idx-truncated-header.idx", bytes.fromhex("00 00 08 03 00 00 00 02 00 00"))
write("idx-empty.idx", b"")


# MARK: gzip (IDX inside)

def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


# A "gzip bomb": a labels header announcing 10 labels, then 64 MiB of zeros (64 KB compressed).
write("gz-bomb-labels.gz", gz(idx(1, [10]) + b"\0" * (64 << 20)))
write("gz-not-gzip.gz", idx(1, [3], b"\1\2\3"))
write("gz-empty.gz", b"")
labels = gz(idx(1, [300], bytes(range(10)) * 30))
write("gz-truncated.gz", labels[: len(labels) // 2])
write("gz-trailing-garbage.gz", labels + b"garbage")
crc = bytearray(labels)
crc[-8] ^= 0xFF
write("gz-bad-crc.gz", bytes(crc))
write("gz-corrupt-deflate.gz", labels[:10] + b"\xff" * 40 + labels[50:])
write("gz-second-member-too-long.gz", gz(idx(1, [4], b"\1" * 4)) + gz(b"\0" * 1000))
write("gz-dims-overflow.gz", gz(bytes.fromhex("00 00 08 02 ff 00 ff ff ff ff ff ff")))
write("gz-huge-count-little-data.gz", gz(idx(1, [2 ** 32 - 1], b"\1" * 10)))

# MARK: einops

CALLS = """\
# operation | input shape | pattern | sizes  (every call must throw an EinopsError)
rearrange | 8, 3 | (a b) c -> a b c | a=4611686018427387904, b=4
rearrange | 0, 3 | (a b) c -> a b c | a=4611686018427387904
rearrange | 0 | (a b c) -> a b c | a=4611686018427387904, b=4611686018427387904
repeat | 3 | h -> (h 4611686018427387904 4) |
repeat | 3 | h -> h 4611686018427387904 4 |
repeat | 0 | h -> h w v | w=4611686018427387904, v=4611686018427387904
repeat | 3 | h -> (h w) | w=9223372036854775807
sum | 0, 4 | (a b) c -> c | a=4611686018427387904, b=4
max | 2, 0 | a b -> a |
mean | 6 | (a 4611686018427387904 4) -> a |
repeat | 3 | h -> h 99999999999999999999 |
rearrange | 6 | (a b) -> a b | a=-2
rearrange | 6 | (a b) -> a b | a=0
rearrange | 9223372036854775807, 2 | a b -> (a b) |
rearrange | 4611686018427387904, 4611686018427387904 | a b -> b a |
rearrange | 2, 3 | a b -> (a b |
frobnicate | 2 | a -> a |
rearrange | 2, x | a b -> b a |
rearrange | 2 | a -> a | a=two
"""
write("malformed.einops.txt", CALLS.encode())
