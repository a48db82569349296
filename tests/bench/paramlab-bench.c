/* paramlab-bench: training throughput of the issue-5 workloads, the sgemm ceiling
 * of W1's shapes, and peak memory while training W1.
 *
 *   paramlab-bench [--threads=1,2] [--min-time=0.25] [--reps=7] WORKLOAD...
 *
 * WORKLOAD is w1, w2, w3, w4 (training samples/s), gemm-w1 (a plain cblas_sgemm
 * loop over W1's per-step products), memory-w1 (peak RSS against what W1 needs;
 * measured for the first thread count only, in a process that runs nothing else
 * before it, so the peak is W1's alone), determinism (two trainings of each
 * workload end with bitwise equal parameters: 1 or 0) or all (w1..w4 and
 * gemm-w1), compressed-w1 (inference of W1 files: 90%-sparse CSR against the
 * pruned fp32 file, int8 against fp32, at batch 1 and 128, and the files' sizes).
 * Each result is one tab-separated line
 *
 *   RESULT <workload> <threads> <key> <value>
 *
 * which tests/bench/run-bench.sh joins with tests/bench/torch_peer.py's lines.
 * A measurement is: warm-up for min-time, then reps repetitions of as many steps
 * as fill min-time, and the median of the repetitions' rates. Training cycles
 * through a synthetic data set (see N_BATCHES), as the peer does. */
#include <cblas.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "paramlab.h"

typedef struct {
  const char *name;
  const char *what;
  int batch;
} Workload;

static const Workload workloads[] = {
  { "w1", "MLP 784-512-512-10, batch 128, SGD momentum", 128 },
  { "w2", "MLP 64-128-64-10, batch 32, SGD momentum", 32 },
  { "w3", "CNN 1x28x28 conv16-pool-conv32-pool-linear10, batch 64", 64 },
  { "w4", "attention 2 layers, T=32, width 64, 4 heads, batch 32", 32 },
};

/* W4's input: 32 tokens of 16 features each */
#define W4_TOKENS 32
#define W4_TOKEN_FEATURES 16

static double opt_min_time = 0.25;
static int opt_reps = 7;

static const Workload *
find_workload (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (workloads); i++)
    if (g_str_equal (workloads[i].name, name))
      return &workloads[i];
  return NULL;
}

/* A default-initialized model of workload @w, or NULL with @error set. */
static PlModel *
build_model (const Workload *w, GError **error)
{
  PlModelSpec s = { 0 };
  s.n_classes = 10;
  s.max_batch = w->batch;
  s.seed = 42;
  s.activation = PL_ACT_RELU;
  PlModel *m = NULL;
  if (g_str_equal (w->name, "w1"))
    {
      s.in_features = 784;
      s.sample_shape[0] = 784;
      s.sample_shape[1] = s.sample_shape[2] = 1;
      m = pl_model_new_mlp (&s, (int[]) { 512, 512 }, 2, error);
    }
  else if (g_str_equal (w->name, "w2"))
    {
      s.in_features = 64;
      s.sample_shape[0] = 64;
      s.sample_shape[1] = s.sample_shape[2] = 1;
      m = pl_model_new_mlp (&s, (int[]) { 128, 64 }, 2, error);
    }
  else if (g_str_equal (w->name, "w3"))
    {
      s.in_features = 28 * 28;
      s.sample_shape[0] = 1;
      s.sample_shape[1] = s.sample_shape[2] = 28;
      m = pl_model_new_cnn (&s, (int[]) { 16, 32 }, 2, 3, error);
    }
  else if (g_str_equal (w->name, "w4"))
    {
      s.in_features = W4_TOKENS * W4_TOKEN_FEATURES;
      s.sample_shape[0] = s.in_features;
      s.sample_shape[1] = s.sample_shape[2] = 1;
      s.activation = PL_ACT_GELU;
      m = pl_model_new_attention (&s, W4_TOKENS, 64, 2, 4, error);
    }
  else
    g_assert_not_reached ();
  if (m)
    pl_model_init_default (m, 42);
  return m;
}

