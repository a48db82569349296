#include "pl-int8-gemm.h"

#include <float.h>
#include <immintrin.h>
#include <math.h>
#include <string.h>

#define KA PL_INT8_GEMM_K_ALIGN

gboolean
pl_int8_kernel_supported (PlInt8Kernel kernel)
{
  __builtin_cpu_init ();
  switch (kernel)
    {
    case PL_INT8_KERNEL_C:
      return TRUE;
    case PL_INT8_KERNEL_AVX2:
      return __builtin_cpu_supports ("avx2");
    case PL_INT8_KERNEL_VNNI:
      return __builtin_cpu_supports ("avx512f") && __builtin_cpu_supports ("avx512bw")
             && __builtin_cpu_supports ("avx512vnni");
    default:
      return FALSE;
    }
}

PlInt8Kernel
pl_int8_kernel_best (void)
{
  static int best = -1;
  if (best < 0)
    best = pl_int8_kernel_supported (PL_INT8_KERNEL_VNNI) ? PL_INT8_KERNEL_VNNI
         : pl_int8_kernel_supported (PL_INT8_KERNEL_AVX2) ? PL_INT8_KERNEL_AVX2
                                                          : PL_INT8_KERNEL_C;
  return (PlInt8Kernel) best;
}

const char *
pl_int8_kernel_name (PlInt8Kernel kernel)
{
  static const char *const names[] = { "c", "avx2", "vnni" };
  return (guint) kernel < G_N_ELEMENTS (names) ? names[kernel] : "unknown";
}

/* ---- kernels: acc [n, rows] = x [n, kp] w [rows, kp]^T ---------------------- */

static void
gemm_c (int32_t *acc, const uint8_t *x, const int8_t *w, int n, int rows, int kp)
{
  for (int i = 0; i < n; i++)
    for (int o = 0; o < rows; o++)
      {
        const uint8_t *xi = x + (gsize) i * kp;
        const int8_t *wo = w + (gsize) o * kp;
        int32_t s = 0;
        for (int k = 0; k < kp; k++)
          s += (int32_t) xi[k] * wo[k];
        acc[(gsize) i * rows + o] = s;
      }
}

#define PL_AVX2 __attribute__ ((target ("avx2")))

PL_AVX2 static inline int32_t
hsum_epi32_256 (__m256i v)
{
  __m128i s = _mm_add_epi32 (_mm256_castsi256_si128 (v), _mm256_extracti128_si256 (v, 1));
  s = _mm_add_epi32 (s, _mm_shuffle_epi32 (s, _MM_SHUFFLE (1, 0, 3, 2)));
  s = _mm_add_epi32 (s, _mm_shuffle_epi32 (s, _MM_SHUFFLE (2, 3, 0, 1)));
  return _mm_cvtsi128_si32 (s);
}

/* u8 and s8 widened to int16, vpmaddwd: each int32 lane adds two products of at
 * most 255 * 128, exact */
PL_AVX2 static void
gemm_avx2 (int32_t *acc, const uint8_t *x, const int8_t *w, int n, int rows, int kp)
{
  for (int i = 0; i < n; i++)
    {
      const uint8_t *xi = x + (gsize) i * kp;
      int o = 0;
      for (; o + 4 <= rows; o += 4)
        {
          const int8_t *w0 = w + (gsize) o * kp, *w1 = w0 + kp, *w2 = w1 + kp, *w3 = w2 + kp;
          __m256i a0 = _mm256_setzero_si256 (), a1 = a0, a2 = a0, a3 = a0;
          for (int k = 0; k < kp; k += 16)
            {
              __m256i xv = _mm256_cvtepu8_epi16 (_mm_loadu_si128 ((const __m128i *) (xi + k)));
#define STEP(a, wr) \
              a = _mm256_add_epi32 (a, _mm256_madd_epi16 (xv, _mm256_cvtepi8_epi16 ( \
                    _mm_loadu_si128 ((const __m128i *) ((wr) + k)))))
              STEP (a0, w0);
              STEP (a1, w1);
              STEP (a2, w2);
              STEP (a3, w3);
            }
          int32_t *out = acc + (gsize) i * rows + o;
          out[0] = hsum_epi32_256 (a0);
          out[1] = hsum_epi32_256 (a1);
          out[2] = hsum_epi32_256 (a2);
          out[3] = hsum_epi32_256 (a3);
        }
      for (; o < rows; o++)
        {
          const int8_t *w0 = w + (gsize) o * kp;
          __m256i a0 = _mm256_setzero_si256 ();
          for (int k = 0; k < kp; k += 16)
            {
              __m256i xv = _mm256_cvtepu8_epi16 (_mm_loadu_si128 ((const __m128i *) (xi + k)));
              STEP (a0, w0);
            }
#undef STEP
          acc[(gsize) i * rows + o] = hsum_epi32_256 (a0);
        }
    }
}

