#!/bin/sh
# Runs Paramlab's benchmarks and the PyTorch peer in one go and prints one table
# (Markdown): workload, Paramlab figure, PyTorch figure, ratio, goal, met?
#
#   meson compile -C build paramlab-bench && tests/bench/run-bench.sh build
#
# Environment:
#   PL_BENCH_THREADS   thread counts tried on each side (default 1,2); the best
#                      of each side is reported with its count
#   PL_BENCH_ROUNDS    rounds per workload, alternating Paramlab and PyTorch
#                      (default 2); each side keeps its best round, which filters
#                      out other tenants of a shared machine the same way for both
#   PL_BENCH_MIN_TIME  seconds per timed repetition (default 0.25)
#   PL_BENCH_REPS      timed repetitions, of which the median counts (default 7)
#   PL_BENCH_PYTHON    the python with torch (default /usr/bin/python3)
#   PL_BENCH_RAW       if set, a file that receives every raw RESULT line
#   PL_BENCH_PLUGIN_EPOCHS  epochs of the plugin-overhead runs through the engine
#                      (default 6, about 360 steps)
set -eu

build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
bench="$build/tests/bench/paramlab-bench"
cli="$build/app/cli/paramlab-cli"
python=${PL_BENCH_PYTHON:-/usr/bin/python3}
threads=${PL_BENCH_THREADS:-1,2}
rounds=${PL_BENCH_ROUNDS:-2}
min_time=${PL_BENCH_MIN_TIME:-0.25}
reps=${PL_BENCH_REPS:-7}

if [ ! -x "$bench" ]; then
  echo "run-bench.sh: $bench is missing; run: meson compile -C $build paramlab-bench" >&2
  exit 2
fi
have_torch=yes
if ! "$python" -c 'import torch' 2>/dev/null; then
  echo "run-bench.sh: $python has no torch; PyTorch columns stay empty" >&2
  have_torch=no
fi

load_before=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")
raw=$(mktemp)
work=$(mktemp -d)
trap 'rm -rf "$raw" "$work"' EXIT
opts="--threads=$threads --min-time=$min_time --reps=$reps"

# peak memory first, in a fresh process (a high-water mark is per process)
"$bench" --threads=1 memory-w1 >>"$raw"
"$bench" --threads="$threads" determinism >>"$raw"

r=1
while [ "$r" -le "$rounds" ]; do
  for w in w1 w2 w3 w4; do
    echo "run-bench.sh: round $r/$rounds: $w" >&2
    "$bench" $opts "$w" >>"$raw"
    if [ "$have_torch" = yes ]; then
      "$python" "$here/torch_peer.py" $opts "$w" | sed 's/^RESULT/PEER/' >>"$raw"
    fi
  done
  "$bench" $opts gemm-w1 >>"$raw"
  # compressed inference: every ratio comes from one process (same load), and the
  # table shows the median over the rounds
  echo "run-bench.sh: round $r/$rounds: compressed-w1" >&2
  "$bench" --threads=1 --min-time="$min_time" --reps="$reps" compressed-w1 >>"$raw"
  r=$((r + 1))
done

# Accuracy and size of the exported forms on real data: W1's synthetic data has no
# meaningful accuracy, so the digits MLP pruned by AGP to 90% (digits-agp90.ini,
# exported fp32 and sparse) and the QAT int8 digits MLP (digits-qat-int8.ini,
# exported fp32 and int8), each run by `paramlab-cli infer` on the validation split.
if [ -x "$cli" ]; then
  echo "run-bench.sh: digits exports (accuracy, sizes)" >&2
  src="$here/../.."
  for preset in digits-agp90 digits-qat-int8; do
    "$cli" run "$src/data/experiments/$preset.ini" --db "$work/exports.db" >/dev/null 2>&1 || continue
    id=$("$cli" list --db "$work/exports.db" --format csv 2>/dev/null | sed -n 2p | cut -d, -f1)
    case $preset in
      digits-agp90) forms="fp32 sparse" ;;
      *) forms="fp32 int8" ;;
    esac
    for f in $forms; do
      out="$work/$preset-$f.safetensors"
      "$cli" export "$id" --format "$f" --out "$out" --db "$work/exports.db" >/dev/null 2>&1 || continue
      acc=$("$cli" infer "$out" 2>/dev/null | sed -n 's/^accuracy: //p')
      printf 'RESULT\t%s\t1\t%s_acc\t%s\n' "$preset" "$f" "$acc" >>"$raw"
      printf 'RESULT\t%s\t1\t%s_bytes\t%s\n' "$preset" "$f" "$(wc -c <"$out")" >>"$raw"
    done
  done
