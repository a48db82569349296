/* pl-ops.c: the kernels declared in pl-ops.h. */

/* GCC 12's -O2 cost model vectorizes no loop whose trip count is unknown; the
 * elementwise loops here want the -O3 one. No -ffast-math and no contraction
 * into FMA: a reduction is either scalar or split into a fixed number of partial
 * sums written out in the source (sum_lanes), so results do not depend on the
 * vector width the compiler picks. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__OPTIMIZE__)
#pragma GCC optimize ("tree-vectorize", "vect-cost-model=dynamic", "fp-contract=off")
#endif

#include "pl-ops.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* Kernels whose time is arithmetic (the transcendental and normalization ones)
 * get AVX2 and AVX-512 builds picked at load time; the library itself targets
 * baseline x86-64. Without FMA contraction and with the fixed partial sums, every
 * build returns the same bits. */
#ifndef PL_VECTOR_CLONES
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__ELF__)
#define PL_VECTOR_CLONES __attribute__ ((target_clones ("avx512f", "avx2", "default")))
#else
#define PL_VECTOR_CLONES
#endif
#endif

/* ---- vectorizable maths ------------------------------------------------------ */

/* exp(x) for x <= 0, written so that loops calling it vectorize (libm's expf is
 * an opaque call). Cephes' expf: x = n ln2 + r with |r| <= ln2/2 (ln2 split in
 * two for an exact n ln2), exp(r) by a degree-7 polynomial, 2^n from the
 * exponent bits; within 2 ulp of expf for x in [-87.3, 0]. Below -87.3 (where
 * expf turns subnormal) it returns 0, and NaN stays NaN.
 * No float comparison and no select (GCC threads a select into two paths and
 * then will not if-convert them under -ftrapping-math): the clamp is a bit mask
 * and the underflow a multiplication by 0 or 1. */
static inline float
exp_nonpos (float x)
{
  /* x < -87.33654 (-inf included, negative NaNs not) compared on the bits: for
   * negative floats a larger magnitude is a larger unsigned pattern */
  const uint32_t lo_bits = 0xC2AEAC50u;
  uint32_t xb;
  memcpy (&xb, &x, sizeof xb);
  uint32_t below = (xb > lo_bits) & (xb <= 0xFF800000u);
  uint32_t mask = 0u - below;
  uint32_t cb = (xb & ~mask) | (lo_bits & mask);
  float xc;
  memcpy (&xc, &cb, sizeof xc);
  float keep = (float) (int32_t) (1u - below);
  /* round-to-nearest n with the 1.5 * 2^23 trick: n + 0x4B400000 are t's bits */
  float t = xc * 1.44269504088896341f + 12582912.0f;
  float n = t - 12582912.0f;
  float r = xc - n * 0.693359375f;
  r = r + n * 2.12194440e-4f;
  float z = r * r;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * z + r + 1.0f;
  /* 2^n for n in [-126, 0]: a normal float's exponent field */
  int32_t tb;
  memcpy (&tb, &t, sizeof tb);
  /* unsigned: lanes outside the range (masked by keep) may be negative */
  uint32_t e = (uint32_t) (tb - 0x4B400000 + 127) << 23;
  float scale;
  memcpy (&scale, &e, sizeof scale);
  return p * scale * keep;
}

/* erf(x) as PyTorch 1.13's vectorized CPU kernels compute it (Abramowitz and
 * Stegun 7.1.26, absolute error below 1.5e-7):
 *   t = 1 / (1 + p |x|),  erf(x) = sign(x) (1 - t P(t) exp(-x^2))
 * The caller passes e = exp(-x^2), so GELU can share it with its density. */
static inline float
erf_with_exp (float x, float e)
{
  float ax = fabsf (x);
  float t = 1.0f / (0.3275911f * ax + 1.0f);
  float r = 1.061405429f;
  r = r * t - 1.453152027f;
  r = r * t + 1.421413741f;
  r = r * t - 0.284496736f;
  r = r * t + 0.254829592f;
  float v = 1.0f - e * t * r;
  return copysignf (v, x);
}

/* sum of x[0..n) in double through 8 interleaved partial sums combined in a
 * fixed order: the same bits whatever vector width the compiler uses */
static inline double
sum_lanes (const float *x, int n)
{
  double acc[8] = { 0 };
  int j = 0;
  for (; j + 8 <= n; j += 8)
    for (int k = 0; k < 8; k++)
      acc[k] += x[j + k];
  for (int k = 0; j < n; j++, k++)
    acc[k] += x[j];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

/* ---- dense ------------------------------------------------------------------ */

/* db[c] += dy[0, c] + dy[1, c] + ... in row order (as one row at a time would
 * add them), four rows per pass over db so that db is loaded and stored a
 * quarter as often; dy [N, C] */
static void
col_sums_add (float *restrict db, const float *restrict dy, int N, int C)
{
  int n = 0;
  for (; n + 4 <= N; n += 4)
    {
      const float *r0 = dy + (size_t) n * C, *r1 = r0 + C, *r2 = r1 + C, *r3 = r2 + C;
      for (int c = 0; c < C; c++)
        db[c] = (((db[c] + r0[c]) + r1[c]) + r2[c]) + r3[c];
    }
  for (; n < N; n++)
    {
      const float *row = dy + (size_t) n * C;
      for (int c = 0; c < C; c++)
        db[c] += row[c];
    }
}

void
pl_linear_forward (float *y, const float *x, const float *w, const float *b, int N,
                   int IN, int OUT)
{
  if (N <= 0 || OUT <= 0)
    return;
  /* like torch.addmm: the bias is the gemm's C operand */
  float beta = 0.0f;
  if (b)
    {
      for (int n = 0; n < N; n++)
        memcpy (y + (size_t) n * OUT, b, (size_t) OUT * sizeof (float));
      beta = 1.0f;
    }
  if (IN <= 0)
    {
      if (!b)
        memset (y, 0, (size_t) N * OUT * sizeof (float));
      return;
    }
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, N, OUT, IN, 1.0f, x, IN, w, IN,
               beta, y, OUT);
}

void
pl_linear_backward (float *dx, float *dw, float *db, const float *dy, const float *x,
                    const float *w, int N, int IN, int OUT)
{
  pl_linear_backward_write (dx, PL_GRAD_ADD, dw, db, dy, x, w, N, IN, OUT);
}

void
pl_linear_backward_write (float *dx, PlGradWrite dx_write, float *dw, float *db,
                          const float *dy, const float *x, const float *w, int N, int IN,
                          int OUT)
{
  if (N <= 0)
    return;
  if (dx && IN > 0 && dx_write == PL_GRAD_SET && OUT <= 0)
    memset (dx, 0, (size_t) N * IN * sizeof (float));
  if (OUT <= 0)
    return;
  /* beta 0: OpenBLAS clears C and adds the product, as a cleared dx and beta 1 */
  if (dx && IN > 0)
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, N, IN, OUT, 1.0f, dy, OUT, w,
                 IN, dx_write == PL_GRAD_SET ? 0.0f : 1.0f, dx, IN);
  if (dw && IN > 0)
    cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, OUT, IN, N, 1.0f, dy, OUT, x,
                 IN, 1.0f, dw, IN);
  if (db)
    col_sums_add (db, dy, N, OUT);
}

