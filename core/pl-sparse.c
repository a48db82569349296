#include "pl-sparse.h"

#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#include "pl-error.h"

#define BLK PL_CSR_BLOCK
/* each row's stored entries are padded with zeros to a multiple of PAD */
#define PAD 8

static inline int
col_at (const PlCsr *m, int p)
{
  return m->idx16 ? m->idx16[p] : m->idx32[p];
}

/* The padded copy of a checked CSR matrix; indptr [rows + 1], cols_of and values
 * [indptr[rows]]. A padding entry repeats the row's last column (0 in an empty
 * row) with value 0. */
static PlCsr *
csr_build (int rows, int cols, const int32_t *indptr, const int32_t *cols_of,
           const float *values)
{
  PlCsr *m = g_new0 (PlCsr, 1);
  m->rows = rows;
  m->cols = cols;
  m->nnz = indptr[rows];
  gsize stored = 0;
  for (int o = 0; o < rows; o++)
    stored += (gsize) (indptr[o + 1] - indptr[o] + PAD - 1) / PAD * PAD;
  g_return_val_if_fail (stored <= G_MAXINT32, NULL);
  m->n_stored = (int) stored;
  m->indptr = g_new0 (int32_t, (gsize) rows + 1);
  /* 16 more: the SpMV kernel may read indices a little beyond a row */
  if (cols <= 65536)
    m->idx16 = g_new0 (uint16_t, stored + 16);
  else
    m->idx32 = g_new0 (int32_t, stored + 16);
  m->values = g_new0 (float, stored + 16);
  m->work = g_aligned_alloc0 ((gsize) MAX (cols, 1) + MAX (rows, 1), BLK * sizeof (float), 64);
  int q = 0;
  for (int o = 0; o < rows; o++)
    {
      int last = 0;
      for (int p = indptr[o]; p < indptr[o + 1]; p++, q++)
        {
          last = cols_of[p];
          if (m->idx16)
            m->idx16[q] = (uint16_t) last;
          else
            m->idx32[q] = last;
          m->values[q] = values[p];
        }
      for (; q % PAD; q++)
        {
          if (m->idx16)
            m->idx16[q] = (uint16_t) last;
          else
            m->idx32[q] = last;
          m->values[q] = 0.0f;
        }
      m->indptr[o + 1] = q;
    }
  return m;
}

PlCsr *
pl_csr_new_from_dense (const float *w, int rows, int cols)
{
  g_return_val_if_fail (w != NULL || rows * (gsize) cols == 0, NULL);
  g_return_val_if_fail (rows >= 0 && cols >= 0, NULL);
  gsize nnz = 0;
  for (gsize i = 0; i < (gsize) rows * cols; i++)
    nnz += w[i] != 0.0f;
  g_return_val_if_fail (nnz <= G_MAXINT32, NULL);
  g_autofree int32_t *indptr = g_new0 (int32_t, (gsize) rows + 1);
  g_autofree int32_t *cols_of = g_new (int32_t, MAX (nnz, 1));
  g_autofree float *values = g_new (float, MAX (nnz, 1));
  int p = 0;
  for (int o = 0; o < rows; o++)
    {
      const float *wr = w + (gsize) o * cols;
      for (int k = 0; k < cols; k++)
        if (wr[k] != 0.0f)
          {
            cols_of[p] = k;
            values[p++] = wr[k];
          }
      indptr[o + 1] = p;
    }
  return csr_build (rows, cols, indptr, cols_of, values);
}

PlCsr *
pl_csr_new (int rows, int cols, int nnz, const int32_t *indptr, const int32_t *cols_of,
            const float *values, const char *what, GError **error)
{
  g_return_val_if_fail (rows >= 0 && cols >= 0 && nnz >= 0, NULL);
  if (indptr[0] != 0 || indptr[rows] != nnz)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                   "%s: row pointers must start at 0 and end at the number of values "
                   "(%d), got %d and %d", what, nnz, indptr[0], indptr[rows]);
      return NULL;
    }
  for (int o = 0; o < rows; o++)
    if (indptr[o + 1] < indptr[o])
      {
        g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                     "%s: row pointer %d (%d) is below row pointer %d (%d)", what, o + 1,
                     indptr[o + 1], o, indptr[o]);
        return NULL;
      }
  for (int p = 0; p < nnz; p++)
    if (cols_of[p] < 0 || cols_of[p] >= cols)
      {
        g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                     "%s: value %d has column %d, outside [0, %d)", what, p, cols_of[p], cols);
        return NULL;
      }
  return csr_build (rows, cols, indptr, cols_of, values);
}

