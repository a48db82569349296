"""What the Python test programs share: their cases, checks and TAP output.

A program marks its cases with @case, checks with expect(), and ends with
sys.exit(tap.main(Env)): each case gets a fresh Env (an object with a dir and a
close()), its outcome is one TAP line, and a failure's message follows as
comments. PARAMLAB_CASES=a,b runs only the cases named."""
import os
import sys
import time

results = []


def case(fn):
    results.append(fn)
    return fn


def expect(cond, msg):
    if not cond:
        raise AssertionError(msg)


def note(msg):
    for line in str(msg).splitlines():
        print(f"# {line}", flush=True)


def main(make_env, keep_failed=False):
    """Runs every case with a fresh make_env(); with keep_failed a failed
    case's env.dir is kept (and named) for a look afterwards. Returns the exit
    status: 1 if any case failed."""
    only = os.environ.get("PARAMLAB_CASES")
    cases = [fn for fn in results if not only or fn.__name__ in only.split(",")]
    print(f"1..{len(cases)}", flush=True)
    failed = 0
    for i, fn in enumerate(cases, 1):
        env = make_env()
        t0 = time.monotonic()
        try:
            fn(env)
            print(f"ok {i} - {fn.__name__} ({time.monotonic() - t0:.1f} s)", flush=True)
        except Exception as e:  # noqa: BLE001 - every failure is reported as TAP
            failed += 1
            print(f"not ok {i} - {fn.__name__}", flush=True)
            note(f"{type(e).__name__}: {e}")
            if keep_failed:
                note(f"kept {env.dir}")
                continue
        env.close()
    return 1 if failed else 0