void
pl_bias_add_forward (float *y, const float *x, const float *b, int N, int C, int S)
{
  for (int n = 0; n < N; n++)
    for (int c = 0; c < C; c++)
      {
        size_t off = ((size_t) n * C + c) * S;
        float bc = b[c];
        for (int s = 0; s < S; s++)
          y[off + s] = x[off + s] + bc;
      }
}

/* dst = (set ? 0 : dst) + src over n values: "0 +" keeps the bits of clearing
 * and adding (a -0 in src becomes +0 either way) */
static inline __attribute__ ((always_inline)) void
write_copy (float *restrict dst, const float *restrict src, size_t n, gboolean set)
{
  for (size_t i = 0; i < n; i++)
    dst[i] = (set ? 0.0f : dst[i]) + src[i];
}

static void
add_into (float *restrict dst, PlGradWrite write, const float *restrict src, size_t n)
{
  if (write == PL_GRAD_SET)
    write_copy (dst, src, n, TRUE);
  else
    write_copy (dst, src, n, FALSE);
}

void
pl_bias_add_backward (float *dx, float *db, const float *dy, int N, int C, int S)
{
  pl_bias_add_backward_write (dx, PL_GRAD_ADD, db, dy, N, C, S);
}

void
pl_bias_add_backward_write (float *dx, PlGradWrite dx_write, float *db, const float *dy,
                            int N, int C, int S)
{
  if (dx)
    add_into (dx, dx_write, dy, (size_t) N * C * S);
  if (db && S == 1)
    col_sums_add (db, dy, N, C);
  else if (db)
    for (int n = 0; n < N; n++)
      for (int c = 0; c < C; c++)
        db[c] += (float) sum_lanes (dy + ((size_t) n * C + c) * S, S);
}

/* ---- activations -------------------------------------------------------------- */

void
pl_relu_forward (float *y, const float *x, size_t n)
{
  for (size_t i = 0; i < n; i++)
    y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

/* 0.0f that the compiler cannot see through, so that "zero + v" stays an addition
 * (a -0 becomes +0, as clearing and adding gives) and is not folded into the
 * select before it, which GCC would then thread into a branch on the sign */
static inline float
opaque_zero (void)
{
  float z = 0.0f;
#if defined(__GNUC__) && defined(__x86_64__)
  __asm__ ("" : "+x" (z));
#endif
  return z;
}

static inline __attribute__ ((always_inline)) void
relu_backward_loop (float *restrict dx, const float *restrict dy, const float *restrict x,
                    size_t n, gboolean set)
{
  const float zero = opaque_zero ();
  /* both operands loaded unconditionally: a select, not a branch on the sign */
  for (size_t i = 0; i < n; i++)
    {
      float g = dy[i];
      dx[i] = (set ? zero : dx[i]) + (x[i] > 0.0f ? g : 0.0f);
    }
}

void
pl_relu_backward (float *dx, const float *dy, const float *x, const float *y, size_t n)
{
  pl_relu_backward_write (dx, PL_GRAD_ADD, dy, x, y, n);
}

void
pl_relu_backward_write (float *dx, PlGradWrite dx_write, const float *dy, const float *x,
                        const float *y, size_t n)
{
  if (!dx)
    return;
  if (dx_write == PL_GRAD_SET)
    relu_backward_loop (dx, dy, x, n, TRUE);
  else
    relu_backward_loop (dx, dy, x, n, FALSE);
}

/* As torch's vectorized GeluKernel: y = x/2 (1 + erf(x / sqrt 2)). */
PL_VECTOR_CLONES void
pl_gelu_forward (float *y, const float *x, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      float u = x[i] * (float) M_SQRT1_2;
      float e = exp_nonpos (-(u * u));
      y[i] = x[i] * 0.5f * (1.0f + erf_with_exp (u, e));
    }
}

/* As torch's GeluBackward: dx += dy (Phi(x) + x phi(x)),
 * Phi(x) = (1 + erf(x / sqrt 2)) / 2, phi(x) = exp(-x^2 / 2) / sqrt(2 pi);
 * exp(-(x / sqrt 2)^2) serves both. */
static inline __attribute__ ((always_inline)) void
gelu_backward_loop (float *restrict dx, const float *restrict dy, const float *restrict x,
                    size_t n, gboolean set)
{
  const float inv_sqrt_2pi = 0.39894228040143267794f;
  for (size_t i = 0; i < n; i++)
    {
      float u = x[i] * (float) M_SQRT1_2;
      float e = exp_nonpos (-(u * u));
      float cdf = 0.5f * (1.0f + erf_with_exp (u, e));
      float pdf = inv_sqrt_2pi * e;
      dx[i] = (set ? 0.0f : dx[i]) + dy[i] * (cdf + x[i] * pdf);
    }
}

PL_VECTOR_CLONES void
pl_gelu_backward_write (float *dx, PlGradWrite dx_write, const float *dy, const float *x,
                        const float *y, size_t n)
{
  if (!dx)
    return;
  if (dx_write == PL_GRAD_SET)
    gelu_backward_loop (dx, dy, x, n, TRUE);
  else
    gelu_backward_loop (dx, dy, x, n, FALSE);
}

void
pl_gelu_backward (float *dx, const float *dy, const float *x, const float *y, size_t n)
{
  pl_gelu_backward_write (dx, PL_GRAD_ADD, dy, x, y, n);
}

void
pl_tanh_forward (float *y, const float *x, size_t n)
{
  for (size_t i = 0; i < n; i++)
    y[i] = tanhf (x[i]);
}

void
pl_tanh_backward (float *dx, const float *dy, const float *x, const float *y, size_t n)
{
  pl_tanh_backward_write (dx, PL_GRAD_ADD, dy, x, y, n);
}

void
pl_tanh_backward_write (float *dx, PlGradWrite dx_write, const float *dy, const float *x,
                        const float *y, size_t n)
{
  if (!dx)
    return;
  const gboolean set = dx_write == PL_GRAD_SET;
  for (size_t i = 0; i < n; i++)
    dx[i] = (set ? 0.0f : dx[i]) + dy[i] * (1.0f - y[i] * y[i]);
}

void
pl_sigmoid_forward (float *y, const float *x, size_t n)
{
  for (size_t i = 0; i < n; i++)
    y[i] = 1.0f / (1.0f + expf (-x[i]));
}

void
pl_sigmoid_backward (float *dx, const float *dy, const float *x, const float *y,
                     size_t n)
{
  pl_sigmoid_backward_write (dx, PL_GRAD_ADD, dy, x, y, n);
}