void
pl_csr_free (PlCsr *m)
{
  if (!m)
    return;
  g_free (m->indptr);
  g_free (m->idx16);
  g_free (m->idx32);
  g_free (m->values);
  g_aligned_free (m->work);
  g_free (m);
}

void
pl_csr_to_dense (const PlCsr *m, float *w)
{
  memset (w, 0, (gsize) m->rows * m->cols * sizeof (float));
  for (int o = 0; o < m->rows; o++)
    for (int p = m->indptr[o]; p < m->indptr[o + 1]; p++)
      w[(gsize) o * m->cols + col_at (m, p)] += m->values[p];
}

/* ---- portable kernels ------------------------------------------------------ */

/* y [rows] = W x + b; x [cols] */
static void
spmv_c (float *y, const float *x, const PlCsr *m, const float *b)
{
  for (int o = 0; o < m->rows; o++)
    {
      int p = m->indptr[o], end = m->indptr[o + 1];
      float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (; p + 4 <= end; p += 4)
        {
          s0 += m->values[p] * x[col_at (m, p)];
          s1 += m->values[p + 1] * x[col_at (m, p + 1)];
          s2 += m->values[p + 2] * x[col_at (m, p + 2)];
          s3 += m->values[p + 3] * x[col_at (m, p + 3)];
        }
      for (; p < end; p++)
        s0 += m->values[p] * x[col_at (m, p)];
      y[o] = (s0 + s1) + (s2 + s3) + (b ? b[o] : 0.0f);
    }
}

/* yt [rows, BLK] = W xt + b; xt [cols, BLK] */
static void
spmm_t_c (float *yt, const float *xt, const PlCsr *m, const float *b)
{
  for (int o = 0; o < m->rows; o++)
    {
      float *acc = yt + (gsize) o * BLK;
      float b0 = b ? b[o] : 0.0f;
      for (int j = 0; j < BLK; j++)
        acc[j] = b0;
      for (int p = m->indptr[o]; p < m->indptr[o + 1]; p++)
        {
          float v = m->values[p];
          const float *xr = xt + (gsize) col_at (m, p) * BLK;
          for (int j = 0; j < BLK; j++)
            acc[j] += v * xr[j];
        }
    }
}

/* ---- AVX2 + FMA kernels ---------------------------------------------------- */

#define PL_AVX2 __attribute__ ((target ("avx2,fma")))

PL_AVX2 static inline float
hsum256 (__m256 v)
{
  __m128 s = _mm_add_ps (_mm256_castps256_ps128 (v), _mm256_extractf128_ps (v, 1));
  s = _mm_add_ps (s, _mm_movehl_ps (s, s));
  s = _mm_add_ss (s, _mm_shuffle_ps (s, s, 1));
  return _mm_cvtss_f32 (s);
}

/* x[i[0..3]]: scalar loads folded into vinsertps. The hardware gathers
 * (vgatherdps) are 2.5x slower here (CPUs with the gather data sampling
 * mitigation), and unpacking four indices from one 64-bit load was 10% slower
 * than loading each. */
PL_AVX2 static inline __m128
load4 (const float *x, const uint16_t *i)
{
  __m128 v = _mm_load_ss (x + i[0]);
  v = _mm_insert_ps (v, _mm_load_ss (x + i[1]), 0x10);
  v = _mm_insert_ps (v, _mm_load_ss (x + i[2]), 0x20);
  return _mm_insert_ps (v, _mm_load_ss (x + i[3]), 0x30);
}