fi

# Plugin overhead: W1 trained through the engine (paramlab-cli run, one thread) on a
# synthetic 784-feature data set, plain, with AGP pruning to 90% and with QAT. The
# figure is the engine's perf/samples_per_s over the whole run (the harmonic mean
# of its epochs: training only, evaluation excluded).
plugin_epochs=${PL_BENCH_PLUGIN_EPOCHS:-6}
if [ -x "$cli" ] && "$python" -c 'import numpy' 2>/dev/null; then
  "$python" -c '
import sys
import numpy as np
r = np.random.default_rng(0)
np.savez(sys.argv[1], x=r.standard_normal((8192, 784)).astype("f4"),
         y=r.integers(0, 10, 8192))
' "$work/w1.npz"
  printf '%s\n' "[experiment]" "name = bench-w1" "seed = 42" \
    "[data]" "dataset = npy" "train = w1.npz" "val-fraction = 0.0625" "normalize = none" \
    "[model]" "architecture = mlp" "hidden = 512, 512" "activation = relu" \
    "[train]" "epochs = $plugin_epochs" "batch-size = 128" "optimizer = sgd" "lr = 0.01" \
    "momentum = 0.9" >"$work/plain.ini"
  { cat "$work/plain.ini"
    printf '%s\n' "[prune]" "criterion = magnitude" "schedule = agp" "final-sparsity = 0.9" \
      "scope = layer"; } >"$work/agp.ini"
  { cat "$work/plain.ini"
    printf '%s\n' "[quant]" "plugin = qat-int8" "mode = qat" "granularity = per-channel" \
      "scheme = symmetric"; } >"$work/qat.ini"
  r=1
  while [ "$r" -le "$rounds" ]; do
    for cfg in plain agp qat; do
      echo "run-bench.sh: round $r/$rounds: engine W1 $cfg" >&2
      rate=$("$cli" run "$work/$cfg.ini" --db "$work/runs.db" --threads 1 --events 2>/dev/null \
             | sed -n 's/.*"perf\/samples_per_s":\([0-9.e+]*\).*/\1/p' \
             | awk '{ n++; inv += 1 / $1 } END { if (n) printf "%.1f", n / inv }')
      if [ -n "$rate" ]; then
        printf 'RESULT\tengine-w1-%s\t1\tsamples_per_s\t%s\n' "$cfg" "$rate" >>"$raw"
      fi
    done
    r=$((r + 1))
  done
fi

# The store helper's benchmark (tests/bench-run-store.c) and the window's
# (tests/bench-plot.c, tests/bench-window.c, built with -Dgui=true), when built;
# their lines are turned into RESULT lines here.
store_bench="$build/tests/bench-run-store"
if [ -x "$store_bench" ]; then
  echo "run-bench.sh: store benchmark" >&2
  "$store_bench" 2>&1 | sed -n \
    -e 's/^log_metric: .* = \([0-9.]*\) M points\/s logged.*/RESULT\tstore\t1\tlogged_mps\t\1/p' \
    -e 's/^log_metric + flush: .* = \([0-9.]*\) M points\/s committed.*/RESULT\tstore\t1\tcommitted_mps\t\1/p' \
    -e 's/^list_runs (all): \([0-9]*\) results, first \([0-9.]*\) ms.*/RESULT\tstore\t1\tlist_ms\t\2/p' \
    -e 's/^get_metrics_for_runs (100 runs): .*first \([0-9.]*\) ms.*/RESULT\tstore\t1\tcompare_ms\t\1/p' \
    >>"$raw" || true
