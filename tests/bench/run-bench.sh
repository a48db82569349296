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
set -eu

build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
bench="$build/tests/bench/paramlab-bench"
store_bench="$build/tests/bench-run-store"
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

raw=$(mktemp)
trap 'rm -f "$raw"' EXIT
opts="--threads=$threads --min-time=$min_time --reps=$reps"

# peak memory first, in a fresh process (a high-water mark is per process)
"$bench" --threads=1 memory-w1 >>"$raw"

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
  r=$((r + 1))
done

store_out=""
if [ -x "$store_bench" ]; then
  echo "run-bench.sh: store benchmark" >&2
  store_out=$("$store_bench" 2>&1 || true)
  printf '%s\n' "$store_out" | grep '^RESULT' >>"$raw" || true
fi

if [ -n "${PL_BENCH_RAW:-}" ]; then
  cp "$raw" "$PL_BENCH_RAW"
fi

blas=$(grep -m1 '^# OpenBLAS' "$raw" | sed 's/^# //')
cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
echo "Machine: $cpu, $(nproc) cores; $blas"
echo

awk -F '\t' -v have_store="$([ -x "$store_bench" ] && echo 1 || echo 0)" '
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
function fmt(v,    s, out) {
  if (v < 100) return sprintf("%.1f", v);
  s = sprintf("%d", v + 0.5); out = "";
  while (length(s) > 3) { out = "," substr(s, length(s) - 2) out; s = substr(s, 1, length(s) - 3) }
  return s out;
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
  if (side == "RESULT" && w ~ /^store/) store[w, key] = v;
}
END {
  print "| workload | Paramlab | PyTorch 1.13 | ratio | goal | met? |";
  print "| --- | --- | --- | --- | --- | --- |";
  train("w1", "W1 MLP 784-512-512-10, b128", 1.5);
  g = best("RESULT", "w1", "gflops"); gt = best_threads;
  c = best("RESULT", "gemm-w1", "gflops"); ct = best_threads;
  if (g > 0 && c > 0)
    row("W1 achieved GFLOP/s vs plain cblas_sgemm of the same shapes",
        sprintf("%.1f GFLOP/s (%s thr)", g, gt), sprintf("sgemm alone: %.1f GFLOP/s (%s thr)", c, ct),
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
  if (have_store) {
    if (("store", "points_per_s") in store)
      row("Store: metric points written/s", fmt(store["store", "points_per_s"]), "-", "-", ">= 1,000,000/s",
          store["store", "points_per_s"] >= 1000000 ? "yes" : "**no**");
    if (("store", "list_ms") in store)
      row("Store: list with 10,000 runs", sprintf("%.0f ms", store["store", "list_ms"]), "-", "-", "< 200 ms",
          store["store", "list_ms"] < 200 ? "yes" : "**no**");
    if (("store", "compare_ms") in store)
      row("Store: curves of 100 runs", sprintf("%.0f ms", store["store", "compare_ms"]), "-", "-", "< 500 ms",
          store["store", "compare_ms"] < 500 ? "yes" : "**no**");
  } else {
    row("Store: points/s, list, compare", "not measured yet: depends on tests/bench-run-store.c (store helper)", "-", "-", ">= 1M/s; < 200 ms; < 500 ms", "-");
  }
  row("Plugin overhead: W1 + AGP, W1 + QAT", "not measured yet: depends on the AGP and QAT plugins (issue 3)", "-", "-", "within 15% of W1", "-");
  row("Sparse 90% inference, batch 1 / 128", "not measured yet: depends on sparse export + CSR kernel and `paramlab-cli infer`", "-", "-", ">= 4x / >= 1.5x dense", "-");
  row("INT8 inference, batch 1", "not measured yet: depends on int8 export + VNNI/AVX2 kernel", "-", "-", ">= 1.5x FP32", "-");
  row("Sizes on disk: sparse / int8", "not measured yet: depends on the compressed exports", "-", "-", "<= 15% / <= 26% of FP32", "-");
  row("Window: redraw 1M points / first frame", "not measured yet: depends on the GTK window (issue 4)", "-", "-", "< 16 ms / < 500 ms", "-");
}' "$raw"

if [ -n "$store_out" ] && ! printf '%s\n' "$store_out" | grep -q '^RESULT'; then
  echo
  echo "Store benchmark output:"
  printf '%s\n' "$store_out"
fi
