#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz/corpus/<target>/: small valid files and
edge cases for each fuzz harness. Run from anywhere; the files are committed, so
this is only needed to change them. Standard library only."""
import json, os, struct, sys, zipfile, io, zlib

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

def put(target, name, data):
    d = os.path.join(root, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

# ---- safetensors
def st(tensors, meta=None, pad=True):
    header, blob, off = {}, b"", 0
    if meta is not None:
        header["__metadata__"] = meta
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(data)]}
        blob += data
        off += len(data)
    h = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + blob

f32 = lambda *v: struct.pack("<%df" % len(v), *v)
put("safetensors", "valid-two", st({"w": ("F32", [2, 2], f32(1, 2, 3, 4)), "b": ("F32", [2], f32(0, 1))},
                                   {"format": "pt", "seed": "1"}))
put("safetensors", "valid-dtypes", st({"a": ("I8", [3], b"\x01\x02\x03"), "b": ("BF16", [1], b"\0\0"),
                                        "c": ("F64", [], struct.pack("<d", 1.5)), "d": ("BOOL", [0], b"")}))
put("safetensors", "empty-header", st({}))
put("safetensors", "overlap", struct.pack("<Q", 96) + b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'[:96].ljust(96) + b"\0" * 4)
put("safetensors", "huge-length", struct.pack("<Q", (1 << 64) - 9) + b"{}")
put("safetensors", "truncated", st({"w": ("F32", [4], f32(1, 2, 3, 4))})[:-3])
put("safetensors", "bad-dtype", st({"w": ("Q7", [1], b"\0\0\0\0")}))
put("safetensors", "shape-overflow", st({"w": ("F32", [4611686018427387904, 4], b"")}))
# header-only form for the harness's second reading: header, NUL, data
put("safetensors", "split-form", b'{"x":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}\0ab')

# ---- experiment
exp_dir = os.path.join(os.path.dirname(root), "..", "..", "data", "experiments")
for name in ("digits-mlp.ini", "digits-sigmoid-gate.ini", "digits-qat-int8.ini"):
    p = os.path.join(exp_dir, name)
    if os.path.exists(p):
        put("experiment", name, open(p, "rb").read())
put("experiment", "minimal.ini", "[experiment]\nname=x\n[train]\nepochs=1\n")
put("experiment", "unknown-key.ini", "[train]\nepochz=3\n")
put("experiment", "overflow.ini", "[train]\nepochs=99999999999999999999999\nlr=1e400\n")
put("experiment", "bad-utf8.ini", b"[experiment]\nname=\xff\xfe\n")
put("experiment", "with-set.ini", b"[train]\nepochs=2\n\0train.lr=0.5")
put("experiment", "escapes.ini", "[experiment]\nname=a\\tb\\\\c\\s\n# comment\n\n[gate]\nplugin=sigmoid-gate\nthreshold=0.5\n")

# ---- csv (first byte: label column selector; 0 -> last column)
put("csv", "header", b"\0a,b,label\n1,2,cat\n3,4,dog\n5,6,cat\n")
put("csv", "numeric", b"\0" + b"0.5,1e3,0\n-2,3.25,1\n")
put("csv", "quoted", b"\x01\"x,y\",\"he said \"\"hi\"\"\",c\r\n0,1.5,2\r\n1,2.5,3\r\n")
put("csv", "ragged", b"\0a,b,c\n1,2\n")
put("csv", "bad-utf8", b"\0a,b\n1,\xff\xfe\n2,x\n")
put("csv", "bom-blank", b"\0\xef\xbb\xbf\n\n 1 , 2 \n 3 , 4 \n")
put("csv", "nan-inf", b"\0" + b"nan,1\ninf,0\n1e39,1\n")

# ---- npy
def npy(descr, shape, data, version=1, fortran=False):
    h = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (
        descr, "True" if fortran else "False",
        "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")")
    pre = 10 if version == 1 else 12
    h = h + " " * (-(pre + len(h) + 1) % 64) + "\n"
    if version == 1:
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode() + data
    return b"\x93NUMPY" + bytes([version, 0]) + struct.pack("<I", len(h)) + h.encode() + data

x23 = npy("<f4", (2, 3), f32(1, 2, 0, 3, 4, 1))
put("npy", "one-file", b"\0" + x23)
xs = npy("<f8", (2, 2), struct.pack("<4d", 1, 2, 3, 4), version=2)
ys = npy("|u1", (2,), b"\x00\x01")
put("npy", "two-files", b"\x01" + struct.pack("<H", len(xs)) + xs + ys)
put("npy", "huge-shape", b"\0" + npy("<f4", (1 << 62, 1 << 62), b""))
put("npy", "bad-descr", b"\0" + npy("<c16", (1, 2), b"\0" * 32))
put("npy", "truncated", b"\0" + x23[:-5])
put("npy", "fortran", b"\0" + npy("<i4", (2, 2), struct.pack("<4i", 1, 2, 3, 0), fortran=True))
put("npy", "images", b"\x01" + struct.pack("<H", 0) + b"")

def npz(members, compress):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return b.getvalue()

xv = npy("<f4", (3, 2), f32(1, 2, 3, 4, 5, 6))
yv = npy("<i8", (3,), struct.pack("<3q", 0, 1, 0))
put("npz", "stored", npz({"x.npy": xv, "y.npy": yv}, False))
put("npz", "deflated", npz({"x.npy": xv, "y.npy": yv}, True))
put("npz", "missing-y", npz({"x.npy": xv}, False))
put("npz", "not-zip", b"PK\x05\x06" + b"\0" * 18)
put("npz", "truncated", npz({"x.npy": xv, "y.npy": yv}, True)[:-30])
# a deflated member whose declared size is far above what its bytes can inflate to
bomb = bytearray(npz({"x.npy": xv, "y.npy": yv}, True))
cd = bomb.rfind(b"PK\x01\x02")
struct.pack_into("<I", bomb, cd + 24, 0x7FFFFFFF)
put("npz", "declared-bomb", bytes(bomb))

# ---- event stream
events = [
    '{"event":"started","run":3,"step":0,"epoch":0,"name":"digits","epochs":2,"steps_per_epoch":5,"total_steps":10,"parameters":1234,"train_rows":100,"val_rows":20,"architecture":"mlp","dataset":"digits"}',
    '{"event":"metrics","run":3,"step":1,"epoch":0,"values":{"train/loss":2.3,"lr":0.01,"sparsity/total":null}}',
    '{"event":"epoch","run":3,"step":5,"epoch":1,"values":{"val/acc":0.5,"val/loss":1.2}}',
    '{"event":"checkpoint","run":3,"step":5,"epoch":1,"kind":"best","format":"fp32","path":"/tmp/x.safetensors"}',
    '{"event":"paused","run":3,"step":6,"epoch":1}',
    '{"event":"resumed","run":3,"step":6,"epoch":1}',
    '{"event":"finished","run":3,"step":10,"epoch":2,"status":"stopped"}',
    '{"event":"failed","run":3,"step":2,"epoch":0,"error":"init plugin x: boom"}',
    '{"event":"log","message":"hello \\u00e9"}',
]
put("event", "stream", "\n".join(events) + "\n")
put("event", "not-json", "Training 10 steps...\n{\"event\":1}\n[\"event\"]\n{\"event\":\"x\",\"step\":1e30}\n")
put("event", "odd-values", '{"event":"metrics","step":-9223372036854775808,"epoch":99999999999,"values":{"a\\u0000b":1,"":[],"x":"y"}}\n')
