/* Compressed inference: the CSR kernels (pl-sparse.h) against the dense product,
 * the integer kernels (pl-int8-gemm.h) against a scalar int32 reference, the
 * sparse export format, and PlInferNet (pl-infer.h) on fp32, sparse and int8
 * files against the training model, plus bad files. No timing. */
#include <string.h>

#include "paramlab.h"
#include "pl-test-util.h"

/* ---- sparse ---------------------------------------------------------------- */

/* w [rows, cols] with about @density non-zeros; rows listed in @empty (-1 ends)
 * are all zero */
static float *
random_masked (GRand *r, int rows, int cols, double density, const int *empty)
{
  float *w = g_new0 (float, (gsize) MAX (rows * cols, 1));
  for (int o = 0; o < rows; o++)
    {
      gboolean skip = FALSE;
      for (int e = 0; empty && empty[e] >= 0; e++)
        skip |= empty[e] == o;
      for (int k = 0; !skip && k < cols; k++)
        if (g_rand_double (r) < density)
          w[(gsize) o * cols + k] = (float) g_rand_double_range (r, -1, 1);
    }
  return w;
}

/* y = x W^T + b in double; bound [n, rows] (nullable) = a bound on the rounding
 * error of any float summation order of the row's terms, with or without FMA:
 * (terms + 8) * 2^-24 * (|b| + sum |w x|) (the classical bound of recursive
 * summation, gamma_n times the sum of magnitudes, with slack for the final
 * reductions of the vector kernels). */
static void
dense_ref (double *y, double *bound, const float *x, const float *w, const float *b, int n,
           int rows, int cols)
{
  for (int i = 0; i < n; i++)
    for (int o = 0; o < rows; o++)
      {
        double s = b ? b[o] : 0, mag = b ? fabs (b[o]) : 0;
        int terms = 1;
        for (int k = 0; k < cols; k++)
          {
            double t = (double) x[(gsize) i * cols + k] * w[(gsize) o * cols + k];
            s += t;
            mag += fabs (t);
            terms += w[(gsize) o * cols + k] != 0.0f;
          }
        y[(gsize) i * rows + o] = s;
        if (bound)
          bound[(gsize) i * rows + o] = (terms + 8) * ldexp (1.0, -24) * mag;
      }
}

typedef struct {
  int rows, cols;
  double density;
  int empty[4];        /* all-zero rows, -1 ends */
  int full[4];         /* rows with every column non-zero */
  int one_block[4];    /* rows whose non-zeros are all 32 columns of [32, 64) */
} SparseCase;

#define NONE { -1 }
static const SparseCase sparse_cases[] = {
  { 17, 33, 0.1, { 0, 5, 16, -1 }, NONE, NONE },    /* empty first and last rows */
  { 64, 784, 0.1, { 3, -1 }, NONE, NONE },          /* W1's first layer shape, narrowed */
  { 10, 40, 0.0, NONE, NONE, NONE },                /* all zero */
  { 9, 24, 1.0, { 4, -1 }, NONE, NONE },            /* dense but one row */
  { 5, 300, 0.02, NONE, NONE, NONE },               /* long gaps */
  { 3, 70000, 0.001, { 1, -1 }, NONE, NONE },       /* columns beyond u16: int32 indices */
  /* tiles: rows not a multiple of 16, columns not a multiple of 32, full rows, a
   * row with all its non-zeros in one block (a 32-step tile) */
  { 37, 100, 0.1, { 2, 36, -1 }, { 0, 17, -1 }, { 5, 33, -1 } },
  { 16, 64, 0.1, NONE, { 15, -1 }, { 0, -1 } },     /* exact multiples */
  { 1, 1, 1.0, NONE, NONE, NONE },
  { 33, 31, 0.3, { 32, -1 }, { 1, -1 }, NONE },
  { 20, 70, 0.05, { 0, 1, 2, -1 }, NONE, { 19, -1 } },
  { 48, 512, 0.1, NONE, NONE, NONE },               /* W1's second layer, narrowed */
};

static gboolean
listed (const int *list, int o)
{
  for (int e = 0; e < 4 && list[e] >= 0; e++)
    if (list[e] == o)
      return TRUE;
  return FALSE;
}

/* the weight of case @sc */
static float *
case_matrix (GRand *r, const SparseCase *sc)
{
  float *w = random_masked (r, sc->rows, sc->cols, sc->density, sc->empty);
  for (int o = 0; o < sc->rows; o++)
    for (int k = 0; k < sc->cols; k++)
      {
        float *v = &w[(gsize) o * sc->cols + k];
        if (listed (sc->full, o) || (listed (sc->one_block, o) && k >= 32 && k < 64))
          *v = (float) g_rand_double_range (r, 0.25, 1) * (g_rand_boolean (r) ? 1 : -1);
        else if (listed (sc->one_block, o))
          *v = 0;
      }
  return w;
}