void
pl_sigmoid_backward_write (float *dx, PlGradWrite dx_write, const float *dy,
                           const float *x, const float *y, size_t n)
{
  if (!dx)
    return;
  const gboolean set = dx_write == PL_GRAD_SET;
  for (size_t i = 0; i < n; i++)
    dx[i] = (set ? 0.0f : dx[i]) + dy[i] * y[i] * (1.0f - y[i]);
}

/* ---- losses and softmax --------------------------------------------------------- */

/* The largest of x[0..n), NaNs skipped unless x[0] is one (then NaN), through 8
 * partial maxima so the loop vectorizes; a maximum is exact, so the order of
 * comparison changes nothing. */
static inline float
max_lanes (const float *x, int n)
{
  float acc[8];
  for (int k = 0; k < 8; k++)
    acc[k] = x[0];
  int j = 0;
  for (; j + 8 <= n; j += 8)
    for (int k = 0; k < 8; k++)
      acc[k] = x[j + k] > acc[k] ? x[j + k] : acc[k];
  for (int k = 0; j < n; j++, k++)
    acc[k] = x[j] > acc[k] ? x[j] : acc[k];
  float m = acc[0];
  for (int k = 1; k < 8; k++)
    m = acc[k] > m ? acc[k] : m;
  return m;
}

/* y = exp(x - max x) / sum over one row of c values; returns the sum of the
 * exponentials (>= 1 for finite x) so callers can form log-sum-exp. y may be x. */
static inline double
softmax_row (float *y, const float *x, int c, float *max_out)
{
  float m = max_lanes (x, c);
  for (int j = 0; j < c; j++)
    y[j] = exp_nonpos (x[j] - m);
  double sum = sum_lanes (y, c);
  float inv = (float) (1.0 / sum);
  for (int j = 0; j < c; j++)
    y[j] *= inv;
  if (max_out)
    *max_out = m;
  return sum;
}

/* softmax_row over N rows of C: one call per matrix, so the vector builds cover
 * the whole loop and short rows (attention's) pay no call per row */
PL_VECTOR_CLONES static void
softmax_rows (float *y, const float *x, int N, int C)
{
  for (int n = 0; n < N; n++)
    softmax_row (y + (size_t) n * C, x + (size_t) n * C, C, NULL);
}

/* Softmax backward in place over N rows of C given the probabilities p:
 * d = p (d - sum_j d_j p_j), the sum in double through 8 partial sums. */
PL_VECTOR_CLONES static void
softmax_backward_rows (float *d, const float *p, int N, int C)
{
  for (int n = 0; n < N; n++)
    {
      float *dr = d + (size_t) n * C;
      const float *pr = p + (size_t) n * C;
      double acc[8] = { 0 };
      int j = 0;
      for (; j + 8 <= C; j += 8)
        for (int l = 0; l < 8; l++)
          acc[l] += dr[j + l] * pr[j + l];
      for (int l = 0; j < C; j++, l++)
        acc[l] += dr[j] * pr[j];
      float dot = (float) (((acc[0] + acc[1]) + (acc[2] + acc[3]))
                           + ((acc[4] + acc[5]) + (acc[6] + acc[7])));
      for (j = 0; j < C; j++)
        dr[j] = pr[j] * (dr[j] - dot);
    }
}

void
pl_softmax_forward (float *y, const float *x, int N, int C)
{
  if (C <= 0)
    return;
  softmax_rows (y, x, N, C);
}

float
pl_softmax_xent_forward (float *probs, const float *logits, const int32_t *labels,
                         int N, int C)
{
  if (N <= 0 || C <= 0)
    return 0.0f;
  double loss = 0.0;
  for (int n = 0; n < N; n++)
    {
      const float *x = logits + (size_t) n * C;
      int label = labels[n];
      if (G_UNLIKELY (label < 0 || label >= C))
        {
          g_critical ("%s: label %d of row %d is outside [0, %d)", G_STRFUNC, label, n, C);
          return NAN;
        }
      float m;
      double sum = softmax_row (probs + (size_t) n * C, x, C, &m);
      /* -log p = log sum_j exp(x_j - m) - (x_label - m) */
      loss += log (sum) - ((double) x[label] - (double) m);
    }
  return (float) (loss / N);
}

void
pl_softmax_xent_backward (float *dlogits, const float *probs, const int32_t *labels,
                          int N, int C, float dloss)
{
  if (!dlogits || N <= 0)
    return;
  float scale = dloss / (float) N;
  for (int n = 0; n < N; n++)
    {
      float *d = dlogits + (size_t) n * C;
      const float *p = probs + (size_t) n * C;
      for (int c = 0; c < C; c++)
        d[c] += scale * p[c];
      if (labels[n] >= 0 && labels[n] < C)
        d[labels[n]] -= scale;
    }
}

float
pl_mse_forward (const float *pred, const float *target, size_t n)
{
  if (n == 0)
    return 0.0f;
  double acc = 0.0;
  for (size_t i = 0; i < n; i++)
    {
      double d = (double) pred[i] - (double) target[i];
      acc += d * d;
    }
  return (float) (acc / (double) n);
}

void
pl_mse_backward (float *dpred, const float *pred, const float *target, size_t n,
                 float dloss)
{
  if (!dpred || n == 0)
    return;
  float scale = 2.0f * dloss / (float) n;
  for (size_t i = 0; i < n; i++)
    dpred[i] += scale * (pred[i] - target[i]);
}

/* ---- normalization ---------------------------------------------------------------- */

PL_VECTOR_CLONES void
pl_layernorm_forward (float *y, float *mean, float *rstd, const float *x,
                      const float *gamma, const float *beta, int N, int C, float eps)
{
  if (C <= 0)
    return;
  for (int n = 0; n < N; n++)
    {
      const float *xr = x + (size_t) n * C;
      float *yr = y + (size_t) n * C;
      double mu = sum_lanes (xr, C) / C;
      /* sum of (x - mu)^2 in double, 8 partial sums as in sum_lanes */
      double acc[8] = { 0 };
      int c = 0;
      for (; c + 8 <= C; c += 8)
        for (int k = 0; k < 8; k++)
          {
            double d = xr[c + k] - mu;
            acc[k] += d * d;
          }
      for (int k = 0; c < C; c++, k++)
        {
          double d = xr[c] - mu;
          acc[k] += d * d;
        }
      double v = ((acc[0] + acc[1]) + (acc[2] + acc[3]))
                 + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
      float m = (float) mu;
      float r = (float) (1.0 / sqrt (v / C + eps));
      if (gamma && beta)
        for (c = 0; c < C; c++)
          yr[c] = (xr[c] - m) * r * gamma[c] + beta[c];
      else
        for (c = 0; c < C; c++)
          {
            float xhat = (xr[c] - m) * r;
            float g = gamma ? gamma[c] : 1.0f;
            float b = beta ? beta[c] : 0.0f;
            yr[c] = xhat * g + b;
          }
      mean[n] = m;
      rstd[n] = r;
    }
}

