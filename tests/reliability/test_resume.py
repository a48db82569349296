#!/usr/bin/env python3
"""paramlab-cli resume: a run stopped (or killed) part way and resumed ends exactly
as the same experiment trained without a break: every metric point of every key
bitwise equal (except the wall-clock perf/samples_per_s), and the final
checkpoints byte for byte. Presets are shortened with --set; OpenBLAS runs one
thread. Then the cases resume refuses, with their messages.

Usage: test_resume.py PATH/TO/paramlab-cli SOURCE_DIR
Prints TAP. Every case works in its own temporary directory.
"""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

CLI, SRC = sys.argv[1], sys.argv[2]
EXPERIMENTS = os.path.join(SRC, "data", "experiments")
results = []


def case(fn):
    results.append(fn)
    return fn


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


class Store:
    """A run store with its checkpoints in a directory of its own."""

    def __init__(self, root, name):
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir)
        self.db = os.path.join(self.dir, "runs.db")
        self.env = dict(os.environ, PARAMLAB_DB=self.db, OPENBLAS_NUM_THREADS="1",
                        XDG_DATA_HOME=os.path.join(self.dir, "xdg"))
        self.env.pop("PARAMLAB_TEST_STOP_AFTER_STEP", None)

    def cli(self, *args, check=None, stop_after=None, timeout=120):
        env = dict(self.env)
        if stop_after is not None:
            env["PARAMLAB_TEST_STOP_AFTER_STEP"] = str(stop_after)
        p = subprocess.run([CLI, *args], env=env, capture_output=True, text=True,
                           timeout=timeout)
        if check is not None and p.returncode != check:
            raise AssertionError(f"paramlab-cli {' '.join(args)} exited {p.returncode}, "
                                 f"expected {check}\nstdout: {p.stdout[-1500:]}\n"
                                 f"stderr: {p.stderr[-1500:]}")
        return p

    def status(self, run_id):
        with sqlite3.connect(self.db) as c:
            return c.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()[0]

    def curves(self, run_id):
        """{(key, step): value} of every stored point but perf/samples_per_s."""
        with sqlite3.connect(self.db) as c:
            rows = c.execute("SELECT k.name, m.step, m.value FROM metrics AS m "
                             "JOIN metric_keys AS k ON k.id = m.key_id WHERE m.run_id = ?",
                             (run_id,)).fetchall()
        return {(k, s): v for k, s, v in rows if k != "perf/samples_per_s"}

    def checkpoint(self, run_id, leaf):
        return os.path.join(self.dir, "checkpoints", f"run-{run_id}", leaf)