/* every SpMV kernel the CPU has: the AVX-512 tiles also where they would not be
 * chosen (after the other kernels ran on @m as built) */
static int
spmv_kernels (PlCsr *m, PlCsrKernel *out)
{
  int n = 0;
  for (int k = PL_CSR_KERNEL_C; k <= PL_CSR_KERNEL_AVX512; k++)
    {
      if (k == PL_CSR_KERNEL_AVX512)
        pl_csr_build_tiles (m);
      if (pl_csr_kernel_supported (m, k))
        out[n++] = k;
      else
        g_test_message ("SpMV kernel %s: not on this CPU, not tested",
                        pl_csr_kernel_name (k));
    }
  return n;
}

static void
test_sparse_equals_dense (void)
{
  static const int batches[] = { 1, 2, 3, 4, 63, 64, 65, 130 };
  g_autoptr (GRand) r = g_rand_new_with_seed (7);
  for (guint c = 0; c < G_N_ELEMENTS (sparse_cases); c++)
    {
      const SparseCase *sc = &sparse_cases[c];
      g_autofree float *w = case_matrix (r, sc);
      g_autofree float *b = g_new (float, sc->rows);
      for (int o = 0; o < sc->rows; o++)
        b[o] = (float) g_rand_double_range (r, -1, 1);
      g_autoptr (PlCsr) m = pl_csr_new_from_dense (w, sc->rows, sc->cols);
      g_assert_nonnull (m);
      g_assert_true ((m->idx16 != NULL) == (sc->cols <= 65536));
      /* on a CPU with AVX-512F the tiles are chosen by themselves for W1's
       * shapes and density */
      if (c == 1 || sc->rows == 48)
        {
          g_autoptr (PlCsr) probe = pl_csr_new_from_dense (w, sc->rows, sc->cols);
          if (pl_csr_build_tiles (probe))
            g_assert_cmpint (pl_csr_kernel_best (m), ==, PL_CSR_KERNEL_AVX512);
        }
      /* round trip to dense is exact */
      g_autofree float *back = g_new (float, (gsize) sc->rows * sc->cols);
      pl_csr_to_dense (m, back);
      g_assert_cmpmem (back, (gsize) sc->rows * sc->cols * 4, w, (gsize) sc->rows * sc->cols * 4);
      for (int pass = 0; pass < 2; pass++)
        for (guint bi = 0; bi < G_N_ELEMENTS (batches); bi++)
          {
            int n = batches[bi];
            if (sc->cols > 10000 && n > 4)
              continue;
            g_autofree float *x = g_new (float, (gsize) n * sc->cols);
            for (gsize i = 0; i < (gsize) n * sc->cols; i++)
              x[i] = (float) g_rand_double_range (r, -2, 2);
            g_autofree double *ref = g_new (double, (gsize) n * sc->rows);
            g_autofree double *refnb = g_new (double, (gsize) n * sc->rows);
            g_autofree double *bound = g_new (double, (gsize) n * sc->rows);
            dense_ref (ref, bound, x, w, b, n, sc->rows, sc->cols);
            dense_ref (refnb, NULL, x, w, NULL, n, sc->rows, sc->cols);
            g_autofree float *y = g_new (float, (gsize) n * sc->rows);
            /* pass 0: the paths of pl_csr_linear_forward_path (with the kernels
             * chosen for m); pass 1: every SpMV kernel, with and without b */
            PlCsrKernel kernels[3];
            int n_k = pass ? spmv_kernels (m, kernels) : 0;
            int n_runs = pass ? 2 * n_k : 5;
            for (int run = 0; run < n_runs; run++)
              {
                gboolean no_b;
                memset (y, 0xff, (gsize) n * sc->rows * 4);  /* NaN: every output must be written */
                if (pass)
                  {
                    no_b = run & 1;
                    pl_csr_spmv (y, x, m, no_b ? NULL : b, n, kernels[run / 2]);
                  }
                else if (run < 4)
                  {
                    no_b = run == 3;
                    pl_csr_linear_forward_path (y, x, m, no_b ? NULL : b, n, run & 1, run & 2);
                  }
                else
                  {
                    no_b = FALSE;
                    pl_csr_linear_forward (y, x, m, b, n);
                  }
                for (gsize i = 0; i < (gsize) n * sc->rows; i++)
                  {
                    double want = no_b ? refnb[i] : ref[i];
                    if (!(fabs (y[i] - want) <= bound[i]))
                      g_error ("case %u n %d %s %s run %d: y[%zu] = %.9g, dense %.9g (bound %.3g)",
                               c, n, pass ? "kernel" : "path",
                               pass ? pl_csr_kernel_name (kernels[run / 2]) : "-", run,
                               (size_t) i, y[i], want, bound[i]);
                  }
              }
          }
    }
}

