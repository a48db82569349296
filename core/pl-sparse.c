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

static void        tiles_free (PlCsrTiles *t);
static PlCsrTiles *tiles_build (const PlCsr *m, gboolean force);
static gboolean    have_avx512 (void);

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
  if (have_avx512 ())
    m->tiles = tiles_build (m, FALSE);
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
  tiles_free (m->tiles);
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

/* ---- AVX-512 tiles (PlCsrTiles) -------------------------------------------- */

/* A 64-byte unit of the stream is 16 floats. */
#define UNIT 16
/* a tile's steps are at most 255 (a row may repeat a column) */
#define MAX_STEPS 255

struct _PlCsrTiles {
  int n_groups;        /* ceil (rows / 16) */
  int n_tiles;
  gsize n_steps;
  int32_t *group_ptr;  /* [n_groups + 1] into info */
  uint32_t *info;      /* [n_tiles]: column block << 8 | steps */
  /* 64-byte aligned, tile after tile; per four steps of a tile (fewer at its
   * end) one unit of indices, byte 4 * r + j = row r's column in the block at
   * step j, then one unit of 16 values per step */
  float *stream;
};

static void
tiles_free (PlCsrTiles *t)
{
  if (!t)
    return;
  g_free (t->group_ptr);
  g_free (t->info);
  g_aligned_free (t->stream);
  g_free (t);
}

static gsize
tile_units (int steps)
{
  return (gsize) (steps + 3) / 4 + steps;
}

/* The tiles of @m from its stored entries that are not zero (the CSR padding and
 * explicit zeros are left out). Without @force, NULL where they are not expected
 * to beat the AVX2 CSR kernel (estimated time, fitted to single-layer timings
 * from 64 x 4096 to 2048 x 256 at densities 0.003 to 0.5 on the Ice Lake guest:
 * about 1 ns per step and 0.5 per tile against 0.5 ns per stored CSR entry and 1
 * per row; the tiles won everywhere but at density <= 0.01 with 64 rows), and
 * NULL where a tile would need more than MAX_STEPS steps. */
static PlCsrTiles *
tiles_build (const PlCsr *m, gboolean force)
{
  int ng = (m->rows + 15) / 16, nb = (m->cols + 31) / 32;
  if ((gint64) nb >= (1 << 24))
    return NULL;
  /* steps of tile (g, c): the most non-zeros of one of g's rows in block c */
  g_autofree uint16_t *steps = g_new0 (uint16_t, MAX ((gsize) ng * nb, 1));
  g_autofree uint16_t *count = g_new0 (uint16_t, MAX (nb, 1));
  for (int o = 0; o < m->rows; o++)
    {
      uint16_t *st = steps + (gsize) (o / 16) * nb;
      for (int p = m->indptr[o]; p < m->indptr[o + 1]; p++)
        if (m->values[p] != 0.0f)
          {
            int c = col_at (m, p) >> 5;
            if (count[c] == MAX_STEPS)
              return NULL;
            count[c]++;
            st[c] = MAX (st[c], count[c]);
          }
      for (int p = m->indptr[o]; p < m->indptr[o + 1]; p++)
        count[col_at (m, p) >> 5] = 0;
    }
  gsize n_steps = 0, units = 0;
  int n_tiles = 0;
  for (gsize i = 0; i < (gsize) ng * nb; i++)
    if (steps[i])
      {
        n_tiles++;
        n_steps += steps[i];
        units += tile_units (steps[i]);
      }
  if (!force && 1.0 * n_steps + 0.5 * n_tiles >= 0.5 * m->n_stored + 1.0 * m->rows)
    return NULL;
  if (units > G_MAXSIZE / (UNIT * sizeof (float)) || n_tiles == G_MAXINT32)
    return NULL;

  PlCsrTiles *t = g_new0 (PlCsrTiles, 1);
  t->n_groups = ng;
  t->n_tiles = n_tiles;
  t->n_steps = n_steps;
  t->group_ptr = g_new0 (int32_t, (gsize) ng + 1);
  t->info = g_new (uint32_t, MAX (n_tiles, 1));
  t->stream = g_aligned_alloc0 (MAX (units, 1), UNIT * sizeof (float), 64);
  /* where each tile of the current group starts in the stream (in floats) */
  g_autofree gsize *base = g_new (gsize, MAX (nb, 1));
  gsize at = 0;
  int k = 0;
  for (int g = 0; g < ng; g++)
    {
      const uint16_t *st = steps + (gsize) g * nb;
      for (int c = 0; c < nb; c++)
        if (st[c])
          {
            t->info[k++] = (uint32_t) c << 8 | st[c];
            base[c] = at;
            at += tile_units (st[c]) * UNIT;
          }
      t->group_ptr[g + 1] = k;
      for (int r = 0; r < 16 && g * 16 + r < m->rows; r++)
        {
          int o = g * 16 + r;
          for (int p = m->indptr[o]; p < m->indptr[o + 1]; p++)
            if (m->values[p] != 0.0f)
              {
                int col = col_at (m, p), c = col >> 5, s = count[c]++;
                gsize u = base[c] + (gsize) (s / 4 * 5) * UNIT;
                t->stream[u + UNIT * (1 + s % 4) + r] = m->values[p];
                ((uint8_t *) (t->stream + u))[4 * r + s % 4] = (uint8_t) (col & 31);
              }
          /* padding: value 0 at a column the row has in the block (a NaN or
           * inf there reaches the row anyway), else at the block's first column
           * (0 * NaN or 0 * inf there spreads to the row) */
          for (int c = 0; c < nb; c++)
            {
              if (!st[c])
                continue;
              uint8_t first = ((uint8_t *) (t->stream + base[c]))[4 * r];
              for (int s = count[c]; s < st[c]; s++)
                ((uint8_t *) (t->stream + base[c] + (gsize) (s / 4 * 5) * UNIT))[4 * r + s % 4]
                  = count[c] ? first : 0;
              count[c] = 0;
            }
        }
    }
  g_assert (k == n_tiles && at == units * UNIT);
  return t;
}