#define PL_VNNI __attribute__ ((target ("avx512f,avx512bw,avx512vnni")))

/* vpdpbusd: 4 u8 * s8 products added to each int32 lane, no saturation */
PL_VNNI static void
gemm_vnni (int32_t *acc, const uint8_t *x, const int8_t *w, int n, int rows, int kp)
{
  int i = 0;
  for (; i + 2 <= n; i += 2)
    {
      const uint8_t *x0 = x + (gsize) i * kp, *x1 = x0 + kp;
      int o = 0;
      for (; o + 4 <= rows; o += 4)
        {
          const int8_t *w0 = w + (gsize) o * kp, *w1 = w0 + kp, *w2 = w1 + kp, *w3 = w2 + kp;
          __m512i a00 = _mm512_setzero_si512 (), a01 = a00, a02 = a00, a03 = a00;
          __m512i a10 = a00, a11 = a00, a12 = a00, a13 = a00;
          for (int k = 0; k < kp; k += 64)
            {
              __m512i xv0 = _mm512_loadu_si512 (x0 + k), xv1 = _mm512_loadu_si512 (x1 + k);
              __m512i wv = _mm512_loadu_si512 (w0 + k);
              a00 = _mm512_dpbusd_epi32 (a00, xv0, wv);
              a10 = _mm512_dpbusd_epi32 (a10, xv1, wv);
              wv = _mm512_loadu_si512 (w1 + k);
              a01 = _mm512_dpbusd_epi32 (a01, xv0, wv);
              a11 = _mm512_dpbusd_epi32 (a11, xv1, wv);
              wv = _mm512_loadu_si512 (w2 + k);
              a02 = _mm512_dpbusd_epi32 (a02, xv0, wv);
              a12 = _mm512_dpbusd_epi32 (a12, xv1, wv);
              wv = _mm512_loadu_si512 (w3 + k);
              a03 = _mm512_dpbusd_epi32 (a03, xv0, wv);
              a13 = _mm512_dpbusd_epi32 (a13, xv1, wv);
            }
          int32_t *r0 = acc + (gsize) i * rows + o, *r1 = r0 + rows;
          r0[0] = _mm512_reduce_add_epi32 (a00);
          r0[1] = _mm512_reduce_add_epi32 (a01);
          r0[2] = _mm512_reduce_add_epi32 (a02);
          r0[3] = _mm512_reduce_add_epi32 (a03);
          r1[0] = _mm512_reduce_add_epi32 (a10);
          r1[1] = _mm512_reduce_add_epi32 (a11);
          r1[2] = _mm512_reduce_add_epi32 (a12);
          r1[3] = _mm512_reduce_add_epi32 (a13);
        }
      for (; o < rows; o++)
        {
          const int8_t *w0 = w + (gsize) o * kp;
          __m512i a0 = _mm512_setzero_si512 (), a1 = a0;
          for (int k = 0; k < kp; k += 64)
            {
              __m512i wv = _mm512_loadu_si512 (w0 + k);
              a0 = _mm512_dpbusd_epi32 (a0, _mm512_loadu_si512 (x0 + k), wv);
              a1 = _mm512_dpbusd_epi32 (a1, _mm512_loadu_si512 (x1 + k), wv);
            }
          acc[(gsize) i * rows + o] = _mm512_reduce_add_epi32 (a0);
          acc[(gsize) (i + 1) * rows + o] = _mm512_reduce_add_epi32 (a1);
        }
    }
  for (; i < n; i++)
    {
      const uint8_t *x0 = x + (gsize) i * kp;
      int o = 0;
      for (; o + 4 <= rows; o += 4)
        {
          const int8_t *w0 = w + (gsize) o * kp, *w1 = w0 + kp, *w2 = w1 + kp, *w3 = w2 + kp;
          __m512i a0 = _mm512_setzero_si512 (), a1 = a0, a2 = a0, a3 = a0;
          for (int k = 0; k < kp; k += 64)
            {
              __m512i xv = _mm512_loadu_si512 (x0 + k);
              a0 = _mm512_dpbusd_epi32 (a0, xv, _mm512_loadu_si512 (w0 + k));
              a1 = _mm512_dpbusd_epi32 (a1, xv, _mm512_loadu_si512 (w1 + k));
              a2 = _mm512_dpbusd_epi32 (a2, xv, _mm512_loadu_si512 (w2 + k));
              a3 = _mm512_dpbusd_epi32 (a3, xv, _mm512_loadu_si512 (w3 + k));
            }
          int32_t *r0 = acc + (gsize) i * rows + o;
          r0[0] = _mm512_reduce_add_epi32 (a0);
          r0[1] = _mm512_reduce_add_epi32 (a1);
          r0[2] = _mm512_reduce_add_epi32 (a2);
          r0[3] = _mm512_reduce_add_epi32 (a3);
        }
      for (; o < rows; o++)
        {
          const int8_t *w0 = w + (gsize) o * kp;
          __m512i a0 = _mm512_setzero_si512 ();
          for (int k = 0; k < kp; k += 64)
            a0 = _mm512_dpbusd_epi32 (a0, _mm512_loadu_si512 (x0 + k),
                                      _mm512_loadu_si512 (w0 + k));
          acc[(gsize) i * rows + o] = _mm512_reduce_add_epi32 (a0);
        }
    }
}