/* A NaN input reaches every row that has a non-zero at its column and an inf
 * every such row as inf or NaN, with every kernel; the tiles may spread them to
 * other rows of the same 16-row group that have a non-zero in the same 32-column
 * block, or to all its rows when the column is the block's first (0 * NaN or
 * 0 * inf in the padding); nothing reaches a row with no non-zero in that block
 * from another column. (Dense sgemv turns every output into NaN.) */
/* The tiles' steps: the most non-zeros of a row of the group in the block. */
static void
test_sparse_tile_steps (void)
{
  /* 20 x 70: rows 0..15 hold r % 5 non-zeros in block 0 (4 steps), row 3 one
   * in block 1 (1 step); row 16 five in block 2, 6 columns wide (5 steps), row
   * 19 one in block 0 (1 step): 11 steps for 30 + 1 + 5 + 1 non-zeros */
  const int rows = 20, cols = 70;
  g_autofree float *w = g_new0 (float, rows * cols);
  for (int r = 0; r < 16; r++)
    for (int k = 0; k < r % 5; k++)
      w[r * cols + 7 * k] = 1.0f + k;
  w[3 * cols + 40] = -1;
  for (int k = 64; k < 69; k++)
    w[16 * cols + k] = 0.5f;
  w[19 * cols + 31] = 2;
  g_autoptr (PlCsr) m = pl_csr_new_from_dense (w, rows, cols);
  if (!pl_csr_build_tiles (m))
    {
      g_test_skip ("no AVX-512F");
      return;
    }
  g_assert_cmpfloat_with_epsilon (pl_csr_tile_padding (m), 11.0 * 16 / 37, 1e-12);
}

static void
test_sparse_non_finite (void)
{
  g_autoptr (GRand) r = g_rand_new_with_seed (5);
  const int rows = 45, cols = 150, k_nan = 37, k_inf = 100;
  g_autofree float *w = random_masked (r, rows, cols, 0.15, NULL);
  g_autofree float *b = g_new (float, rows);
  g_autofree float *x = g_new (float, cols);
  for (int o = 0; o < rows; o++)
    b[o] = (float) g_rand_double_range (r, -1, 1);
  for (int k = 0; k < cols; k++)
    x[k] = (float) g_rand_double_range (r, -2, 2);
  /* every third row has nothing in the blocks of the two columns */
  for (int o = 0; o < rows; o += 3)
    for (int k = 0; k < cols; k++)
      if (k / 32 == k_nan / 32 || k / 32 == k_inf / 32)
        w[(gsize) o * cols + k] = 0;
  x[k_nan] = NAN;
  x[k_inf] = INFINITY;
  g_autoptr (PlCsr) m = pl_csr_new_from_dense (w, rows, cols);
  PlCsrKernel kernels[3];
  int n_k = spmv_kernels (m, kernels);
  float y[45];
  for (int i = 0; i < n_k; i++)
    {
      pl_csr_spmv (y, x, m, b, 1, kernels[i]);
      int hit_nan = 0, hit_inf = 0, clean = 0;
      for (int o = 0; o < rows; o++)
        {
          const float *wr = w + (gsize) o * cols;
          gboolean in_block = FALSE;
          for (int k = 0; k < cols; k++)
            in_block |= wr[k] != 0 && (k / 32 == k_nan / 32 || k / 32 == k_inf / 32);
          if (wr[k_nan] != 0)
            {
              g_assert_true (isnan (y[o]));
              hit_nan++;
            }
          else if (wr[k_inf] != 0)
            {
              g_assert_false (isfinite (y[o]));
              hit_inf++;
            }
          else if (!in_block)
            {
              g_assert_true (isfinite (y[o]));
              clean++;
            }
        }
      g_assert_cmpint (hit_nan, >, 0);
      g_assert_cmpint (hit_inf, >, 0);
      g_assert_cmpint (clean, >, 0);
    }
}