#define PL_AVX512 __attribute__ ((target ("avx512f")))

/* y [rows] = W x + b; x [cols]. Per group of 16 rows one accumulator chain of
 * four registers; per tile x's block in two registers (zeros beyond cols). */
PL_AVX512 static void
spmv_avx512 (float *y, const float *x, const PlCsr *m, const float *b)
{
  const PlCsrTiles *t = m->tiles;
  const float *u = t->stream;
  const uint32_t *info = t->info;
  int last = m->cols / 32, rem = m->cols % 32;
  __mmask16 l0 = (__mmask16) (rem >= 16 ? 0xffff : (1u << rem) - 1);
  __mmask16 l1 = (__mmask16) (rem > 16 ? (1u << (rem - 16)) - 1 : 0);
  for (int g = 0; g < t->n_groups; g++)
    {
      int nr = MIN (16, m->rows - g * 16);
      __mmask16 rm = (__mmask16) (nr == 16 ? 0xffff : (1u << nr) - 1);
      __m512 a0 = b ? _mm512_maskz_loadu_ps (rm, b + g * 16) : _mm512_setzero_ps ();
      __m512 a1 = _mm512_setzero_ps (), a2 = a1, a3 = a1;
      for (int i = t->group_ptr[g]; i < t->group_ptr[g + 1]; i++)
        {
          int blk = (int) (info[i] >> 8), ns = (int) (info[i] & 255);
          const float *xb = x + (gsize) blk * 32;
          __m512 x0, x1;
          if (G_UNLIKELY (blk == last))
            {
              x0 = _mm512_maskz_loadu_ps (l0, xb);
              x1 = _mm512_maskz_loadu_ps (l1, xb + 16);
            }
          else
            {
              x0 = _mm512_loadu_ps (xb);
              x1 = _mm512_loadu_ps (xb + 16);
            }
          for (; ns >= 4; ns -= 4, u += 5 * UNIT)
            {
              __m512i ix = _mm512_load_si512 (u);
              a0 = _mm512_fmadd_ps (_mm512_load_ps (u + UNIT),
                                    _mm512_permutex2var_ps (x0, ix, x1), a0);
              a1 = _mm512_fmadd_ps (_mm512_load_ps (u + 2 * UNIT),
                                    _mm512_permutex2var_ps (x0, _mm512_srli_epi32 (ix, 8), x1),
                                    a1);
              a2 = _mm512_fmadd_ps (_mm512_load_ps (u + 3 * UNIT),
                                    _mm512_permutex2var_ps (x0, _mm512_srli_epi32 (ix, 16), x1),
                                    a2);
              a3 = _mm512_fmadd_ps (_mm512_load_ps (u + 4 * UNIT),
                                    _mm512_permutex2var_ps (x0, _mm512_srli_epi32 (ix, 24), x1),
                                    a3);
            }
          if (ns)
            {
              __m512i ix = _mm512_load_si512 (u);
              a0 = _mm512_fmadd_ps (_mm512_load_ps (u + UNIT),
                                    _mm512_permutex2var_ps (x0, ix, x1), a0);
              if (ns > 1)
                a1 = _mm512_fmadd_ps (_mm512_load_ps (u + 2 * UNIT),
                                      _mm512_permutex2var_ps (x0, _mm512_srli_epi32 (ix, 8),
                                                              x1), a1);
              if (ns > 2)
                a2 = _mm512_fmadd_ps (_mm512_load_ps (u + 3 * UNIT),
                                      _mm512_permutex2var_ps (x0, _mm512_srli_epi32 (ix, 16),
                                                              x1), a2);
              u += (1 + ns) * UNIT;
            }
        }
      _mm512_mask_storeu_ps (y + g * 16, rm,
                             _mm512_add_ps (_mm512_add_ps (a0, a1), _mm512_add_ps (a2, a3)));
    }
}

