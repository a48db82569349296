/* pl-ops.h: forward and backward kernels of the training engine.
 *
 * Plain functions on float buffers with explicit sizes, laid out row-major like
 * PyTorch (a Linear weight is [OUT, IN], a Conv2d weight [K, C, KH, KW], images are
 * [N, C, H, W]); the values match PyTorch 1.13 in training mode up to float32
 * rounding.
 *
 * Contract shared by every kernel:
 * - A `*_backward` ADDS (+=) into the gradient buffers it is given, so a tensor
 *   used twice accumulates; the caller zeroes gradients once per step. Any gradient
 *   pointer may be NULL, and that gradient is then not computed.
 * - No kernel allocates. Scratch buffers come from the caller; their sizes are
 *   stated next to each kernel. Forward outputs must not alias inputs unless the
 *   kernel says so.
 * - Matrix products go through cblas_sgemm, so results are deterministic for a
 *   fixed OpenBLAS thread count.
 * - `int` holds a dimension, `size_t` an element count.
 *
 * Shapes in the comments use the parameter names; "+=" marks accumulation. */
#pragma once

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

#include "pl-rng.h"

G_BEGIN_DECLS

/* How a `*_backward_write` variant writes an input gradient: PL_GRAD_ADD adds into
 * it like the plain kernel; PL_GRAD_SET overwrites it with the same bits that
 * clearing it first and adding would give (each element is written as 0 + value,
 * so a -0 becomes +0 as it would; the matrix-product kernels pass beta = 0 to
 * cblas_sgemm, whose small-matrix path may keep a -0 there). The graph uses SET
 * for the first backward that writes an activation gradient, so that gradient
 * needs no clearing pass. A SET gradient is written in full for the given sizes. */
typedef enum {
  PL_GRAD_ADD,
  PL_GRAD_SET,
} PlGradWrite;

/* ---- dense ------------------------------------------------------------------ */

/* y = x W^T + b
 * x [N, IN], W [OUT, IN], b [OUT] or NULL, y [N, OUT] */
void pl_linear_forward  (float *y, const float *x, const float *w, const float *b,
                         int N, int IN, int OUT);
/* dx [N, IN] += dy W;  dW [OUT, IN] += dy^T x;  db [OUT] += sum_n dy[n, :] */
void pl_linear_backward (float *dx, float *dw, float *db, const float *dy,
                         const float *x, const float *w, int N, int IN, int OUT);
/* the same with dx written as @dx_write says (dw and db are added to) */
void pl_linear_backward_write (float *dx, PlGradWrite dx_write, float *dw, float *db,
                               const float *dy, const float *x, const float *w, int N,
                               int IN, int OUT);

/* y[n, c, s] = x[n, c, s] + b[c]
 * x, y [N, C, S] (S = 1 for a dense [N, C]), b [C]; y may be x (in place) */
void pl_bias_add_forward  (float *y, const float *x, const float *b, int N, int C, int S);
/* dx [N, C, S] += dy;  db[c] += sum_{n,s} dy[n, c, s] */
void pl_bias_add_backward (float *dx, float *db, const float *dy, int N, int C, int S);
void pl_bias_add_backward_write (float *dx, PlGradWrite dx_write, float *db,
                                 const float *dy, int N, int C, int S);

/* ---- activations: y = f(x) elementwise over n values; y may be x -------------- */
/* Backward: dx += dy * f'(x); each takes both x and y and reads the cheaper one, so
 * neither may have been overwritten between forward and backward. */

/* relu(x) = max(x, 0); NaN propagates; f'(0) = 0 */
void pl_relu_forward     (float *y, const float *x, size_t n);
void pl_relu_backward    (float *dx, const float *dy, const float *x, const float *y,
                          size_t n);
/* gelu(x) = x Phi(x) = x/2 (1 + erf(x / sqrt 2)), the exact form of torch.nn.GELU();
 * gelu'(x) = Phi(x) + x phi(x), phi the standard normal density */
void pl_gelu_forward     (float *y, const float *x, size_t n);
void pl_gelu_backward    (float *dx, const float *dy, const float *x, const float *y,
                          size_t n);
/* tanh'(x) = 1 - y^2 */
void pl_tanh_forward     (float *y, const float *x, size_t n);
void pl_tanh_backward    (float *dx, const float *dy, const float *x, const float *y,
                          size_t n);