static PlSafetensors *
written (PlSafetensorsWriter *w)
{
  g_autofree char *path = g_build_filename (pl_test_tmpdir (), "sparse-part.safetensors", NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (pl_safetensors_writer_write (w, path, &error));
  PlSafetensors *st = pl_safetensors_load (path, &error);
  g_assert_no_error (error);
  return st;
}

static void
test_sparse_format_round_trip (void)
{
  g_autoptr (GRand) r = g_rand_new_with_seed (11);
  for (int enc = PL_SPARSE_INDEX_DELTA_U8; enc <= PL_SPARSE_INDEX_I32; enc++)
    for (guint c = 0; c < G_N_ELEMENTS (sparse_cases); c++)
      {
        const SparseCase *sc = &sparse_cases[c];
        g_autofree float *w = case_matrix (r, sc);
        /* a gap of more than 255 columns inside a row and at its start */
        if (sc->cols > 600)
          {
            memset (w, 0, sizeof (float) * sc->cols);
            w[300] = 1.5f;
            w[sc->cols - 1] = -2.5f;
          }
        g_autoptr (PlSafetensorsWriter) wr = pl_safetensors_writer_new ();
        g_autoptr (GError) error = NULL;
        g_assert_true (pl_sparse_writer_add_weight (wr, "l.weight", w, sc->rows, sc->cols, enc,
                                                    &error));
        g_autoptr (PlSafetensors) st = written (wr);
        const PlTensorInfo *ti = pl_safetensors_lookup (st, "l.weight.indices");
        g_assert_nonnull (ti);
        g_assert_cmpint (ti->dtype, ==, enc == PL_SPARSE_INDEX_DELTA_U8 ? PL_DTYPE_U8 : PL_DTYPE_I32);
        g_autoptr (PlCsr) m = pl_sparse_read_weight (st, "mem", "l.weight", &error);
        g_assert_no_error (error);
        g_autofree float *back = g_new (float, (gsize) sc->rows * sc->cols);
        pl_csr_to_dense (m, back);
        g_assert_cmpmem (back, (gsize) sc->rows * sc->cols * 4, w, (gsize) sc->rows * sc->cols * 4);
      }
}

/* a sparse file whose parts are given directly */
static PlSafetensors *
sparse_file (const int32_t *indptr, int rows, const uint8_t *idx, const float *vals, int nnz,
             const char *shape)
{
  g_autoptr (PlSafetensorsWriter) wr = pl_safetensors_writer_new ();
  gint64 n = nnz, np = rows + 1;
  g_assert_true (pl_safetensors_writer_add (wr, "l.weight.values", PL_DTYPE_F32, &n, 1, vals,
                                            nnz * 4, NULL));
  g_assert_true (pl_safetensors_writer_add (wr, "l.weight.indices", PL_DTYPE_U8, &n, 1, idx,
                                            nnz, NULL));
  g_assert_true (pl_safetensors_writer_add (wr, "l.weight.indptr", PL_DTYPE_I32, &np, 1, indptr,
                                            np * 4, NULL));
  if (shape)
    pl_safetensors_writer_set_metadata (wr, "paramlab.sparse.l.weight.shape", shape);
  return written (wr);
}

static void
test_sparse_bad_parts (void)
{
  static const float vals[] = { 1, 2, 3 };
  static const struct {
    int32_t indptr[3];
    uint8_t idx[3];
    const char *shape;
    const char *expect;
  } cases[] = {
    { { 0, 2, 3 }, { 1, 2, 0 }, "2,8", NULL },                   /* valid */
    { { 0, 2, 3 }, { 1, 2, 0 }, NULL, "paramlab.sparse.l.weight.shape" },
    { { 0, 2, 3 }, { 1, 2, 0 }, "2,x", "expected \"rows,cols\"" },
    { { 0, 3, 2 }, { 1, 2, 0 }, "2,8", "l.weight.indptr" },       /* decreasing */
    { { 1, 2, 3 }, { 1, 2, 0 }, "2,8", "l.weight.indptr" },       /* not from 0 */
    { { 0, 2, 3 }, { 5, 3, 0 }, "2,8", "l.weight.indices" },      /* column 8 of 8 */
    { { 0, 2, 3 }, { 1, 2, 0 }, "3,8", "row pointers" },          /* indptr length */
  };
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autoptr (PlSafetensors) st = sparse_file (cases[c].indptr, 2, cases[c].idx, vals, 3,
                                                  cases[c].shape);
      g_autoptr (GError) error = NULL;
      g_autoptr (PlCsr) m = pl_sparse_read_weight (st, "model.safetensors", "l.weight", &error);
      if (!cases[c].expect)
        {
          g_assert_no_error (error);
          g_assert_cmpint (m->nnz, ==, 3);
          continue;
        }
      g_assert_null (m);
      g_assert_nonnull (error);
      if (!strstr (error->message, cases[c].expect) || !strstr (error->message, "model.safetensors"))
        g_error ("case %u: \"%s\" lacks \"%s\" or the file name", c, error->message,
                 cases[c].expect);
    }
}

/* ---- int8 ------------------------------------------------------------------ */

