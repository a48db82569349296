#!/usr/bin/python3
"""PyTorch peer of paramlab-bench: the same workloads, built as Paramlab builds
them, timed the same way (warm-up for min-time, then reps repetitions of as many
steps as fill min-time, median rate). Prints the same tab-separated lines:

    RESULT <workload> <threads> <key> <value>

Run with the system python that has torch (Debian's python3-torch):
    /usr/bin/python3 tests/bench/torch_peer.py --threads 1,2 w1 w2 w3 w4

Threads: torch.set_num_threads(n) sets the intra-op (OpenMP) pool; Linear and the
other BLAS calls of this torch build go to the system OpenBLAS, whose own pool
is set to the same n through openblas_set_num_threads (ctypes), so "n threads"
means n for both pools.
"""

import argparse
import ctypes
import ctypes.util
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

W4_TOKENS = 32
W4_TOKEN_FEATURES = 16

BATCH = {"w1": 128, "w2": 32, "w3": 64, "w4": 32}
# batches in the synthetic data set, cycled (paramlab-bench's N_BATCHES)
N_BATCHES = 64


def openblas():
    for name in ("libopenblas.so.0", ctypes.util.find_library("openblas")):
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
            lib.openblas_set_num_threads
            return lib
        except (OSError, AttributeError):
            pass
    return None


class Mlp(nn.Module):
    """pl_model_new_mlp: hidden.k = Linear + activation, head = Linear."""

    def __init__(self, sizes):
        super().__init__()
        self.hidden = nn.ModuleList(
            nn.Linear(a, b) for a, b in zip(sizes[:-2], sizes[1:-1]))
        self.head = nn.Linear(sizes[-2], sizes[-1])

    def forward(self, x):
        for layer in self.hidden:
            x = F.relu(layer(x))
        return self.head(x)


class Cnn(nn.Module):
    """pl_model_new_cnn: conv (padding k/2) -> relu -> MaxPool2d(2) per conv,
    flatten, head Linear."""

    def __init__(self):
        super().__init__()
        self.conv = nn.ModuleList([nn.Conv2d(1, 16, 3, padding=1),
                                   nn.Conv2d(16, 32, 3, padding=1)])
        self.head = nn.Linear(32 * 7 * 7, 10)

    def forward(self, x):
        x = x.view(-1, 1, 28, 28)
        for conv in self.conv:
            x = F.max_pool2d(F.relu(conv(x)), 2)
        return self.head(x.flatten(1))


class Attention(nn.Module):
    """Separate q/k/v/out projections and non-causal scaled dot-product attention,
    as pl_graph_attention computes it."""

    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.q_proj = nn.Linear(d, d)
        self.k_proj = nn.Linear(d, d)
        self.v_proj = nn.Linear(d, d)
        self.out_proj = nn.Linear(d, d)

    def forward(self, x):
        b, t, d = x.shape
        h, dh = self.heads, d // self.heads

        def split(y):
            return y.view(b, t, h, dh).transpose(1, 2)

        q, k, v = split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x))
        att = torch.softmax(q @ k.transpose(-2, -1) * (1.0 / math.sqrt(dh)), dim=-1)
        y = (att @ v).transpose(1, 2).reshape(b, t, d)
        return self.out_proj(y)


class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.norm1 = nn.LayerNorm(d)
        self.attn = Attention(d, heads)
        self.norm2 = nn.LayerNorm(d)
        self.ffn = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Linear(2 * d, d))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.ffn(self.norm2(x))


class Encoder(nn.Module):
    """pl_model_new_attention: embed Linear over tokens cut from the features,
    learned positions, pre-norm blocks, final LayerNorm, mean over tokens, head."""

    def __init__(self, tokens, f, d, layers, heads, classes):
        super().__init__()
        self.tokens, self.f = tokens, f
        self.embed = nn.Linear(f, d)
        self.pos_embedding = nn.Parameter(torch.randn(tokens, d) * 0.02)
        self.layers = nn.ModuleList(Block(d, heads) for _ in range(layers))
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, classes)

    def forward(self, x):
        x = self.embed(x.view(-1, self.tokens, self.f)) + self.pos_embedding
        for layer in self.layers:
            x = layer(x)
        return self.head(self.norm(x).mean(dim=1))


def build(name):
    if name == "w1":
        return Mlp([784, 512, 512, 10]), 784
    if name == "w2":
        return Mlp([64, 128, 64, 10]), 64
    if name == "w3":
        return Cnn(), 784
    if name == "w4":
        return (Encoder(W4_TOKENS, W4_TOKEN_FEATURES, 64, 2, 4, 10),
                W4_TOKENS * W4_TOKEN_FEATURES)
    raise ValueError(name)


def measure(fn, min_time, reps):
    """Median wall-clock seconds per step, (max - min) / median over the
    repetitions, and the median process CPU seconds per step."""
    steps, warm, t0 = 1, 0, time.perf_counter()
    elapsed = 0.0
    while elapsed < min_time:
        fn(steps)
        warm += steps
        elapsed = time.perf_counter() - t0
        steps *= 2
    n = max(int(min_time / (elapsed / warm)), 1)
    times, cpus = [], []
    for _ in range(reps):
        c = time.process_time()
        a = time.perf_counter()
        fn(n)
        times.append((time.perf_counter() - a) / n)
        cpus.append((time.process_time() - c) / n)
    times.sort()
    cpus.sort()
    med = times[len(times) // 2]
    return med, (times[-1] - times[0]) / med, cpus[len(cpus) // 2]


def result(workload, threads, key, value):
    print(f"RESULT\t{workload}\t{threads}\t{key}\t{value}", flush=True)


def bench(name, threads, args):
    torch.manual_seed(42)
    model, features = build(name)
    batch = BATCH[name]
    xs = torch.randn(N_BATCHES, batch, features)
    ys = torch.randint(0, 10, (N_BATCHES, batch))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9,
                          foreach=args.foreach)
    loss_fn = nn.CrossEntropyLoss()
    last = [0.0]
    nxt = [0]

    def steps(n):
        for _ in range(n):
            i = nxt[0] % N_BATCHES
            nxt[0] += 1
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xs[i]), ys[i])
            loss.backward()
            opt.step()
        last[0] = loss.item()

    sec, spread, cpu = measure(steps, args.min_time, args.reps)
    if not math.isfinite(last[0]):
        print(f"torch_peer: {name}: the loss diverged ({last[0]})", file=sys.stderr)
        return False
    result(name, threads, "samples_per_s", f"{batch / sec:.1f}")
    result(name, threads, "step_us", f"{sec * 1e6:.2f}")
    result(name, threads, "spread", f"{spread:.3f}")
    result(name, threads, "cpu_us", f"{cpu * 1e6:.2f}")
    result(name, threads, "loss", f"{last[0]:.4f}")
    return True


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", default="1,2")
    p.add_argument("--min-time", type=float, default=0.25)
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--foreach", action="store_true",
                   help="the multi-tensor SGD (torch's default on CPU is off)")
    p.add_argument("workloads", nargs="+", choices=sorted(BATCH) + ["all"])
    args = p.parse_args()
    names = []
    for w in args.workloads:
        names += sorted(BATCH) if w == "all" else [w]
    blas = openblas()
    print(f"# torch {torch.__version__}; OpenBLAS pool "
          f"{'set with it' if blas else 'not found, left at its default'}")
    ok = True
    for name in names:
        for t in args.threads.split(","):
            t = int(t)
            torch.set_num_threads(t)
            if blas:
                blas.openblas_set_num_threads(t)
            ok = bench(name, t, args) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