/* rows are padded to multiples of 8: no scalar tail */
PL_AVX2 static void
spmv_avx2 (float *y, const float *x, const PlCsr *m, const float *b)
{
  if (!m->idx16)
    {
      spmv_c (y, x, m, b);
      return;
    }
  const uint16_t *ix = m->idx16;
  const float *val = m->values;
  for (int o = 0; o < m->rows; o++)
    {
      int p = m->indptr[o], end = m->indptr[o + 1];
      __m256 a0 = _mm256_setzero_ps (), a1 = _mm256_setzero_ps ();
      for (; p + 16 <= end; p += 16)
        {
          __m256 x0 = _mm256_set_m128 (load4 (x, ix + p + 4), load4 (x, ix + p));
          __m256 x1 = _mm256_set_m128 (load4 (x, ix + p + 12), load4 (x, ix + p + 8));
          a0 = _mm256_fmadd_ps (_mm256_loadu_ps (val + p), x0, a0);
          a1 = _mm256_fmadd_ps (_mm256_loadu_ps (val + p + 8), x1, a1);
        }
      if (p < end)
        {
          __m256 x0 = _mm256_set_m128 (load4 (x, ix + p + 4), load4 (x, ix + p));
          a0 = _mm256_fmadd_ps (_mm256_loadu_ps (val + p), x0, a0);
        }
      y[o] = hsum256 (_mm256_add_ps (a0, a1)) + (b ? b[o] : 0.0f);
    }
}

/* four independent chains of two accumulators (FMA latency), named so that they
 * stay in registers; xt's BLK columns are two AVX vectors */
#define SPMM_ROW(col_of)                                                        \
  for (int o = 0; o < m->rows; o++)                                              \
    {                                                                           \
      __m256 z = _mm256_setzero_ps (), b0 = _mm256_set1_ps (b ? b[o] : 0.0f);   \
      __m256 a0 = b0, a1 = b0, c0 = z, c1 = z, d0 = z, d1 = z, e0 = z, e1 = z;  \
      for (int p = m->indptr[o]; p < m->indptr[o + 1]; p += 4)                  \
        {                                                                       \
          const float *x0 = xt + (gsize) (col_of (p)) * BLK;                    \
          const float *x1 = xt + (gsize) (col_of (p + 1)) * BLK;                \
          const float *x2 = xt + (gsize) (col_of (p + 2)) * BLK;                \
          const float *x3 = xt + (gsize) (col_of (p + 3)) * BLK;                \
          __m256 v0 = _mm256_broadcast_ss (m->values + p);                      \
          __m256 v1 = _mm256_broadcast_ss (m->values + p + 1);                  \
          __m256 v2 = _mm256_broadcast_ss (m->values + p + 2);                  \
          __m256 v3 = _mm256_broadcast_ss (m->values + p + 3);                  \
          a0 = _mm256_fmadd_ps (v0, _mm256_load_ps (x0), a0);                   \
          a1 = _mm256_fmadd_ps (v0, _mm256_load_ps (x0 + 8), a1);               \
          c0 = _mm256_fmadd_ps (v1, _mm256_load_ps (x1), c0);                   \
          c1 = _mm256_fmadd_ps (v1, _mm256_load_ps (x1 + 8), c1);               \
          d0 = _mm256_fmadd_ps (v2, _mm256_load_ps (x2), d0);                   \
          d1 = _mm256_fmadd_ps (v2, _mm256_load_ps (x2 + 8), d1);               \
          e0 = _mm256_fmadd_ps (v3, _mm256_load_ps (x3), e0);                   \
          e1 = _mm256_fmadd_ps (v3, _mm256_load_ps (x3 + 8), e1);               \
        }                                                                       \
      float *out = yt + (gsize) o * BLK;                                        \
      _mm256_store_ps (out, _mm256_add_ps (_mm256_add_ps (a0, c0),              \
                                           _mm256_add_ps (d0, e0)));            \
      _mm256_store_ps (out + 8, _mm256_add_ps (_mm256_add_ps (a1, c1),          \
                                               _mm256_add_ps (d1, e1)));        \
    }

