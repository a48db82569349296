/* pl-safetensors.h: reading and writing checkpoints in the safetensors format.
 *
 * A safetensors file (https://github.com/huggingface/safetensors) is:
 *   8 bytes   N, the header length, unsigned 64-bit little-endian
 *   N bytes   a UTF-8 JSON object: tensor name -> {"dtype": "F32", "shape": [2, 3],
 *             "data_offsets": [begin, end]}, plus an optional "__metadata__" object
 *             of string -> string
 *   the rest  the data buffer; a tensor's bytes are [begin, end) of it, row-major,
 *             little-endian, and the tensors cover the whole buffer without gaps or
 *             overlaps.
 *
 * The reader checks all of that and refuses a file that breaks any rule with a
 * PL_ERROR_FORMAT GError whose message names the file, the tensor and what was
 * expected. The writer produces files the Hugging Face reference implementation
 * (and PyTorch via safetensors.torch) reads. */
#pragma once

#include <glib.h>
#include "pl-file-util.h"

G_BEGIN_DECLS

/* Element types. Append only: the values are stored. */
typedef enum {
  PL_DTYPE_F32,
  PL_DTYPE_F16,
  PL_DTYPE_BF16,
  PL_DTYPE_F64,
  PL_DTYPE_I8,
  PL_DTYPE_U8,
  PL_DTYPE_I16,
  PL_DTYPE_I32,
  PL_DTYPE_I64,
  PL_DTYPE_BOOL,
} PlDtype;

/* Bytes per element: 4, 2, 2, 8, 1, 1, 2, 4, 8, 1. */
gsize       pl_dtype_size        (PlDtype dtype);
/* The safetensors name, e.g. "F32", "BOOL". (transfer none) */
const char *pl_dtype_to_string   (PlDtype dtype);
/* Parses a safetensors dtype name (exact, upper case); FALSE if unknown. */
gboolean    pl_dtype_from_string (const char *name, PlDtype *out);

/* Files with longer headers are refused (the reference implementation's limit). */
#define PL_SAFETENSORS_MAX_HEADER (100 * 1000 * 1000)
#define PL_SAFETENSORS_MAX_DIMS   8

/* One tensor of a loaded file. Valid as long as the PlSafetensors it came from.
 * data points into the file's bytes and is NOT aligned for the dtype (the data
 * buffer starts right after the header, at any offset in general): copy with
 * memcpy () or pl_safetensors_read_f32 (), never cast to float * and dereference.
 * Bytes are little-endian. */
typedef struct {
  const char *name;
  PlDtype dtype;
  int ndim;                               /* 0 for a scalar */
  gint64 shape[PL_SAFETENSORS_MAX_DIMS];  /* shape[0..ndim), each >= 0 */
  gsize numel;                            /* product of the shape; 1 for a scalar */
  gsize nbytes;                           /* numel * pl_dtype_size (dtype) */
  gsize offset;                           /* of data within the data buffer */
  const void *data;
} PlTensorInfo;

typedef struct _PlSafetensors PlSafetensors;

/* Maps the regular file at path (no copy: nobody may truncate the file while it
 * is loaded; replacing it by rename, as the writer does, is safe) or reads any
 * other kind (a pipe), and validates it. PL_ERROR_IO when it cannot be read.
 * (transfer full) */
PlSafetensors *pl_safetensors_load            (const char *path, GError **error);

/* Validates the file contents in bytes, keeping a reference to them. display_name
 * is used in error messages in place of a path. (transfer full) */
PlSafetensors *pl_safetensors_load_from_bytes (GBytes *bytes, const char *display_name,
                                               GError **error);

void           pl_safetensors_free            (PlSafetensors *st);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PlSafetensors, pl_safetensors_free)

/* Tensors in the order the header lists them. (transfer none) */
guint               pl_safetensors_get_n_tensors  (const PlSafetensors *st);
const PlTensorInfo *pl_safetensors_get_tensor_at  (const PlSafetensors *st, guint i);
/* NULL when the file has no tensor of that name. (transfer none) */
const PlTensorInfo *pl_safetensors_lookup         (const PlSafetensors *st,
                                                   const char *name);

/* A "__metadata__" value, or NULL when absent. (transfer none) */
const char         *pl_safetensors_get_metadata   (const PlSafetensors *st,
                                                   const char *key);
/* NULL-terminated metadata keys in header order. (transfer container) */
const char        **pl_safetensors_get_metadata_keys (const PlSafetensors *st);

/* Copies the F32 tensor t into out[0..n). Fails with PL_ERROR_FORMAT when t is
 * not F32 and PL_ERROR_SHAPE when n != t->numel; the message names the tensor. */
gboolean pl_safetensors_read_f32 (const PlTensorInfo *t, float *out, gsize n,
                                  GError **error);

typedef struct _PlSafetensorsWriter PlSafetensorsWriter;

/* (transfer full) */
PlSafetensorsWriter *pl_safetensors_writer_new (void);
void                 pl_safetensors_writer_free (PlSafetensorsWriter *w);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PlSafetensorsWriter, pl_safetensors_writer_free)

/* Adds a tensor of shape[0..ndim) (ndim 0 for a scalar) whose nbytes bytes are
 * at data, row-major, in host (= little-endian) byte order. The bytes are COPIED,
 * so data may be reused at once. Fails with PL_ERROR_SHAPE when nbytes is not
 * product(shape) * pl_dtype_size (dtype) or a dimension is negative, and with
 * PL_ERROR_FAILED for a duplicate or reserved ("__metadata__") name or more than
 * PL_SAFETENSORS_MAX_DIMS dimensions. Tensors are written in the order added. */
gboolean pl_safetensors_writer_add (PlSafetensorsWriter *w, const char *name,
                                    PlDtype dtype, const gint64 *shape, int ndim,
                                    const void *data, gsize nbytes, GError **error);

/* Sets "__metadata__"[key] = value (UTF-8), replacing an earlier value. */
void     pl_safetensors_writer_set_metadata (PlSafetensorsWriter *w, const char *key,
                                             const char *value);

/* Writes the file atomically: into a temporary file in the same directory, which
 * is flushed to disk (fsync) and then renamed over path, after which the directory
 * is synced too. On failure path is left as it was and the temporary file is
 * removed. The header is padded with spaces to a multiple of 8 bytes so that the
 * data buffer is 8-byte aligned in the file. The writer may be written again. */
gboolean pl_safetensors_writer_write (PlSafetensorsWriter *w, const char *path,
                                      GError **error);

/* The same, through pl_file_write_atomic() (one place for atomic writes):
 * PL_FILE_WRITE_NO_REPLACE refuses an existing path (exports without --force). */
gboolean pl_safetensors_writer_write_full (PlSafetensorsWriter *w, const char *path,
                                           PlFileWriteFlags flags, GError **error);

G_END_DECLS
