#!/usr/bin/env python3
"""paramlab-cli infer and export --format sparse, driven as a user drives them.

Usage: test_infer.py PATH/TO/paramlab-cli SOURCE_DIR
Prints TAP. Every case runs with its own store in a temporary directory.

Tolerances: infer runs other kernels than the training graph (sgemv/sgemm on the
file's weights, CSR, integer sums), so sums are added in another order; a
prediction may flip only where two classes tie to float rounding. The cases allow
one validation row (1/359 of digits) between infer and evaluate, and demand
identical predictions where the arithmetic is the same (the int8 kernels: exact
integer sums).
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tap import case, expect  # noqa: E402 - tests/tap.py, beside this folder
import tap  # noqa: E402

CLI, SRC = sys.argv[1], sys.argv[2]
EXP = os.path.join(SRC, "data", "experiments")
ROW = 1.0 / 359 + 1e-9


class Env:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="paramlab-infer-test-")
        self.db = os.path.join(self.dir, "runs.db")
        self.env = dict(os.environ, PARAMLAB_DB=self.db,
                        XDG_DATA_HOME=os.path.join(self.dir, "xdg"))

    def run(self, *args, check=None, timeout=180):
        p = subprocess.run([CLI, *args], env=self.env, capture_output=True, text=True,
                           timeout=timeout)
        if check is not None and p.returncode != check:
            raise AssertionError(f"paramlab-cli {' '.join(args)} exited {p.returncode}, "
                                 f"expected {check}\nstdout: {p.stdout[-2000:]}\n"
                                 f"stderr: {p.stderr[-2000:]}")
        return p

    def path(self, name):
        return os.path.join(self.dir, name)

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def field(out, key):
    for line in out.splitlines():
        if line.startswith(key + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no \"{key}:\" in\n{out}")


def accuracy(env, path, *extra):
    return float(field(env.run("infer", path, *extra, check=0).stdout, "accuracy"))


def predictions(env, path, *extra):
    out = env.run("infer", path, "--predictions", *extra, check=0).stdout
    rows = [l.split(",") for l in out.splitlines() if l and l[0].isdigit()]
    return [int(r[1]) for r in rows]


def header(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    return raw, n, json.loads(raw[8:8 + n])


@case
def sparse_export_matches_fp32(env):
    """AGP 90% digits run: the sparse export is small, and infer on it predicts what
    the fp32 export and evaluate do"""
    env.run("run", os.path.join(EXP, "digits-agp90.ini"), check=0)
    fp32, sparse = env.path("m.safetensors"), env.path("m-sparse.safetensors")
    env.run("export", "1", "--out", fp32, check=0)
    env.run("export", "1", "--format", "sparse", "--out", sparse, check=0)
    _, _, h = header(sparse)
    meta = h["__metadata__"]
    expect(meta["paramlab.format"] == "sparse", meta)
    expect(meta["paramlab.sparse.hidden.0.weight.shape"] == "128,64", meta)
    for part, dtype in (("values", "F32"), ("indices", "U8"), ("indptr", "I32")):
        t = h[f"hidden.0.weight.{part}"]
        expect(t["dtype"] == dtype, (part, t))
    expect(h["hidden.0.weight.indptr"]["shape"] == [129], h["hidden.0.weight.indptr"])
    expect("hidden.0.weight" not in h and h["hidden.0.bias"]["dtype"] == "F32", list(h))
    # the digits model is small, so the metadata (3 KiB of experiment text) weighs
    # in: 0.196 measured; the tensors alone are 0.13
    ratio = os.path.getsize(sparse) / os.path.getsize(fp32)
    expect(ratio < 0.22, f"sparse / fp32 size {ratio:.3f}")
    ev = float(field(env.run("evaluate", fp32, check=0).stdout, "val/acc"))
    a32, asp = accuracy(env, fp32), accuracy(env, sparse)
    expect(abs(a32 - ev) <= ROW and abs(asp - ev) <= ROW, f"evaluate {ev} fp32 {a32} sparse {asp}")
    p32, psp = predictions(env, fp32), predictions(env, sparse)
    psp1 = predictions(env, sparse, "--batch", "1")
    expect(len(p32) == 359 and len(psp) == 359, (len(p32), len(psp)))
    diff = sum(a != b for a, b in zip(p32, psp)) + sum(a != b for a, b in zip(p32, psp1))
    expect(diff <= 1, f"{diff} predictions differ between fp32 and sparse")
    out = env.run("infer", sparse, "--repeat", "3", check=0).stdout
    expect("density 0.1000" in out and "samples/s" in out, out)


@case
def int8_export_matches_evaluate(env):
    """QAT int8 digits run: infer's integer kernels give evaluate's accuracy, and
    every kernel the CPU has gives the same predictions"""
    env.run("run", os.path.join(EXP, "digits-qat-int8.ini"), "--set", "train.epochs=8",
            check=0)
    q = env.path("q.safetensors")
    env.run("export", "1", "--format", "int8", "--out", q, check=0)
    ev = float(field(env.run("evaluate", q, check=0).stdout, "val/acc"))
    ai = accuracy(env, q)
    expect(abs(ai - ev) <= ROW, f"evaluate {ev} infer {ai}")
    base = predictions(env, q, "--kernel", "c")
    for k in ("avx2", "vnni"):
        p = env.run("infer", q, "--kernel", k, "--predictions")
        if p.returncode == 2 and "cannot run" in p.stderr:
            continue
        got = [int(l.split(",")[1]) for l in p.stdout.splitlines() if l and l[0].isdigit()]
        expect(got == base, f"kernel {k} predicts differently from the C kernel")
    expect(predictions(env, q, "--batch", "1") == base, "batch 1 differs from batch 128")


@case
def input_file_rows(env):
    """--input: raw rows normalized with the file's statistics, one prediction each"""
    env.run("run", os.path.join(EXP, "digits-mlp.ini"), "--set", "train.epochs=5", check=0)
    m = env.path("m.safetensors")
    env.run("export", "1", "--out", m, check=0)
    rows = open(os.path.join(SRC, "data", "datasets", "digits.csv")).read().splitlines()
    data = [r for r in rows if r and r[0].isdigit()][:50]
    inp = env.path("rows.csv")
    with open(inp, "w") as f:
        f.write("\n".join(data) + "\n")
    out = env.run("infer", m, "--input", inp, check=0).stdout
    preds = [l for l in out.splitlines() if l and l[0].isdigit()]
    expect(len(preds) == 50, out[-500:])
    expect(float(field(out, "accuracy")) >= 0.9, out[-300:])


