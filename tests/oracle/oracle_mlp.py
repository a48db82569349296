#!/usr/bin/python3
"""Oracle: an MLP trained by paramlab-cli ends with the same weights as PyTorch.

Both start from the same initial weights (written as safetensors and loaded with
[model] init-from), see the same unshuffled batches (the last partial batch kept, as
DataLoader does) and use the same optimizer. After a few hundred steps every
tensor must agree to a relative difference under 1e-4.

Exit status 77 (skipped) when python3-torch is not installed.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import torch
except ImportError:
    print("1..0 # SKIP python3-torch is not installed")
    sys.exit(77)


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, arr in tensors.items():
        data = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        out[name] = np.frombuffer(raw[8 + n + b:8 + n + e], dtype="<f4").reshape(info["shape"])
    return out


def torch_train(x, y, init, hidden, optimizer, epochs, batch, opts):
    torch.manual_seed(0)
    layers, dims = [], [x.shape[1]] + hidden
    for i in range(len(hidden)):
        layers += [torch.nn.Linear(dims[i], dims[i + 1]), torch.nn.ReLU()]
    layers.append(torch.nn.Linear(dims[-1], 10))
    model = torch.nn.Sequential(*layers)
    names = [f"hidden.{i}" for i in range(len(hidden))] + ["head"]
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        for name, lin in zip(names, linears):
            lin.weight.copy_(torch.from_numpy(init[name + ".weight"]))
            lin.bias.copy_(torch.from_numpy(init[name + ".bias"]))
    if optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=opts["lr"], momentum=opts["momentum"],
                              nesterov=opts["nesterov"], weight_decay=opts["weight_decay"])
    elif optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=opts["lr"], weight_decay=opts["weight_decay"])
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=opts["lr"], weight_decay=opts["weight_decay"])
    ds = torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    loader = torch.utils.data.DataLoader(ds, batch_size=batch, shuffle=False)
    loss_fn = torch.nn.CrossEntropyLoss()
    steps = 0
    for _ in range(epochs):
        for xb, yb in loader:
            opt.zero_grad()
            loss_fn(model(xb), yb).backward()
            opt.step()
            steps += 1
    out = {}
    for name, lin in zip(names, linears):
        out[name + ".weight"] = lin.weight.detach().numpy()
        out[name + ".bias"] = lin.bias.detach().numpy()
    return out, steps


def main():
    cli, srcdir = sys.argv[1], sys.argv[2]
    torch.set_num_threads(1)
    digits = np.loadtxt(os.path.join(srcdir, "data", "datasets", "digits.csv"), delimiter=",",
                        dtype=np.float64)
    # a subset whose size is not a multiple of the batch, to cover the partial batch
    x = (digits[:500, :64] / 16.0).astype(np.float32)
    y = digits[:500, 64].astype(np.int64)
    hidden = [32, 16]
    cases = [
        ("sgd", dict(lr=0.05, momentum=0.9, nesterov=False, weight_decay=1e-4), 6, 16),
        ("sgd", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.0), 6, 16),
        ("adam", dict(lr=1e-3, momentum=0.0, nesterov=False, weight_decay=1e-4), 6, 16),
        ("adamw", dict(lr=1e-3, momentum=0.0, nesterov=False, weight_decay=1e-2), 6, 16),
    ]
    print(f"1..{len(cases)}")
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(1)
        init = {}
        dims = [64] + hidden
        names = [f"hidden.{i}" for i in range(len(hidden))] + ["head"]
        for i, name in enumerate(names):
            fan_in, fan_out = dims[i], (dims[i + 1] if i + 1 < len(dims) else 10)
            bound = 1.0 / np.sqrt(fan_in)
            init[name + ".weight"] = rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32)
            init[name + ".bias"] = rng.uniform(-bound, bound, (fan_out,)).astype(np.float32)
        init_path = os.path.join(tmp, "init.safetensors")
        write_safetensors(init_path, init)
        train_csv = os.path.join(tmp, "train.csv")
        val_csv = os.path.join(tmp, "val.csv")
        np.savetxt(train_csv, np.column_stack([x, y]), delimiter=",", fmt="%.9g")
        np.savetxt(val_csv, np.column_stack([x[:50], y[:50]]), delimiter=",", fmt="%.9g")
        for n, (optimizer, opts, epochs, batch) in enumerate(cases, 1):
            db = os.path.join(tmp, f"runs-{n}.db")
            exp = os.path.join(tmp, f"oracle-{n}.ini")
            with open(exp, "w") as f:
                f.write(f"""[experiment]
name=oracle-{optimizer}
seed=3
[data]
dataset=csv
train={train_csv}
val={val_csv}
normalize=none
shuffle=false
[model]
architecture=mlp
hidden=32,16
activation=relu
init-from={init_path}
[train]
epochs={epochs}
batch-size={batch}
optimizer={optimizer}
lr={opts['lr']}
momentum={opts['momentum']}
nesterov={'true' if opts['nesterov'] else 'false'}
weight-decay={opts['weight_decay']}
""")
            env = dict(os.environ, PARAMLAB_DB=db)
            proc = subprocess.run([cli, "run", exp, "--threads", "1"], env=env,
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"not ok {n} - {optimizer}: paramlab-cli exited {proc.returncode}: "
                      f"{proc.stderr.strip()}")
                failures += 1
                continue
            ours = read_safetensors(os.path.join(tmp, "checkpoints", "run-1", "last.safetensors"))
            theirs, steps = torch_train(x, y, init, hidden, optimizer, epochs, batch, opts)
            worst, worst_name = 0.0, None
            for name, ref in theirs.items():
                diff = np.linalg.norm(ours[name] - ref) / max(np.linalg.norm(ref), 1e-12)
                if diff > worst:
                    worst, worst_name = diff, name
            moved = np.linalg.norm(theirs["head.weight"] - init["head.weight"])
            ok = worst < 1e-4 and moved > 1e-2
            print(f"{'ok' if ok else 'not ok'} {n} - {optimizer} {opts} {steps} steps: "
                  f"worst relative difference {worst:.2e} ({worst_name}), weights moved {moved:.3f}")
            failures += 0 if ok else 1
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