PL_AVX2 static void
spmm_t_avx2 (float *yt, const float *xt, const PlCsr *m, const float *b)
{
  G_STATIC_ASSERT (BLK == 16 && PAD % 4 == 0);
#define COL16(p) ix16[p]
#define COL32(p) ix32[p]
  if (m->idx16)
    {
      const uint16_t *ix16 = m->idx16;
      SPMM_ROW (COL16)
    }
  else
    {
      const int32_t *ix32 = m->idx32;
      SPMM_ROW (COL32)
    }
#undef COL16
#undef COL32
}

gboolean
pl_csr_have_simd (void)
{
  static int have = -1;
  if (have < 0)
    {
      __builtin_cpu_init ();
      have = __builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma");
    }
  return have;
}

void
pl_csr_block_in (float *xt, const float *x, int nb, int cols)
{
  g_return_if_fail (nb >= 0 && nb <= BLK);
  if (nb < BLK)
    memset (xt, 0, (gsize) cols * BLK * sizeof (float));
  for (int j = 0; j < nb; j++)
    {
      const float *xr = x + (gsize) j * cols;
      for (int k = 0; k < cols; k++)
        xt[(gsize) k * BLK + j] = xr[k];
    }
}

void
pl_csr_block_out (float *y, const float *yt, int nb, int rows)
{
  g_return_if_fail (nb >= 0 && nb <= BLK);
  for (int j = 0; j < nb; j++)
    {
      float *yr = y + (gsize) j * rows;
      for (int o = 0; o < rows; o++)
        yr[o] = yt[(gsize) o * BLK + j];
    }
}

void
pl_csr_linear_forward_block (float *yt, const float *xt, const PlCsr *m, const float *b,
                             gboolean simd)
{
  g_return_if_fail (m != NULL);
  (simd && pl_csr_have_simd () ? spmm_t_avx2 : spmm_t_c) (yt, xt, m, b);
}

void
pl_csr_linear_forward_path (float *y, const float *x, const PlCsr *m, const float *b, int n,
                            gboolean spmm, gboolean simd)
{
  g_return_if_fail (m != NULL && n >= 0);
  simd = simd && pl_csr_have_simd ();
  if (!spmm)
    {
      for (int i = 0; i < n; i++)
        (simd ? spmv_avx2 : spmv_c) (y + (gsize) i * m->rows, x + (gsize) i * m->cols, m, b);
      return;
    }
  float *xt = m->work, *yt = m->work + (gsize) MAX (m->cols, 1) * BLK;
  for (int i0 = 0; i0 < n; i0 += BLK)
    {
      int nb = MIN (BLK, n - i0);
      pl_csr_block_in (xt, x + (gsize) i0 * m->cols, nb, m->cols);
      pl_csr_linear_forward_block (yt, xt, m, b, simd);
      pl_csr_block_out (y + (gsize) i0 * m->rows, yt, nb, m->rows);
    }
}

void
pl_csr_linear_forward (float *y, const float *x, const PlCsr *m, const float *b, int n)
{
  pl_csr_linear_forward_path (y, x, m, b, n, n >= 4, TRUE);
}

/* ---- the sparse export format ---------------------------------------------- */

gboolean
pl_sparse_is_part (const char *name, char **weight)
{
  static const char *const suffixes[] = { ".values", ".indices", ".indptr" };
  for (guint i = 0; i < G_N_ELEMENTS (suffixes); i++)
    if (g_str_has_suffix (name, suffixes[i]) && strlen (name) > strlen (suffixes[i]))
      {
        if (weight)
          *weight = g_strndup (name, strlen (name) - strlen (suffixes[i]));
        return TRUE;
      }
  return FALSE;
}