/* The synthetic data set: N_BATCHES batches of standard normal features and
 * uniform labels, cycled in order as epochs over a small data set are (the peer
 * does the same), rather than one batch trained on over and over. */
#define N_BATCHES 64

typedef struct {
  PlModel *model;
  PlOptimizer *opt;
  int batch;
  int n_batches;
  size_t in_features;
  float *x;          /* [n_batches * batch, in_features] */
  int32_t *y;        /* [n_batches * batch] */
  gint64 next;
  float last_loss;
} TrainCtx;

static void
train_ctx_init (TrainCtx *c, PlModel *m, PlOptimizer *opt, int batch, int n_batches)
{
  c->model = m;
  c->opt = opt;
  c->batch = batch;
  c->n_batches = n_batches;
  c->in_features = pl_model_get_spec (m)->in_features;
  size_t rows = (size_t) n_batches * batch;
  c->x = g_new (float, rows * c->in_features);
  c->y = g_new (int32_t, rows);
  c->next = 0;
  c->last_loss = 0;
  PlRng r;
  pl_rng_init (&r, 1234);
  for (size_t i = 0; i < rows * c->in_features; i++)
    c->x[i] = (float) pl_rng_normal (&r);
  for (size_t i = 0; i < rows; i++)
    c->y[i] = (int32_t) pl_rng_below (&r, 10);
}

static void
train_ctx_clear (TrainCtx *c)
{
  g_free (c->x);
  g_free (c->y);
}

/* @steps training steps, each on the next batch of the data set, copied into the
 * model's input and label buffers as the engine's batcher does. */
