#!/usr/bin/env python3
"""Nothing lost, nothing crashes (issue 6, docs/reliability.md): paramlab-cli
killed with SIGKILL at random moments, a full disk, four writers on one
database, diverging runs, exports that must not overwrite, and the migration of
a version-1 database that holds data.

Usage: test_crash_safety.py PATH/TO/paramlab-cli SOURCE_DIR
Prints TAP. Every case runs with its own store in a temporary directory.
Figures (kills survived, metric lag, ...) are printed as TAP comments.
"""
import json
import os
import random
import re
import resource
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tap import case, expect, note  # noqa: E402 - tests/tap.py, beside this folder
import tap  # noqa: E402

CLI, SRC = sys.argv[1], sys.argv[2]
PRESET = os.path.join(SRC, "data", "experiments", "digits-mlp.ini")
V1_DUMP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "runs-v1.sql")
V2_DUMP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "runs-v2.sql")
SCHEMA_VERSION = 3  # PL_RUN_STORE_SCHEMA_VERSION
N_KILLS = int(os.environ.get("PARAMLAB_KILLS", "24"))


class Env:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="paramlab-reliability-")
        self.db = os.path.join(self.dir, "runs.db")
        self.env = dict(os.environ, PARAMLAB_DB=self.db,
                        XDG_DATA_HOME=os.path.join(self.dir, "xdg"))

    def cmd(self, *args):
        return [CLI, *args, "--db", self.db]

    def run(self, *args, check=None, timeout=120, **kw):
        p = subprocess.run(self.cmd(*args), env=self.env, capture_output=True, text=True,
                           timeout=timeout, **kw)
        if check is not None and p.returncode != check:
            raise AssertionError(f"paramlab-cli {' '.join(args)} exited {p.returncode}, "
                                 f"expected {check}\nstdout: {p.stdout[-2000:]}\n"
                                 f"stderr: {p.stderr[-2000:]}")
        return p

    def experiment(self, name, **train):
        """A copy of the digits preset under another name, with [train] overrides."""
        text = open(PRESET).read().replace("name = digits-mlp", f"name = {name}")
        for k, v in train.items():
            key = k.replace("_", "-")
            line = re.compile(rf"^{re.escape(key)}\s*=.*$", re.M)
            if line.search(text):
                text = line.sub(f"{key} = {v}", text)
            else:
                text = text.replace("[train]\n", f"[train]\n{key} = {v}\n")
        path = os.path.join(self.dir, f"{name}.ini")
        with open(path, "w") as f:
            f.write(text)
        return path

    def sql(self, query, *args):
        con = sqlite3.connect(self.db, timeout=30)
        try:
            return con.execute(query, args).fetchall()
        finally:
            con.close()

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def integrity(env):
    rows = env.sql("PRAGMA integrity_check")
    expect(rows == [("ok",)], f"integrity_check of {env.db}: {rows}")
    rows = env.sql("PRAGMA foreign_key_check")
    expect(rows == [], f"foreign_key_check of {env.db}: {rows}")


def show(env, run_id):
    return json.loads(env.run("show", str(run_id), "--format", "json", check=0).stdout)


def listing(env):
    return {r["id"]: r for r in json.loads(env.run("list", "--format", "json", check=0).stdout)}


def curve_steps(env, run_id, key="train/loss"):
    return [s for (s,) in env.sql(
        "SELECT m.step FROM metrics AS m JOIN metric_keys AS k ON k.id = m.key_id "
        "WHERE m.run_id = ? AND k.name = ? ORDER BY m.step", run_id, key)]


def safetensors_complete(path):
    """'' if path is a whole safetensors file, else what is wrong with it."""
    raw = open(path, "rb").read()
    if len(raw) < 8:
        return f"{len(raw)} bytes"
    n = struct.unpack("<Q", raw[:8])[0]
    if 8 + n > len(raw):
        return f"header of {n} bytes in a file of {len(raw)}"
    try:
        header = json.loads(raw[8:8 + n])
    except ValueError as e:
        return f"header is not JSON: {e}"
    end = max([t["data_offsets"][1] for k, t in header.items() if k != "__metadata__"] + [0])
    if 8 + n + end != len(raw):
        return f"data ends at {8 + n + end}, file has {len(raw)} bytes"
    return ""


def checkpoint_files(env):
    """(visible files, hidden temporary files) under the store's checkpoints/."""
    visible, hidden = [], []
    root = os.path.join(env.dir, "checkpoints")
    for d, _, files in os.walk(root):
        for f in files:
            (hidden if f.startswith(".") else visible).append(os.path.join(d, f))
    return visible, hidden


