/* pl-sparse.h: compressed sparse row (CSR) weights for inference, the product
 * y = x W^T + b on them, and their form in a sparse export.
 *
 * A dense weight W [rows = out, cols = in] becomes, row by row, the values that
 * are not zero, their column indices (ascending within a row) and the row
 * pointers: the values of row o are values[indptr[o] .. indptr[o + 1]).
 *
 * A sparse export (safetensors, __metadata__ paramlab.format = "sparse") holds each
 * 2-D ".weight" tensor <name> as three tensors and one metadata key:
 *
 *   <name>.values   F32 [nnz]       the stored values, row by row
 *   <name>.indices  U8  [nnz]       delta-encoded columns: the first entry of a row
 *                                   is its column, each next one the gap to the
 *                                   previous column of the row; a gap over 255 is
 *                                   bridged by stored zeros every 255 columns
 *                   or I32 [nnz]    absolute columns
 *   <name>.indptr   I32 [rows + 1]  row pointers, indptr[0] = 0, indptr[rows] = nnz
 *   __metadata__ paramlab.sparse.<name>.shape = "rows,cols"
 *
 * Every other tensor (biases) is stored as in the fp32 export. At 90% sparsity a
 * weight takes 5 bytes per non-zero (0.125 of its fp32 bytes) plus 4 per row. */
#pragma once

#include <glib.h>
#include <stdint.h>

#include "pl-safetensors.h"

G_BEGIN_DECLS

/* An in-memory copy of a CSR matrix for the AVX-512 SpMV kernel (private to
 * pl-sparse.c). Rows go in groups of 16 and columns in blocks of 32; a tile is
 * the part of one group in one block that has non-zeros. Step s of a tile holds,
 * for each of its 16 rows, the row's s-th non-zero in the block (f32) and its
 * column within the block (5 bits, four steps' indices in one vector), value 0 for
 * a row that has fewer; a tile takes as many steps as its fullest row. The kernel
 * keeps x's block in two registers and, per step, fetches the 16 rows' inputs
 * with one vpermt2ps and adds them with one FMA into the group's 16 outputs. */
typedef struct _PlCsrTiles PlCsrTiles;

typedef struct {
  int rows;            /* out features */
  int cols;            /* in features */
  int nnz;             /* non-zero values */
  int n_stored;        /* stored entries: each row padded with zeros to a multiple of 8 */
  int32_t *indptr;     /* [rows + 1], into the stored entries */
  uint16_t *idx16;     /* [n_stored] columns when cols <= 65536, else NULL */
  int32_t *idx32;      /* [n_stored] columns when cols > 65536, else NULL */
  float *values;       /* [n_stored] */
  float *work;         /* [cols + rows, PL_CSR_BLOCK], 64-byte aligned */
  PlCsrTiles *tiles;   /* the AVX-512 SpMV layout (below), or NULL */
} PlCsr;

/* Rows of x per block of the batched path. */
#define PL_CSR_BLOCK 16

/* The non-zero entries of w [rows, cols] (0.0 and -0.0 are dropped).
 * (transfer full) */
PlCsr   *pl_csr_new_from_dense (const float *w, int rows, int cols);
/* A CSR matrix from arrays (copied): indptr [rows + 1], cols_of [nnz], values [nnz].
 * Returns NULL and sets @error (PL_ERROR_FORMAT, naming @what) when indptr does
 * not start at 0, decreases or does not end at nnz, or a column is out of range.
 * (transfer full) */
PlCsr   *pl_csr_new (int rows, int cols, int nnz, const int32_t *indptr,
                     const int32_t *cols_of, const float *values, const char *what,
                     GError **error);
void     pl_csr_free (PlCsr *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PlCsr, pl_csr_free)

/* w [rows, cols] = the dense matrix (zeros elsewhere). */
void     pl_csr_to_dense (const PlCsr *m, float *w);

/* y = x W^T + b; x [n, cols], y [n, rows], b [rows] or NULL. n = 1..3 takes the
 * row-by-row path (SpMV, with pl_csr_kernel_best), larger n the blocked path
 * (SpMM: 16 rows of x at a time transposed into m->work, so that each non-zero
 * w_ok adds w_ok * x[:, k] to 16 outputs with two vector FMAs, the block staying
 * in L1). Uses m->work: one call at a time per matrix. */