static void
train_steps (gpointer data, gint64 steps)
{
  TrainCtx *c = data;
  PlGraph *g = pl_model_get_graph (c->model);
  float *in = pl_model_get_input_buffer (c->model);
  int32_t *labels = pl_model_get_label_buffer (c->model);
  size_t row = c->in_features * sizeof (float);
  for (gint64 s = 0; s < steps; s++)
    {
      size_t b = (size_t) (c->next++ % c->n_batches) * c->batch;
      memcpy (in, c->x + b * c->in_features, c->batch * row);
      memcpy (labels, c->y + b, c->batch * sizeof (int32_t));
      pl_model_zero_grads (c->model);
      c->last_loss = pl_graph_forward (g, c->batch, TRUE);
      pl_graph_backward (g);
      pl_optimizer_step (c->opt, 0.01);
    }
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static int
cmp_float_abs (const void *a, const void *b)
{
  float x = *(const float *) a, y = *(const float *) b;
  return (x > y) - (x < y);
}

static double
cpu_seconds (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Calls fn(data, steps) to warm up for min-time, then opt_reps times with a step
 * count that fills min-time; returns the median wall-clock seconds per step. On a
 * shared machine @cpu receives the median process CPU seconds per step too (with
 * one thread, the time the step really took while it ran). */
static double
measure (void (*fn) (gpointer, gint64), gpointer data, double *spread, double *cpu)
{
  gint64 steps = 1;
  double elapsed = 0;
  gint64 warm_steps = 0;
  gint64 t0 = g_get_monotonic_time ();
  while (elapsed < opt_min_time)
    {
      fn (data, steps);
      warm_steps += steps;
      elapsed = (g_get_monotonic_time () - t0) / 1e6;
      steps *= 2;
    }
  double per_step = elapsed / (double) warm_steps;
  gint64 n = MAX ((gint64) (opt_min_time / per_step), 1);
  double *t = g_new (double, opt_reps), *c = g_new (double, opt_reps);
  for (int r = 0; r < opt_reps; r++)
    {
      double c0 = cpu_seconds ();
      gint64 a = g_get_monotonic_time ();
      fn (data, n);
      t[r] = (g_get_monotonic_time () - a) / 1e6 / (double) n;
      c[r] = (cpu_seconds () - c0) / (double) n;
    }
  qsort (t, opt_reps, sizeof (double), cmp_double);
  qsort (c, opt_reps, sizeof (double), cmp_double);
  double median = t[opt_reps / 2];
  if (spread)
    *spread = (t[opt_reps - 1] - t[0]) / median;
  if (cpu)
    *cpu = c[opt_reps / 2];
  g_free (t);
  g_free (c);
  return median;
}

static void
result (const char *workload, int threads, const char *key, const char *fmt, ...)
  G_GNUC_PRINTF (4, 5);

static void
result (const char *workload, int threads, const char *key, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *v = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  printf ("RESULT\t%s\t%d\t%s\t%s\n", workload, threads, key, v);
  fflush (stdout);
}

/* floating-point operations of one W1 training step in its matrix products:
 * three forward products, three weight gradients, two input gradients (the
 * first layer's input needs none) */
static const int w1_dims[][2] = { { 784, 512 }, { 512, 512 }, { 512, 10 } };

static double
w1_step_flops (int batch)
{
  double f = 0;
  for (int l = 0; l < 3; l++)
    {
      double mnk = (double) batch * w1_dims[l][0] * w1_dims[l][1];
      f += 2 * mnk * (l == 0 ? 2 : 3);
    }
  return f;
}

static gboolean
bench_training (const Workload *w, int threads, GError **error)
{
  g_autoptr (PlModel) m = build_model (w, error);
  if (!m)
    return FALSE;
  PlOptimizerConfig oc = { .algorithm = PL_OPTIMIZER_SGD, .lr = 0.01, .momentum = 0.9 };
  g_autoptr (PlOptimizer) opt = pl_optimizer_new (&oc, m, error);
  if (!opt)
    return FALSE;
  TrainCtx c;
  train_ctx_init (&c, m, opt, w->batch, N_BATCHES);
  double spread, cpu;
  double sec = measure (train_steps, &c, &spread, &cpu);
  train_ctx_clear (&c);
  if (!isfinite (c.last_loss))
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FAILED, "%s: the loss diverged (%g)",
                   w->name, c.last_loss);
      return FALSE;
    }
  result (w->name, threads, "samples_per_s", "%.1f", w->batch / sec);
  result (w->name, threads, "step_us", "%.2f", sec * 1e6);
  result (w->name, threads, "spread", "%.3f", spread);
  result (w->name, threads, "cpu_us", "%.2f", cpu * 1e6);
  result (w->name, threads, "loss", "%.4f", c.last_loss);
  if (g_str_equal (w->name, "w1"))
    {
      result (w->name, threads, "gflops", "%.2f", w1_step_flops (w->batch) / sec / 1e9);
      result (w->name, threads, "gflops_cpu", "%.2f", w1_step_flops (w->batch) / cpu / 1e9);
    }
  return TRUE;
}

/* The eight products of a W1 step, with Paramlab's shapes and transpose flags. */
typedef struct {
  float *x[3], *w[3], *y[3], *dy[3], *dx[3], *dw[3];
  int batch;
} GemmCtx;

static void
gemm_steps (gpointer data, gint64 steps)
{
  GemmCtx *c = data;
  int N = c->batch;
  for (gint64 s = 0; s < steps; s++)
    for (int l = 0; l < 3; l++)
      {
        int IN = w1_dims[l][0], OUT = w1_dims[l][1];
        cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, N, OUT, IN, 1.0f, c->x[l],
                     IN, c->w[l], IN, 1.0f, c->y[l], OUT);
        if (l > 0)
          cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, N, IN, OUT, 1.0f,
                       c->dy[l], OUT, c->w[l], IN, 1.0f, c->dx[l], IN);
        cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, OUT, IN, N, 1.0f, c->dy[l],
                     OUT, c->x[l], IN, 1.0f, c->dw[l], IN);
      }
}