static void
test_int8_gemm_exact (void)
{
  static const int ns[] = { 1, 2, 3, 5 };
  static const int rows_list[] = { 1, 3, 4, 5, 17 };
  static const int kps[] = { 64, 128, 832 };
  g_autoptr (GRand) r = g_rand_new_with_seed (5);
  int tested = 0;
  for (int k = PL_INT8_KERNEL_C; k <= PL_INT8_KERNEL_VNNI; k++)
    {
      if (!pl_int8_kernel_supported (k))
        {
          g_test_message ("kernel %s: not supported by this CPU, not tested",
                          pl_int8_kernel_name (k));
          continue;
        }
      tested++;
      for (guint a = 0; a < G_N_ELEMENTS (ns); a++)
        for (guint b = 0; b < G_N_ELEMENTS (rows_list); b++)
          for (guint c = 0; c < G_N_ELEMENTS (kps); c++)
            {
              int n = ns[a], rows = rows_list[b], kp = kps[c];
              g_autofree uint8_t *x = g_new (uint8_t, (gsize) n * kp);
              g_autofree int8_t *w = g_new (int8_t, (gsize) rows * kp);
              /* the extremes first: 255 * -128 products in every lane */
              for (gsize i = 0; i < (gsize) n * kp; i++)
                x[i] = c == 0 && a == 0 ? 255 : (uint8_t) g_rand_int_range (r, 0, 256);
              for (gsize i = 0; i < (gsize) rows * kp; i++)
                w[i] = c == 0 && a == 0 ? -128 : (int8_t) g_rand_int_range (r, -128, 128);
              g_autofree int32_t *acc = g_new (int32_t, (gsize) n * rows);
              pl_int8_gemm_u8s8 (k, acc, x, w, n, rows, kp);
              for (int i = 0; i < n; i++)
                for (int o = 0; o < rows; o++)
                  {
                    int32_t s = 0;
                    for (int j = 0; j < kp; j++)
                      s += (int32_t) x[(gsize) i * kp + j] * w[(gsize) o * kp + j];
                    if (acc[(gsize) i * rows + o] != s)
                      g_error ("kernel %s n %d rows %d kp %d: acc[%d,%d] = %d, reference %d",
                               pl_int8_kernel_name (k), n, rows, kp, i, o,
                               acc[(gsize) i * rows + o], s);
                  }
            }
    }
  g_assert_cmpint (tested, >=, 1);
}

/* y of the layer against the dequantized product in double: the input rounded as
 * pl_int8_quantize () does */
static void
test_int8_linear (void)
{
  g_autoptr (GRand) r = g_rand_new_with_seed (9);
  const int rows = 13, cols = 70, n = 6;
  g_autofree float *w = random_masked (r, rows, cols, 0.7, NULL);
  g_autofree float *bias = g_new (float, rows);
  g_autofree float *x = g_new (float, n * cols);
  for (int i = 0; i < rows; i++)
    bias[i] = (float) g_rand_double_range (r, -1, 1);
  for (int i = 0; i < n * cols; i++)
    x[i] = (float) g_rand_double_range (r, -3, 3);
  x[5] = NAN;  /* clamps to qmin, as pl_int8_quantize does */
  for (int scheme = PL_INT8_SYMMETRIC; scheme <= PL_INT8_AFFINE; scheme++)
    for (int fixed = 0; fixed < 2; fixed++)
      {
        /* per-channel weights of @scheme; input range fixed to [-2, 2.5] or dynamic */
        g_autofree float *lo = g_new (float, rows), *hi = g_new (float, rows);
        g_autofree float *ws = g_new (float, rows);
        g_autofree int32_t *wz = g_new (int32_t, rows);
        g_autofree int8_t *q = g_new (int8_t, rows * cols);
        pl_int8_minmax (lo, hi, w, rows, cols);
        for (int o = 0; o < rows; o++)
          pl_int8_choose_qparams (lo[o], hi[o], scheme, &ws[o], &wz[o]);
        pl_int8_quantize (q, w, rows, cols, ws, wz, scheme);
        float xs = 0;
        int32_t xz = 0;
        if (fixed)
          pl_int8_choose_qparams (-2.0f, 2.5f, scheme, &xs, &xz);
        g_autoptr (PlInt8Linear) l = pl_int8_linear_new (q, rows, cols, ws, wz, rows, bias, xs,
                                                         xz, scheme);
        g_autofree float *wd = g_new (float, rows * cols);
        pl_int8_linear_dequantize (l, wd);
        for (int k = PL_INT8_KERNEL_C; k <= PL_INT8_KERNEL_VNNI; k++)
          {
            if (!pl_int8_kernel_supported (k))
              continue;
            g_autofree float *y = g_new (float, n * rows);
            pl_int8_linear_forward (l, k, y, x, n);
            for (int i = 0; i < n; i++)
              {
                float s = xs;
                int32_t z = xz;
                PlInt8Scheme xscheme = scheme;
                if (!fixed)
                  {
                    float mn, mx;
                    pl_int8_minmax (&mn, &mx, x + i * cols, 1, cols);
                    pl_int8_choose_qparams (mn, mx, PL_INT8_SYMMETRIC, &s, &z);
                    xscheme = PL_INT8_SYMMETRIC;
                  }
                int8_t xq[70];
                pl_int8_quantize (xq, x + i * cols, 1, cols, &s, &z, xscheme);
                for (int o = 0; o < rows; o++)
                  {
                    double ref = bias[o];
                    for (int j = 0; j < cols; j++)
                      ref += (double) s * (xq[j] - z) * wd[o * cols + j];
                    if (!(fabs (y[i * rows + o] - ref) <= 1e-4 * (1 + fabs (ref))))
                      g_error ("scheme %d fixed %d kernel %s: y[%d,%d] = %.9g, reference %.9g",
                               scheme, fixed, pl_int8_kernel_name (k), i, o, y[i * rows + o],
                               ref);
                  }
              }
          }
      }
}