void     pl_csr_linear_forward (float *y, const float *x, const PlCsr *m, const float *b,
                                int n);
/* The same with the path forced, for tests and benchmarks: @spmm FALSE = SpMV;
 * @simd FALSE = the portable C kernels, TRUE = the fastest the CPU and @m have
 * (SpMV: pl_csr_kernel_best; SpMM: AVX2/FMA, else portable). */
void     pl_csr_linear_forward_path (float *y, const float *x, const PlCsr *m,
                                     const float *b, int n, gboolean spmm, gboolean simd);
/* The blocked path on one block in transposed form, for chaining layers without
 * transposing between them: yt [rows, PL_CSR_BLOCK] = W xt + b (b broadcast over
 * the block); xt [cols, PL_CSR_BLOCK]; both 32-byte aligned. */
void     pl_csr_linear_forward_block (float *yt, const float *xt, const PlCsr *m,
                                      const float *b, gboolean simd);
/* xt [cols, PL_CSR_BLOCK] = x [nb, cols] transposed, columns nb.. zero */
void     pl_csr_block_in  (float *xt, const float *x, int nb, int cols);
/* y [nb, rows] = the first nb columns of yt [rows, PL_CSR_BLOCK], transposed */
void     pl_csr_block_out (float *y, const float *yt, int nb, int rows);
/* TRUE when the CPU runs the AVX2/FMA kernels. */
gboolean pl_csr_have_simd (void);

/* Append only: the SpMV (row by row) kernels. */
typedef enum {
  PL_CSR_KERNEL_C,       /* portable */
  PL_CSR_KERNEL_AVX2,    /* CSR, 8 products per FMA, x loaded one value at a time */
  PL_CSR_KERNEL_AVX512,  /* the tiles (PlCsrTiles): x in registers, 16 rows per FMA */
} PlCsrKernel;

/* TRUE when the CPU has @kernel's instructions and, for the AVX-512 one, @m has
 * its tiles. */
gboolean    pl_csr_kernel_supported (const PlCsr *m, PlCsrKernel kernel);
/* The kernel pl_csr_linear_forward uses for @m at batch 1..3: AVX-512 when @m has
 * tiles, else AVX2 when the CPU has it, else C. */
PlCsrKernel pl_csr_kernel_best      (const PlCsr *m);
/* "c", "avx2", "avx512". (transfer none) */
const char *pl_csr_kernel_name      (PlCsrKernel kernel);
/* Builds @m's tiles when the CPU has AVX-512F (even where they would not pay off:
 * for tests and measurements); FALSE when it has not. pl_csr_new* build them by
 * themselves where the kernel is expected to be faster than the AVX2 one. */
gboolean    pl_csr_build_tiles      (PlCsr *m);
/* Stored tile slots (16 per step) over non-zeros: the tiles' zero padding, 1.0 =
 * none; 0 when @m has no tiles. */
double      pl_csr_tile_padding     (const PlCsr *m);
/* y [n, rows] = x [n, cols] W^T + b, row by row with @kernel (which must be
 * supported). Does not use m->work. */
void        pl_csr_spmv             (float *y, const float *x, const PlCsr *m, const float *b,
                                     int n, PlCsrKernel kernel);

/* Append only: the index encodings of a sparse export. */
typedef enum {
  PL_SPARSE_INDEX_DELTA_U8,
  PL_SPARSE_INDEX_I32,
} PlSparseIndex;

/* Adds the dense weight w [rows, cols] to @writer as <name>.values, .indices,
 * .indptr and its shape key (see above). */
gboolean pl_sparse_writer_add_weight (PlSafetensorsWriter *writer, const char *name,
                                      const float *w, int rows, int cols,
                                      PlSparseIndex encoding, GError **error);
/* Reads weight <name> of a sparse export; values that are exactly zero (the
 * bridges of the delta encoding) are dropped. Errors name @path and the tensor.
 * (transfer full) */
PlCsr   *pl_sparse_read_weight (const PlSafetensors *st, const char *path, const char *name,
                                GError **error);
/* TRUE when @name is one of <weight>.values / .indices / .indptr; the weight's
 * name goes to *weight (transfer full, nullable out). */
gboolean pl_sparse_is_part (const char *name, char **weight);

G_END_DECLS