static void
bench_gemm_w1 (int threads)
{
  GemmCtx c = { .batch = 128 };
  PlRng r;
  pl_rng_init (&r, 5);
  for (int l = 0; l < 3; l++)
    {
      size_t in = (size_t) c.batch * w1_dims[l][0], wn = (size_t) w1_dims[l][0] * w1_dims[l][1];
      size_t out = (size_t) c.batch * w1_dims[l][1];
      c.x[l] = g_new (float, in);
      c.dx[l] = g_new0 (float, in);
      c.w[l] = g_new (float, wn);
      c.dw[l] = g_new0 (float, wn);
      c.y[l] = g_new0 (float, out);
      c.dy[l] = g_new (float, out);
      for (size_t i = 0; i < in; i++)
        c.x[l][i] = (float) pl_rng_normal (&r);
      for (size_t i = 0; i < wn; i++)
        c.w[l][i] = (float) (0.01 * pl_rng_normal (&r));
      for (size_t i = 0; i < out; i++)
        c.dy[l][i] = (float) (0.01 * pl_rng_normal (&r));
    }
  double cpu;
  double sec = measure (gemm_steps, &c, NULL, &cpu);
  result ("gemm-w1", threads, "gflops", "%.2f", w1_step_flops (c.batch) / sec / 1e9);
  /* with one thread, the rate while it ran (see measure) */
  result ("gemm-w1", threads, "gflops_cpu", "%.2f", w1_step_flops (c.batch) / cpu / 1e9);
  result ("gemm-w1", threads, "cpu_us", "%.2f", cpu * 1e6);
  result ("gemm-w1", threads, "step_us", "%.2f", sec * 1e6);
  for (int l = 0; l < 3; l++)
    {
      g_free (c.x[l]);
      g_free (c.dx[l]);
      g_free (c.w[l]);
      g_free (c.dw[l]);
      g_free (c.y[l]);
      g_free (c.dy[l]);
    }
}

/* Trains a fresh model of @w for @steps steps and returns a copy of its
 * parameters (g_free), or NULL with @error set. */
static float *
train_copy (const Workload *w, int steps, size_t *n_floats, GError **error)
{
  g_autoptr (PlModel) m = build_model (w, error);
  if (!m)
    return NULL;
  PlOptimizerConfig oc = { .algorithm = PL_OPTIMIZER_SGD, .lr = 0.01, .momentum = 0.9 };
  g_autoptr (PlOptimizer) opt = pl_optimizer_new (&oc, m, error);
  if (!opt)
    return NULL;
  TrainCtx c;
  train_ctx_init (&c, m, opt, w->batch, 4);
  train_steps (&c, steps);
  train_ctx_clear (&c);
  *n_floats = pl_model_get_n_floats (m);
  return g_memdup2 (pl_model_get_params (m), *n_floats * sizeof (float));
}

/* Two trainings of every workload from the same seed on the same thread count
 * must end with bitwise identical parameters. */
static gboolean
bench_determinism (int threads, GError **error)
{
  for (guint i = 0; i < G_N_ELEMENTS (workloads); i++)
    {
      size_t na = 0, nb = 0;
      g_autofree float *a = train_copy (&workloads[i], 12, &na, error);
      if (!a)
        return FALSE;
      g_autofree float *b = train_copy (&workloads[i], 12, &nb, error);
      if (!b)
        return FALSE;
      gboolean same = na == nb && memcmp (a, b, na * sizeof (float)) == 0;
      result ("determinism", threads, workloads[i].name, "%d", same);
    }
  return TRUE;
}

/* A field of /proc/self/status in KiB ("VmRSS", "VmHWM"), or -1. */
static gint64
proc_status_kib (const char *field)
{
  g_autofree char *text = NULL;
  if (!g_file_get_contents ("/proc/self/status", &text, NULL, NULL))
    return -1;
  g_autofree char *key = g_strdup_printf ("\n%s:", field);
  const char *p = strstr (text, key);
  return p ? g_ascii_strtoll (p + strlen (key), NULL, 10) : -1;
}

/* Peak RSS while training W1 against params + grads + optimizer state + arena.
 * The fixed overhead is the RSS after start-up and after two sgemm calls of W1's
 * largest shapes on the same threads (so OpenBLAS's buffers are in it); the
 * bench's own copy of the batch is subtracted too. ratio = (peak - fixed - data)
 * / need. */