void
pl_int8_gemm_u8s8 (PlInt8Kernel kernel, int32_t *acc, const uint8_t *x, const int8_t *w,
                   int n, int rows, int kp)
{
  g_return_if_fail (kp % KA == 0 && n >= 0 && rows >= 0);
  g_return_if_fail (pl_int8_kernel_supported (kernel));
  switch (kernel)
    {
    case PL_INT8_KERNEL_VNNI:
      gemm_vnni (acc, x, w, n, rows, kp);
      break;
    case PL_INT8_KERNEL_AVX2:
      gemm_avx2 (acc, x, w, n, rows, kp);
      break;
    default:
      gemm_c (acc, x, w, n, rows, kp);
      break;
    }
}

/* ---- the quantized layer --------------------------------------------------- */

struct _PlInt8Linear {
  int rows, cols, kp;
  int8_t *w;            /* [rows, kp], zero-padded */
  int32_t *rowsum;      /* [rows] sum of w's row */
  float *scale;         /* [rows] */
  int32_t *zero_point;  /* [rows] */
  float *bias;          /* [rows] or NULL */
  float in_scale;       /* 0: dynamic, per input row */
  int32_t in_zero_point;
  int in_qmin, in_qmax;
  /* grown to the largest batch seen */
  int cap;
  uint8_t *xq;          /* [cap, kp] */
  int32_t *acc;         /* [cap, rows] */
  float *row_scale;     /* [cap] */
  int32_t *row_zu;      /* [cap] zero point + 128 */
  int32_t *row_sum;     /* [cap] sum of the row's u8 values */
};

PlInt8Linear *
pl_int8_linear_new (const int8_t *q, int rows, int cols, const float *scale,
                    const int32_t *zero_point, int n_ch, const float *bias, float in_scale,
                    int32_t in_zero_point, PlInt8Scheme in_scheme)
{
  g_return_val_if_fail (rows > 0 && cols > 0 && (n_ch == 1 || n_ch == rows), NULL);
  PlInt8Linear *l = g_new0 (PlInt8Linear, 1);
  l->rows = rows;
  l->cols = cols;
  l->kp = (cols + KA - 1) / KA * KA;
  l->w = g_aligned_alloc0 ((gsize) rows * l->kp, 1, 64);
  l->rowsum = g_new0 (int32_t, rows);
  l->scale = g_new (float, rows);
  l->zero_point = g_new (int32_t, rows);
  for (int o = 0; o < rows; o++)
    {
      memcpy (l->w + (gsize) o * l->kp, q + (gsize) o * cols, cols);
      for (int k = 0; k < cols; k++)
        l->rowsum[o] += q[(gsize) o * cols + k];
      l->scale[o] = scale[n_ch == 1 ? 0 : o];
      l->zero_point[o] = zero_point[n_ch == 1 ? 0 : o];
    }
  l->bias = bias ? g_memdup2 (bias, rows * sizeof (float)) : NULL;
  l->in_scale = in_scale > 0 ? in_scale : 0;
  l->in_zero_point = in_zero_point;
  pl_int8_range (in_scheme, &l->in_qmin, &l->in_qmax);
  return l;
}

PlInt8Linear *
pl_int8_linear_new_from_float (const float *w, int rows, int cols, const float *bias)
{
  g_autofree float *lo = g_new (float, rows), *hi = g_new (float, rows);
  g_autofree float *scale = g_new (float, rows);
  g_autofree int32_t *zp = g_new (int32_t, rows);
  g_autofree int8_t *q = g_new (int8_t, (gsize) rows * cols);
  pl_int8_minmax (lo, hi, w, rows, cols);
  for (int o = 0; o < rows; o++)
    pl_int8_choose_qparams (lo[o], hi[o], PL_INT8_SYMMETRIC, &scale[o], &zp[o]);
  pl_int8_quantize (q, w, rows, cols, scale, zp, PL_INT8_SYMMETRIC);
  return pl_int8_linear_new (q, rows, cols, scale, zp, rows, bias, 0, 0, PL_INT8_SYMMETRIC);
}

