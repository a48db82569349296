#!/usr/bin/env python3
"""paramlab-cli as a user drives it: runs, history, exports, bad input, control.

Usage: test_cli.py PATH/TO/paramlab-cli SOURCE_DIR
Prints TAP. Every case runs with its own store in a temporary directory.
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tap import case, expect  # noqa: E402 - tests/tap.py, beside this folder
import tap  # noqa: E402

CLI, SRC = sys.argv[1], sys.argv[2]
PRESET = os.path.join(SRC, "data", "experiments", "digits-mlp.ini")


class Env:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="paramlab-cli-test-")
        self.db = os.path.join(self.dir, "runs.db")
        self.env = dict(os.environ, PARAMLAB_DB=self.db, XDG_DATA_HOME=os.path.join(self.dir, "xdg"))

    def run(self, *args, stdin=None, check=None, timeout=120):
        p = subprocess.run([CLI, *args], env=self.env, capture_output=True, text=True,
                           input=stdin, timeout=timeout)
        if check is not None and p.returncode != check:
            raise AssertionError(f"paramlab-cli {' '.join(args)} exited {p.returncode}, "
                                 f"expected {check}\nstdout: {p.stdout[-2000:]}\nstderr: {p.stderr[-2000:]}")
        return p

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w" if isinstance(text, str) else "wb") as f:
            f.write(text)
        return path

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def show(env, run_id):
    return json.loads(env.run("show", str(run_id), "--format", "json", check=0).stdout)


SHORT = ["--set", "train.epochs=3"]


@case
def default_experiment_reaches_097(env):
    """the digits preset reaches at least 0.97 validation accuracy"""
    env.run("run", PRESET, check=0)
    s = show(env, 1)
    expect(s["status"] == "finished", s["status"])
    acc = s["metrics"]["val/acc"]["last"]
    expect(acc >= 0.97, f"val/acc {acc} < 0.97")
    kinds = sorted(c["kind"] for c in s["checkpoints"])
    expect(kinds == ["best", "last"], kinds)
    for c in s["checkpoints"]:
        expect(os.path.getsize(c["path"]) == c["size"], c)


@case
def same_seed_same_curve(env):
    """the same experiment and seed give the same curve"""
    env.run("run", PRESET, *SHORT, check=0)
    env.run("run", PRESET, *SHORT, check=0)
    a = env.run("metrics", "1", "train/loss", "val/acc", "--format", "csv", check=0).stdout
    b = env.run("metrics", "2", "train/loss", "val/acc", "--format", "csv", check=0).stdout
    strip = lambda t: [",".join(l.split(",")[:3]) for l in t.splitlines()]
    expect(strip(a) == strip(b), "curves differ between two runs with the same seed")
    env.run("run", PRESET, *SHORT, "--set", "experiment.seed=7", check=0)
    c = env.run("metrics", "3", "train/loss", "--format", "csv", check=0).stdout
    expect(strip(a)[1:50] != strip(c)[1:50], "another seed gave the same curve")


@case
def compare_lists_exactly_the_differing_keys(env):
    env.run("run", PRESET, *SHORT, check=0)
    env.run("run", PRESET, *SHORT, "--set", "train.lr=0.003", "--set", "model.hidden=32", check=0)
    out = json.loads(env.run("compare", "1", "2", "--format", "json", check=0).stdout)
    config = sorted(r["key"] for r in out if r["what"] == "config")
    expect(config == ["model.hidden", "train.lr"], config)
    finals = [r["key"] for r in out if r["what"] == "final"]
    expect("val/acc" in finals, finals)
    csv = env.run("compare", "1", "2", "--format", "csv", check=0).stdout
    expect(csv.splitlines()[0].startswith("what,key,run 1"), csv.splitlines()[0])


@case
def list_and_filter(env):
    env.run("run", PRESET, *SHORT, "--set", "experiment.name=alpha", check=0)
    env.run("run", PRESET, *SHORT, "--set", "experiment.name=beta", check=0)
    rows = json.loads(env.run("list", "--format", "json", check=0).stdout)
    expect([r["name"] for r in rows] == ["beta", "alpha"], rows)
    rows = json.loads(env.run("list", "alp", "--format", "json", check=0).stdout)
    expect([r["name"] for r in rows] == ["alpha"], rows)
    expect(rows[0]["steps"] == 135, rows[0])


@case
def export_round_trip(env):
    env.run("run", PRESET, *SHORT, check=0)
    out = os.path.join(env.dir, "out.safetensors")
    env.run("export", "1", "--best", "--out", out, check=0)
    with open(out, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    expect(header["hidden.0.weight"]["shape"] == [128, 64], header["hidden.0.weight"])
    meta = header["__metadata__"]
    expect(meta["paramlab.run"] == "1" and "[train]" in meta["paramlab.experiment"], meta)
    p = env.run("export", "1", "--step", "99999", "--out", out)
    expect(p.returncode == 2 and "has no checkpoint at step 99999" in p.stderr, p.stderr)
    # a run started from the export continues from its weights: after one short
    # epoch it is far ahead of the same epoch from scratch
    exp = env.write("from.ini", open(PRESET).read().replace("[model]", f"[model]\ninit-from = {out}"))
    env.run("run", exp, "--set", "train.epochs=1", check=0)
    env.run("run", PRESET, "--set", "train.epochs=1", check=0)
    best = show(env, 1)["metrics"]["val/acc"]["best"]
    warm = show(env, 2)["metrics"]["val/acc"]["last"]
    cold = show(env, 3)["metrics"]["val/acc"]["last"]
    expect(warm >= best - 0.02 and warm > cold + 0.1, f"best {best} warm {warm} cold {cold}")


@case
def bad_experiment_names_file_line_key(env):
    bad = env.write("bad.ini", "[experiment]\nname = x\n[train]\nepochs = 3\nlr = fast\n")
    p = env.run("run", bad)
    expect(p.returncode == 2, p.returncode)
    expect("bad.ini:5" in p.stderr and "lr" in p.stderr, p.stderr)
    p = env.run("run", PRESET, "--set", "train.optimizer=lbfgs")
    expect(p.returncode == 2 and "sgd" in p.stderr and "--set" in p.stderr, p.stderr)
    p = env.run("run", os.path.join(env.dir, "missing.ini"))
    expect(p.returncode == 2 and "missing.ini" in p.stderr, p.stderr)
    p = env.run("frobnicate")
    expect(p.returncode == 2 and "Usage" in p.stderr, p.stderr)
    p = env.run("show", "abc")
    expect(p.returncode == 2, p.returncode)
    p = env.run("show", "42")
    expect(p.returncode == 2 and "42" in p.stderr, p.stderr)


@case
def bad_plugin_option_names_plugin_and_range(env):
    exp = env.write("p.ini", open(PRESET).read() + "\n[init]\nplugin = uniform\ngain = 500\n")
    p = env.run("run", exp)
    expect(p.returncode == 2, p.returncode)
    expect("p.ini:" in p.stderr and "uniform" in p.stderr and "gain" in p.stderr
           and "between 0 and 100" in p.stderr, p.stderr)
    exp = env.write("q.ini", open(PRESET).read() + "\n[init]\nplugin = nonesuch\n")
    p = env.run("run", exp)
    expect(p.returncode == 2 and "nonesuch" in p.stderr and "uniform" in p.stderr, p.stderr)


@case
def malicious_safetensors_refused(env):
    good = os.path.join(env.dir, "good.safetensors")
    env.run("run", PRESET, "--set", "train.epochs=1", check=0)
    env.run("export", "1", "--out", good, check=0)
    raw = open(good, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    variants = {
        "truncated": raw[: len(raw) // 2],
        "tiny": raw[:5],
        "huge-header": struct.pack("<Q", 1 << 60) + raw[8:],
        "bad-json": raw[:8] + b"[" + raw[9:],
        "wrong-offsets": raw.replace(b'"data_offsets":[0,', b'"data_offsets":[9,', 1),
    }
    for name, data in variants.items():
        path = env.write(name + ".safetensors", data)
        exp = env.write(name + ".ini", open(PRESET).read().replace("[model]", f"[model]\ninit-from = {path}"))
        p = env.run("run", exp)
        expect(p.returncode == 2, f"{name}: exit {p.returncode}: {p.stderr}")
        expect(name + ".safetensors" in p.stderr, f"{name}: {p.stderr}")
    # a model of another shape
    exp = env.write("shape.ini", open(PRESET).read().replace("[model]", f"[model]\ninit-from = {good}")
                    .replace("hidden = 128, 64", "hidden = 32"))
    p = env.run("run", exp)
    expect(p.returncode == 2 and "shape" in p.stderr, p.stderr)


@case
def unreadable_database(env):
    os.makedirs(os.path.join(env.dir, "adir"))
    p = env.run("list", "--db", os.path.join(env.dir, "adir"))
    expect(p.returncode == 2 and "adir" in p.stderr, p.stderr)
    junk = env.write("junk.db", b"this is not a database" * 100)
    p = env.run("run", PRESET, "--db", junk)
    expect(p.returncode == 2 and "junk.db" in p.stderr, p.stderr)
    expect(open(junk, "rb").read() == b"this is not a database" * 100, "the file was changed")


@case
def divergence_fails_the_run(env):
    # features near the float limit overflow the first layer: the loss is not finite
    rows = "\n".join(",".join(["3e38"] * 8 + [str(i % 2)]) for i in range(40))
    data = env.write("huge.csv", rows + "\n")
    exp = env.write("huge.ini", f"[experiment]\nname=huge\n[data]\ndataset=csv\ntrain={data}\n"
                    "normalize=none\n[train]\nepochs=2\n")
    p = env.run("run", exp)
    expect(p.returncode == 1 and "diverged" in p.stderr, f"{p.returncode} {p.stderr}")
    s = show(env, 1)
    expect(s["status"] == "diverged" and "diverged" in s["error"], s)


@case
def events_stream_and_stop(env):
    proc = subprocess.Popen([CLI, "run", PRESET, "--events", "--set", "train.epochs=200"],
                            env=env.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    kinds = []
    paused_seen = False
    for line in proc.stdout:
        ev = json.loads(line)
        kinds.append(ev["event"])
        if ev["event"] == "epoch" and ev["epoch"] == 1 and not paused_seen:
            proc.stdin.write("pause\n")
            proc.stdin.flush()
        if ev["event"] == "paused":
            paused_seen = True
            time.sleep(0.3)
            proc.stdin.write("resume\n")
            proc.stdin.flush()
        if ev["event"] == "resumed":
            proc.stdin.write("stop\n")
            proc.stdin.flush()
    proc.wait(timeout=60)
    expect(proc.returncode == 0, proc.stderr.read())
    expect(kinds[0] == "started" and kinds[-1] == "finished", kinds[:3] + kinds[-3:])
    for k in ("metrics", "epoch", "paused", "resumed", "checkpoint"):
        expect(k in kinds, f"no {k} event")
    s = show(env, 1)
    expect(s["status"] == "stopped", s["status"])


@case
def killed_child_leaves_run_marked(env):
    proc = subprocess.Popen([CLI, "run", PRESET, "--events", "--set", "train.epochs=500"],
                            env=env.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    proc.stdout.readline()
    proc.terminate()
    proc.wait(timeout=60)
    s = show(env, 1)
    expect(s["status"] in ("stopped", "finished"), s["status"])


@case
def datasets_and_plugins_listed(env):
    out = env.run("datasets", check=0).stdout
    expect("digits" in out and "breast-cancer" in out, out)
    plugins = json.loads(env.run("plugins", "--format", "json", check=0).stdout)
    uni = [p for p in plugins if p["id"] == "uniform"]
    expect(uni and uni[0]["loaded"] and uni[0]["options"][0]["name"] == "gain", plugins)


if __name__ == "__main__":
    sys.exit(tap.main(Env))