static gboolean
bench_memory_w1 (int threads, GError **error)
{
  float *a = g_new0 (float, 128 * 784), *b = g_new0 (float, 784 * 512);
  float *cbuf = g_new0 (float, 128 * 512);
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, 128, 512, 784, 1.0f, a, 784, b,
               784, 0.0f, cbuf, 512);
  cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, 512, 784, 128, 1.0f, cbuf, 512, a,
               784, 0.0f, b, 784);
  g_free (a);
  g_free (b);
  g_free (cbuf);
  gint64 base_kib = proc_status_kib ("VmRSS");

  const Workload *w = find_workload ("w1");
  g_autoptr (PlModel) m = build_model (w, error);
  if (!m)
    return FALSE;
  PlOptimizerConfig oc = { .algorithm = PL_OPTIMIZER_SGD, .lr = 0.01, .momentum = 0.9 };
  g_autoptr (PlOptimizer) opt = pl_optimizer_new (&oc, m, error);
  if (!opt)
    return FALSE;
  TrainCtx c;
  /* one batch: 20 steps are too few to reach subnormal gradients */
  train_ctx_init (&c, m, opt, w->batch, 1);
  train_steps (&c, 20);
  gint64 peak_kib = proc_status_kib ("VmHWM");

  double params = pl_model_get_n_floats (m) * sizeof (float) / 1024.0;
  double state = pl_optimizer_get_state_bytes (opt) / 1024.0;
  double arena = pl_graph_get_arena_bytes (pl_model_get_graph (m)) / 1024.0;
  double need = 2 * params + state + arena;
  result ("memory-w1", threads, "params_kib", "%.0f", params);
  result ("memory-w1", threads, "grads_kib", "%.0f", params);
  result ("memory-w1", threads, "optimizer_kib", "%.0f", state);
  result ("memory-w1", threads, "arena_kib", "%.0f", arena);
  result ("memory-w1", threads, "need_kib", "%.0f", need);
  result ("memory-w1", threads, "fixed_kib", "%" G_GINT64_FORMAT, base_kib);
  result ("memory-w1", threads, "peak_rss_kib", "%" G_GINT64_FORMAT, peak_kib);
  double data = (double) w->batch * (c.in_features * 4 + 4) / 1024.0;
  result ("memory-w1", threads, "data_kib", "%.0f", data);
  result ("memory-w1", threads, "ratio", "%.3f", (peak_kib - base_kib - data) / need);
  train_ctx_clear (&c);
  return TRUE;
}

/* ---- compressed inference: sparse 90% vs dense, int8 vs fp32 (W1 shapes) ---- */

typedef struct {
  PlInferNet *net;
  const float *x;
  float *y;
  int batch;
} InferCtx;

static void
infer_steps (gpointer data, gint64 steps)
{
  InferCtx *c = data;
  for (gint64 s = 0; s < steps; s++)
    pl_infer_net_forward (c->net, c->x, c->batch, c->y);
}

/* Zeroes the @frac smallest |w| of each weight of @m (magnitude pruning). */
static void
prune_magnitude (PlModel *m, double frac)
{
  for (guint i = 0; i < pl_model_get_n_params (m); i++)
    {
      PlParam *p = pl_model_get_param (m, i);
      if (p->kind != PL_PARAM_WEIGHT)
        continue;
      g_autofree float *a = g_new (float, p->numel);
      for (size_t j = 0; j < p->numel; j++)
        a[j] = fabsf (p->data[j]);
      qsort (a, p->numel, sizeof (float), cmp_float_abs);
      size_t k = (size_t) llround (frac * p->numel);
      float thr = k ? a[k - 1] : -1.0f;
      size_t zeroed = 0;
      for (size_t j = 0; j < p->numel; j++)
        if (fabsf (p->data[j]) <= thr && zeroed < k)
          {
            p->data[j] = 0;
            zeroed++;
          }
    }
}