void
pl_layernorm_backward (float *dx, float *dgamma, float *dbeta, const float *dy,
                       const float *x, const float *mean, const float *rstd,
                       const float *gamma, int N, int C)
{
  pl_layernorm_backward_write (dx, PL_GRAD_ADD, dgamma, dbeta, dy, x, mean, rstd, gamma,
                               N, C);
}

PL_VECTOR_CLONES void
pl_layernorm_backward_write (float *dx, PlGradWrite dx_write, float *dgamma, float *dbeta,
                             const float *dy, const float *x, const float *mean,
                             const float *rstd, const float *gamma, int N, int C)
{
  if (C <= 0)
    return;
  const gboolean set = dx_write == PL_GRAD_SET;
  const float zero = opaque_zero ();
  for (int n = 0; n < N; n++)
    {
      const float *xr = x + (size_t) n * C;
      const float *dyr = dy + (size_t) n * C;
      float m = mean[n], r = rstd[n];
      if (dbeta)
        for (int c = 0; c < C; c++)
          dbeta[c] += dyr[c];
      if (dgamma)
        for (int c = 0; c < C; c++)
          dgamma[c] += dyr[c] * (xr[c] - m) * r;
      if (!dx)
        continue;
      /* sums of g = dy gamma and of g xhat, 8 partial sums each (see sum_lanes) */
      double sg[8] = { 0 }, sgx[8] = { 0 };
      int c = 0;
      if (gamma)
        {
          for (; c + 8 <= C; c += 8)
            for (int k = 0; k < 8; k++)
              {
                float g = dyr[c + k] * gamma[c + k];
                sg[k] += g;
                sgx[k] += g * ((xr[c + k] - m) * r);
              }
          for (int k = 0; c < C; c++, k++)
            {
              float g = dyr[c] * gamma[c];
              sg[k] += g;
              sgx[k] += g * ((xr[c] - m) * r);
            }
        }
      else
        {
          for (; c + 8 <= C; c += 8)
            for (int k = 0; k < 8; k++)
              {
                float g = dyr[c + k];
                sg[k] += g;
                sgx[k] += g * ((xr[c + k] - m) * r);
              }
          for (int k = 0; c < C; c++, k++)
            {
              float g = dyr[c];
              sg[k] += g;
              sgx[k] += g * ((xr[c] - m) * r);
            }
        }
      double sum_g = ((sg[0] + sg[1]) + (sg[2] + sg[3])) + ((sg[4] + sg[5]) + (sg[6] + sg[7]));
      double sum_gx = ((sgx[0] + sgx[1]) + (sgx[2] + sgx[3]))
                      + ((sgx[4] + sgx[5]) + (sgx[6] + sgx[7]));
      float mean_g = (float) (sum_g / C), mean_gx = (float) (sum_gx / C);
      float *dxr = dx + (size_t) n * C;
      if (gamma)
        for (c = 0; c < C; c++)
          {
            float g = dyr[c] * gamma[c];
            float xhat = (xr[c] - m) * r;
            dxr[c] = (set ? zero : dxr[c]) + r * (g - mean_g - xhat * mean_gx);
          }
      else
        for (c = 0; c < C; c++)
          {
            float xhat = (xr[c] - m) * r;
            dxr[c] = (set ? zero : dxr[c]) + r * (dyr[c] - mean_g - xhat * mean_gx);
          }
    }
}

/* ---- embedding ------------------------------------------------------------------- */

int
pl_embedding_find_bad_id (const int32_t *ids, int N, int V)
{
  for (int i = 0; i < N; i++)
    if (ids[i] < 0 || ids[i] >= V)
      return i;
  return -1;
}

gboolean
pl_embedding_forward (float *y, const int32_t *ids, const float *table, int N, int V,
                      int D)
{
  if (pl_embedding_find_bad_id (ids, N, V) >= 0)
    return FALSE;
  for (int i = 0; i < N; i++)
    memcpy (y + (size_t) i * D, table + (size_t) ids[i] * D, (size_t) D * sizeof (float));
  return TRUE;
}

void
pl_embedding_backward (float *dtable, const float *dy, const int32_t *ids, int N, int D)
{
  if (!dtable)
    return;
  for (int i = 0; i < N; i++)
    {
      float *row = dtable + (size_t) ids[i] * D;
      const float *g = dy + (size_t) i * D;
      for (int d = 0; d < D; d++)
        row[d] += g[d];
    }
}

/* ---- dropout ------------------------------------------------------------------------ */

void
pl_dropout_forward (float *y, float *mask, const float *x, size_t n, float p, PlRng *rng)
{
  g_return_if_fail (p >= 0.0f && p <= 1.0f);
  if (p == 0.0f)
    {
      for (size_t i = 0; i < n; i++)
        mask[i] = 1.0f;
      if (y != x)
        memcpy (y, x, n * sizeof (float));
      return;
    }
  if (p == 1.0f)
    {
      memset (mask, 0, n * sizeof (float));
      memset (y, 0, n * sizeof (float));
      return;
    }
  float scale = 1.0f / (1.0f - p);
  for (size_t i = 0; i < n; i++)
    mask[i] = pl_rng_uniform (rng) < p ? 0.0f : scale;
  for (size_t i = 0; i < n; i++)
    y[i] = x[i] * mask[i];
}

void
pl_dropout_backward (float *dx, const float *dy, const float *mask, size_t n)
{
  if (!dx)
    return;
  for (size_t i = 0; i < n; i++)
    dx[i] += dy[i] * mask[i];
}

/* ---- convolution and pooling -------------------------------------------------------- */

int
pl_conv2d_out_size (int in, int k, int stride, int pad)
{
  g_return_val_if_fail (stride > 0 && k > 0 && pad >= 0, 0);
  if (in + 2 * pad < k)
    return 0;
  return (in + 2 * pad - k) / stride + 1;
}

/* The output columns ow in [*lo, *hi) whose input column ow*stride - pad + j lies
 * inside [0, W); the others read the zero padding. */
static inline void
valid_cols (int W, int OW, int stride, int pad, int j, int *lo, int *hi)
{
  int first = pad - j;               /* ow*stride >= first */
  int last = W - 1 + pad - j;        /* ow*stride <= last */
  int l = first > 0 ? (first + stride - 1) / stride : 0;
  int h = last >= 0 ? last / stride + 1 : 0;
  *lo = MIN (l, OW);
  *hi = CLAMP (h, *lo, OW);
}

/* col [C*KH*KW, OH*OW] = the receptive fields of one sample x [C, H, W]; each row
 * segment is a zero edge, a copy of an input row and another zero edge. */