/* ---- PlInferNet on exported files ------------------------------------------ */

static PlModel *
trained_like_mlp (void)
{
  PlModelSpec s = { 0 };
  s.in_features = 30;
  s.sample_shape[0] = 30;
  s.sample_shape[1] = s.sample_shape[2] = 1;
  s.n_classes = 7;
  s.max_batch = 70;
  s.seed = 3;
  s.activation = PL_ACT_TANH;
  static const int hidden[] = { 40, 24 };
  g_autoptr (GError) error = NULL;
  PlModel *m = pl_model_new_mlp (&s, hidden, 2, &error);
  g_assert_no_error (error);
  pl_model_init_default (m, 3);
  /* 80% of each weight zeroed at random */
  g_autoptr (GRand) r = g_rand_new_with_seed (4);
  for (guint i = 0; i < pl_model_get_n_params (m); i++)
    {
      PlParam *p = pl_model_get_param (m, i);
      if (p->kind == PL_PARAM_WEIGHT)
        for (size_t j = 0; j < p->numel; j++)
          if (g_rand_double (r) < 0.8)
            p->data[j] = 0;
    }
  return m;
}

static const char *experiment_text = "[model]\narchitecture = mlp\nactivation = tanh\n";

/* fp32, sparse and int8 files of @m; paths in out[3] (transfer full) */
static void
write_forms (PlModel *m, char **out)
{
  g_autoptr (GError) error = NULL;
  const char *dir = pl_test_tmpdir ();
  g_autoptr (PlSafetensorsWriter) f = pl_safetensors_writer_new ();
  g_autoptr (PlSafetensorsWriter) s = pl_safetensors_writer_new ();
  g_autoptr (PlSafetensorsWriter) q = pl_safetensors_writer_new ();
  for (guint i = 0; i < pl_model_get_n_params (m); i++)
    {
      PlParam *p = pl_model_get_param (m, i);
      gint64 shape[2] = { p->shape[0], p->ndim > 1 ? p->shape[1] : 0 };
      g_assert_true (pl_safetensors_writer_add (f, p->name, PL_DTYPE_F32, shape, p->ndim,
                                                p->data, p->numel * 4, &error));
      if (p->ndim != 2)
        {
          g_assert_true (pl_safetensors_writer_add (s, p->name, PL_DTYPE_F32, shape, 1, p->data,
                                                    p->numel * 4, &error));
          g_assert_true (pl_safetensors_writer_add (q, p->name, PL_DTYPE_F32, shape, 1, p->data,
                                                    p->numel * 4, &error));
          continue;
        }
      g_assert_true (pl_sparse_writer_add_weight (s, p->name, p->data, p->shape[0], p->shape[1],
                                                  PL_SPARSE_INDEX_DELTA_U8, &error));
      int rows = p->shape[0];
      g_autofree float *lo = g_new (float, rows), *hi = g_new (float, rows);
      g_autofree float *sc = g_new (float, rows);
      g_autofree int32_t *zp = g_new (int32_t, rows);
      g_autofree int8_t *zp8 = g_new (int8_t, rows);
      g_autofree int8_t *qw = g_new (int8_t, p->numel);
      pl_int8_minmax (lo, hi, p->data, rows, p->numel / rows);
      for (int o = 0; o < rows; o++)
        {
          pl_int8_choose_qparams (lo[o], hi[o], PL_INT8_SYMMETRIC, &sc[o], &zp[o]);
          zp8[o] = (int8_t) zp[o];
        }
      pl_int8_quantize (qw, p->data, rows, p->numel / rows, sc, zp, PL_INT8_SYMMETRIC);
      g_assert_true (pl_safetensors_writer_add (q, p->name, PL_DTYPE_I8, shape, 2, qw,
                                                p->numel, &error));
      g_autofree char *sn = g_strconcat (p->name, ".scale", NULL);
      g_autofree char *zn = g_strconcat (p->name, ".zero_point", NULL);
      gint64 ch = rows;
      g_assert_true (pl_safetensors_writer_add (q, sn, PL_DTYPE_F32, &ch, 1, sc, rows * 4, &error));
      g_assert_true (pl_safetensors_writer_add (q, zn, PL_DTYPE_I8, &ch, 1, zp8, rows, &error));
    }
  PlSafetensorsWriter *ws[3] = { f, s, q };
  static const char *const fmt[3] = { "fp32", "sparse", "int8" };
  for (int i = 0; i < 3; i++)
    {
      pl_safetensors_writer_set_metadata (ws[i], "paramlab.format", fmt[i]);
      pl_safetensors_writer_set_metadata (ws[i], "paramlab.architecture", "mlp");
      pl_safetensors_writer_set_metadata (ws[i], "paramlab.experiment", experiment_text);
      g_autofree char *leaf = g_strdup_printf ("net-%s.safetensors", fmt[i]);
      out[i] = g_build_filename (dir, leaf, NULL);
      g_assert_true (pl_safetensors_writer_write (ws[i], out[i], &error));
      g_assert_no_error (error);
    }
}