/* W1's parameters in @format ("fp32", "sparse", "int8") at @path; int8 weights
 * per output channel, symmetric, inputs quantized per row at run time. */
static gboolean
write_w1 (PlModel *m, const char *format, const char *path, GError **error)
{
  g_autoptr (PlSafetensorsWriter) w = pl_safetensors_writer_new ();
  for (guint i = 0; i < pl_model_get_n_params (m); i++)
    {
      PlParam *p = pl_model_get_param (m, i);
      gint64 shape[2] = { p->shape[0], p->ndim > 1 ? p->shape[1] : 0 };
      gboolean ok;
      if (p->ndim == 2 && g_str_equal (format, "sparse"))
        ok = pl_sparse_writer_add_weight (w, p->name, p->data, p->shape[0], p->shape[1],
                                          PL_SPARSE_INDEX_DELTA_U8, error);
      else if (p->ndim == 2 && g_str_equal (format, "int8"))
        {
          int rows = p->shape[0], cols = p->shape[1];
          g_autofree float *lo = g_new (float, rows), *hi = g_new (float, rows);
          g_autofree float *sc = g_new (float, rows);
          g_autofree int32_t *zp = g_new (int32_t, rows);
          g_autofree int8_t *zp8 = g_new0 (int8_t, rows);
          g_autofree int8_t *q = g_new (int8_t, p->numel);
          pl_int8_minmax (lo, hi, p->data, rows, cols);
          for (int o = 0; o < rows; o++)
            pl_int8_choose_qparams (lo[o], hi[o], PL_INT8_SYMMETRIC, &sc[o], &zp[o]);
          pl_int8_quantize (q, p->data, rows, cols, sc, zp, PL_INT8_SYMMETRIC);
          g_autofree char *sn = g_strconcat (p->name, ".scale", NULL);
          g_autofree char *zn = g_strconcat (p->name, ".zero_point", NULL);
          gint64 ch = rows;
          ok = pl_safetensors_writer_add (w, p->name, PL_DTYPE_I8, shape, 2, q, p->numel, error)
               && pl_safetensors_writer_add (w, sn, PL_DTYPE_F32, &ch, 1, sc, rows * 4, error)
               && pl_safetensors_writer_add (w, zn, PL_DTYPE_I8, &ch, 1, zp8, rows, error);
        }
      else
        ok = pl_safetensors_writer_add (w, p->name, PL_DTYPE_F32, shape, p->ndim, p->data,
                                        p->numel * sizeof (float), error);
      if (!ok)
        return FALSE;
    }
  pl_safetensors_writer_set_metadata (w, "paramlab.format", format);
  pl_safetensors_writer_set_metadata (w, "paramlab.architecture", "mlp");
  pl_safetensors_writer_set_metadata (w, "paramlab.experiment",
                                      "[model]\narchitecture = mlp\nhidden = 512,512\n"
                                      "activation = relu\n");
  return pl_safetensors_writer_write (w, path, error);
}

static gint64
file_size (const char *path)
{
  GStatBuf sb;
  return g_stat (path, &sb) == 0 ? (gint64) sb.st_size : -1;
}

/* compressed-w1: dense W1 as fp32 and int8, W1 pruned to 90% (magnitude, per
 * layer) as fp32 and sparse; each file loaded with pl_infer_net_load and timed at
 * batch 1 and 128 (alternating, same process); sizes on disk. */
