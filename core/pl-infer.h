/* pl-infer.h: inference on an exported MLP file of any format, without the
 * training graph.
 *
 * The file's __metadata__ paramlab.format picks the kernels: "fp32" (or no key)
 * runs the F32 weights with cblas_sgemv (one row) or cblas_sgemm; "int8" runs
 * the I8 weights with the integer kernels of pl-int8-gemm.h, quantizing each
 * layer's input with the exported activation range (<weight>.input_scale,
 * .input_zero_point) or, without one, per row; "sparse" runs the CSR weights of
 * pl-sparse.h (1 to 3 rows: row by row, with the AVX-512 tiles built at load
 * time where the CPU has AVX-512F; more rows: blocks of 16 through all layers).
 * The layers are hidden.{k}.weight/.bias and head.weight/.bias, the activation
 * after each hidden layer is the experiment's [model] activation
 * (paramlab.experiment; relu when absent). Any other tensor is an error naming
 * it. */
#pragma once

#include <glib.h>

#include "pl-dataset.h"
#include "pl-int8-gemm.h"
#include "pl-safetensors.h"
#include "pl-sparse.h"

G_BEGIN_DECLS

/* Append only. */
typedef enum {
  PL_INFER_FORMAT_FP32,
  PL_INFER_FORMAT_INT8,
  PL_INFER_FORMAT_SPARSE,
} PlInferFormat;

typedef struct _PlInferNet PlInferNet;

/* Errors (PL_ERROR_IO, _FORMAT, _NOT_FOUND, _SHAPE) name the file and the tensor.
 * (transfer full) */
PlInferNet   *pl_infer_net_load      (const char *path, GError **error);
/* The same on a loaded file; @path names it in messages. (transfer full) */
PlInferNet   *pl_infer_net_load_from (const PlSafetensors *st, const char *path,
                                      GError **error);
void          pl_infer_net_free      (PlInferNet *net);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PlInferNet, pl_infer_net_free)

PlInferFormat pl_infer_net_get_format       (const PlInferNet *net);
/* "fp32", "int8", "sparse". (transfer none) */
const char   *pl_infer_format_to_string     (PlInferFormat format);
int           pl_infer_net_get_in_features  (const PlInferNet *net);
int           pl_infer_net_get_n_classes    (const PlInferNet *net);
int           pl_infer_net_get_n_layers     (const PlInferNet *net);
/* Non-zero weights over all weights of the layers (1 - sparsity). */
double        pl_infer_net_get_density      (const PlInferNet *net);
/* The normalization written with the run (paramlab.normalize.*), or NULL when the
 * file has none. (transfer none) */
const PlNormalizer *pl_infer_net_get_normalizer (const PlInferNet *net);

/* The SpMV kernel that a sparse net's largest layer runs at 1 to 3 rows
 * (pl_csr_kernel_best); PL_CSR_KERNEL_C for other formats. */
PlCsrKernel   pl_infer_net_get_csr_kernel   (const PlInferNet *net);

/* The integer kernel of an int8 net (default: pl_int8_kernel_best ()). */
void          pl_infer_net_set_int8_kernel  (PlInferNet *net, PlInt8Kernel kernel);

/* logits [n, n_classes] = the net on x [n, in_features] (already normalized).
 * Buffers grow to the largest n seen: one call at a time per net. */
void          pl_infer_net_forward          (PlInferNet *net, const float *x, int n,
                                             float *logits);

G_END_DECLS