static void
test_infer_formats (void)
{
  g_autoptr (PlModel) m = trained_like_mlp ();
  char *paths[3];
  write_forms (m, paths);
  const int n = 70, in = 30, nc = 7;
  g_autoptr (GRand) r = g_rand_new_with_seed (12);
  g_autofree float *x = g_new (float, n * in);
  for (int i = 0; i < n * in; i++)
    x[i] = (float) g_rand_double_range (r, -2, 2);
  /* the training model's own logits */
  memcpy (pl_model_get_input_buffer (m), x, sizeof (float) * n * in);
  memset (pl_model_get_label_buffer (m), 0, sizeof (int32_t) * n);
  pl_graph_forward (pl_model_get_graph (m), n, FALSE);
  const float *ref = pl_model_get_logits (m)->data;
  static const int batches[] = { 1, 3, 64, 70 };
  for (int f = 0; f < 3; f++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PlInferNet) net = pl_infer_net_load (paths[f], &error);
      g_assert_no_error (error);
      g_assert_cmpint (pl_infer_net_get_format (net), ==,
                       f == 0 ? PL_INFER_FORMAT_FP32 : f == 1 ? PL_INFER_FORMAT_SPARSE
                                                          : PL_INFER_FORMAT_INT8);
      g_assert_cmpint (pl_infer_net_get_in_features (net), ==, in);
      g_assert_cmpint (pl_infer_net_get_n_classes (net), ==, nc);
      g_assert_cmpint (pl_infer_net_get_n_layers (net), ==, 3);
      /* int8: the quantization error of 8-bit weights and inputs */
      double tol = f == 2 ? 0.08 : 1e-4;
      int agree = 0;
      for (guint bi = 0; bi < G_N_ELEMENTS (batches); bi++)
        {
          g_autofree float *y = g_new (float, n * nc);
          for (int i = 0; i < n; i += batches[bi])
            pl_infer_net_forward (net, x + i * in, MIN (batches[bi], n - i), y + i * nc);
          for (int i = 0; i < n * nc; i++)
            if (!(fabs (y[i] - ref[i]) <= tol * (1 + fabs (ref[i]))))
              g_error ("%s batch %d: logit %d = %.9g, training model %.9g", paths[f],
                       batches[bi], i, y[i], ref[i]);
          for (int i = 0; i < n; i++)
            {
              int a = 0, b = 0;
              for (int c = 1; c < nc; c++)
                {
                  a = y[i * nc + c] > y[i * nc + a] ? c : a;
                  b = ref[i * nc + c] > ref[i * nc + b] ? c : b;
                }
              agree += a == b;
            }
        }
      /* fp32 and sparse: every prediction; int8: nearly every */
      g_assert_cmpint (agree, >=, f == 2 ? (int) (0.9 * n * G_N_ELEMENTS (batches))
                                         : (int) (n * G_N_ELEMENTS (batches)));
      if (f == 1)
        g_assert_cmpfloat (fabs (pl_infer_net_get_density (net) - 0.2), <, 0.05);
      /* the batch-1 sparse kernel is one the CPU has; other formats say C */
      PlCsrKernel ck = pl_infer_net_get_csr_kernel (net);
      if (f == 1)
        g_assert_cmpint (ck, >=, pl_csr_have_simd () ? PL_CSR_KERNEL_AVX2 : PL_CSR_KERNEL_C);
      else
        g_assert_cmpint (ck, ==, PL_CSR_KERNEL_C);
      if (f == 2)
        for (int k = PL_INT8_KERNEL_C; k <= PL_INT8_KERNEL_VNNI; k++)
          {
            if (!pl_int8_kernel_supported (k))
              continue;
            /* every kernel gives the same bits: the sums are exact integers */
            g_autofree float *y0 = g_new (float, n * nc), *y1 = g_new (float, n * nc);
            pl_infer_net_set_int8_kernel (net, PL_INT8_KERNEL_C);
            pl_infer_net_forward (net, x, n, y0);
            pl_infer_net_set_int8_kernel (net, k);
            pl_infer_net_forward (net, x, n, y1);
            g_assert_cmpmem (y0, n * nc * 4, y1, n * nc * 4);
          }
    }
  for (int f = 0; f < 3; f++)
    g_free (paths[f]);
}