gboolean
pl_sparse_writer_add_weight (PlSafetensorsWriter *writer, const char *name, const float *w,
                             int rows, int cols, PlSparseIndex encoding, GError **error)
{
  g_return_val_if_fail (writer != NULL && name != NULL && rows >= 0 && cols >= 0, FALSE);
  g_autoptr (GArray) values = g_array_new (FALSE, FALSE, sizeof (float));
  g_autoptr (GArray) idx = g_array_new (FALSE, FALSE, encoding == PL_SPARSE_INDEX_DELTA_U8
                                                      ? sizeof (uint8_t) : sizeof (int32_t));
  g_autofree int32_t *indptr = g_new0 (int32_t, (gsize) rows + 1);
  for (int o = 0; o < rows; o++)
    {
      const float *wr = w + (gsize) o * cols;
      int prev = 0;
      for (int k = 0; k < cols; k++)
        {
          if (wr[k] == 0.0f)
            continue;
          if (encoding == PL_SPARSE_INDEX_DELTA_U8)
            {
              static const float zero = 0.0f;
              static const uint8_t bridge = 255;
              while (k - prev > 255)
                {
                  g_array_append_val (values, zero);
                  g_array_append_val (idx, bridge);
                  prev += 255;
                }
              uint8_t d = (uint8_t) (k - prev);
              g_array_append_val (idx, d);
              prev = k;
            }
          else
            {
              int32_t c = k;
              g_array_append_val (idx, c);
            }
          g_array_append_val (values, wr[k]);
        }
      if (values->len > G_MAXINT32)
        {
          g_set_error (error, PL_ERROR, PL_ERROR_SHAPE, "%s: too many non-zero values", name);
          return FALSE;
        }
      indptr[o + 1] = (int32_t) values->len;
    }
  g_autofree char *vname = g_strconcat (name, ".values", NULL);
  g_autofree char *iname = g_strconcat (name, ".indices", NULL);
  g_autofree char *pname = g_strconcat (name, ".indptr", NULL);
  gint64 nnz = values->len, nptr = (gint64) rows + 1;
  if (!pl_safetensors_writer_add (writer, vname, PL_DTYPE_F32, &nnz, 1, values->data,
                                  values->len * sizeof (float), error)
      || !pl_safetensors_writer_add (writer, iname, encoding == PL_SPARSE_INDEX_DELTA_U8
                                                    ? PL_DTYPE_U8 : PL_DTYPE_I32,
                                     &nnz, 1, idx->data,
                                     (gsize) idx->len * g_array_get_element_size (idx), error)
      || !pl_safetensors_writer_add (writer, pname, PL_DTYPE_I32, &nptr, 1, indptr,
                                     (gsize) nptr * sizeof (int32_t), error))
    return FALSE;
  g_autofree char *key = g_strdup_printf ("paramlab.sparse.%s.shape", name);
  g_autofree char *shape = g_strdup_printf ("%d,%d", rows, cols);
  pl_safetensors_writer_set_metadata (writer, key, shape);
  return TRUE;
}

/* One part of weight @name: present, 1-D, of @dtype (or @alt, when not -1). */
static const PlTensorInfo *
find_part (const PlSafetensors *st, const char *path, const char *name, const char *suffix,
           PlDtype dtype, int alt, GError **error)
{
  g_autofree char *full = g_strconcat (name, suffix, NULL);
  const PlTensorInfo *t = pl_safetensors_lookup (st, full);
  if (!t)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_NOT_FOUND,
                   "%s: sparse weight \"%s\" has no tensor \"%s\"", path, name, full);
      return NULL;
    }
  if (t->ndim != 1 || (t->dtype != dtype && (alt < 0 || t->dtype != (PlDtype) alt)))
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                   "%s: tensor \"%s\" is %s with %d dimensions; expected a 1-D %s%s%s tensor",
                   path, full, pl_dtype_to_string (t->dtype), t->ndim,
                   pl_dtype_to_string (dtype), alt >= 0 ? " or " : "",
                   alt >= 0 ? pl_dtype_to_string ((PlDtype) alt) : "");
      return NULL;
    }
  if (t->numel > G_MAXINT32)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_SHAPE, "%s: tensor \"%s\" is too large", path,
                   full);
      return NULL;
    }
  return t;
}