class Reader(threading.Thread):
    """Reads a child's event lines, stamping each with the time it arrived."""

    def __init__(self, stream):
        super().__init__(daemon=True)
        self.stream, self.events = stream, []

    def run(self):
        for line in self.stream:
            try:
                self.events.append((time.monotonic(), json.loads(line)))
            except ValueError:
                pass


@case
def kill_9_at_random_moments(env):
    """SIGKILL at random moments: the store stays intact, the run shows as
    interrupted, metrics older than a second are there, no partial checkpoint"""
    exp = env.experiment("killed", epochs=60)
    t0 = time.monotonic()
    env.run("run", exp, check=0)
    t_full = time.monotonic() - t0
    note(f"one uninterrupted run of 60 epochs (2700 steps): {t_full:.2f} s")
    rng = random.Random(int(os.environ.get("PARAMLAB_SEED", "6")))
    outcomes = {"before the run was recorded": 0, "interrupted": 0, "finished": 0}
    worst_lag, n_points, temps_seen = 0.0, 0, set()
    for i in range(N_KILLS):
        known = {r for (r,) in env.sql("SELECT id FROM runs")}
        proc = subprocess.Popen(env.cmd("run", exp, "--events"), env=env.env,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        reader = Reader(proc.stdout)
        reader.start()
        time.sleep(rng.uniform(0.0, 1.1 * t_full))
        t_kill = time.monotonic()
        proc.kill()
        proc.wait()
        reader.join(10)
        # a kill after the end finds the run finished
        expect(proc.returncode in (-signal.SIGKILL, 0),
               f"kill {i}: paramlab-cli ended with {proc.returncode}")

        integrity(env)
        new = sorted({r for (r,) in env.sql("SELECT id FROM runs")} - known)
        if not new:
            outcomes["before the run was recorded"] += 1
            continue
        expect(len(new) == 1, f"kill {i}: runs {new} appeared")
        rid = new[0]
        # list reconciles: a run whose process is gone is never 'running'
        st = listing(env)[rid]["status"]
        expect(st in ("interrupted", "finished"),
               f"kill {i}: run {rid} is '{st}' in `paramlab-cli list` after the kill")
        (db_status, error), = env.sql("SELECT status, error FROM runs WHERE id = ?", rid)
        expect(db_status == st, f"kill {i}: run {rid} is '{db_status}' in the database, "
               f"'{st}' in the list")
        s = show(env, rid)
        expect(s["status"] == st, f"kill {i}: show says {s['status']}")
        outcomes[st] += 1
        if st == "interrupted":
            expect(error and "interrupted" in error and str(proc.pid) in error,
                   f"kill {i}: run {rid} error {error!r} does not name process {proc.pid}")
            kinds = [k for (k,) in env.sql("SELECT kind FROM events WHERE run_id = ? "
                                           "ORDER BY seq", rid)]
            expect(kinds[-1] == "interrupted", f"kill {i}: events {kinds}")

        # metrics: a prefix of the curve, holding every step announced a second
        # before the kill
        steps = curve_steps(env, rid)
        n_points += len(steps)
        expect(steps == list(range(1, len(steps) + 1)),
               f"kill {i}: run {rid} train/loss steps are not 1..N: {steps[:5]}...{steps[-5:]}")
        have = set(steps)
        for t, ev in reader.events:
            if ev.get("event") == "metrics" and "train/loss" in ev.get("values", {}):
                if t <= t_kill - 1.0:
                    expect(ev["step"] in have,
                           f"kill {i}: step {ev['step']} was announced {t_kill - t:.2f} s "
                           f"before the kill but is not in the store (last stored: "
                           f"{steps[-1] if steps else None})")
                elif ev["step"] not in have:
                    worst_lag = max(worst_lag, t_kill - t)

        # checkpoints: every visible file and every recorded one is whole
        visible, hidden = checkpoint_files(env)
        temps_seen.update(hidden)
        for path in visible:
            bad = safetensors_complete(path)
            expect(not bad, f"kill {i}: visible checkpoint {path} is partial: {bad}")
        for c in s["checkpoints"]:
            expect(not os.path.basename(c["path"]).startswith("."),
                   f"kill {i}: a temporary file is listed: {c['path']}")
            expect(os.path.exists(c["path"]) and not safetensors_complete(c["path"]),
                   f"kill {i}: recorded checkpoint {c['path']} is missing or partial")

    note(f"{N_KILLS} kills: " + ", ".join(f"{v} {k}" for k, v in outcomes.items()))
    note(f"{n_points} train/loss points found after the kills; the newest missing point "
         f"was announced {worst_lag * 1000:.0f} ms before its kill (limit 1000 ms)")
    note(f"kills that left a hidden temporary file (a kill inside a checkpoint write): "
         f"{len(temps_seen)}; visible partial files: 0")
    expect(outcomes["interrupted"] >= N_KILLS // 2,
           f"only {outcomes['interrupted']} of {N_KILLS} kills hit a running run: {outcomes}")

    # a temporary file of a dead process, as a kill during a checkpoint write
    # leaves it, is never listed and the next run sweeps it away
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = os.path.join(env.dir, "checkpoints", "run-1", f".last.safetensors.tmp-{dead.pid}-Ab12Cd")
    with open(stale, "wb") as f:
        f.write(b"\0" * 1000)
    env.run("run", exp, "--set", "train.epochs=1", check=0)
    visible, hidden = checkpoint_files(env)
    expect(hidden == [], f"temporary files left after a new run: {hidden}")
    integrity(env)


def delete_cascades(env, rid):
    """Deletes run rid with foreign keys on; every table that refers to runs
    must lose its rows of rid (the migrations rebuild tables, which could drop
    an ON DELETE CASCADE)."""
    con = sqlite3.connect(env.db)
    con.execute("PRAGMA foreign_keys = ON")
    con.execute("DELETE FROM runs WHERE id = ?", (rid,))
    con.commit()
    con.close()
    for t in ("metrics", "events", "run_plugins", "checkpoints", "run_summary"):
        left = env.sql(f"SELECT count(*) FROM {t} WHERE run_id = ?", rid)[0][0]
        expect(left == 0, f"deleting run {rid} left {left} rows in {t}")


@case
def migrates_a_version_1_database(env):
    """a v1 database holding runs, metrics, events, plugins and checkpoints
    migrates to the current version (v2: runs rebuilt for the new statuses; v3:
    checkpoints rebuilt for sparse) with everything kept"""
    con = sqlite3.connect(env.db)
    con.executescript(open(V1_DUMP).read())
    con.commit()
    con.close()
    expect(env.sql("PRAGMA user_version") == [(1,)], "the fixture is not version 1")
    tables = ["runs", "metrics", "events", "run_plugins", "checkpoints", "metric_keys",
              "run_summary"]
    before = {t: env.sql(f"SELECT count(*) FROM {t}")[0][0] for t in tables}
    runs_before = env.sql("SELECT id, name, status, parent_run, error, experiment FROM runs "
                          "ORDER BY id")
    expect(before["metrics"] > 0 and before["events"] > 0 and before["run_plugins"] > 0
           and before["checkpoints"] > 0, f"the fixture holds too little: {before}")

    rows = listing(env)  # opens the store: migrates
    expect(env.sql("PRAGMA user_version") == [(SCHEMA_VERSION,)],
           f"not migrated to version {SCHEMA_VERSION}")
    integrity(env)
    after = {t: env.sql(f"SELECT count(*) FROM {t}")[0][0] for t in tables}
    expect(after == before, f"rows changed: {before} -> {after}")
    runs_after = env.sql("SELECT id, name, status, parent_run, error, experiment FROM runs "
                         "ORDER BY id")
    expect(runs_after == runs_before, "the runs changed in the migration")
    live = [r for (r,) in env.sql("SELECT id FROM runs WHERE NOT deleted ORDER BY id")]
    expect(sorted(rows) == live and len(live) == len(runs_before) - 1,
           f"list shows {sorted(rows)}, the store has {live} not deleted")
    note(f"migrated v1 -> v{SCHEMA_VERSION} keeping {before}")
    # the new statuses are accepted, old ones still refused
    env.sql("UPDATE runs SET status = 'interrupted' WHERE id = 1")
    try:
        env.sql("UPDATE runs SET status = 'exploded' WHERE id = 1")
        raise AssertionError("the CHECK constraint accepts 'exploded'")
    except sqlite3.IntegrityError:
        pass
    # foreign keys point at the rebuilt table: deleting a run cascades
    rid = 1
    n = env.sql("SELECT count(*) FROM metrics WHERE run_id = ?", rid)[0][0]
    expect(n > 0, f"run {rid} has no metrics in the fixture")
    delete_cascades(env, rid)
    # and a new run works on the migrated store
    env.run("run", env.experiment("after-migration", epochs=1), check=0)
    integrity(env)


@case
def migrates_a_version_2_database(env):
    """a v2 database (runs-v2.sql: finished, interrupted, failed and soft-deleted
    runs, fp32 and int8 checkpoints and exports) migrates to v3, whose checkpoints
    table accepts 'sparse', with every row of every table kept; a sparse export is
    then recorded"""
    con = sqlite3.connect(env.db)
    con.executescript(open(V2_DUMP).read())
    con.commit()
    con.close()
    expect(env.sql("PRAGMA user_version") == [(2,)], "the fixture is not version 2")
    try:
        env.sql("INSERT INTO checkpoints (run_id, step, path, kind, format, created_at) "
                "VALUES (1, 1, 'x', 'export', 'sparse', 0)")
        raise AssertionError("the version-2 fixture already accepts format 'sparse'")
    except sqlite3.IntegrityError:
        pass
    tables = ["runs", "metrics", "events", "run_plugins", "checkpoints", "metric_keys",
              "run_summary"]
    # every row of every table, in primary key order
    order = {"runs": "id", "metrics": "run_id, key_id, step", "events": "run_id, seq",
             "run_plugins": "rowid", "checkpoints": "id", "metric_keys": "id",
             "run_summary": "run_id, key_id"}
    dump_before = {t: env.sql(f"SELECT * FROM {t} ORDER BY {order[t]}") for t in tables}
    counts = {t: len(rows) for t, rows in dump_before.items()}
    formats = sorted({f for (f,) in env.sql("SELECT format FROM checkpoints")})
    statuses = sorted({s for (s,) in env.sql("SELECT status FROM runs")})
    expect(formats == ["fp32", "int8"] and "interrupted" in statuses
           and env.sql("SELECT count(*) FROM runs WHERE deleted")[0][0] == 1
           and all(counts[t] > 0 for t in tables), f"the fixture holds too little: {counts}")

    rows = listing(env)  # opens the store: migrates
    expect(env.sql("PRAGMA user_version") == [(SCHEMA_VERSION,)],
           f"not migrated to version {SCHEMA_VERSION}")
    integrity(env)
    dump_after = {t: env.sql(f"SELECT * FROM {t} ORDER BY {order[t]}") for t in tables}
    for t in tables:
        expect(dump_after[t] == dump_before[t], f"table {t} changed in the migration")
    expect(sorted(rows) == [1, 2, 3, 5], f"list shows {sorted(rows)}")
    expect(env.sql("SELECT name FROM sqlite_schema WHERE type = 'index' "
                   "AND tbl_name = 'checkpoints'") == [("checkpoints_run",)],
           "the index checkpoints_run is missing after the rebuild")
    note(f"migrated v2 -> v{SCHEMA_VERSION} keeping {counts}")
    # the new format is accepted, another still refused
    env.sql("INSERT INTO checkpoints (run_id, step, path, kind, format, created_at) "
            "VALUES (1, 1, 'x', 'export', 'sparse', 0)")
    try:
        env.sql("INSERT INTO checkpoints (run_id, step, path, kind, format, created_at) "
                "VALUES (1, 1, 'x', 'export', 'fp16', 0)")
        raise AssertionError("the CHECK constraint accepts 'fp16'")
    except sqlite3.IntegrityError:
        pass
    # the rebuilt table still refers to runs: deleting a run cascades
    rid = 5
    expect(env.sql("SELECT count(*) FROM checkpoints WHERE run_id = ?", rid)[0][0] > 0,
           f"run {rid} has no checkpoints in the fixture")
    delete_cascades(env, rid)
    # a new run on the migrated store, exported sparse: recorded as such
    env.run("run", env.experiment("after-migration", epochs=1), check=0)
    new_id = max(listing(env))
    out = os.path.join(env.dir, "sparse.safetensors")
    p = env.run("export", str(new_id), "--format", "sparse", "--out", out, check=0)
    expect("not recorded" not in p.stdout, p.stdout)
    recorded = env.sql("SELECT kind, format, path, size_bytes FROM checkpoints "
                       "WHERE run_id = ? AND kind = 'export'", new_id)
    expect(recorded == [("export", "sparse", os.path.abspath(out), os.path.getsize(out))],
           f"the sparse export is recorded as {recorded}")
    shown = [c for c in show(env, new_id)["checkpoints"] if c["kind"] == "export"]
    expect([c["format"] for c in shown] == ["sparse"], f"show lists {shown}")
    integrity(env)


def limited(nbytes, ignore_sigxfsz=True):
    """preexec_fn: a file size limit, with SIGXFSZ ignored so writes fail (EFBIG).
    Without ignoring it here, paramlab-cli must ignore it itself (as after
    `ulimit -f` in a shell), or the signal kills it."""
    def f():
        if ignore_sigxfsz:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))
    return f