/* sigmoid(x) = 1 / (1 + e^-x);  sigmoid'(x) = y (1 - y) */
void pl_sigmoid_forward  (float *y, const float *x, size_t n);
void pl_sigmoid_backward (float *dx, const float *dy, const float *x, const float *y,
                          size_t n);
/* the activation backwards with dx written as @dx_write says */
void pl_relu_backward_write    (float *dx, PlGradWrite dx_write, const float *dy,
                                const float *x, const float *y, size_t n);
void pl_gelu_backward_write    (float *dx, PlGradWrite dx_write, const float *dy,
                                const float *x, const float *y, size_t n);
void pl_tanh_backward_write    (float *dx, PlGradWrite dx_write, const float *dy,
                                const float *x, const float *y, size_t n);
void pl_sigmoid_backward_write (float *dx, PlGradWrite dx_write, const float *dy,
                                const float *x, const float *y, size_t n);

/* ---- losses and softmax ------------------------------------------------------ */

/* Row softmax: y[n, c] = exp(x[n, c] - m_n) / sum_j exp(x[n, j] - m_n), m_n the
 * row maximum. x, y [N, C] */
void  pl_softmax_forward      (float *y, const float *x, int N, int C);

/* Mean cross-entropy of softmax(logits) against integer labels (as
 * torch.nn.CrossEntropyLoss()): returns L = -1/N sum_n log p[n, labels[n]].
 * Stable for any finite logits (max-subtracted log-sum-exp).
 * logits, probs [N, C]; labels [N], each in [0, C): loaders validate labels, so one
 * outside is a bug, reported with g_critical() and a NaN loss (never a stray write).
 * probs receives the softmax and is kept for the backward. */
float pl_softmax_xent_forward  (float *probs, const float *logits,
                                const int32_t *labels, int N, int C);
/* dlogits [N, C] += dloss (probs - onehot(labels)) / N */
void  pl_softmax_xent_backward (float *dlogits, const float *probs,
                                const int32_t *labels, int N, int C, float dloss);

/* Mean squared error: L = 1/n sum_i (pred_i - target_i)^2 */
float pl_mse_forward  (const float *pred, const float *target, size_t n);
/* dpred += dloss 2 (pred - target) / n */
void  pl_mse_backward (float *dpred, const float *pred, const float *target, size_t n,
                       float dloss);

/* ---- normalization ------------------------------------------------------------ */

/* Layer norm over the last dimension (torch.nn.LayerNorm(C)):
 *   mean_n = 1/C sum_c x[n, c];  var_n = 1/C sum_c (x[n, c] - mean_n)^2 (biased)
 *   rstd_n = 1 / sqrt(var_n + eps);  xhat = (x - mean_n) rstd_n
 *   y[n, c] = xhat[n, c] gamma[c] + beta[c]
 * x, y [N, C]; gamma, beta [C], either may be NULL (no affine: 1 and 0);
 * mean, rstd [N] receive the row statistics for the backward. */
void pl_layernorm_forward  (float *y, float *mean, float *rstd, const float *x,
                            const float *gamma, const float *beta, int N, int C,
                            float eps);
/* dbeta += sum_n dy;  dgamma += sum_n dy xhat;  with g = dy gamma:
 * dx += rstd (g - mean_c(g) - xhat mean_c(g xhat)) */
void pl_layernorm_backward (float *dx, float *dgamma, float *dbeta, const float *dy,
                            const float *x, const float *mean, const float *rstd,
                            const float *gamma, int N, int C);
/* the same with dx written as @dx_write says (dgamma and dbeta are added to) */
void pl_layernorm_backward_write (float *dx, PlGradWrite dx_write, float *dgamma,
                                  float *dbeta, const float *dy, const float *x,
                                  const float *mean, const float *rstd,
                                  const float *gamma, int N, int C);

/* ---- embedding ------------------------------------------------------------------ */

/* y[i, :] = table[ids[i], :];  ids [N], table [V, D], y [N, D].
 * Returns FALSE, and leaves y unspecified, when an id is outside [0, V);
 * pl_embedding_find_bad_id() then tells the caller which one to name. */
gboolean pl_embedding_forward     (float *y, const int32_t *ids, const float *table,
                                   int N, int V, int D);
