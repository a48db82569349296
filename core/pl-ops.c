/* pl-ops.c: the kernels declared in pl-ops.h. */

/* GCC 12's -O2 cost model vectorizes no loop whose trip count is unknown; the
 * elementwise loops here want the -O3 one. Reductions stay scalar (no
 * -ffast-math), so results do not depend on the vector width. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__OPTIMIZE__)
#pragma GCC optimize ("tree-vectorize", "vect-cost-model=dynamic")
#endif

#include "pl-ops.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* ---- dense ------------------------------------------------------------------ */

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
  if (N <= 0 || OUT <= 0)
    return;
  if (dx && IN > 0)
    cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, N, IN, OUT, 1.0f, dy, OUT, w,
                 IN, 1.0f, dx, IN);
  if (dw && IN > 0)
    cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, OUT, IN, N, 1.0f, dy, OUT, x,
                 IN, 1.0f, dw, IN);
  if (db)
    for (int n = 0; n < N; n++)
      {
        const float *row = dy + (size_t) n * OUT;
        for (int o = 0; o < OUT; o++)
          db[o] += row[o];
      }
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

void
pl_bias_add_backward (float *dx, float *db, const float *dy, int N, int C, int S)
{
  if (dx)
    {
      size_t len = (size_t) N * C * S;
      for (size_t i = 0; i < len; i++)
        dx[i] += dy[i];
    }
  if (db)
    for (int n = 0; n < N; n++)
      for (int c = 0; c < C; c++)
        {
          const float *p = dy + ((size_t) n * C + c) * S;
          float acc = 0.0f;
          for (int s = 0; s < S; s++)
            acc += p[s];
          db[c] += acc;
        }
}

/* ---- activations -------------------------------------------------------------- */

