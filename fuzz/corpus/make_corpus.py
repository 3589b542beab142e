#!/usr/bin/env python3
"""Writes the seed corpus of Ember's fuzz targets (small valid and corrupt files) beside this script.

Run once; the files are committed. Needs numpy, safetensors (and nothing else): `python3 make_corpus.py`.
"""
import gzip
import io
import os
import struct

import numpy as np
from safetensors.numpy import save

HERE = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    d = os.path.join(HERE, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def idx(code, dims, payload):
    return bytes([0, 0, code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + payload


# safetensors: valid files of each dtype Ember reads, a Linear(2, 3) state dict, then corrupt ones.
rng = np.random.default_rng(0)
valid = save({
    "weight": rng.standard_normal((2, 3)).astype(np.float32),
    "idx": np.array([1, -2], dtype=np.int64),
    "mask": np.array([True, False, True]),
    "x64": np.array([[0.5]], dtype=np.float64),
    "i32": np.array([7, 8, 9], dtype=np.int32),
    "scalar": np.array(3.0, dtype=np.float32),
    "empty": np.zeros((0, 4), dtype=np.float32),
})
put("safetensors", "valid.safetensors", valid)
put("safetensors", "linear.safetensors", save({
    "weight": rng.standard_normal((3, 2)).astype(np.float32),
    "bias": np.zeros(3, dtype=np.float32),
}))
put("safetensors", "f16_unsupported.safetensors", save({"h": np.ones(2, dtype=np.float16)}))
put("safetensors", "truncated.safetensors", valid[: len(valid) - 5])
put("safetensors", "huge_header_len.safetensors", struct.pack("<Q", 2**62) + valid[8:])
put("safetensors", "bad_json.safetensors", struct.pack("<Q", 6) + b"{nope}")
bad_offsets = b'{"t":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}'
put("safetensors", "overflow_shape.safetensors", struct.pack("<Q", len(bad_offsets)) + bad_offsets + b"\0" * 8)

# csv: valid tables (header, blank lines, CRLF, labels) and malformed ones.
put("csv", "labels.csv", b"f1,f2,label\n0.5,1,2\n1.5,2,0\n-3e-2,nan,1\n")
put("csv", "plain.csv", b"1,2,3\r\n\r\n4,5e-1,-6\r\n")
put("csv", "wide.csv", ("\n".join(",".join(str((i * 7 + j) % 10) for j in range(12)) for i in range(6)) + "\n").encode())
put("csv", "ragged.csv", b"1,2\n3\n")
put("csv", "big_label.csv", b"h,l\n1,1e20\n2,-1e20\n")
put("csv", "half_label.csv", b"h,l\n1,1.5\n")
put("csv", "text.csv", b"a,b\nx,y\n")

# idx: each element type, images and labels, and corrupt headers.
put("idx", "images_u8.idx", idx(0x08, [2, 2, 3], bytes(range(12))))
put("idx", "labels_u8.idx", idx(0x08, [4], bytes([0, 1, 9, 3])))
put("idx", "i8.idx", idx(0x09, [2], bytes([0xFF, 5])))
put("idx", "i16.idx", idx(0x0B, [1, 2], struct.pack(">hh", -300, 7)))
put("idx", "i32.idx", idx(0x0C, [2], struct.pack(">ii", 70000, -1)))
put("idx", "f32.idx", idx(0x0D, [2], struct.pack(">ff", 1.5, 3.0)))
put("idx", "f64.idx", idx(0x0E, [1, 1], struct.pack(">d", -2.25)))
put("idx", "truncated.idx", idx(0x08, [2, 3], bytes(5)))
put("idx", "overflow_dims.idx", idx(0x0E, [0xFFFFFFFF] * 3, b""))

# gzip: members with each block type and header flag, multi-member, and corrupt trailers.
payload = idx(0x08, [3, 4, 4], bytes(rng.integers(0, 256, 48, dtype=np.uint8)))
put("gzip", "dynamic.gz", gzip.compress(payload * 4, compresslevel=9, mtime=0))
put("gzip", "stored.gz", gzip.compress(payload, compresslevel=0, mtime=0))
put("gzip", "fixed.gz", gzip.compress(idx(0x08, [3], b"abc"), compresslevel=1, mtime=0))
buf = io.BytesIO()
with gzip.GzipFile(filename="named.idx", mode="wb", fileobj=buf, mtime=0) as g:
    g.write(payload)
put("gzip", "fname.gz", buf.getvalue())
put("gzip", "two_members.gz", gzip.compress(payload[:20], mtime=0) + gzip.compress(payload[20:], mtime=0))
good = gzip.compress(payload, mtime=0)
put("gzip", "bad_crc.gz", good[:-8] + bytes(4) + good[-4:])
put("gzip", "truncated.gz", good[: len(good) // 2])
put("gzip", "csv.gz", gzip.compress(b"1,2,3\n4,5,6\n", mtime=0))