/* The index i of the first ids[i] outside [0, V), or -1 when all are valid. */
int      pl_embedding_find_bad_id (const int32_t *ids, int N, int V);
/* dtable[ids[i], :] += dy[i, :] (ids already validated by the forward) */
void     pl_embedding_backward    (float *dtable, const float *dy, const int32_t *ids,
                                   int N, int D);

/* ---- dropout --------------------------------------------------------------------- */

/* Inverted dropout (torch.nn.Dropout in training mode): each mask[i] is 0 with
 * probability p, else 1/(1-p); y = x mask. p == 0 copies x and fills the mask with
 * ones; p == 1 zeroes both. Draws n uniforms from rng. x, y, mask [n]; y may be x.
 * p in [0, 1]. */
void pl_dropout_forward  (float *y, float *mask, const float *x, size_t n, float p,
                          PlRng *rng);
/* dx += dy mask */
void pl_dropout_backward (float *dx, const float *dy, const float *mask, size_t n);

/* ---- convolution and pooling ------------------------------------------------------ */

/* Output length of a convolution along one axis:
 * floor((in + 2 pad - k) / stride) + 1, or 0 when the kernel does not fit. */
int  pl_conv2d_out_size (int in, int k, int stride, int pad);

/* 2-D cross-correlation (torch.nn.Conv2d, dilation 1, groups 1) with zero padding:
 *   y[n, k, oh, ow] = b[k] + sum_{c,i,j} w[k, c, i, j]
 *                              x[n, c, oh*stride - pad + i, ow*stride - pad + j]
 * x [N, C, H, W], w [K, C, KH, KW], b [K] or NULL, y [N, K, OH, OW] with
 * OH = pl_conv2d_out_size (H, KH, stride, pad), OW likewise.
 * Per sample: col = im2col(x[n]) [C*KH*KW, OH*OW], y[n] = w [K, C*KH*KW] col.
 * col: scratch of C*KH*KW*OH*OW floats (one sample's columns). */
void pl_conv2d_forward  (float *y, float *col, const float *x, const float *w,
                         const float *b, int N, int C, int H, int W, int K, int KH,
                         int KW, int stride, int pad);
/* Per sample: dw += dy[n] col^T;  dcol = w^T dy[n], dx[n] += col2im(dcol);
 * db[k] += sum_{n,oh,ow} dy[n, k, oh, ow].
 * col and dcol: scratch of C*KH*KW*OH*OW floats each; col is needed only with dw,
 * dcol only with dx (the other may then be NULL). */
void pl_conv2d_backward (float *dx, float *dw, float *db, float *col, float *dcol,
                         const float *dy, const float *x, const float *w, int N, int C,
                         int H, int W, int K, int KH, int KW, int stride, int pad);

/* Max pooling (torch.nn.MaxPool2d(k, s), no padding, floor mode):
 *   y[n, c, oh, ow] = max_{i,j < k} x[n, c, oh*s + i, ow*s + j]
 * x [N, C, H, W], y and argmax [N, C, OH, OW], OH = (H - k) / s + 1, OW likewise.
 * argmax receives the flat index into x of each maximum (the first one on ties; a
 * NaN wins, like PyTorch), so x must hold fewer than 2^31 elements. */
void pl_maxpool2d_forward  (float *y, int32_t *argmax, const float *x, int N, int C,
                            int H, int W, int k, int s);
/* dx[argmax[i]] += dy[i] for the N*C*OH*OW outputs */
void pl_maxpool2d_backward (float *dx, const float *dy, const int32_t *argmax, int N,
                            int C, int OH, int OW);

/* Average pooling (torch.nn.AvgPool2d(k, s), no padding, floor mode):
 *   y[n, c, oh, ow] = 1/k^2 sum_{i,j < k} x[n, c, oh*s + i, ow*s + j]
 * x [N, C, H, W], y [N, C, OH, OW] as for max pooling. */
void pl_avgpool2d_forward  (float *y, const float *x, int N, int C, int H, int W, int k,
                            int s);
/* dx[n, c, oh*s + i, ow*s + j] += dy[n, c, oh, ow] / k^2 */
void pl_avgpool2d_backward (float *dx, const float *dy, int N, int C, int H, int W,
                            int k, int s);

/* ---- attention ---------------------------------------------------------------------- */