static void
im2col (float *col, const float *x, int C, int H, int W, int KH, int KW, int stride,
        int pad, int OH, int OW)
{
  size_t ohw = (size_t) OH * OW;
  for (int c = 0; c < C; c++)
    for (int i = 0; i < KH; i++)
      for (int j = 0; j < KW; j++)
        {
          float *row = col + (((size_t) c * KH + i) * KW + j) * ohw;
          int lo, hi;
          valid_cols (W, OW, stride, pad, j, &lo, &hi);
          for (int oh = 0; oh < OH; oh++)
            {
              float *out = row + (size_t) oh * OW;
              int ih = oh * stride - pad + i;
              if (ih < 0 || ih >= H)
                {
                  memset (out, 0, (size_t) OW * sizeof (float));
                  continue;
                }
              const float *in = x + ((size_t) c * H + ih) * W;
              int shift = j - pad;
              for (int ow = 0; ow < lo; ow++)
                out[ow] = 0.0f;
              if (stride == 1)
                memcpy (out + lo, in + lo + shift, (size_t) (hi - lo) * sizeof (float));
              else
                for (int ow = lo; ow < hi; ow++)
                  out[ow] = in[ow * stride + shift];
              for (int ow = hi; ow < OW; ow++)
                out[ow] = 0.0f;
            }
        }
}

/* dx [C, H, W] += the receptive fields in col scattered back (im2col's adjoint),
 * in the same order of additions as a plain loop over (c, i, j, oh, ow) */
static void
col2im_add (float *dx, const float *col, int C, int H, int W, int KH, int KW, int stride,
            int pad, int OH, int OW)
{
  size_t ohw = (size_t) OH * OW;
  for (int c = 0; c < C; c++)
    for (int i = 0; i < KH; i++)
      for (int j = 0; j < KW; j++)
        {
          const float *row = col + (((size_t) c * KH + i) * KW + j) * ohw;
          int lo, hi;
          valid_cols (W, OW, stride, pad, j, &lo, &hi);
          for (int oh = 0; oh < OH; oh++)
            {
              int ih = oh * stride - pad + i;
              if (ih < 0 || ih >= H)
                continue;
              const float *g = row + (size_t) oh * OW;
              float *out = dx + ((size_t) c * H + ih) * W;
              int shift = j - pad;
              if (stride == 1)
                for (int ow = lo; ow < hi; ow++)
                  out[ow + shift] += g[ow];
              else
                for (int ow = lo; ow < hi; ow++)
                  out[ow * stride + shift] += g[ow];
            }
        }
}

void
pl_conv2d_forward (float *y, float *col, const float *x, const float *w, const float *b,
                   int N, int C, int H, int W, int K, int KH, int KW, int stride, int pad)
{
  int OH = pl_conv2d_out_size (H, KH, stride, pad);
  int OW = pl_conv2d_out_size (W, KW, stride, pad);
  if (N <= 0 || K <= 0 || OH <= 0 || OW <= 0)
    return;
  int ohw = OH * OW, ckk = C * KH * KW;
  for (int n = 0; n < N; n++)
    {
      float *yn = y + (size_t) n * K * ohw;
      im2col (col, x + (size_t) n * C * H * W, C, H, W, KH, KW, stride, pad, OH, OW);
      float beta = 0.0f;
      if (b)
        {
          for (int k = 0; k < K; k++)
            for (int i = 0; i < ohw; i++)
              yn[(size_t) k * ohw + i] = b[k];
          beta = 1.0f;
        }
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, K, ohw, ckk, 1.0f, w, ckk,
                   col, ohw, beta, yn, ohw);
    }
}

void
pl_conv2d_backward (float *dx, float *dw, float *db, float *col, float *dcol,
                    const float *dy, const float *x, const float *w, int N, int C, int H,
                    int W, int K, int KH, int KW, int stride, int pad)
{
  int OH = pl_conv2d_out_size (H, KH, stride, pad);
  int OW = pl_conv2d_out_size (W, KW, stride, pad);
  if (N <= 0 || K <= 0 || OH <= 0 || OW <= 0)
    return;
  int ohw = OH * OW, ckk = C * KH * KW;
  for (int n = 0; n < N; n++)
    {
      const float *dyn = dy + (size_t) n * K * ohw;
      if (db)
        for (int k = 0; k < K; k++)
          db[k] += (float) sum_lanes (dyn + (size_t) k * ohw, ohw);
      if (dw)
        {
          im2col (col, x + (size_t) n * C * H * W, C, H, W, KH, KW, stride, pad, OH, OW);
          cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, K, ckk, ohw, 1.0f, dyn,
                       ohw, col, ohw, 1.0f, dw, ckk);
        }
      if (dx)
        {
          cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, ckk, ohw, K, 1.0f, w, ckk,
                       dyn, ohw, 0.0f, dcol, ohw);
          col2im_add (dx + (size_t) n * C * H * W, dcol, C, H, W, KH, KW, stride, pad, OH,
                      OW);
        }
    }
}

/* max pooling's step: v at index vi replaces the running maximum m when larger,
 * or when it is a NaN and m is not; that is, when !(v <= m) and m is a number.
 * Selects on 32-bit masks, which the vectorizer handles (it gives up on bools
 * mixed with floats). */
static inline void
pool_take (float v, int32_t vi, float *m, int32_t *best)
{
  float mm = *m;
  int32_t take = v <= mm ? 0 : -1;
  take &= mm == mm ? -1 : 0;
  *m = take ? v : mm;
  *best = take ? vi : *best;
}

void
pl_maxpool2d_forward (float *y, int32_t *argmax, const float *x, int N, int C, int H,
                      int W, int k, int s)
{
  g_return_if_fail (k > 0 && s > 0);
  if (H < k || W < k)
    return;
  int OH = (H - k) / s + 1, OW = (W - k) / s + 1;
  for (int p = 0; p < N * C; p++)
    {
      int32_t base = (int32_t) ((size_t) p * H * W);
      float *yp = y + (size_t) p * OH * OW;
      int32_t *ap = argmax + (size_t) p * OH * OW;
      for (int oh = 0; oh < OH; oh++)
        {
          float *yr = yp + (size_t) oh * OW;
          int32_t *ar = ap + (size_t) oh * OW;
          int32_t r0 = base + oh * s * W;
          if (k == 2 && s == 2)
            {
              /* the common 2x2 window, unrolled */
              const float *x0 = x + r0, *x1 = x0 + W;
              for (int ow = 0; ow < OW; ow++)
                {
                  int32_t i0 = r0 + 2 * ow, i1 = i0 + W;
                  float m = x0[2 * ow];
                  int32_t best = i0;
                  pool_take (x0[2 * ow + 1], i0 + 1, &m, &best);
                  pool_take (x1[2 * ow], i1, &m, &best);
                  pool_take (x1[2 * ow + 1], i1 + 1, &m, &best);
                  yr[ow] = m;
                  ar[ow] = best;
                }
              continue;
            }
          for (int ow = 0; ow < OW; ow++)
            {
              int32_t best = r0 + ow * s;
              float m = x[best];
              for (int i = 0; i < k; i++)
                for (int j = 0; j < k; j++)
                  {
                    int32_t idx = r0 + i * W + ow * s + j;
                    pool_take (x[idx], idx, &m, &best);
                  }
              yr[ow] = m;
              ar[ow] = best;
            }
        }
    }
}