static gboolean
bench_compressed_w1 (int threads, GError **error)
{
  g_autoptr (PlModel) m = build_model (find_workload ("w1"), error);
  if (!m)
    return FALSE;
  g_autofree char *dir = g_dir_make_tmp ("paramlab-bench-XXXXXX", error);
  if (!dir)
    return FALSE;
  static const char *const forms[] = { "fp32", "int8", "fp32-pruned", "sparse" };
  char *paths[4];
  gboolean ok = TRUE;
  for (int f = 0; f < 4; f++)
    {
      paths[f] = g_strdup_printf ("%s/w1-%s.safetensors", dir, forms[f]);
      if (f == 2)
        prune_magnitude (m, 0.9);
      ok = ok && write_w1 (m, f == 2 ? "fp32" : forms[f], paths[f], error);
    }
  PlInferNet *nets[4] = { 0 };
  for (int f = 0; ok && f < 4; f++)
    ok = (nets[f] = pl_infer_net_load (paths[f], error)) != NULL;
  if (ok)
    {
      gint64 size[4];
      for (int f = 0; f < 4; f++)
        size[f] = file_size (paths[f]);
      result ("compressed-w1", threads, "fp32_bytes", "%" G_GINT64_FORMAT, size[0]);
      result ("compressed-w1", threads, "int8_bytes", "%" G_GINT64_FORMAT, size[1]);
      result ("compressed-w1", threads, "sparse_bytes", "%" G_GINT64_FORMAT, size[3]);
      result ("compressed-w1", threads, "int8_size_ratio", "%.4f", (double) size[1] / size[0]);
      result ("compressed-w1", threads, "sparse_size_ratio", "%.4f",
              (double) size[3] / size[2]);
      result ("compressed-w1", threads, "sparse_density", "%.4f",
              pl_infer_net_get_density (nets[3]));
      result ("compressed-w1", threads, "int8_kernel", "%s",
              pl_int8_kernel_name (pl_int8_kernel_best ()));
      /* per pruned weight: the batch-1 sparse kernel and its tiles' zero padding */
      for (guint i = 0; i < pl_model_get_n_params (m); i++)
        {
          PlParam *p = pl_model_get_param (m, i);
          if (p->ndim != 2)
            continue;
          g_autoptr (PlCsr) csr = pl_csr_new_from_dense (p->data, p->shape[0], p->shape[1]);
          g_autofree char *k1 = g_strdup_printf ("sparse_b1_kernel_%s", p->name);
          g_autofree char *k2 = g_strdup_printf ("sparse_tile_padding_%s", p->name);
          result ("compressed-w1", threads, k1, "%s",
                  pl_csr_kernel_name (pl_csr_kernel_best (csr)));
          result ("compressed-w1", threads, k2, "%.2f", pl_csr_tile_padding (csr));
        }
      static const int batches[] = { 1, 128 };
      PlRng r;
      pl_rng_init (&r, 9);
      g_autofree float *x = g_new (float, 128 * 784);
      g_autofree float *y = g_new (float, 128 * 10);
      for (int i = 0; i < 128 * 784; i++)
        x[i] = (float) pl_rng_normal (&r);
      for (guint b = 0; b < G_N_ELEMENTS (batches); b++)
        {
          double us[4];
          for (int f = 0; f < 4; f++)
            {
              InferCtx c = { nets[f], x, y, batches[b] };
              double cpu;
              double wall = measure (infer_steps, &c, NULL, &cpu);
              us[f] = cpu * 1e6;
              g_autofree char *key = g_strdup_printf ("%s_b%d_cpu_us", forms[f], batches[b]);
              result ("compressed-w1", threads, key, "%.2f", us[f]);
              /* with 2 OpenBLAS threads the dense side's CPU time adds both threads */
              g_autofree char *kw = g_strdup_printf ("%s_b%d_wall_us", forms[f], batches[b]);
              result ("compressed-w1", threads, kw, "%.2f", wall * 1e6);
            }
          g_autofree char *k1 = g_strdup_printf ("sparse_vs_dense_b%d", batches[b]);
          g_autofree char *k2 = g_strdup_printf ("int8_vs_fp32_b%d", batches[b]);
          result ("compressed-w1", threads, k1, "%.2f", us[2] / us[3]);
          result ("compressed-w1", threads, k2, "%.2f", us[0] / us[1]);
        }
    }
  for (int f = 0; f < 4; f++)
    {
      pl_infer_net_free (nets[f]);
      if (paths[f])
        g_remove (paths[f]);
      g_free (paths[f]);
    }
  g_rmdir (dir);
  return ok;
}