void
pl_relu_forward (float *y, const float *x, size_t n)
{
  for (size_t i = 0; i < n; i++)
    y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

void
pl_relu_backward (float *dx, const float *dy, const float *x, const float *y, size_t n)
{
  if (!dx)
    return;
  for (size_t i = 0; i < n; i++)
    dx[i] += x[i] > 0.0f ? dy[i] : 0.0f;
}

void
pl_gelu_forward (float *y, const float *x, size_t n)
{
  for (size_t i = 0; i < n; i++)
    y[i] = 0.5f * x[i] * (1.0f + erff (x[i] * (float) M_SQRT1_2));
}

void
pl_gelu_backward (float *dx, const float *dy, const float *x, const float *y, size_t n)
{
  if (!dx)
    return;
  /* 1 / sqrt(2 pi) */
  const float inv_sqrt_2pi = 0.39894228040143267794f;
  for (size_t i = 0; i < n; i++)
    {
      float cdf = 0.5f * (1.0f + erff (x[i] * (float) M_SQRT1_2));
      float pdf = expf (-0.5f * x[i] * x[i]) * inv_sqrt_2pi;
      dx[i] += dy[i] * (cdf + x[i] * pdf);
    }
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
  if (!dx)
    return;
  for (size_t i = 0; i < n; i++)
    dx[i] += dy[i] * (1.0f - y[i] * y[i]);
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
  if (!dx)
    return;
  for (size_t i = 0; i < n; i++)
    dx[i] += dy[i] * y[i] * (1.0f - y[i]);
}

/* ---- losses and softmax --------------------------------------------------------- */

/* y = exp(x - max x) / sum over one row of c values; returns the sum of the
 * exponentials (>= 1 for finite x) so callers can form log-sum-exp. */
static double
softmax_row (float *y, const float *x, int c, float *max_out)
{
  float m = x[0];
  for (int j = 1; j < c; j++)
    m = x[j] > m ? x[j] : m;
  double sum = 0.0;
  for (int j = 0; j < c; j++)
    {
      y[j] = expf (x[j] - m);
      sum += y[j];
    }
  float inv = (float) (1.0 / sum);
  for (int j = 0; j < c; j++)
    y[j] *= inv;
  if (max_out)
    *max_out = m;
  return sum;
}

void
pl_softmax_forward (float *y, const float *x, int N, int C)
{
  if (C <= 0)
    return;
  for (int n = 0; n < N; n++)
    softmax_row (y + (size_t) n * C, x + (size_t) n * C, C, NULL);
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

void
pl_layernorm_forward (float *y, float *mean, float *rstd, const float *x,
                      const float *gamma, const float *beta, int N, int C, float eps)
{
  if (C <= 0)
    return;
  for (int n = 0; n < N; n++)
    {
      const float *xr = x + (size_t) n * C;
      float *yr = y + (size_t) n * C;
      double s = 0.0;
      for (int c = 0; c < C; c++)
        s += xr[c];
      double mu = s / C;
      double v = 0.0;
      for (int c = 0; c < C; c++)
        {
          double d = xr[c] - mu;
          v += d * d;
        }
      float m = (float) mu;
      float r = (float) (1.0 / sqrt (v / C + eps));
      for (int c = 0; c < C; c++)
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
  if (C <= 0)
    return;
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
      double sum_g = 0.0, sum_gx = 0.0;
      for (int c = 0; c < C; c++)
        {
          float g = dyr[c] * (gamma ? gamma[c] : 1.0f);
          sum_g += g;
          sum_gx += g * ((xr[c] - m) * r);
        }
      float mean_g = (float) (sum_g / C), mean_gx = (float) (sum_gx / C);
      float *dxr = dx + (size_t) n * C;
      for (int c = 0; c < C; c++)
        {
          float g = dyr[c] * (gamma ? gamma[c] : 1.0f);
          float xhat = (xr[c] - m) * r;
          dxr[c] += r * (g - mean_g - xhat * mean_gx);
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

/* col [C*KH*KW, OH*OW] = the receptive fields of one sample x [C, H, W] */
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
              for (int ow = 0; ow < OW; ow++)
                {
                  int iw = ow * stride - pad + j;
                  out[ow] = iw >= 0 && iw < W ? in[iw] : 0.0f;
                }
            }
        }
}

/* dx [C, H, W] += the receptive fields in col scattered back (im2col's adjoint) */
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
          for (int oh = 0; oh < OH; oh++)
            {
              int ih = oh * stride - pad + i;
              if (ih < 0 || ih >= H)
                continue;
              const float *g = row + (size_t) oh * OW;
              float *out = dx + ((size_t) c * H + ih) * W;
              for (int ow = 0; ow < OW; ow++)
                {
                  int iw = ow * stride - pad + j;
                  if (iw >= 0 && iw < W)
                    out[iw] += g[ow];
                }
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
          {
            const float *p = dyn + (size_t) k * ohw;
            float acc = 0.0f;
            for (int i = 0; i < ohw; i++)
              acc += p[i];
            db[k] += acc;
          }
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
      size_t base = (size_t) p * H * W;
      float *yp = y + (size_t) p * OH * OW;
      int32_t *ap = argmax + (size_t) p * OH * OW;
      for (int oh = 0; oh < OH; oh++)
        for (int ow = 0; ow < OW; ow++)
          {
            size_t best = base + (size_t) oh * s * W + (size_t) ow * s;
            float m = x[best];
            for (int i = 0; i < k; i++)
              for (int j = 0; j < k; j++)
                {
                  size_t idx = base + (size_t) (oh * s + i) * W + (size_t) (ow * s + j);
                  float v = x[idx];
                  if (v > m || (isnan (v) && !isnan (m)))
                    {
                      m = v;
                      best = idx;
                    }
                }
            yp[oh * OW + ow] = m;
            ap[oh * OW + ow] = (int32_t) best;
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

void
pl_attention_forward (float *out, float *att, const float *q, const float *k,
                      const float *v, const guint8 *key_mask, int N, int T, int H, int Dh)
{
  if (N <= 0 || T <= 0 || H <= 0 || Dh <= 0)
    return;
  int D = H * Dh;
  float scale = 1.0f / sqrtf ((float) Dh);
  for (int n = 0; n < N; n++)
    for (int h = 0; h < H; h++)
      {
        size_t off = (size_t) n * T * D + (size_t) h * Dh;
        float *a = att + ((size_t) n * H + h) * T * T;
        const guint8 *keep = key_mask ? key_mask + (size_t) n * T : NULL;
        cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, T, T, Dh, scale, q + off, D,
                     k + off, D, 0.0f, a, T);
        for (int t = 0; t < T; t++)
          {
            float *row = a + (size_t) t * T;
            if (!keep)
              {
                softmax_row (row, row, T, NULL);
                continue;
              }
            float m = -INFINITY;
            for (int j = 0; j < T; j++)
              if (keep[j] && row[j] > m)
                m = row[j];
            if (m == -INFINITY)
              {
                memset (row, 0, (size_t) T * sizeof (float));
                continue;
              }
            double sum = 0.0;
            for (int j = 0; j < T; j++)
              {
                row[j] = keep[j] ? expf (row[j] - m) : 0.0f;
                sum += row[j];
              }
            float inv = (float) (1.0 / sum);
            for (int j = 0; j < T; j++)
              row[j] *= inv;
          }
        cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, T, Dh, T, 1.0f, a, T,
                     v + off, D, 0.0f, out + off, D);
      }
}

void
pl_attention_backward (float *dq, float *dk, float *dv, float *datt, const float *dout,
                       const float *att, const float *q, const float *k, const float *v,
                       int N, int T, int H, int Dh)
{
  if (N <= 0 || T <= 0 || H <= 0 || Dh <= 0)
    return;
  int D = H * Dh;
  float scale = 1.0f / sqrtf ((float) Dh);
  for (int n = 0; n < N; n++)
    for (int h = 0; h < H; h++)
      {
        size_t off = (size_t) n * T * D + (size_t) h * Dh;
        const float *a = att + ((size_t) n * H + h) * T * T;
        if (dv)
          cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, T, Dh, T, 1.0f, a, T,
                       dout + off, D, 1.0f, dv + off, D);
        if (!dq && !dk)
          continue;
        cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, T, T, Dh, 1.0f, dout + off,
                     D, v + off, D, 0.0f, datt, T);
        for (int t = 0; t < T; t++)
          {
            float *d = datt + (size_t) t * T;
            const float *p = a + (size_t) t * T;
            float dot = 0.0f;
            for (int j = 0; j < T; j++)
              dot += d[j] * p[j];
            for (int j = 0; j < T; j++)
              d[j] = p[j] * (d[j] - dot);
          }
        if (dq)
          cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, T, Dh, T, scale, datt, T,
                       k + off, D, 1.0f, dq + off, D);
        if (dk)
          cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, T, Dh, T, scale, datt, T,
                       q + off, D, 1.0f, dk + off, D);
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
  if (da)
    for (size_t i = 0; i < n; i++)
      da[i] += dy[i];
  if (db)
    for (size_t i = 0; i < n; i++)
      db[i] += dy[i];
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
  if (!dx || T <= 0)
    return;
  float inv = 1.0f / (float) T;
  for (int n = 0; n < N; n++)
    {
      const float *g = dy + (size_t) n * D;
      for (int t = 0; t < T; t++)
        {
          float *dxr = dx + ((size_t) n * T + t) * D;
          for (int d = 0; d < D; d++)
            dxr[d] += g[d] * inv;
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