@case
def disk_full_while_writing_a_checkpoint(env):
    """a checkpoint larger than the file size limit: the run fails naming the
    file, the store is intact, the exit code is 1"""
    # hidden 2048 wide: about 0.5 MB of weights per checkpoint, more than the limit;
    # the database stays far below it
    exp = env.experiment("full-disk", epochs=1)
    # SIGXFSZ left to its default here: paramlab-cli ignores it itself
    p = env.run("run", exp, "--set", "model.hidden=2048",
                preexec_fn=limited(300_000, ignore_sigxfsz=False))
    expect(p.returncode == 1, f"exit code {p.returncode}, stderr: {p.stderr}")
    expect("File too large" in p.stderr and ".safetensors" in p.stderr,
           f"the error does not name the file and the reason: {p.stderr}")
    integrity(env)
    s = show(env, 1)
    expect(s["status"] == "failed", f"status {s['status']}")
    expect("File too large" in s["error"] and ".safetensors" in s["error"], s["error"])
    note(f"error recorded: {s['error']}")
    visible, hidden = checkpoint_files(env)
    expect(hidden == [], f"temporary files left: {hidden}")
    for path in visible:
        expect(not safetensors_complete(path), f"partial checkpoint {path}")


@case
def disk_full_in_the_database(env):
    """the database itself cannot grow: a clear error naming the store, a
    nonzero exit, no crash, the database intact and the run not left running"""
    # a small model: its checkpoints stay far below the limit, the database does not
    exp = env.experiment("db-full", epochs=400)
    env.run("list", check=0)  # create the store without a limit
    size = os.path.getsize(env.db)
    p = env.run("run", exp, "--set", "model.hidden=8", preexec_fn=limited(size + 96 * 1024),
                timeout=300)
    note(f"exit {p.returncode}: {p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ''}")
    expect(p.returncode == 1, f"exit code {p.returncode}, stderr: {p.stderr[-2000:]}")
    expect(env.db in p.stderr,
           f"the error does not name the run store: {p.stderr[-2000:]}")
    integrity(env)
    rows = listing(env)
    (status, error), = env.sql("SELECT status, error FROM runs WHERE id = 1")
    note(f"run 1: {status}: {error}")
    # the store empties its write-ahead log to make room for this one record
    expect(rows[1]["status"] == status == "failed" and env.db in error,
           f"status after a full database: {rows}, error {error!r}")
    # what could not be stored is counted, not silently dropped
    expect("not stored" in p.stderr, f"the lost points are not reported: {p.stderr[-2000:]}")


