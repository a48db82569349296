#!/usr/bin/env python3
"""Plugins that fail, crash or lie in wait (issue 6), driven through paramlab-cli.

Usage: test_plugins.py PATH/TO/paramlab-cli HOSTILE_PLUGIN_DIR BUILTIN_PLUGIN_DIR
Prints TAP. The test-only plugin `hostile` (tests/plugins/hostile) fails or
raises SIGSEGV in the hook its options name. Checked here:
- a plugin failing in any hook fails its run, and the message names the plugin
  and carries its own message (on stderr and in the run store);
- a plugin that crashes kills only its run's process: the store passes
  PRAGMA integrity_check, a run started next to it finishes, later runs work;
- a plugin placed in the working directory, or reached through a relative
  PARAMLAB_PLUGIN_PATH entry, is never loaded, and the relative entry is
  reported.
"""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tap import case, expect  # noqa: E402 - tests/tap.py, beside this folder
import tap  # noqa: E402

CLI, HOSTILE_DIR, BUILTIN_DIR = (os.path.abspath(a) for a in sys.argv[1:4])

EXPERIMENT = """[experiment]
name = hostile
seed = 1
[data]
dataset = digits
val-fraction = 0.2
[model]
architecture = mlp
hidden = 16
[train]
epochs = 2
batch-size = 64
[init]
plugin = hostile
"""