void
pl_int8_linear_free (PlInt8Linear *l)
{
  if (!l)
    return;
  g_aligned_free (l->w);
  g_free (l->rowsum);
  g_free (l->scale);
  g_free (l->zero_point);
  g_free (l->bias);
  g_aligned_free (l->xq);
  g_free (l->acc);
  g_free (l->row_scale);
  g_free (l->row_zu);
  g_free (l->row_sum);
  g_free (l);
}

int
pl_int8_linear_get_rows (const PlInt8Linear *l)
{
  return l->rows;
}

int
pl_int8_linear_get_cols (const PlInt8Linear *l)
{
  return l->cols;
}

void
pl_int8_linear_dequantize (const PlInt8Linear *l, float *w)
{
  for (int o = 0; o < l->rows; o++)
    for (int k = 0; k < l->cols; k++)
      w[(gsize) o * l->cols + k] = l->scale[o] * (float) (l->w[(gsize) o * l->kp + k]
                                                          - l->zero_point[o]);
}

/* out[k] = clamp (round_half_even (x[k] / s) + z, qmin, qmax) + 128, the value
 * pl_int8_quantize () gives plus 128; returns the sum of out. The quotient is
 * clamped to one step beyond the range first (which changes no result), so the
 * rounding by adding and subtracting 1.5 * 2^23 is exact and NaN ends at qmin. */
static int32_t
quantize_row_u8 (uint8_t *out, const float *x, int n, float s, int32_t z, int qmin, int qmax)
{
  const float lo = (float) (qmin - z - 1), hi = (float) (qmax - z + 1);
  const float magic = 12582912.0f;
  int32_t sum = 0;
  for (int k = 0; k < n; k++)
    {
      float v = x[k] / s;
      v = v >= lo ? v : lo;
      v = v <= hi ? v : hi;
      int32_t q = (int32_t) ((v + magic) - magic) + z;
      q = q < qmin ? qmin : q > qmax ? qmax : q;
      out[k] = (uint8_t) (q + 128);
      sum += q + 128;
    }
  return sum;
}

void
pl_int8_linear_forward (PlInt8Linear *l, PlInt8Kernel kernel, float *y, const float *x, int n)
{
  g_return_if_fail (l != NULL && n >= 0);
  if (n > l->cap)
    {
      g_aligned_free (l->xq);
      l->xq = g_aligned_alloc0 ((gsize) n * l->kp, 1, 64);
      l->acc = g_renew (int32_t, l->acc, (gsize) n * l->rows);
      l->row_scale = g_renew (float, l->row_scale, n);
      l->row_zu = g_renew (int32_t, l->row_zu, n);
      l->row_sum = g_renew (int32_t, l->row_sum, n);
      l->cap = n;
    }
  for (int i = 0; i < n; i++)
    {
      const float *xi = x + (gsize) i * l->cols;
      float s = l->in_scale;
      int32_t z = l->in_zero_point;
      int qmin = l->in_qmin, qmax = l->in_qmax;
      if (s == 0)
        {
          float mn, mx;
          pl_int8_minmax (&mn, &mx, xi, 1, l->cols);
          pl_int8_choose_qparams (mn, mx, PL_INT8_SYMMETRIC, &s, &z);
          qmin = -127, qmax = 127;
        }
      l->row_scale[i] = s;
      l->row_zu[i] = z + 128;
      l->row_sum[i] = quantize_row_u8 (l->xq + (gsize) i * l->kp, xi, l->cols, s, z, qmin,
                                       qmax);
    }
  pl_int8_gemm_u8s8 (kernel, l->acc, l->xq, l->w, n, l->rows, l->kp);
  const int64_t K = l->cols;
  for (int i = 0; i < n; i++)
    {
      const int32_t *a = l->acc + (gsize) i * l->rows;
      float *yi = y + (gsize) i * l->rows;
      int64_t zu = l->row_zu[i], sx = l->row_sum[i];
      for (int o = 0; o < l->rows; o++)
        {
          int64_t zw = l->zero_point[o];
          int64_t t = a[o] - zu * l->rowsum[o] - zw * sx + K * zu * zw;
          yi[o] = (l->row_scale[i] * l->scale[o]) * (float) t + (l->bias ? l->bias[o] : 0.0f);
        }
    }
}