/* a writer holding an mlp 4-3-2 (fp32) with @skip left out, @extra added, and
 * @format */
static char *
small_file (const char *leaf, const char *skip, const char *extra, const char *format,
            PlDtype head_dtype, const char *arch)
{
  static const float w0[12] = { 1 }, b0[3] = { 0 }, w1[6] = { 1 }, b1[2] = { 0 };
  static const struct { const char *name; const float *data; int ndim; gint64 shape[2]; } t[] = {
    { "hidden.0.weight", w0, 2, { 3, 4 } }, { "hidden.0.bias", b0, 1, { 3 } },
    { "head.weight", w1, 2, { 2, 3 } }, { "head.bias", b1, 1, { 2 } },
  };
  g_autoptr (PlSafetensorsWriter) w = pl_safetensors_writer_new ();
  for (guint i = 0; i < G_N_ELEMENTS (t); i++)
    {
      if (skip && g_str_equal (skip, t[i].name))
        continue;
      gsize n = t[i].ndim == 2 ? t[i].shape[0] * t[i].shape[1] : t[i].shape[0];
      gboolean head = g_str_equal (t[i].name, "head.weight");
      PlDtype dt = head ? head_dtype : PL_DTYPE_F32;
      g_assert_true (pl_safetensors_writer_add (w, t[i].name, dt, t[i].shape, t[i].ndim,
                                                t[i].data, n * pl_dtype_size (dt), NULL));
    }
  if (extra)
    {
      gint64 one = 1;
      float v = 0;
      g_assert_true (pl_safetensors_writer_add (w, extra, PL_DTYPE_F32, &one, 1, &v, 4, NULL));
    }
  if (format)
    pl_safetensors_writer_set_metadata (w, "paramlab.format", format);
  if (arch)
    pl_safetensors_writer_set_metadata (w, "paramlab.architecture", arch);
  char *path = g_build_filename (pl_test_tmpdir (), leaf, NULL);
  g_assert_true (pl_safetensors_writer_write (w, path, NULL));
  return path;
}

static void
test_infer_bad_files (void)
{
  static const struct {
    const char *leaf, *skip, *extra, *format;
    PlDtype head;
    const char *expect;
    const char *arch;
  } cases[] = {
    { "cnn.safetensors", NULL, NULL, NULL, PL_DTYPE_F32, "paramlab.architecture", "cnn" },
    { "ok.safetensors", NULL, NULL, NULL, PL_DTYPE_F32, NULL },
    { "fmt.safetensors", NULL, NULL, "fp8", PL_DTYPE_F32, "paramlab.format" },
    { "nohead.safetensors", "head.weight", NULL, NULL, PL_DTYPE_F32, "head.weight" },
    { "nobias.safetensors", "hidden.0.bias", NULL, NULL, PL_DTYPE_F32, "hidden.0.bias" },
    { "extra.safetensors", NULL, "gate.0.weight", NULL, PL_DTYPE_F32, "gate.0.weight" },
    { "dtype.safetensors", NULL, NULL, NULL, PL_DTYPE_I32, "head.weight" },
    { "noscale.safetensors", NULL, NULL, "int8", PL_DTYPE_I8, "head.weight.scale" },
    { "nocsr.safetensors", "head.weight", NULL, "sparse", PL_DTYPE_F32, "head.weight" },
  };
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autofree char *path = small_file (cases[c].leaf, cases[c].skip, cases[c].extra,
                                          cases[c].format, cases[c].head, cases[c].arch);
      g_autoptr (GError) error = NULL;
      g_autoptr (PlInferNet) net = pl_infer_net_load (path, &error);
      if (!cases[c].expect)
        {
          g_assert_no_error (error);
          g_assert_nonnull (net);
          continue;
        }
      g_assert_null (net);
      g_assert_nonnull (error);
      if (!strstr (error->message, cases[c].expect) || !strstr (error->message, cases[c].leaf))
        g_error ("case %s: \"%s\" does not name \"%s\" and the file", cases[c].leaf,
                 error->message, cases[c].expect);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/core/sparse/equals-dense", test_sparse_equals_dense);
  g_test_add_func ("/core/sparse/tile-steps", test_sparse_tile_steps);
  g_test_add_func ("/core/sparse/non-finite", test_sparse_non_finite);
  g_test_add_func ("/core/sparse/format-round-trip", test_sparse_format_round_trip);
  g_test_add_func ("/core/sparse/bad-parts", test_sparse_bad_parts);
  g_test_add_func ("/core/int8/gemm-exact", test_int8_gemm_exact);
  g_test_add_func ("/core/int8/linear", test_int8_linear);
  g_test_add_func ("/core/infer/formats", test_infer_formats);
  g_test_add_func ("/core/infer/bad-files", test_infer_bad_files);
  return g_test_run ();
}