int
main (int argc, char **argv)
{
  g_autofree char *threads_opt = NULL;
  gboolean list = FALSE;
  GOptionEntry entries[] = {
    { "threads", 't', 0, G_OPTION_ARG_STRING, &threads_opt,
      "OpenBLAS thread counts to try, comma-separated (default 1,2)", "LIST" },
    { "min-time", 0, 0, G_OPTION_ARG_DOUBLE, &opt_min_time,
      "seconds per repetition and for the warm-up (default 0.25)", "S" },
    { "reps", 0, 0, G_OPTION_ARG_INT, &opt_reps, "timed repetitions (default 7)", "N" },
    { "list", 0, 0, G_OPTION_ARG_NONE, &list, "list the workloads", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("WORKLOAD... - Paramlab benchmarks");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      g_printerr ("paramlab-bench: %s\n", error->message);
      return 2;
    }
  if (list)
    {
      for (guint i = 0; i < G_N_ELEMENTS (workloads); i++)
        printf ("%s\t%s\n", workloads[i].name, workloads[i].what);
      printf ("gemm-w1\tcblas_sgemm alone over W1's per-step products\n");
      printf ("memory-w1\tpeak RSS while training W1 (run alone)\n");
      printf ("determinism\ttwo trainings of each workload end bitwise equal\n");
      printf ("compressed-w1\tinference: sparse 90%% vs dense, int8 vs fp32, sizes\n");
      return 0;
    }
  if (opt_reps < 1 || opt_min_time <= 0)
    {
      g_printerr ("paramlab-bench: --reps must be >= 1 and --min-time > 0\n");
      return 2;
    }
  g_auto (GStrv) tlist = g_strsplit (threads_opt ? threads_opt : "1,2", ",", -1);
  GPtrArray *names = g_ptr_array_new ();
  for (int i = 1; i < argc; i++)
    {
      if (g_str_equal (argv[i], "all"))
        {
          for (guint k = 0; k < G_N_ELEMENTS (workloads); k++)
            g_ptr_array_add (names, (gpointer) workloads[k].name);
          g_ptr_array_add (names, "gemm-w1");
        }
      else if (find_workload (argv[i]) || g_str_equal (argv[i], "gemm-w1")
               || g_str_equal (argv[i], "memory-w1") || g_str_equal (argv[i], "determinism")
               || g_str_equal (argv[i], "compressed-w1"))
        g_ptr_array_add (names, argv[i]);
      else
        {
          g_printerr ("paramlab-bench: unknown workload \"%s\" (see --list)\n", argv[i]);
          return 2;
        }
    }
  if (names->len == 0)
    {
      g_printerr ("paramlab-bench: name at least one workload (see --list)\n");
      return 2;
    }
  printf ("# %s\n", openblas_get_config ());
  int status = 0;
  for (guint i = 0; i < names->len; i++)
    for (int t = 0; tlist[t]; t++)
      {
        int threads = atoi (tlist[t]);
        if (threads < 1)
          {
            g_printerr ("paramlab-bench: bad thread count \"%s\"\n", tlist[t]);
            return 2;
          }
        openblas_set_num_threads (threads);
        const char *name = g_ptr_array_index (names, i);
        gboolean ok = TRUE;
        /* a peak is a process's high-water mark: one measurement per process */
        if (t > 0 && g_str_equal (name, "memory-w1"))
          break;
        if (g_str_equal (name, "gemm-w1"))
          bench_gemm_w1 (threads);
        else if (g_str_equal (name, "memory-w1"))
          ok = bench_memory_w1 (threads, &error);
        else if (g_str_equal (name, "determinism"))
          ok = bench_determinism (threads, &error);
        else if (g_str_equal (name, "compressed-w1"))
          ok = bench_compressed_w1 (threads, &error);
        else
          ok = bench_training (find_workload (name), threads, &error);
        if (!ok)
          {
            g_printerr ("paramlab-bench: %s\n", error->message);
            g_clear_error (&error);
            status = 1;
          }
      }
  g_ptr_array_unref (names);
  return status;
}