fi
if [ -x "$build/tests/bench-plot" ]; then
  echo "run-bench.sh: plot benchmark" >&2
  "$build/tests/bench-plot" 2>&1 | sed -n \
    -e 's/^bench-plot: *raw *median *\([0-9.]*\) ms per redraw.*/RESULT\tplot\t1\tredraw_ms\t\1/p' \
    -e 's/^bench-plot: .* median *\([0-9.]*\) ms per redraw.*/RESULT\tplot\t1\tredraw_any_ms\t\1/p' \
    >>"$raw" || true
fi
if [ -x "$build/tests/bench-window" ] && command -v xvfb-run >/dev/null; then
  echo "run-bench.sh: window benchmark" >&2
  # under a private D-Bus session and a virtual X server, as the window tests run
  # Launch to first frame, 5 launches per renderer, the median of each: GTK's
  # default GL renderer (under Xvfb that is Mesa's software llvmpipe, ~200 ms of
  # CPU by itself; a desktop has a GPU) and the Cairo renderer the ui tests use.
  for renderer in gl cairo; do
    for i in 1 2 3 4 5; do
      GSK_RENDERER=$renderer sh "$here/../ui-wrapper.sh" "$build/tests/bench-window" startup \
        2>&1 | sed -n 's/^launch to first frame: \([0-9.]*\) ms.*/\1/p' || true
    done | sort -n | sed -n 3p | sed "s/^/RESULT\twindow\t1\tfirst_frame_ms_$renderer\t/" >>"$raw"
  done
fi

if [ -n "${PL_BENCH_RAW:-}" ]; then
  cp "$raw" "$PL_BENCH_RAW"
fi

load_after=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")
blas=$(grep -m1 '^# OpenBLAS' "$raw" | sed 's/^# //')
cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
echo "Machine: $cpu, $(nproc) cores; $blas"
echo "Load average (1, 5, 15 min) before: $load_before; after: $load_after"
echo