class Env:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="paramlab-reliability-")
        self.db = os.path.join(self.dir, "runs.db")
        self.env = dict(os.environ, PARAMLAB_DB=self.db,
                        XDG_DATA_HOME=os.path.join(self.dir, "xdg"),
                        PARAMLAB_PLUGIN_PATH=HOSTILE_DIR + ":" + BUILTIN_DIR)
        self.exp = os.path.join(self.dir, "hostile.ini")
        with open(self.exp, "w") as f:
            f.write(EXPERIMENT)

    def popen(self, *args, cwd=None, env=None):
        return subprocess.Popen([CLI, *args], env=env or self.env, cwd=cwd or self.dir,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def run(self, *args, cwd=None, env=None, timeout=180):
        p = self.popen(*args, cwd=cwd, env=env)
        out, err = p.communicate(timeout=timeout)
        return p.returncode, out, err

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def show(env, run_id):
    code, out, err = env.run("show", str(run_id), "--format", "json")
    expect(code == 0, f"show {run_id}: {code} {err}")
    return json.loads(out)


def integrity(env):
    db = sqlite3.connect(env.db)
    try:
        return db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()


def make_fail_case(hook):
    def fails_its_run(env):
        code, out, err = env.run("run", env.exp, "--set", f"init.fail-in={hook}")
        message = f"init plugin hostile: hostile: asked to fail in {hook}"
        # the model is built (and initialized) before the run is recorded: a failing
        # init plugin refuses the experiment (exit 2) and records no run
        expect(code == (2 if hook == "init" else 1), f"exit {code}\n{err}")
        expect(message in err, f"stderr lacks '{message}':\n{err}")
        if hook == "init":
            code, out, err = env.run("list", "--all")
            expect(code == 0 and "hostile" not in out, f"a run was recorded: {out}")
            return
        s = show(env, 1)
        expect(s["status"] == "failed", s)
        expect(message in (s.get("error") or ""), f"stored error: {s.get('error')}")
    fails_its_run.__name__ = f"fails_in_{hook.replace('-', '_')}"
    return fails_its_run


for _hook in ("init", "run-start", "after-step", "epoch-end", "export"):
    case(make_fail_case(_hook))


@case
def crash_kills_only_its_run(env):
    # a healthy run first, so that the store has history the crash must not harm
    code, _, err = env.run("run", env.exp, "--set", "experiment.name=before")
    expect(code == 0, f"first run: {code} {err}")
    healthy = env.popen("run", env.exp, "--set", "experiment.name=neighbour",
                        "--set", "train.epochs=4")
    crashing = env.popen("run", env.exp, "--set", "init.crash-in=after-step",
                         "--set", "experiment.name=crasher")
    _, cerr = crashing.communicate(timeout=180)
    # SIGSEGV; SIGABRT under AddressSanitizer (abort_on_error), which catches it
    expect(crashing.returncode in (-signal.SIGSEGV, -signal.SIGABRT),
           f"the crashing run exited {crashing.returncode}, expected SIGSEGV\n{cerr}")
    _, herr = healthy.communicate(timeout=180)
    expect(healthy.returncode == 0, f"the neighbouring run exited {healthy.returncode}\n{herr}")
    expect(integrity(env) == "ok", "the store fails PRAGMA integrity_check")
    code, _, err = env.run("run", env.exp, "--set", "experiment.name=after")
    expect(code == 0, f"a run after the crash: {code} {err}")
    code, out, err = env.run("list", "--all")
    expect(code == 0, f"list: {code} {err}")
    for name in ("before", "neighbour", "crasher", "after"):
        expect(name in out, f"list lacks {name}:\n{out}")
    statuses = {name: None for name in ("before", "neighbour", "after")}
    for run_id in range(1, 5):
        s = show(env, run_id)
        if s["name"] in statuses:
            statuses[s["name"]] = s["status"]
    expect(all(v == "finished" for v in statuses.values()), statuses)


@case
def crash_in_init_and_run_start(env):
    for hook in ("init", "run-start"):
        code, _, err = env.run("run", env.exp, "--set", f"init.crash-in={hook}")
        expect(code in (-signal.SIGSEGV, -signal.SIGABRT), f"crash in {hook}: exit {code}\n{err}")
    expect(integrity(env) == "ok", "the store fails PRAGMA integrity_check")
    code, _, err = env.run("run", env.exp)
    expect(code == 0, f"a run after the crashes: {code} {err}")


def plant_plugin(where, module_id):
    """Copies the hostile plugin into `where` under another module id."""
    os.makedirs(where, exist_ok=True)
    shutil.copy(os.path.join(HOSTILE_DIR, "libhostile.so"),
                os.path.join(where, f"lib{module_id}.so"))
    with open(os.path.join(HOSTILE_DIR, "hostile.plugin")) as f:
        text = f.read().replace("Module=hostile", f"Module={module_id}")
    with open(os.path.join(where, f"{module_id}.plugin"), "w") as f:
        f.write(text)


@case
def never_loads_from_the_working_directory(env):
    cwd = os.path.join(env.dir, "work")
    plant_plugin(cwd, "planted")                             # ./planted.plugin
    plant_plugin(os.path.join(cwd, "planted2"), "planted2")  # ./planted2/
    plant_plugin(os.path.join(cwd, "plugins", "p3"), "planted3")
    plain = dict(env.env, PARAMLAB_PLUGIN_PATH=BUILTIN_DIR)
    relative = dict(env.env, PARAMLAB_PLUGIN_PATH=".:planted2:plugins:" + BUILTIN_DIR)
    for label, e in (("plain", plain), ("relative", relative)):
        code, out, err = env.run("plugins", "--format", "json", cwd=cwd, env=e)
        expect(code == 0, f"{label}: plugins exited {code}\n{err}")
        ids = [p["id"] for p in json.loads(out)]
        expect("uniform" in ids, f"{label}: built-in plugins missing: {ids}")
        for planted in ("planted", "planted2", "planted3"):
            expect(planted not in ids, f"{label}: {planted} from the working directory was listed")
    # the relative entries are reported, once each
    code, out, err = env.run("plugins", cwd=cwd, env=relative)
    for entry in (".", "planted2", "plugins"):
        expect(f'plugin directory "{entry}" is not an absolute path' in err,
               f"no warning for relative entry {entry}:\n{err}")
    # a relative XDG_DATA_HOME (its paramlab/plugins would be under the cwd) too
    plant_plugin(os.path.join(cwd, "xdg", "paramlab", "plugins", "p4"), "planted4")
    e = dict(plain, XDG_DATA_HOME="xdg")
    code, out, err = env.run("plugins", "--format", "json", cwd=cwd, env=e)
    expect(code == 0, f"relative XDG_DATA_HOME: {code} {err}")
    ids = [p["id"] for p in json.loads(out)]
    expect("planted4" not in ids, f"plugin under a relative XDG_DATA_HOME was listed: {ids}")
    # and a run cannot use it
    exp = os.path.join(env.dir, "planted.ini")
    with open(exp, "w") as f:
        f.write(EXPERIMENT.replace("plugin = hostile", "plugin = planted"))
    code, _, err = env.run("run", exp, cwd=cwd, env=relative)
    expect(code == 2 and "planted" in err, f"a run with a planted plugin: {code}\n{err}")


@case
def wrong_abi_refused_with_reason(env):
    d = os.path.join(env.dir, "abi")
    plant_plugin(os.path.join(d, "old"), "oldabi")
    path = os.path.join(d, "old", "oldabi.plugin")
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write("\n".join(l if not l.startswith("X-Paramlab-ABI=") else "X-Paramlab-ABI=0"
                          for l in text.splitlines()) + "\n")
    e = dict(env.env, PARAMLAB_PLUGIN_PATH=d + ":" + BUILTIN_DIR)
    code, out, err = env.run("plugins", "--format", "json", env=e)
    expect(code == 0, f"plugins: {code} {err}")
    entry = [p for p in json.loads(out) if p["id"] == "oldabi"]
    expect(entry and not entry[0]["loaded"], f"oldabi: {entry}")
    expect("built for plugin ABI 0" in (entry[0].get("error") or ""), entry)


@case
def module_path_refused(env):
    # a .plugin file may not point its Module outside its directory
    d = os.path.join(env.dir, "mod", "p")
    plant_plugin(d, "hostile")
    with open(os.path.join(d, "evil.plugin"), "w") as f:
        with open(os.path.join(d, "hostile.plugin")) as g:
            f.write(g.read().replace("Module=hostile", "Module=../p/hostile"))
    os.remove(os.path.join(d, "hostile.plugin"))
    e = dict(env.env, PARAMLAB_PLUGIN_PATH=d + ":" + BUILTIN_DIR)
    code, out, err = env.run("plugins", "--format", "json", env=e)
    expect(code == 0, f"plugins: {code} {err}")
    entry = [p for p in json.loads(out) if p["id"] == "../p/hostile"]
    expect(entry and not entry[0]["loaded"], f"Module path: {entry}")
    expect("a path; expected a plain module name" in (entry[0].get("error") or ""), entry)


if __name__ == "__main__":
    sys.exit(tap.main(Env))