static gboolean
have_avx512 (void)
{
  static int have = -1;
  if (have < 0)
    {
      __builtin_cpu_init ();
      have = __builtin_cpu_supports ("avx512f");
    }
  return have;
}

gboolean
pl_csr_build_tiles (PlCsr *m)
{
  g_return_val_if_fail (m != NULL, FALSE);
  if (!have_avx512 ())
    return FALSE;
  if (!m->tiles)
    m->tiles = tiles_build (m, TRUE);
  return m->tiles != NULL;
}

double
pl_csr_tile_padding (const PlCsr *m)
{
  g_return_val_if_fail (m != NULL, 0);
  if (!m->tiles)
    return 0;
  return m->nnz ? (double) m->tiles->n_steps * 16 / m->nnz : 1.0;
}

gboolean
pl_csr_kernel_supported (const PlCsr *m, PlCsrKernel kernel)
{
  switch (kernel)
    {
    case PL_CSR_KERNEL_C: return TRUE;
    case PL_CSR_KERNEL_AVX2: return pl_csr_have_simd ();
    case PL_CSR_KERNEL_AVX512: return have_avx512 () && m && m->tiles;
    default: return FALSE;
    }
}

PlCsrKernel
pl_csr_kernel_best (const PlCsr *m)
{
  if (pl_csr_kernel_supported (m, PL_CSR_KERNEL_AVX512))
    return PL_CSR_KERNEL_AVX512;
  return pl_csr_have_simd () ? PL_CSR_KERNEL_AVX2 : PL_CSR_KERNEL_C;
}

const char *
pl_csr_kernel_name (PlCsrKernel kernel)
{
  static const char *const names[] = { "c", "avx2", "avx512" };
  return (guint) kernel < G_N_ELEMENTS (names) ? names[kernel] : "unknown";
}

void
pl_csr_spmv (float *y, const float *x, const PlCsr *m, const float *b, int n,
             PlCsrKernel kernel)
{
  g_return_if_fail (m != NULL && n >= 0);
  g_return_if_fail (pl_csr_kernel_supported (m, kernel));
  void (*fn) (float *, const float *, const PlCsr *, const float *)
    = kernel == PL_CSR_KERNEL_AVX512 ? spmv_avx512
    : kernel == PL_CSR_KERNEL_AVX2 ? spmv_avx2 : spmv_c;
  for (int i = 0; i < n; i++)
    fn (y + (gsize) i * m->rows, x + (gsize) i * m->cols, m, b);
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
  if (!spmm)
    {
      pl_csr_spmv (y, x, m, b, n, simd ? pl_csr_kernel_best (m) : PL_CSR_KERNEL_C);
      return;
    }
  simd = simd && pl_csr_have_simd ();
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