@case
def four_writers_at_once(env):
    """four runs in four processes on one new database, while a fifth connection
    holds the write lock when they start (1 s) and then takes it for 300 ms every
    500 ms: no 'database is locked', every metric point stored"""
    exp = env.experiment("writer", epochs=20)
    # the fifth connection creates the (empty) database file and holds its write
    # lock: the four must wait to switch it to WAL, migrate it and record their runs
    hog_con = sqlite3.connect(env.db, timeout=30, isolation_level=None,
                              check_same_thread=False)
    hog_con.execute("BEGIN IMMEDIATE")
    held = [time.monotonic()]
    procs = [subprocess.Popen(env.cmd("run", exp, "--set", f"experiment.seed={i}"),
                              env=env.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for i in range(4)]
    t0 = time.monotonic()
    done = threading.Event()

    def hog():
        # every write path of a run (create, status, events, metrics, checkpoints,
        # summary) may meet a held lock and must wait for it
        time.sleep(1.0)
        hog_con.execute("COMMIT")
        while not done.wait(0.2):
            try:
                hog_con.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:  # waited 30 s: reported below
                continue
            held.append(time.monotonic())
            time.sleep(0.3)
            hog_con.execute("COMMIT")
        hog_con.close()

    locker = threading.Thread(target=hog, daemon=True)
    locker.start()
    outs = [p.communicate(timeout=300) for p in procs]
    secs = time.monotonic() - t0
    done.set()
    locker.join(10)
    for p, (out, err) in zip(procs, outs):
        expect(p.returncode == 0, f"a writer exited {p.returncode}: {err[-2000:]}")
        expect("locked" not in err and "busy" not in err, f"lock trouble: {err[-2000:]}")
    note(f"the fifth connection held the write lock for 1 s at the start, then "
         f"{len(held) - 1} times for 300 ms while the runs trained")
    integrity(env)
    runs = env.sql("SELECT id, status, last_step FROM runs ORDER BY id")
    expect(len(runs) == 4 and all(r[1] == "finished" for r in runs), runs)
    for rid, _, _ in runs:
        steps = curve_steps(env, rid)
        expect(steps == list(range(1, 901)), f"run {rid}: {len(steps)} train/loss points")
        for key in ("val/acc", "train/acc", "lr"):
            n = len(curve_steps(env, rid, key))
            want = 900 if key == "lr" else 20
            expect(n == want, f"run {rid}: {n} points of {key}, expected {want}")
    total = env.sql("SELECT count(*) FROM metrics")[0][0]
    note(f"4 concurrent runs: {total} metric points, all stored, in {secs:.1f} s")


@case
def huge_learning_rate_diverges(env):
    """SGD with lr 10 (the largest [train] lr accepts): the run stops as 'diverged',
    naming the step, exit 1"""
    exp = env.experiment("diverges", epochs=5, optimizer="sgd", lr="10", schedule="constant",
                         warmup_steps=0)
    p = env.run("run", exp)
    expect(p.returncode == 1, f"exit code {p.returncode}: {p.stderr}")
    s = show(env, 1)
    expect(s["status"] == "diverged", f"status {s['status']}")
    err = s["error"]
    m = re.match(r"step (\d+): (loss is (NaN|Inf)|parameter '([^']+)' has (NaN|Inf))", err)
    expect(m, f"the error does not name the step and what diverged: {err!r}")
    expect(err in p.stderr, f"stderr does not carry the error: {p.stderr}")
    note(f"lr 10: {err}")
    events = env.sql("SELECT kind, payload FROM events WHERE run_id = 1 ORDER BY seq")
    kind, payload = events[-1]
    ev = json.loads(payload)
    expect(kind == "failed" and ev["status"] == "diverged" and ev["error"] == err, events[-1])
    # the curve stops before the bad step; nothing after it
    steps = curve_steps(env, 1)
    expect(max(steps, default=0) < int(m.group(1)),
           f"points after step {m.group(1)}: {steps[-3:]}")
    integrity(env)


@case
def export_never_overwrites(env):
    """export refuses an existing file without --force (naming it), replaces it
    with --force, and leaves no temporary file either way"""
    env.run("run", env.experiment("exported", epochs=2), check=0)
    out = os.path.join(env.dir, "model.safetensors")
    with open(out, "wb") as f:
        f.write(b"precious")
    p = env.run("export", "1", "--out", out)
    expect(p.returncode == 2, f"exit {p.returncode}")
    expect(out in p.stderr and "--force" in p.stderr, p.stderr)
    expect(open(out, "rb").read() == b"precious", "the existing file was changed")
    p = env.run("export", "1", "--out", out, "--force", check=0)
    expect(not safetensors_complete(out), f"the export is partial: {safetensors_complete(out)}")
    # a new path needs no --force; a second export to it does
    out2 = os.path.join(env.dir, "new.safetensors")
    env.run("export", "1", "--best", "--out", out2, check=0)
    before = open(out2, "rb").read()
    p = env.run("export", "1", "--out", out2)
    expect(p.returncode == 2 and out2 in p.stderr, p.stderr)
    expect(open(out2, "rb").read() == before, "the second export changed the file")
    # an export that fails half-way (file size limit) leaves the old file whole
    env.run("run", env.experiment("big", epochs=1), "--set", "model.hidden=2048", check=0)
    p = env.run("export", "2", "--out", out, "--force", preexec_fn=limited(100_000))
    expect(p.returncode == 1 and out in p.stderr and "File too large" in p.stderr, p.stderr)
    expect(not safetensors_complete(out), "the old export was damaged")
    leftovers = [f for f in os.listdir(env.dir) if f.startswith(".")]
    expect(leftovers == [], f"temporary files left: {leftovers}")


if __name__ == "__main__":
    sys.exit(tap.main(Env, keep_failed=True))
