/* pl-dataset.h: the data room. In-memory labelled datasets, loaders for CSV and
 * NumPy .npy/.npz, the bundled real datasets, stratified splits, normalization
 * fitted on a training split, and an allocation-free batcher.
 *
 * A dataset is a plain struct: n samples of n_features floats each (row-major) and
 * one integer class label per sample. Loaders report bad files as GErrors in
 * PL_ERROR whose message names the file, the line or array index, the column and
 * what was expected. */
#pragma once

#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

typedef struct {
  char *name;            /* "digits", file basename, ... */
  gsize n;               /* rows */
  gsize n_features;      /* floats per sample */
  int sample_shape[3];   /* C,H,W when the features are an image (digits: 1,8,8),
                            else {n_features,1,1} */
  float *x;              /* [n, n_features] row-major */
  int32_t *y;            /* [n] class labels 0..n_classes-1 */
  int n_classes;
  char **feature_names;  /* NULL-terminated, n_features entries, or NULL */
  char **class_names;    /* NULL-terminated, n_classes entries, or NULL */
} PlDataset;

/* A dataset of n rows, zero-filled, sample_shape {n_features,1,1}, no names.
 * (transfer full) */
PlDataset *pl_dataset_new  (gsize n, gsize n_features, int n_classes);
void       pl_dataset_free (PlDataset *ds);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PlDataset, pl_dataset_free)

/* A copy holding rows[0..n) of ds, in that order, with ds's name, shape, class
 * count and names. Every row id must be < ds->n. (transfer full) */
PlDataset *pl_dataset_subset (const PlDataset *ds, const uint32_t *rows, gsize n);

/* Checks that every label is in [0, n_classes) and every feature is finite.
 * Loaders guarantee this; call it on datasets built by hand. */
gboolean   pl_dataset_check  (const PlDataset *ds, GError **error);

/* counts[c] = number of rows with label c, for c in [0, ds->n_classes);
 * counts has room for n_classes entries. */
void       pl_dataset_class_counts (const PlDataset *ds, gsize *counts);

/* Loads a comma-separated file. label_column is the 0-based column of the class
 * label, -1 for the last one; every other column is a feature. The first row is a
 * header (feature names) when it is not all numbers. Quoted fields ("a,b", "" for
 * a quote), CRLF line ends, surrounding whitespace and empty lines are accepted.
 * Integer labels are class ids; labels that are not numbers (e.g. "cat") become
 * class ids in order of first appearance and are kept as class_names.
 * (transfer full) */
PlDataset *pl_dataset_load_csv (const char *path, int label_column, GError **error);

/* Loads features from x_path and labels from y_path, both NumPy .npy files
 * (format 1.0, 2.0 or 3.0; dtypes <f4 <f8 <i1 <u1 <i2 <u2 <i4 <u4 <i8 <u8 |b1;
 * C order). x of shape [n, ...] is flattened per sample; a 3-D x [n, H, W] gives
 * sample_shape 1,H,W and a 4-D x [n, C, H, W] gives C,H,W. y has shape [n] or
 * [n, 1] and holds integer class ids. Without y_path, x must be 2-D and its last
 * column holds the labels. (transfer full) */
PlDataset *pl_dataset_load_npy (const char *x_path, const char *y_path,
                                GError **error);

/* Loads a NumPy .npz archive (np.savez or np.savez_compressed) holding the
 * features as x, X, data or features and the labels as y, Y, labels or target.
 * (transfer full) */
PlDataset *pl_dataset_load_npz (const char *path, GError **error);

/* Picks the loader by file extension: .csv (label last), .npy (label last column),
 * .npz. (transfer full) */
PlDataset *pl_dataset_load_file (const char *path, GError **error);

/* The folder holding datasets/ and experiments/: $PARAMLAB_DATA_DIR if set, else
 * the installed data dir if it has datasets/, else the source tree's data/.
 * (transfer none) */
const char        *pl_data_dir (void);

/* NULL-terminated names of the bundled datasets: "digits", "breast-cancer".
 * (transfer none) */
const char * const *pl_dataset_builtin_names (void);
/* A one-line description of a bundled dataset, or NULL for an unknown name.
 * (transfer none) */