def read_safetensors(path):
    """{name: (dtype, shape, bytes)} plus "__metadata__": its dict."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        data = f.read()
    out = {"__metadata__": header.pop("__metadata__", {})}
    for name, t in header.items():
        b, e = t["data_offsets"]
        out[name] = (t["dtype"], t["shape"], data[b:e])
    return out


def compare_runs(a, b, run_id=1):
    """a's run and b's resumed run: same curves, same checkpoint bytes."""
    ca, cb = a.curves(run_id), b.curves(run_id)
    expect(len(ca) > 100, f"only {len(ca)} points in the uninterrupted run")
    diff = [(k, ca.get(k), cb.get(k)) for k in sorted(set(ca) | set(cb))
            if ca.get(k) != cb.get(k)]
    expect(not diff, f"{len(diff)} of {len(ca)} points differ (key, step): uninterrupted, "
                     f"resumed: {diff[:8]}")
    leaves = sorted(f for f in os.listdir(os.path.dirname(a.checkpoint(run_id, "x")))
                    if f.endswith(".safetensors"))
    expect("last.safetensors" in leaves and "state.safetensors" in leaves, f"files: {leaves}")
    for leaf in leaves:
        if leaf == "state.safetensors":
            # it also holds the last perf/samples_per_s, a wall-clock value
            ta, tb = read_safetensors(a.checkpoint(run_id, leaf)), \
                read_safetensors(b.checkpoint(run_id, leaf))
            expect(ta.keys() == tb.keys(), f"state tensors differ: {set(ta) ^ set(tb)}")
            bad = [k for k in ta if ta[k] != tb[k] and k != "state.metrics.values"]
            expect(not bad, f"state tensors differ: {bad}")
            continue
        with open(a.checkpoint(run_id, leaf), "rb") as f:
            da = f.read()
        with open(b.checkpoint(run_id, leaf), "rb") as f:
            db = f.read()
        expect(da == db, f"{leaf} differs between the uninterrupted and the resumed run "
                         f"({len(da)} and {len(db)} bytes)")
    # the store records the same checkpoints (step, kind, format, metric)
    q = ("SELECT step, kind, format, size_bytes, metric_key, metric_value FROM checkpoints "
         "WHERE run_id = ? ORDER BY kind, format")
    with sqlite3.connect(a.db) as x, sqlite3.connect(b.db) as y:
        ra, rb = x.execute(q, (run_id,)).fetchall(), y.execute(q, (run_id,)).fetchall()
    expect(ra == rb, f"checkpoint records differ: {ra} vs {rb}")
    return len(ca), leaves


def stop_and_resume(root, preset, sets, stop_after, resume_steps_check=True):
    exp = os.path.join(EXPERIMENTS, preset)
    args = ["run", exp, "--threads", "1"] + [x for s in sets for x in ("--set", s)]
    a, b = Store(root, "uninterrupted"), Store(root, "resumed")
    a.cli(*args, check=0)
    p = b.cli(*args, check=0, stop_after=stop_after)
    expect("run 1 stopped" in p.stdout, f"the run did not stop: {p.stdout[-400:]}")
    expect(b.status(1) == "stopped", f"status {b.status(1)}")
    # the stopped run logged partial-epoch points (train/acc, val/*) at its last step
    # that an uninterrupted run does not have: resume must drop them
    p = b.cli("resume", "1", "--threads", "1", check=0)
    expect(f"resuming at step {stop_after}/" in p.stdout, p.stdout[-400:])
    expect("run 1 finished" in p.stdout, p.stdout[-400:])
    expect(b.status(1) == "finished", f"status {b.status(1)}")
    with sqlite3.connect(b.db) as c:
        n_runs = c.execute("SELECT count(*) FROM runs").fetchone()[0]
        n_plugins = c.execute("SELECT count(*) FROM run_plugins").fetchone()[0]
    with sqlite3.connect(a.db) as c:
        n_plugins_a = c.execute("SELECT count(*) FROM run_plugins").fetchone()[0]
    expect(n_runs == 1, f"{n_runs} runs after resume, expected the same one")
    expect(n_plugins == n_plugins_a, f"{n_plugins} plugin records, expected {n_plugins_a}")
    points, leaves = compare_runs(a, b)
    return f"{points} points, {', '.join(leaves)} equal"


# ---- (a) resumed == uninterrupted ----------------------------------------------

@case
def mlp_adam_mid_epoch(root):
    """digits-mlp (Adam, cosine with warmup, dropout): stopped in epoch 2."""
    return stop_and_resume(root, "digits-mlp.ini", ["train.epochs=3"], 70)


@case
def mlp_sgd_momentum_epoch_end(root):
    """digits-mlp with SGD + nesterov momentum and a step schedule: stopped at the
    end of epoch 1."""
    return stop_and_resume(root, "digits-mlp.ini",
                           ["train.epochs=3", "train.optimizer=sgd", "train.lr=0.05",
                            "train.momentum=0.9", "train.nesterov=true",
                            "train.schedule=step", "train.step-size=1", "train.gamma=0.5"],
                           45)


@case
def sigmoid_gate(root):
    """gates that switch units off before and after the stop"""
    return stop_and_resume(root, "digits-sigmoid-gate.ini",
                           ["train.epochs=4", "gate.warmup-steps=40"], 100)


@case
def agp80(root):
    """AGP pruning by magnitude, pruning on both sides of the stop"""
    return stop_and_resume(root, "digits-agp80.ini", ["train.epochs=4"], 80)


@case
def coarse_fine_taylor(root):
    """coarse stage before the stop, taylor statistics across it"""
    return stop_and_resume(root, "digits-coarse-fine.ini", ["train.epochs=4"], 95)


@case
def qat_int8(root):
    """QAT observers moving before the stop and frozen after it; int8 exports"""
    return stop_and_resume(root, "digits-qat-int8.ini",
                           ["train.epochs=4", "quant.start-step=20", "quant.freeze-step=150"],
                           100)


@case
def variance_lr(root):
    """per-parameter rates from gradient variances"""
    return stop_and_resume(root, "digits-variance-lr.ini", ["train.epochs=3"], 64)


@case
def killed_then_resumed(root):
    """kill -9 in the middle of a run: the store marks it interrupted, resume
    continues from the last epoch's state and drops the points logged after it"""
    exp = os.path.join(EXPERIMENTS, "digits-mlp.ini")
    args = ["run", exp, "--threads", "1", "--set", "train.epochs=150"]
    a, b = Store(root, "uninterrupted"), Store(root, "resumed")
    a.cli(*args, check=0, timeout=300)
    env = dict(b.env)
    proc = subprocess.Popen([CLI, *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    state = b.checkpoint(1, "state.safetensors")
    deadline = time.time() + 60
    step = 0
    while time.time() < deadline and proc.poll() is None:
        if os.path.exists(state):
            with open(state, "rb") as f:
                n = int.from_bytes(f.read(8), "little")
                md = json.loads(f.read(n))["__metadata__"]
            step = int(md["paramlab.step"])
            if step >= 90:
                # let the store commit points past the state's step, which the
                # resumed run must replace
                time.sleep(0.15)
                break
        time.sleep(0.005)
    expect(proc.poll() is None, "the run ended before it could be killed")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with sqlite3.connect(b.db) as c:
        last = c.execute("SELECT max(step) FROM metrics").fetchone()[0]
    p = b.cli("resume", "1", "--threads", "1", check=0, timeout=300)
    expect(b.status(1) == "finished", f"status {b.status(1)}")
    resumed_at = int(p.stdout.split("resuming at step ")[1].split("/")[0])
    points, leaves = compare_runs(a, b)
    return (f"killed at step >= {last}, resumed at {resumed_at}: {points} points, "
            f"{', '.join(leaves)} equal")


# ---- (b) refusals ----------------------------------------------------------------

def refused(store, run_id, *needles):
    p = store.cli("resume", str(run_id), check=2)
    for n in needles:
        expect(n in p.stderr, f"expected {n!r} in: {p.stderr}")
    return p.stderr.strip().splitlines()[0]


@case
def refuses_bad_cases(root):
    s = Store(root, "s")
    exp = os.path.join(EXPERIMENTS, "digits-mlp.ini")
    s.cli("run", exp, "--set", "train.epochs=1", check=0)                     # run 1
    s.cli("run", exp, "--set", "train.epochs=3", check=0, stop_after=50)      # run 2
    s.cli("run", exp, "--set", "train.epochs=3", "--set", "model.hidden=32",
          check=0, stop_after=50)                                             # run 3
    s.cli("run", exp, "--set", "train.epochs=3", check=0, stop_after=50)      # run 4
    s.cli("run", exp, "--set", "train.epochs=3", "--set", "train.lr=0.002",
          check=0, stop_after=50)                                             # run 5
    msgs = [refused(s, 42, "42"),
            refused(s, 1, "run 1 is finished", "only a stopped, interrupted or failed run")]
    # no state file
    os.remove(s.checkpoint(4, "state.safetensors"))
    msgs.append(refused(s, 4, "run 4 has no training-state checkpoint",
                        s.checkpoint(4, "state.safetensors")))
    # the state of another shape: names the tensor and the shape expected
    shutil.copy(s.checkpoint(3, "state.safetensors"), s.checkpoint(4, "state.safetensors"))
    msgs.append(refused(s, 4, 'tensor "hidden.0.weight" has shape [32, 64], '
                              "this run's model expects [128, 64]"))
    # the state of another experiment with the same shapes
    shutil.copy(s.checkpoint(5, "state.safetensors"), s.checkpoint(4, "state.safetensors"))
    msgs.append(refused(s, 4, "was written by another experiment"))
    # the state of another run of the same experiment
    shutil.copy(s.checkpoint(2, "state.safetensors"), s.checkpoint(4, "state.safetensors"))
    msgs.append(refused(s, 4, "belongs to run 2, not to run 4"))
    # not a state file at all
    shutil.copy(s.checkpoint(2, "last.safetensors"), s.checkpoint(4, "state.safetensors"))
    msgs.append(refused(s, 4, "is not a training-state checkpoint"))
    # none of that touched run 4
    expect(s.status(4) == "stopped", f"status {s.status(4)}")
    p = s.cli("resume", "nope", check=2)
    expect("is not a run id" in p.stderr, p.stderr)
    # a resumed run that finished cannot be resumed again
    s.cli("resume", "2", check=0)
    msgs.append(refused(s, 2, "run 2 is finished"))
    return " | ".join(msgs)


def main():
    print(f"1..{len(results)}")
    failed = 0
    for i, fn in enumerate(results, 1):
        root = tempfile.mkdtemp(prefix="paramlab-resume-")
        t0 = time.time()
        try:
            info = fn(root)
            print(f"ok {i} {fn.__name__} ({time.time() - t0:.1f} s)")
            if info:
                print(f"# {info}")
        except Exception as e:  # noqa: BLE001 - every failure is reported in TAP
            failed += 1
            print(f"not ok {i} {fn.__name__}")
            for line in str(e).splitlines() or [type(e).__name__]:
                print(f"# {line}")
        finally:
            if not os.environ.get("PARAMLAB_KEEP_TMP"):
                shutil.rmtree(root, ignore_errors=True)
        sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
