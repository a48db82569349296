/* pl-int8.h: 8-bit quantization: the maths of fake quantization and of int8 exports,
 * and loading an int8 export back into a model.
 *
 * A tensor x [n_ch, len] (n_ch = 1 for per-tensor, the first dimension for
 * per-channel: a dense weight's outputs [out, in], a conv weight's filters
 * [K, C, kh, kw]) has per channel c a scale s_c > 0 and a zero point z_c:
 *
 *   q = clamp (round_half_even (x / s_c) + z_c, qmin, qmax)   (an int8)
 *   x_hat = s_c * (q - z_c)                                   (dequantized)
 *
 * symmetric: z = 0, q in [-127, 127], s = max(|lo|, |hi|) / 127
 * affine:    q in [-128, 127], the range is widened to hold 0, s = (hi - lo) / 255,
 *            z = clamp (-128 - round_half_even (lo / s), -128, 127)
 * Both floor s at FLT_EPSILON (an all-zero channel keeps a usable scale), and both
 * represent 0 exactly, so pruned weights stay zero.
 *
 * An int8 export (safetensors, __metadata__ paramlab.format = "int8") holds each
 * quantized weight as an I8 tensor named like the parameter, with <name>.scale
 * (F32) and <name>.zero_point (I8 or I32), both scalars (per-tensor) or of shape
 * [shape[0]] (per-channel); every other parameter as F32. A quantizer may add
 * <name>.input_scale / <name>.input_zero_point for the activation entering the
 * layer of weight <name>. */
#pragma once

#include <glib.h>
#include <stdint.h>

#include "pl-model.h"
#include "pl-safetensors.h"

G_BEGIN_DECLS

/* Append only. */
typedef enum {
  PL_INT8_SYMMETRIC,
  PL_INT8_AFFINE,
} PlInt8Scheme;

/* The integer range of @scheme: [-127, 127] symmetric, [-128, 127] affine. */
void     pl_int8_range          (PlInt8Scheme scheme, int *qmin, int *qmax);
/* The scale and zero point that map [lo, hi] (lo <= hi) onto @scheme's range. */
void     pl_int8_choose_qparams (float lo, float hi, PlInt8Scheme scheme, float *scale,
                                 int32_t *zero_point);
/* lo[c] = min, hi[c] = max of channel c of x [n_ch, len] */
void     pl_int8_minmax         (float *lo, float *hi, const float *x, int n_ch, size_t len);

/* q = clamp (round_half_even (x / s_c) + z_c, qmin, qmax); x, q [n_ch, len],
 * scale, zero_point [n_ch] */
void     pl_int8_quantize       (int8_t *q, const float *x, int n_ch, size_t len,
                                 const float *scale, const int32_t *zero_point,
                                 PlInt8Scheme scheme);
/* x = s_c * (q - z_c); x, q [n_ch, len] */
void     pl_int8_dequantize     (float *x, const int8_t *q, int n_ch, size_t len,
                                 const float *scale, const int32_t *zero_point);
/* y = s_c * (clamp (round_half_even (x / s_c) + z_c, qmin, qmax) - z_c), the value
 * pl_int8_dequantize () gives for what pl_int8_quantize () stores, bit for bit;
 * x, y [n_ch, len] (y may be x) */
void     pl_int8_fake_quant_forward  (float *y, const float *x, int n_ch, size_t len,
                                      const float *scale, const int32_t *zero_point,
                                      PlInt8Scheme scheme);
/* The clipped straight-through estimator (PyTorch's fake_quantize backward):
 * dx += dy where qmin <= round_half_even (x / s_c) + z_c <= qmax, nothing where the
 * value was clamped; x, dx, dy [n_ch, len] */
void     pl_int8_fake_quant_backward (float *dx, const float *dy, const float *x, int n_ch,
                                      size_t len, const float *scale,
                                      const int32_t *zero_point, PlInt8Scheme scheme);

/* pl_int8_fake_quant_forward () that also records where the clipped
 * straight-through estimator passes: in_range[i] = 1 where qmin <=
 * round_half_even (x / s_c) + z_c <= qmax, 0 where the value was clamped (NaN and
 * infinities included); y the same bits as pl_int8_fake_quant_forward () gives.
 * x, y [n_ch, len] (y may be x), in_range [n_ch, len] */
void     pl_int8_fake_quant_forward_mask  (float *y, uint8_t *in_range, const float *x,
                                           int n_ch, size_t len, const float *scale,
                                           const int32_t *zero_point, PlInt8Scheme scheme);
/* The clipped straight-through estimator from a recorded mask: dx += dy where
 * in_range[i] != 0, dx unchanged (bit for bit) elsewhere; with the mask of
 * pl_int8_fake_quant_forward_mask () for x and the same qparams, the same bits as
 * pl_int8_fake_quant_backward (). dx, dy, in_range [n] */
void     pl_int8_fake_quant_backward_mask (float *dx, const float *dy,
                                           const uint8_t *in_range, size_t n);
/* pl_int8_fake_quant_backward_mask () on a zeroed dx, without reading dx:
 * dx = +0 + dy where in_range[i] != 0, +0 elsewhere (the same bits) */
void     pl_int8_fake_quant_backward_mask_set (float *dx, const float *dy,
                                               const uint8_t *in_range, size_t n);
/* The functions above have portable C loops and, where the CPU has
 * AVX-512F, intrinsics (the default there); both give the same bits. TRUE makes
 * them use the portable loops, for tests. Not thread-safe: set it before use. */
void     pl_int8_fake_quant_use_portable  (gboolean portable);

/* Loads an int8 export into @m: I8 tensors are dequantized with their scale and
 * zero point, F32 tensors copied. Every parameter must be present with its shape;
 * a tensor that is neither a parameter nor a parameter's .scale, .zero_point,
 * .input_scale or .input_zero_point is an error naming it, as is a file whose
 * paramlab.format is not "int8". Masks are applied afterwards. On failure @m's
 * parameters may be partly overwritten. */
gboolean pl_model_load_int8_safetensors (PlModel *m, const char *path, GError **error);
/* The same on a loaded file; @path names it in messages. */
gboolean pl_model_load_int8_from (PlModel *m, const PlSafetensors *st, const char *path,
                                  GError **error);

/* Reads the qparams of weight @name from @st: <name>.scale and <name>.zero_point,
 * or with @input <name>.input_scale and <name>.input_zero_point. Scales must be F32
 * and positive, zero points I8 or I32, both of 1 or @max_ch elements (their count
 * goes to *n_ch); scale[] and zero_point[] have room for @max_ch. @path names the
 * file in messages. */
gboolean pl_int8_read_qparams (const PlSafetensors *st, const char *path, const char *name,
                               gboolean input, int max_ch, float *scale,
                               int32_t *zero_point, int *n_ch, GError **error);

G_END_DECLS