const char        *pl_dataset_builtin_description (const char *name);
/* Loads a bundled dataset from pl_data_dir()/datasets/<name>.csv, with its
 * sample shape and class names. (transfer full) */
PlDataset         *pl_dataset_load_builtin (const char *name, GError **error);

/* Splits ds into a training and a validation part. Rows are drawn per class from
 * a permutation seeded by (seed, "split"), so each class keeps its proportion;
 * the validation part has round(val_fraction * n) rows, shared out between the
 * classes by largest remainder. Both parts keep the file order of their rows.
 * Same seed, same split. val_fraction must be in (0, 1) and leave both parts
 * non-empty. On success *train and *val are new datasets (transfer full). */
gboolean   pl_dataset_split (const PlDataset *ds, double val_fraction, guint64 seed,
                             PlDataset **train, PlDataset **val, GError **error);

/* Append only. */
typedef enum {
  PL_NORMALIZE_NONE,
  PL_NORMALIZE_STANDARD,  /* x' = (x - mean) / std, population std; std 0 -> 1 */
  PL_NORMALIZE_MINMAX,    /* x' = (x - min) / (max - min); max == min -> x' = 0 */
} PlNormalize;

/* Per-feature affine normalization x' = (x - offset) / scale. */
typedef struct _PlNormalizer PlNormalizer;

/* Fits on the training split only: offset and scale come from train's rows.
 * (transfer full) */
PlNormalizer *pl_normalizer_fit  (const PlDataset *train, PlNormalize kind);
/* Rebuilds a normalizer from saved statistics (e.g. checkpoint metadata); offset
 * and scale have n_features entries, scale entries non-zero. (transfer full) */
PlNormalizer *pl_normalizer_new  (PlNormalize kind, gsize n_features,
                                  const float *offset, const float *scale);
void          pl_normalizer_free (PlNormalizer *norm);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PlNormalizer, pl_normalizer_free)
/* Normalizes ds->x in place; ds must have the fitted number of features. */
void          pl_normalizer_apply (const PlNormalizer *norm, PlDataset *ds);
PlNormalize   pl_normalizer_get_kind       (const PlNormalizer *norm);
gsize         pl_normalizer_get_n_features (const PlNormalizer *norm);
/* The subtracted offset per feature: the mean (standard), the minimum (minmax),
 * 0 (none). (transfer none) */
const float  *pl_normalizer_get_mean  (const PlNormalizer *norm);
/* The divisor per feature: the std (standard), max - min (minmax), 1 (none or a
 * constant feature). (transfer none) */
const float  *pl_normalizer_get_scale (const PlNormalizer *norm);
const char   *pl_normalize_to_string   (PlNormalize kind);
/* "none", "standard", "minmax" -> kind; FALSE for anything else. */
gboolean      pl_normalize_from_string (const char *s, PlNormalize *kind);

/* Hands out mini-batches of a dataset, allocating only in pl_batcher_new. The
 * dataset must outlive the batcher. */
typedef struct _PlBatcher PlBatcher;

/* A batcher positioned at the start of epoch 0. (transfer full) */
PlBatcher *pl_batcher_new  (const PlDataset *ds, int batch_size, gboolean shuffle,
                            guint64 seed);
void       pl_batcher_free (PlBatcher *b);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PlBatcher, pl_batcher_free)
/* Rewinds to the start of epoch `epoch` (>= 0). With shuffle the order is a
 * permutation drawn from (seed mixed with epoch, "shuffle"), so it depends only on
 * seed and epoch; without shuffle it is the file order. */
void       pl_batcher_start_epoch (PlBatcher *b, int epoch);
/* Copies the next batch into x_out [batch_size, n_features] and y_out [batch_size]
 * (either may be NULL) and returns its number of rows: batch_size, fewer for the
 * last batch of an epoch, 0 when the epoch is over. */
int        pl_batcher_next (PlBatcher *b, float *x_out, int32_t *y_out);
/* ceil(n / batch_size) */
int        pl_batcher_n_batches (const PlBatcher *b);
int        pl_batcher_get_batch_size (const PlBatcher *b);
/* The dataset row ids of the batch last returned by pl_batcher_next; *n_rows gets
 * its length. Valid until the next call on b. (transfer none) */
const uint32_t *pl_batcher_index (const PlBatcher *b, int *n_rows);

G_END_DECLS