PlCsr *
pl_sparse_read_weight (const PlSafetensors *st, const char *path, const char *name,
                       GError **error)
{
  g_autofree char *key = g_strdup_printf ("paramlab.sparse.%s.shape", name);
  const char *shape = pl_safetensors_get_metadata (st, key);
  int rows = -1, cols = -1;
  if (shape)
    {
      g_auto (GStrv) parts = g_strsplit (shape, ",", -1);
      guint64 r, c;
      if (g_strv_length (parts) == 2
          && g_ascii_string_to_unsigned (parts[0], 10, 0, G_MAXINT32, &r, NULL)
          && g_ascii_string_to_unsigned (parts[1], 10, 0, G_MAXINT32, &c, NULL))
        rows = (int) r, cols = (int) c;
    }
  if (rows < 0)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                   "%s: sparse weight \"%s\": __metadata__ %s is %s%s%s; expected \"rows,cols\"",
                   path, name, key, shape ? "\"" : "", shape ? shape : "missing",
                   shape ? "\"" : "");
      return NULL;
    }
  const PlTensorInfo *tv = find_part (st, path, name, ".values", PL_DTYPE_F32, -1, error);
  const PlTensorInfo *ti = tv ? find_part (st, path, name, ".indices", PL_DTYPE_U8,
                                           PL_DTYPE_I32, error) : NULL;
  const PlTensorInfo *tp = ti ? find_part (st, path, name, ".indptr", PL_DTYPE_I32, -1, error)
                              : NULL;
  if (!tp)
    return NULL;
  g_autofree char *what = g_strdup_printf ("%s: sparse weight \"%s\"", path, name);
  if (ti->numel != tv->numel || tp->numel != (gsize) rows + 1)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_SHAPE,
                   "%s has %zu values, %zu indices and %zu row pointers; expected as many "
                   "indices as values and %d row pointers (shape %d,%d)", what,
                   (size_t) tv->numel, (size_t) ti->numel, (size_t) tp->numel, rows + 1, rows,
                   cols);
      return NULL;
    }
  int nnz = (int) tv->numel;
  g_autofree float *values = g_new (float, MAX (nnz, 1));
  g_autofree int32_t *indptr = g_new (int32_t, (gsize) rows + 1);
  g_autofree int32_t *cols_of = g_new (int32_t, MAX (nnz, 1));
  memcpy (values, tv->data, tv->nbytes);
  memcpy (indptr, tp->data, tp->nbytes);
  if (indptr[0] != 0 || indptr[rows] != nnz)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                   "%s: tensor \"%s.indptr\" must start at 0 and end at %d (the number of "
                   "values), got %d and %d", path, name, nnz, indptr[0], indptr[rows]);
      return NULL;
    }
  for (int o = 0; o < rows; o++)
    if (indptr[o + 1] < indptr[o])
      {
        g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                     "%s: tensor \"%s.indptr\" decreases at row %d", path, name, o);
        return NULL;
      }
  if (ti->dtype == PL_DTYPE_U8)
    {
      const uint8_t *d = ti->data;
      for (int o = 0; o < rows; o++)
        {
          int64_t c = 0;
          for (int p = indptr[o]; p < indptr[o + 1]; p++)
            {
              c += d[p];
              if (c >= cols)
                {
                  g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                               "%s: tensor \"%s.indices\": entry %d of row %d decodes to "
                               "column %" G_GINT64_FORMAT ", outside [0, %d)", path, name,
                               p - indptr[o], o, (gint64) c, cols);
                  return NULL;
                }
              cols_of[p] = (int32_t) c;
            }
        }
    }
  else
    memcpy (cols_of, ti->data, ti->nbytes);
  /* drop stored zeros (the delta encoding's bridges) */
  int q = 0;
  for (int o = 0, p = 0; o < rows; o++)
    {
      for (; p < indptr[o + 1]; p++)
        if (values[p] != 0.0f)
          {
            values[q] = values[p];
            cols_of[q++] = cols_of[p];
          }
      indptr[o + 1] = q;
    }
  return pl_csr_new (rows, cols, q, indptr, cols_of, values, what, error);
}