void
pl_maxpool2d_backward (float *dx, const float *dy, const int32_t *argmax, int N, int C,
                       int OH, int OW)
{
  if (!dx)
    return;
  size_t len = (size_t) N * C * OH * OW;
  for (size_t i = 0; i < len; i++)
    dx[argmax[i]] += dy[i];
}

void
pl_avgpool2d_forward (float *y, const float *x, int N, int C, int H, int W, int k, int s)
{
  g_return_if_fail (k > 0 && s > 0);
  if (H < k || W < k)
    return;
  int OH = (H - k) / s + 1, OW = (W - k) / s + 1;
  float inv = 1.0f / (float) (k * k);
  for (int p = 0; p < N * C; p++)
    {
      const float *xp = x + (size_t) p * H * W;
      float *yp = y + (size_t) p * OH * OW;
      for (int oh = 0; oh < OH; oh++)
        for (int ow = 0; ow < OW; ow++)
          {
            float acc = 0.0f;
            for (int i = 0; i < k; i++)
              for (int j = 0; j < k; j++)
                acc += xp[(oh * s + i) * W + ow * s + j];
            yp[oh * OW + ow] = acc * inv;
          }
    }
}

void
pl_avgpool2d_backward (float *dx, const float *dy, int N, int C, int H, int W, int k,
                       int s)
{
  g_return_if_fail (k > 0 && s > 0);
  if (!dx || H < k || W < k)
    return;
  int OH = (H - k) / s + 1, OW = (W - k) / s + 1;
  float inv = 1.0f / (float) (k * k);
  for (int p = 0; p < N * C; p++)
    {
      float *dxp = dx + (size_t) p * H * W;
      const float *dyp = dy + (size_t) p * OH * OW;
      for (int oh = 0; oh < OH; oh++)
        for (int ow = 0; ow < OW; ow++)
          {
            float g = dyp[oh * OW + ow] * inv;
            for (int i = 0; i < k; i++)
              for (int j = 0; j < k; j++)
                dxp[(oh * s + i) * W + ow * s + j] += g;
          }
    }
}

/* ---- attention ------------------------------------------------------------------------ */

/* The per-head products (often 32 x 32 x 16) take 0.4-0.8 us each through
 * cblas_sgemm, about half of it call overhead, argument checks and (for Q K^T)
 * packing. On AVX-512 machines, head shapes with T and Dh multiples of 16 up to
 * 64 go to the register-blocked kernels below instead, operands in L1.
 * Each output is the sum over k in order of FMAs into a zero accumulator,
 * times alpha, beta 0: the order OpenBLAS 0.3.21's SkylakeX kernels use for
 * exactly these shapes (its small-matrix NN and NT kernels, and its packed
 * kernel for Q K^T, which its small-matrix TN kernel, a 16-lane tree
 * reduction, only takes over from at Dh >= 32: so head_nt only serves
 * Dh == 16), so a training step's bits do not change on such a machine
 * (checked in test-ops against cblas there). Elsewhere (no AVX-512, another
 * BLAS or core) these results are as deterministic as the BLAS's but need not
 * equal its bits, which differ between cores anyway. Gradients that are added
 * to (beta 1) keep cblas_sgemm. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#include <immintrin.h>
#define PL_HEAD_KERNELS 1
#define HEAD_TARGET __attribute__ ((target ("avx512f,fma")))

#define HEAD_LO_PS(a, b) _mm512_castpd_ps (_mm512_unpacklo_pd (_mm512_castps_pd (a), \
                                                               _mm512_castps_pd (b)))
#define HEAD_HI_PS(a, b) _mm512_castpd_ps (_mm512_unpackhi_pd (_mm512_castps_pd (a), \
                                                               _mm512_castps_pd (b)))

/* dst[k * ldd + i] = src[i * lds + k] for a 16 x 16 block, in registers */
HEAD_TARGET static inline void
head_transpose16 (float *dst, int ldd, const float *src, int lds)
{
  __m512 r[16], t[16];
  for (int i = 0; i < 16; i++)
    r[i] = _mm512_loadu_ps (src + (size_t) i * lds);
  /* pairs of rows interleaved, then pairs of pairs: lane l of r[4 g + c] holds
   * elements 4 l + c of rows 4 g .. 4 g + 3 */
  for (int i = 0; i < 16; i += 2)
    {
      t[i] = _mm512_unpacklo_ps (r[i], r[i + 1]);
      t[i + 1] = _mm512_unpackhi_ps (r[i], r[i + 1]);
    }
  for (int i = 0; i < 16; i += 4)
    {
      r[i] = HEAD_LO_PS (t[i], t[i + 2]);
      r[i + 1] = HEAD_HI_PS (t[i], t[i + 2]);
      r[i + 2] = HEAD_LO_PS (t[i + 1], t[i + 3]);
      r[i + 3] = HEAD_HI_PS (t[i + 1], t[i + 3]);
    }
  /* then the 128-bit lanes across groups of rows */
  for (int h = 0; h < 2; h++)
    for (int c = 0; c < 4; c++)
      {
        t[8 * h + c] = _mm512_shuffle_f32x4 (r[8 * h + c], r[8 * h + 4 + c], 0x88);
        t[8 * h + 4 + c] = _mm512_shuffle_f32x4 (r[8 * h + c], r[8 * h + 4 + c], 0xdd);
      }
  for (int c = 0; c < 8; c++)
    {
      _mm512_storeu_ps (dst + (size_t) c * ldd, _mm512_shuffle_f32x4 (t[c], t[8 + c], 0x88));
      _mm512_storeu_ps (dst + (size_t) (c + 8) * ldd,
                        _mm512_shuffle_f32x4 (t[c], t[8 + c], 0xdd));
    }
}

/* C[M x N] = alpha A[M x K] B[N x K]^T, M % 4 == 0, N % 16 == 0, N, K <= 64 */
HEAD_TARGET static void
head_nt (int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
         float *C, int ldc)
{
  float bt[64 * 64] __attribute__ ((aligned (64)));
  if (K == 16)
    for (int j = 0; j < N; j += 16)
      head_transpose16 (bt + j, N, B + (size_t) j * ldb, ldb);
  else
    for (int j = 0; j < N; j++)
      for (int k = 0; k < K; k++)
        bt[k * N + j] = B[(size_t) j * ldb + k];
  const __m512 al = _mm512_set1_ps (alpha);
  for (int i = 0; i < M; i += 4)
    for (int v = 0; v < N; v += 16)
      {
        __m512 acc[4];
        _Pragma ("GCC unroll 4") for (int r = 0; r < 4; r++)
          acc[r] = _mm512_setzero_ps ();
        for (int k = 0; k < K; k++)
          {
            __m512 b = _mm512_load_ps (bt + k * N + v);
            _Pragma ("GCC unroll 4") for (int r = 0; r < 4; r++)
              acc[r] = _mm512_fmadd_ps (_mm512_set1_ps (A[(size_t) (i + r) * lda + k]), b,
                                        acc[r]);
          }
        _Pragma ("GCC unroll 4") for (int r = 0; r < 4; r++)
          _mm512_storeu_ps (C + (size_t) (i + r) * ldc + v, _mm512_mul_ps (acc[r], al));
      }
}