@case
def bad_inputs_named(env):
    """bad files and arguments: clear errors naming the file and the tensor"""
    env.run("run", os.path.join(EXP, "digits-agp90.ini"), "--set", "train.epochs=2", check=0)
    sparse = env.path("s.safetensors")
    env.run("export", "1", "--format", "sparse", "--out", sparse, check=0)
    p = env.run("infer", env.path("missing.safetensors"))
    expect(p.returncode == 1 and "missing.safetensors" in p.stderr, p.stderr)
    raw, n, h = header(sparse)
    # a truncated file
    trunc = env.path("trunc.safetensors")
    open(trunc, "wb").write(raw[:len(raw) - 7])
    p = env.run("infer", trunc)
    expect(p.returncode == 1 and "trunc.safetensors" in p.stderr, p.stderr)
    # row pointers that decrease
    t = h["hidden.1.weight.indptr"]
    off = 8 + n + t["data_offsets"][0]
    bad = bytearray(raw)
    bad[off + 4:off + 8] = struct.pack("<i", 1 << 30)
    badp = env.path("indptr.safetensors")
    open(badp, "wb").write(bytes(bad))
    p = env.run("infer", badp)
    expect(p.returncode == 1 and "hidden.1.weight.indptr" in p.stderr
           and "indptr.safetensors" in p.stderr, p.stderr)
    # an unknown format
    fmt = env.path("fmt.safetensors")
    text = raw[8:8 + n].replace(b'"sparse"', b'"fp4xx!"')
    open(fmt, "wb").write(raw[:8] + text + raw[8 + n:])
    p = env.run("infer", fmt)
    expect(p.returncode == 1 and "paramlab.format" in p.stderr and "fp4xx!" in p.stderr, p.stderr)
    # rows of the wrong width
    inp = env.path("narrow.csv")
    open(inp, "w").write("1,2,3,0\n4,5,6,1\n")
    p = env.run("infer", sparse, "--input", inp)
    expect(p.returncode == 1 and "narrow.csv" in p.stderr and "64" in p.stderr, p.stderr)
    for args in (["--batch", "-3"], ["--repeat", "0"], ["--kernel", "sse9"],
                 ["--data", "test"], ["--data", "val", "--input", inp]):
        p = env.run("infer", sparse, *args)
        expect(p.returncode == 2, f"{args}: exit {p.returncode}\n{p.stderr}")
    p = env.run("export", "1", "--format", "csr", "--out", env.path("x.safetensors"))
    expect(p.returncode == 2 and "sparse, fp32 or int8" in p.stderr, p.stderr)


if __name__ == "__main__":
    sys.exit(tap.main(Env))
