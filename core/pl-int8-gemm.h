/* pl-int8-gemm.h: integer kernels for int8 inference.
 *
 * Activations are quantized to u8 (the int8 value + 128), weights stay s8, and
 * the products are summed exactly in int32:
 *
 *   acc[i, o] = sum_k xu[i, k] * wq[o, k]
 *   y[i, o]   = s_x * s_w[o] * (acc - zu * rowsum_w[o] - z_w[o] * sum_k xu[i, k]
 *                               + K * zu * z_w[o]) + b[o]      (zu = z_x + 128)
 *
 * which is sum_k s_x (xq - z_x) * s_w (wq - z_w) + b, the product of the
 * dequantized tensors, with one rounding at the end. Kernels: AVX-512 VNNI
 * (vpdpbusd, u8 x s8 into int32 without saturation), AVX2 (both operands widened
 * to int16, vpmaddwd: exact), portable C; chosen at run time from the CPU, so the
 * build flags stay generic. */
#pragma once

#include <glib.h>
#include <stdint.h>

#include "pl-int8.h"

G_BEGIN_DECLS

/* Append only. */
typedef enum {
  PL_INT8_KERNEL_C,
  PL_INT8_KERNEL_AVX2,
  PL_INT8_KERNEL_VNNI,
} PlInt8Kernel;

/* Rows of the operands are padded with zeros to a multiple of this. */
#define PL_INT8_GEMM_K_ALIGN 64

gboolean     pl_int8_kernel_supported (PlInt8Kernel kernel);
/* The fastest kernel the CPU runs. */
PlInt8Kernel pl_int8_kernel_best      (void);
/* "c", "avx2", "vnni". (transfer none) */
const char  *pl_int8_kernel_name      (PlInt8Kernel kernel);

/* acc [n, rows] = x [n, kp] w [rows, kp]^T, exact int32 sums of u8 * s8; kp a
 * multiple of PL_INT8_GEMM_K_ALIGN; @kernel must be supported. */
void pl_int8_gemm_u8s8 (PlInt8Kernel kernel, int32_t *acc, const uint8_t *x,
                        const int8_t *w, int n, int rows, int kp);

/* A quantized dense layer y = x W^T + b for inference. */
typedef struct _PlInt8Linear PlInt8Linear;

/* From the integers of an int8 export: q [rows, cols], scale and zero_point of
 * n_ch = 1 or rows channels, bias [rows] or NULL (all copied). With
 * @in_scale > 0 the input is quantized with that scale and zero point in the
 * range of @in_scheme (as the exported activation ranges say); with
 * @in_scale = 0 each input row gets its own symmetric scale (max |x| / 127).
 * (transfer full) */
PlInt8Linear *pl_int8_linear_new (const int8_t *q, int rows, int cols, const float *scale,
                                  const int32_t *zero_point, int n_ch, const float *bias,
                                  float in_scale, int32_t in_zero_point,
                                  PlInt8Scheme in_scheme);
/* Quantizes the float weight w [rows, cols] per output channel, symmetric; input
 * quantized per row (dynamic). (transfer full) */
PlInt8Linear *pl_int8_linear_new_from_float (const float *w, int rows, int cols,
                                             const float *bias);
void          pl_int8_linear_free (PlInt8Linear *l);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PlInt8Linear, pl_int8_linear_free)

int           pl_int8_linear_get_rows (const PlInt8Linear *l);
int           pl_int8_linear_get_cols (const PlInt8Linear *l);
/* The layer's weight as it computes with it: w [rows, cols] = s (q - z). */
void          pl_int8_linear_dequantize (const PlInt8Linear *l, float *w);
/* y [n, rows] = x [n, cols] W^T + b with @kernel (must be supported). The
 * quantized input lives in a buffer of the layer that grows to the largest n
 * seen: one call at a time per layer. */
void          pl_int8_linear_forward (PlInt8Linear *l, PlInt8Kernel kernel, float *y,
                                      const float *x, int n);

G_END_DECLS