/* C[M x N] = alpha op(A) B[K x N], op(A) = A[M x K] (trans_a FALSE) or A[K x M]^T;
 * M % 8 == 0, N % 16 == 0 */
HEAD_TARGET static inline __attribute__ ((always_inline)) void
head_xn (gboolean trans_a, int M, int N, int K, float alpha, const float *A, int lda,
         const float *B, int ldb, float *C, int ldc)
{
  const __m512 al = _mm512_set1_ps (alpha);
  for (int v = 0; v < N; v += 16)
    for (int i = 0; i < M; i += 8)
      {
        __m512 acc[8];
        _Pragma ("GCC unroll 8") for (int r = 0; r < 8; r++)
          acc[r] = _mm512_setzero_ps ();
        for (int k = 0; k < K; k++)
          {
            __m512 b = _mm512_loadu_ps (B + (size_t) k * ldb + v);
            _Pragma ("GCC unroll 8") for (int r = 0; r < 8; r++)
              {
                float a = trans_a ? A[(size_t) k * lda + i + r] : A[(size_t) (i + r) * lda + k];
                acc[r] = _mm512_fmadd_ps (_mm512_set1_ps (a), b, acc[r]);
              }
          }
        _Pragma ("GCC unroll 8") for (int r = 0; r < 8; r++)
          _mm512_storeu_ps (C + (size_t) (i + r) * ldc + v, _mm512_mul_ps (acc[r], al));
      }
}

HEAD_TARGET static void
head_nn (int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
         float *C, int ldc)
{
  head_xn (FALSE, M, N, K, alpha, A, lda, B, ldb, C, ldc);
}

HEAD_TARGET static void
head_tn (int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
         float *C, int ldc)
{
  head_xn (TRUE, M, N, K, alpha, A, lda, B, ldb, C, ldc);
}

/* TRUE if the head kernels serve T x Dh heads on this machine */
static gboolean
head_kernels_for (int T, int Dh)
{
  /* PL_NO_HEAD_KERNELS in the environment: always cblas (for comparisons) */
  static int usable = -1;
  if (usable < 0)
    {
      __builtin_cpu_init ();
      usable = __builtin_cpu_supports ("avx512f") && !g_getenv ("PL_NO_HEAD_KERNELS");
    }
  return usable && T % 16 == 0 && T <= 64 && Dh % 16 == 0 && Dh <= 64;
}
#endif