/* Multi-head scaled dot-product attention, non-causal. q, k, v, out [N, T, H*Dh] as
 * produced by Linear projections; head h of token t is columns [h*Dh, (h+1)*Dh).
 * For each sample n and head h:
 *   att[n, h] = softmax_rows(Q K^T / sqrt(Dh))  [T, T]
 *   out[n, :, h] = att[n, h] V
 * key_mask [N, T] (1 keeps key t of sample n, 0 hides it; NULL keeps all) sets the
 * hidden keys' scores to -inf before the softmax, like key_padding_mask in
 * torch.nn.MultiheadAttention. A sample whose keys are all hidden gets zero
 * attention and a zero output (where PyTorch would produce NaN).
 * att [N, H, T, T] is kept for the backward. */
void pl_attention_forward  (float *out, float *att, const float *q, const float *k,
                            const float *v, const guint8 *key_mask, int N, int T, int H,
                            int Dh);
/* With dA = dout V^T and dS = att * (dA - rowsum(dA * att)) (softmax backward):
 *   dv += att^T dout;  dq += dS K / sqrt(Dh);  dk += dS^T Q / sqrt(Dh)
 * datt: scratch of T*T floats, reused for every (sample, head); larger is fine.
 * Hidden keys need no mask here: their att entries are 0. */
void pl_attention_backward (float *dq, float *dk, float *dv, float *datt,
                            const float *dout, const float *att, const float *q,
                            const float *k, const float *v, int N, int T, int H, int Dh);
/* the same with each of dq, dk, dv written as its PlGradWrite says */
void pl_attention_backward_write (float *dq, float *dk, float *dv, PlGradWrite dq_write,
                                  PlGradWrite dk_write, PlGradWrite dv_write,
                                  float *datt, const float *dout, const float *att,
                                  const float *q, const float *k, const float *v, int N,
                                  int T, int H, int Dh);

/* ---- elementwise and layout ---------------------------------------------------------- */

/* y = a * b elementwise over n values */
void pl_mul_forward  (float *y, const float *a, const float *b, size_t n);
/* da += dy b;  db += dy a */
void pl_mul_backward (float *da, float *db, const float *dy, const float *a,
                      const float *b, size_t n);

/* y[n, c] = x[n, c] g[c]  (masks, per-unit gates);  x, y [N, C], g [C] */
void pl_mul_cols_forward  (float *y, const float *x, const float *g, int N, int C);
/* dx[n, c] += dy[n, c] g[c];  dg[c] += sum_n dy[n, c] x[n, c] */
void pl_mul_cols_backward (float *dx, float *dg, const float *dy, const float *x,
                           const float *g, int N, int C);

/* y = a + b elementwise over n values (residual connections) */
void pl_add_forward  (float *y, const float *a, const float *b, size_t n);
/* da += dy;  db += dy */
void pl_add_backward (float *da, float *db, const float *dy, size_t n);
void pl_add_backward_write (float *da, PlGradWrite da_write, float *db,
                            PlGradWrite db_write, const float *dy, size_t n);

/* y[n, :] = [a[n, :], b[n, :]];  a [N, A], b [N, B], y [N, A+B]. Serves both a
 * feature concat and a token concat ([N, Ta*D] + [N, Tb*D] -> [N, (Ta+Tb)*D]). */
void pl_concat_forward  (float *y, const float *a, const float *b, int N, int A, int B);
/* da += dy[:, :A];  db += dy[:, A:] */
void pl_concat_backward (float *da, float *db, const float *dy, int N, int A, int B);

/* y[n, d] = 1/T sum_t x[n, t, d];  x [N, T, D], y [N, D] */
void pl_mean_tokens_forward  (float *y, const float *x, int N, int T, int D);
/* dx[n, t, d] += dy[n, d] / T */
void pl_mean_tokens_backward (float *dx, const float *dy, int N, int T, int D);
void pl_mean_tokens_backward_write (float *dx, PlGradWrite dx_write, const float *dy,
                                    int N, int T, int D);

/* ---- utilities ------------------------------------------------------------------------ */

/* out[n] = the first index of the largest x[n, :] (a NaN counts as largest, like
 * torch.argmax); x [N, C], out [N] */
void     pl_argmax_rows (int32_t *out, const float *x, int N, int C);
/* TRUE when no x[i] is NaN or infinite */
gboolean pl_all_finite  (const float *x, size_t n);

G_END_DECLS