awk -F '\t' '
function best(side, w, key,    t, v, b, bt) {
  b = -1; bt = "";
  for (t = 1; t <= 64; t++)
    if ((side SUBSEP w SUBSEP t SUBSEP key) in val) {
      v = val[side, w, t, key];
      if (v > b) { b = v; bt = t }
    }
  best_threads = bt;
  return b;
}
function lowest(side, w, t, key) {
  return ((side SUBSEP w SUBSEP t SUBSEP key) in val) ? val[side, w, t, key] : -1;
}
function fmt(v,    s, out) {
  if (v < 100) return sprintf("%.1f", v);
  s = sprintf("%d", v + 0.5); out = "";
  while (length(s) > 3) { out = "," substr(s, length(s) - 2) out; s = substr(s, 1, length(s) - 3) }
  return s out;
}
# the median over the rounds of compressed-w1 values of @key
function med(key,    n, i, j, a, t) {
  n = ncw[key];
  for (i = 1; i <= n; i++) a[i] = cw[key, i];
  for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
  return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2;
}
function row(name, ours, theirs, ratio, goal, met) {
  printf "| %s | %s | %s | %s | %s | %s |\n", name, ours, theirs, ratio, goal, met;
}
function train(w, label, goal,    a, at, b, bt, ratio) {
  a = best("RESULT", w, "samples_per_s"); at = best_threads;
  b = best("PEER", w, "samples_per_s"); bt = best_threads;
  if (a < 0) { row(label, "failed", "", "", goal "x", "no"); return }
  if (b <= 0) { row(label, fmt(a) " /s (" at " thr)", "no torch", "", ">= " goal "x", "?"); return }
  ratio = a / b;
  row(label, fmt(a) " samples/s (" at " thr)", fmt(b) " samples/s (" bt " thr)",
      sprintf("%.2fx", ratio), ">= " goal "x", ratio >= goal ? "yes" : "**no**");
}
{
  side = $1; w = $2; t = $3; key = $4; v = $5;
  if (side != "RESULT" && side != "PEER") next;
  k = side SUBSEP w SUBSEP t SUBSEP key;
  # best over rounds: highest rate, lowest time
  if (!(k in val) || (key ~ /_us$|_ms$/ ? v < val[k] : v > val[k])) val[k] = v;
  if (side == "RESULT" && w == "memory-w1") mem[key] = v;
  if (side == "RESULT" && w == "compressed-w1") { cw[key, ++ncw[key]] = v; cwl[key] = v }
  if (side == "RESULT" && w ~ /^digits-/) dg[w, key] = v;
  if (side == "RESULT" && w == "determinism") det[t, key] = v;
  if (side == "RESULT" && (w == "store" || w == "plot" || w == "window")) {
    # best over rounds as for the rest: lowest time, highest rate
    # (the slowest plot mode: the largest)
    if (!((w, key) in store) || (key ~ /_ms$/ && key !~ /_any_ms$/ ? v < store[w, key] : v > store[w, key]))
      store[w, key] = v;
  }
}
END {
  print "| workload | Paramlab | PyTorch 1.13 | ratio | goal | met? |";
  print "| --- | --- | --- | --- | --- | --- |";
  train("w1", "W1 MLP 784-512-512-10, b128", 1.5);
  # one thread, rates while running (CPU time): steady on a shared machine
  g = best("RESULT", "w1", "gflops_cpu") >= 0 ? val["RESULT", "w1", 1, "gflops_cpu"] : -1;
  c = ("RESULT" SUBSEP "gemm-w1" SUBSEP 1 SUBSEP "gflops_cpu") in val ? val["RESULT", "gemm-w1", 1, "gflops_cpu"] : -1;
  if (g > 0 && c > 0)
    row("W1 achieved GFLOP/s vs plain cblas_sgemm of the same shapes (1 thr, CPU time)",
        sprintf("training: %.1f GFLOP/s", g), sprintf("sgemm alone: %.1f GFLOP/s", c),
        sprintf("%.0f%% of sgemm", 100 * g / c), "report", "-");
  train("w2", "W2 MLP 64-128-64-10, b32", 5);
  train("w3", "W3 CNN conv16-pool-conv32-pool-fc10, b64", 1);
  train("w4", "W4 attention 2x(T32, d64, 4 heads), b32", 2);
  if ("peak_rss_kib" in mem) {
    row("Memory: peak RSS training W1",
        sprintf("%.1f MiB peak = %.1f fixed + %.1f batch + %.1f", mem["peak_rss_kib"] / 1024,
                mem["fixed_kib"] / 1024, mem["data_kib"] / 1024,
                (mem["peak_rss_kib"] - mem["fixed_kib"] - mem["data_kib"]) / 1024),
        sprintf("need %.1f MiB (params %.1f + grads %.1f + optimizer %.1f + activations %.1f)",
                mem["need_kib"] / 1024, mem["params_kib"] / 1024, mem["grads_kib"] / 1024,
                mem["optimizer_kib"] / 1024, mem["arena_kib"] / 1024),
        sprintf("%.2fx of need", mem["ratio"]), "<= 1.5x + fixed", mem["ratio"] <= 1.5 ? "yes" : "**no**");
  }
  nd = 0; bad = "";
  for (k in det) { nd++; if (det[k] != 1) { split(k, kk, SUBSEP); bad = bad " " kk[2] "@" kk[1] "thr" } }
  if (nd > 0)
    row("Bitwise determinism: two trainings per workload and thread count",
        bad == "" ? "identical (" nd " pairs)" : "differ:" bad, "-", "-", "identical", bad == "" ? "yes" : "**no**");
  if (("store", "logged_mps") in store) {
    row("Store: metric points logged/s (training loop side)",
        sprintf("%.2f M/s logged", store["store", "logged_mps"]), "-", "-", ">= 1,000,000/s",
        store["store", "logged_mps"] >= 1 ? "yes" : "**no**");
    row("Store: metric points committed/s (writer thread)",
        sprintf("%.2f M/s committed", store["store", "committed_mps"]), "-", "-",
        ">= 1,000,000/s", store["store", "committed_mps"] >= 1 ? "yes" : "**no**");
    row("Store: list 10,000 runs (query, first call)", sprintf("%.1f ms", store["store", "list_ms"]),
        "-", "-", "< 200 ms", store["store", "list_ms"] < 200 ? "yes" : "**no**");
    row("Store: curves of 100 runs (query, first call)", sprintf("%.1f ms", store["store", "compare_ms"]),
        "-", "-", "< 500 ms", store["store", "compare_ms"] < 500 ? "yes" : "**no**");
  } else
    row("Store: points/s, list, compare", "not measured: tests/bench-run-store not built", "-", "-", ">= 1M/s; < 200 ms; < 500 ms", "-");
  p = best("RESULT", "engine-w1-plain", "samples_per_s");
  if (p > 0) {
    split("agp qat", pl, " ");
    names["agp"] = "Plugin overhead: W1 + AGP to 90% (engine, 1 thr)";
    names["qat"] = "Plugin overhead: W1 + QAT int8 (engine, 1 thr)";
    for (i = 1; i <= 2; i++) {
      q = best("RESULT", "engine-w1-" pl[i], "samples_per_s");
      if (q <= 0) { row(names[pl[i]], "failed", "", "", "<= +15% time", "no"); continue }
      over = p / q - 1;
      row(names[pl[i]], fmt(q) " samples/s", "plain W1 in the engine: " fmt(p) " samples/s",
          sprintf("%+.0f%% time", 100 * over), "<= +15% time", over <= 0.15 ? "yes" : "**no**");
    }
  } else
    row("Plugin overhead: W1 + AGP, W1 + QAT", "not measured: needs paramlab-cli built and numpy", "-", "-", "<= +15% time", "-");
  if (ncw["sparse_vs_dense_b1"] > 0) {
    s1 = med("sparse_vs_dense_b1"); s128 = med("sparse_vs_dense_b128");
    i1 = med("int8_vs_fp32_b1"); i128 = med("int8_vs_fp32_b128");
    nr = ncw["sparse_vs_dense_b1"];
    row("Sparse 90% inference, W1 784-512-512-10 pruned by magnitude per layer, batch 1 / 128 (1 thr, CPU time, median of " nr " runs)",
        sprintf("b1 kernel %s, b128 CSR: %.1f / %.0f us", cwl["sparse_b1_kernel_hidden.0.weight"],
                med("sparse_b1_cpu_us"), med("sparse_b128_cpu_us")),
        sprintf("dense fp32 (sgemv / sgemm): %.1f / %.0f us", med("fp32-pruned_b1_cpu_us"), med("fp32-pruned_b128_cpu_us")),
        sprintf("%.2fx / %.2fx", s1, s128), ">= 4x / >= 1.5x dense",
        (s1 >= 4 ? "yes" : "**no**") " / " (s128 >= 1.5 ? "yes" : "**no**"));
    row("INT8 inference, W1, batch 1 (batch 128 for information; kernel " cwl["int8_kernel"] ")",
        sprintf("%.1f us (%.0f us)", med("int8_b1_cpu_us"), med("int8_b128_cpu_us")),
        sprintf("fp32: %.1f us (%.0f us)", med("fp32_b1_cpu_us"), med("fp32_b128_cpu_us")),
        sprintf("%.2fx (%.2fx)", i1, i128), ">= 1.5x FP32", i1 >= 1.5 ? "yes" : "**no**");
    row("Sizes on disk, W1: sparse (90%) / int8",
        sprintf("%s / %s bytes", fmt(cwl["sparse_bytes"]), fmt(cwl["int8_bytes"])),
        sprintf("fp32: %s bytes", fmt(cwl["fp32_bytes"])),
        sprintf("%.3f / %.3f", cwl["sparse_size_ratio"], cwl["int8_size_ratio"]), "<= 0.15 / <= 0.26",
        (cwl["sparse_size_ratio"] <= 0.15 ? "yes" : "**no**") " / " (cwl["int8_size_ratio"] <= 0.26 ? "yes" : "**no**"));
  } else
    row("Sparse 90% / INT8 inference and sizes", "not measured: paramlab-bench compressed-w1 failed", "-", "-", ">= 4x / >= 1.5x; >= 1.5x; <= 15% / <= 26%", "-");
  if (("digits-agp90", "sparse_acc") in dg)
    row("Exports of digits models (real data): val/acc by `paramlab-cli infer`, size",
        sprintf("AGP90 sparse %.4f (%s B); QAT int8 %.4f (%s B)", dg["digits-agp90", "sparse_acc"],
                fmt(dg["digits-agp90", "sparse_bytes"]), dg["digits-qat-int8", "int8_acc"],
                fmt(dg["digits-qat-int8", "int8_bytes"])),
        sprintf("fp32 %.4f (%s B); fp32 %.4f (%s B)", dg["digits-agp90", "fp32_acc"],
                fmt(dg["digits-agp90", "fp32_bytes"]), dg["digits-qat-int8", "fp32_acc"],
                fmt(dg["digits-qat-int8", "fp32_bytes"])),
        sprintf("size %.3f / %.3f", dg["digits-agp90", "sparse_bytes"] / dg["digits-agp90", "fp32_bytes"],
                dg["digits-qat-int8", "int8_bytes"] / dg["digits-qat-int8", "fp32_bytes"]),
        "report", "-");
  if (("plot", "redraw_ms") in store)
    row("Window: redraw 1,000,000 points: raw curve (slowest mode: smoothed, log, zoom)",
        sprintf("%.1f ms (%.1f ms)", store["plot", "redraw_ms"], store["plot", "redraw_any_ms"]), "-", "-",
        "< 16 ms", store["plot", "redraw_ms"] < 16 ? "yes" : "**no**");
  else
    row("Window: redraw 1,000,000 points", "not measured: tests/bench-plot not built (-Dgui=true)", "-", "-", "< 16 ms", "-");
  if (("window", "first_frame_ms_gl") in store || ("window", "first_frame_ms_cairo") in store) {
    gl = store["window", "first_frame_ms_gl"]; ca = store["window", "first_frame_ms_cairo"]
    row("Window: launch to first frame (Xvfb, median of 5): GL renderer (software llvmpipe) / Cairo renderer",
        sprintf("%s / %s", gl == "" ? "-" : sprintf("%.0f ms", gl), ca == "" ? "-" : sprintf("%.0f ms", ca)),
        "-", "-", "< 500 ms", (gl != "" && gl < 500 ? "yes" : "**no**") " / " (ca != "" && ca < 500 ? "yes" : "**no**"));
  } else
    row("Window: launch to first frame", "not measured: tests/bench-window not built (-Dgui=true) or no xvfb-run", "-", "-", "< 500 ms", "-");

  # On a shared machine the wall clock includes time other tenants took; with one
  # thread, process CPU time per step is the time the step really needed.
  print "";
  print "CPU time per training step with one thread (best round; PyTorch: one intra-op and one OpenBLAS thread):";
  print "";
  print "| workload | Paramlab ms/step | PyTorch ms/step | ratio |";
  print "| --- | --- | --- | --- |";
  split("w1 w2 w3 w4", ws, " ");
  for (i = 1; i <= 4; i++) {
    a = lowest("RESULT", ws[i], 1, "cpu_us"); b = lowest("PEER", ws[i], 1, "cpu_us");
    if (a > 0 && b > 0)
      printf "| %s | %.3f | %.3f | %.2fx |\n", toupper(ws[i]), a / 1000, b / 1000, b / a;
  }
}' "$raw"