/* The per-head products, row major, beta 0 (overwrite) or 1 (add) */
static void
head_gemm (gboolean fast, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K,
           float alpha, const float *A, int lda, const float *B, int ldb, float beta, float *C,
           int ldc)
{
#ifdef PL_HEAD_KERNELS
  if (fast && beta == 0.0f)
    {
      if (ta == CblasNoTrans && tb == CblasTrans && K == 16)
        {
          head_nt (M, N, K, alpha, A, lda, B, ldb, C, ldc);
          return;
        }
      if (ta == CblasNoTrans && tb == CblasNoTrans)
        {
          head_nn (M, N, K, alpha, A, lda, B, ldb, C, ldc);
          return;
        }
      if (ta == CblasTrans && tb == CblasNoTrans)
        {
          head_tn (M, N, K, alpha, A, lda, B, ldb, C, ldc);
          return;
        }
    }
#else
  (void) fast;
#endif
  cblas_sgemm (CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void
pl_attention_forward (float *out, float *att, const float *q, const float *k,
                      const float *v, const guint8 *key_mask, int N, int T, int H, int Dh)
{
  if (N <= 0 || T <= 0 || H <= 0 || Dh <= 0)
    return;
  int D = H * Dh;
  float scale = 1.0f / sqrtf ((float) Dh);
#ifdef PL_HEAD_KERNELS
  const gboolean fast = head_kernels_for (T, Dh);
#else
  const gboolean fast = FALSE;
#endif
  for (int n = 0; n < N; n++)
    for (int h = 0; h < H; h++)
      {
        size_t off = (size_t) n * T * D + (size_t) h * Dh;
        float *a = att + ((size_t) n * H + h) * T * T;
        const guint8 *keep = key_mask ? key_mask + (size_t) n * T : NULL;
        head_gemm (fast, CblasNoTrans, CblasTrans, T, T, Dh, scale, q + off, D,
                     k + off, D, 0.0f, a, T);
        if (!keep)
          softmax_rows (a, a, T, T);
        else
          for (int t = 0; t < T; t++)
            {
              float *row = a + (size_t) t * T;
              float m = -INFINITY;
              for (int j = 0; j < T; j++)
                if (keep[j] && row[j] > m)
                  m = row[j];
              if (m == -INFINITY)
                {
                  memset (row, 0, (size_t) T * sizeof (float));
                  continue;
                }
              for (int j = 0; j < T; j++)
                row[j] = keep[j] ? exp_nonpos (row[j] - m) : 0.0f;
              float inv = (float) (1.0 / sum_lanes (row, T));
              for (int j = 0; j < T; j++)
                row[j] *= inv;
            }
        head_gemm (fast, CblasNoTrans, CblasNoTrans, T, Dh, T, 1.0f, a, T,
                     v + off, D, 0.0f, out + off, D);
      }
}

void
pl_attention_backward (float *dq, float *dk, float *dv, float *datt, const float *dout,
                       const float *att, const float *q, const float *k, const float *v,
                       int N, int T, int H, int Dh)
{
  pl_attention_backward_write (dq, dk, dv, PL_GRAD_ADD, PL_GRAD_ADD, PL_GRAD_ADD, datt, dout,
                               att, q, k, v, N, T, H, Dh);
}

void
pl_attention_backward_write (float *dq, float *dk, float *dv, PlGradWrite dq_write,
                             PlGradWrite dk_write, PlGradWrite dv_write, float *datt,
                             const float *dout, const float *att, const float *q,
                             const float *k, const float *v, int N, int T, int H, int Dh)
{
  if (N <= 0 || T <= 0 || H <= 0 || Dh <= 0)
    return;
  int D = H * Dh;
  float scale = 1.0f / sqrtf ((float) Dh);
#ifdef PL_HEAD_KERNELS
  const gboolean fast = head_kernels_for (T, Dh);
#else
  const gboolean fast = FALSE;
#endif
  /* beta 0 for a gradient to overwrite: each (sample, head) writes its own
   * columns once, so together they cover the whole tensor */
  const float bq = dq_write == PL_GRAD_SET ? 0.0f : 1.0f;
  const float bk = dk_write == PL_GRAD_SET ? 0.0f : 1.0f;
  const float bv = dv_write == PL_GRAD_SET ? 0.0f : 1.0f;
  for (int n = 0; n < N; n++)
    for (int h = 0; h < H; h++)
      {
        size_t off = (size_t) n * T * D + (size_t) h * Dh;
        const float *a = att + ((size_t) n * H + h) * T * T;
        if (dv)
          head_gemm (fast, CblasTrans, CblasNoTrans, T, Dh, T, 1.0f, a, T,
                       dout + off, D, bv, dv + off, D);
        if (!dq && !dk)
          continue;
        head_gemm (fast, CblasNoTrans, CblasTrans, T, T, Dh, 1.0f, dout + off,
                     D, v + off, D, 0.0f, datt, T);
        softmax_backward_rows (datt, a, T, T);
        if (dq)
          head_gemm (fast, CblasNoTrans, CblasNoTrans, T, Dh, T, scale, datt, T,
                       k + off, D, bq, dq + off, D);
        if (dk)
          head_gemm (fast, CblasTrans, CblasNoTrans, T, Dh, T, scale, datt, T,
                       q + off, D, bk, dk + off, D);
      }
}

/* ---- elementwise and layout ------------------------------------------------------------ */

void
pl_mul_forward (float *y, const float *a, const float *b, size_t n)
{
  for (size_t i = 0; i < n; i++)
    y[i] = a[i] * b[i];
}

void
pl_mul_backward (float *da, float *db, const float *dy, const float *a, const float *b,
                 size_t n)
{
  if (da)
    for (size_t i = 0; i < n; i++)
      da[i] += dy[i] * b[i];
  if (db)
    for (size_t i = 0; i < n; i++)
      db[i] += dy[i] * a[i];
}

void
pl_mul_cols_forward (float *y, const float *x, const float *g, int N, int C)
{
  for (int n = 0; n < N; n++)
    {
      const float *xr = x + (size_t) n * C;
      float *yr = y + (size_t) n * C;
      for (int c = 0; c < C; c++)
        yr[c] = xr[c] * g[c];
    }
}

void
pl_mul_cols_backward (float *dx, float *dg, const float *dy, const float *x,
                      const float *g, int N, int C)
{
  for (int n = 0; n < N; n++)
    {
      const float *dyr = dy + (size_t) n * C;
      if (dx)
        {
          float *dxr = dx + (size_t) n * C;
          for (int c = 0; c < C; c++)
            dxr[c] += dyr[c] * g[c];
        }
      if (dg)
        {
          const float *xr = x + (size_t) n * C;
          for (int c = 0; c < C; c++)
            dg[c] += dyr[c] * xr[c];
        }
    }
}

void
pl_add_forward (float *y, const float *a, const float *b, size_t n)
{
  for (size_t i = 0; i < n; i++)
    y[i] = a[i] + b[i];
}

void
pl_add_backward (float *da, float *db, const float *dy, size_t n)
{
  pl_add_backward_write (da, PL_GRAD_ADD, db, PL_GRAD_ADD, dy, n);
}

void
pl_add_backward_write (float *da, PlGradWrite da_write, float *db, PlGradWrite db_write,
                       const float *dy, size_t n)
{
  if (da)
    add_into (da, da_write, dy, n);
  if (db)
    add_into (db, db_write, dy, n);
}

void
pl_concat_forward (float *y, const float *a, const float *b, int N, int A, int B)
{
  size_t row = (size_t) A + B;
  for (int n = 0; n < N; n++)
    {
      memcpy (y + n * row, a + (size_t) n * A, (size_t) A * sizeof (float));
      memcpy (y + n * row + A, b + (size_t) n * B, (size_t) B * sizeof (float));
    }
}

void
pl_concat_backward (float *da, float *db, const float *dy, int N, int A, int B)
{
  size_t row = (size_t) A + B;
  for (int n = 0; n < N; n++)
    {
      const float *g = dy + n * row;
      if (da)
        {
          float *d = da + (size_t) n * A;
          for (int i = 0; i < A; i++)
            d[i] += g[i];
        }
      if (db)
        {
          float *d = db + (size_t) n * B;
          for (int i = 0; i < B; i++)
            d[i] += g[A + i];
        }
    }
}

void
pl_mean_tokens_forward (float *y, const float *x, int N, int T, int D)
{
  float inv = T > 0 ? 1.0f / (float) T : 0.0f;
  for (int n = 0; n < N; n++)
    {
      float *yr = y + (size_t) n * D;
      memset (yr, 0, (size_t) D * sizeof (float));
      for (int t = 0; t < T; t++)
        {
          const float *xr = x + ((size_t) n * T + t) * D;
          for (int d = 0; d < D; d++)
            yr[d] += xr[d];
        }
      for (int d = 0; d < D; d++)
        yr[d] *= inv;
    }
}

void
pl_mean_tokens_backward (float *dx, const float *dy, int N, int T, int D)
{
  pl_mean_tokens_backward_write (dx, PL_GRAD_ADD, dy, N, T, D);
}

void
pl_mean_tokens_backward_write (float *dx, PlGradWrite dx_write, const float *dy, int N,
                               int T, int D)
{
  if (!dx || T <= 0)
    return;
  const gboolean set = dx_write == PL_GRAD_SET;
  float inv = 1.0f / (float) T;
  for (int n = 0; n < N; n++)
    {
      const float *g = dy + (size_t) n * D;
      for (int t = 0; t < T; t++)
        {
          float *dxr = dx + ((size_t) n * T + t) * D;
          for (int d = 0; d < D; d++)
            dxr[d] = (set ? 0.0f : dxr[d]) + g[d] * inv;
        }
    }
}

/* ---- utilities --------------------------------------------------------------------------- */

void
pl_argmax_rows (int32_t *out, const float *x, int N, int C)
{
  for (int n = 0; n < N; n++)
    {
      const float *r = x + (size_t) n * C;
      int best = 0;
      for (int c = 1; c < C; c++)
        if (r[c] > r[best] || (isnan (r[c]) && !isnan (r[best])))
          best = c;
      out[n] = best;
    }
}

gboolean
pl_all_finite (const float *x, size_t n)
{
  /* x * 0 is 0 for finite x and NaN for NaN or +-inf; checked a block at a time so
   * the inner loop has no branch */
  for (size_t i = 0; i < n; i += 1024)
    {
      size_t end = MIN (n, i + 1024);
      float acc = 0.0f;
      for (size_t j = i; j < end; j++)
        acc += x[j] * 0.0f;
      if (acc != 0.0f)
        return FALSE;
    }
  return TRUE;
}
