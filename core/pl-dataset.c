/* pl-dataset.c: the dataset struct, bundled datasets, splits, normalization and
 * batching. The file loaders live in pl-csv.c and pl-npy.c. */
#include "pl-config.h"

#include "pl-dataset.h"
#include "pl-error.h"
#include "pl-rng.h"

#include <math.h>
#include <string.h>

PlDataset *
pl_dataset_new (gsize n, gsize n_features, int n_classes)
{
  g_return_val_if_fail (n_classes >= 0, NULL);

  PlDataset *ds = g_new0 (PlDataset, 1);
  ds->n = n;
  ds->n_features = n_features;
  ds->sample_shape[0] = (int) n_features;
  ds->sample_shape[1] = 1;
  ds->sample_shape[2] = 1;
  ds->x = g_new0 (float, n * n_features);
  ds->y = g_new0 (int32_t, n);
  ds->n_classes = n_classes;
  return ds;
}

void
pl_dataset_free (PlDataset *ds)
{
  if (!ds)
    return;
  g_free (ds->name);
  g_free (ds->x);
  g_free (ds->y);
  g_strfreev (ds->feature_names);
  g_strfreev (ds->class_names);
  g_free (ds);
}

PlDataset *
pl_dataset_subset (const PlDataset *ds, const uint32_t *rows, gsize n)
{
  g_return_val_if_fail (ds != NULL, NULL);
  g_return_val_if_fail (rows != NULL || n == 0, NULL);

  for (gsize i = 0; i < n; i++)
    g_return_val_if_fail (rows[i] < ds->n, NULL);

  PlDataset *sub = pl_dataset_new (n, ds->n_features, ds->n_classes);
  sub->name = g_strdup (ds->name);
  memcpy (sub->sample_shape, ds->sample_shape, sizeof sub->sample_shape);
  sub->feature_names = g_strdupv (ds->feature_names);
  sub->class_names = g_strdupv (ds->class_names);
  for (gsize i = 0; i < n; i++)
    {
      memcpy (sub->x + i * ds->n_features, ds->x + (gsize) rows[i] * ds->n_features,
              ds->n_features * sizeof (float));
      sub->y[i] = ds->y[rows[i]];
    }
  return sub;
}

gboolean
pl_dataset_check (const PlDataset *ds, GError **error)
{
  g_return_val_if_fail (ds != NULL, FALSE);

  const char *name = ds->name ? ds->name : "dataset";
  for (gsize i = 0; i < ds->n; i++)
    if (ds->y[i] < 0 || ds->y[i] >= ds->n_classes)
      {
        g_set_error (error, PL_ERROR, PL_ERROR_DATA,
                     "%s: row %" G_GSIZE_FORMAT " has label %d, expected a class id in "
                     "0..%d", name, i, (int) ds->y[i], ds->n_classes - 1);
        return FALSE;
      }
  for (gsize i = 0; i < ds->n * ds->n_features; i++)
    if (!isfinite (ds->x[i]))
      {
        g_set_error (error, PL_ERROR, PL_ERROR_DATA,
                     "%s: row %" G_GSIZE_FORMAT " feature %" G_GSIZE_FORMAT " is %g, "
                     "expected a finite number", name, i / ds->n_features,
                     i % ds->n_features, (double) ds->x[i]);
        return FALSE;
      }
  return TRUE;
}

void
pl_dataset_class_counts (const PlDataset *ds, gsize *counts)
{
  g_return_if_fail (ds != NULL);
  g_return_if_fail (counts != NULL || ds->n_classes == 0);

  memset (counts, 0, (gsize) ds->n_classes * sizeof (gsize));
  for (gsize i = 0; i < ds->n; i++)
    if (ds->y[i] >= 0 && ds->y[i] < ds->n_classes)
      counts[ds->y[i]]++;
}

PlDataset *
pl_dataset_load_file (const char *path, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);

  if (g_str_has_suffix (path, ".csv") || g_str_has_suffix (path, ".CSV"))
    return pl_dataset_load_csv (path, -1, error);
  if (g_str_has_suffix (path, ".npy"))
    return pl_dataset_load_npy (path, NULL, error);
  if (g_str_has_suffix (path, ".npz"))
    return pl_dataset_load_npz (path, error);
  g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
               "%s: unknown dataset file type, expected .csv, .npy or .npz", path);
  return NULL;
}

/* --- bundled datasets ------------------------------------------------------ */

typedef struct {
  const char *name;
  const char *description;
  gsize n_features;
  int n_classes;
  int sample_shape[3];
  const char *class_names[11];
} Builtin;

static const Builtin builtins[] = {
  { "digits",
    "handwritten digits (UCI): 1797 8x8 images of pixel counts 0-16, 10 classes",
    64, 10, { 1, 8, 8 },
    { "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", NULL } },
  { "breast-cancer",
    "Breast Cancer Wisconsin Diagnostic (UCI): 569 samples, 30 cell-nucleus "
    "features, malignant/benign",
    30, 2, { 30, 1, 1 },
    { "malignant", "benign", NULL } },
};

static const char * const builtin_names[] = { "digits", "breast-cancer", NULL };

static const Builtin *
find_builtin (const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS (builtins); i++)
    if (g_strcmp0 (builtins[i].name, name) == 0)
      return &builtins[i];
  return NULL;
}

const char *
pl_data_dir (void)
{
  static gsize once = 0;
  static const char *fallback;

  const char *env = g_getenv ("PARAMLAB_DATA_DIR");
  if (env && *env)
    return env;
  if (g_once_init_enter (&once))
    {
      g_autofree char *installed = g_build_filename (PL_INSTALL_DATADIR, "datasets",
                                                     NULL);
      fallback = g_file_test (installed, G_FILE_TEST_IS_DIR)
                 ? PL_INSTALL_DATADIR : PL_SOURCE_DIR "/data";
      g_once_init_leave (&once, 1);
    }
  return fallback;
}

const char * const *
pl_dataset_builtin_names (void)
{
  return builtin_names;
}

const char *
pl_dataset_builtin_description (const char *name)
{
  const Builtin *b = find_builtin (name);
  return b ? b->description : NULL;
}

PlDataset *
pl_dataset_load_builtin (const char *name, GError **error)
{
  g_return_val_if_fail (name != NULL, NULL);

  const Builtin *b = find_builtin (name);
  if (!b)
    {
      g_autofree char *known = g_strjoinv (", ", (char **) builtin_names);
      g_set_error (error, PL_ERROR, PL_ERROR_NOT_FOUND,
                   "unknown built-in dataset '%s', expected one of: %s", name, known);
      return NULL;
    }

  g_autofree char *file = g_strconcat (name, ".csv", NULL);
  g_autofree char *path = g_build_filename (pl_data_dir (), "datasets", file, NULL);
  g_autoptr(PlDataset) ds = pl_dataset_load_csv (path, -1, error);
  if (!ds)
    return NULL;
  if (ds->n_features != b->n_features || ds->n_classes != b->n_classes)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_DATA,
                   "%s: %" G_GSIZE_FORMAT " features and %d classes, expected %"
                   G_GSIZE_FORMAT " features and %d classes for the built-in "
                   "dataset '%s'", path, ds->n_features, ds->n_classes,
                   b->n_features, b->n_classes, name);
      return NULL;
    }
  g_free (ds->name);
  ds->name = g_strdup (name);
  memcpy (ds->sample_shape, b->sample_shape, sizeof ds->sample_shape);
  g_strfreev (ds->class_names);
  ds->class_names = g_strdupv ((char **) b->class_names);
  return g_steal_pointer (&ds);
}

/* --- splits ------------------------------------------------------------------ */

static int
cmp_u32 (const void *a, const void *b)
{
  uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
  return (x > y) - (x < y);
}

gboolean
pl_dataset_split (const PlDataset *ds, double val_fraction, guint64 seed,
                  PlDataset **train, PlDataset **val, GError **error)
{
  g_return_val_if_fail (ds != NULL, FALSE);
  g_return_val_if_fail (train != NULL && val != NULL, FALSE);

  const char *name = ds->name ? ds->name : "dataset";
  if (!(val_fraction > 0.0 && val_fraction < 1.0))
    {
      g_set_error (error, PL_ERROR, PL_ERROR_DATA,
                   "%s: validation fraction %g is out of range, expected a value "
                   "in (0, 1)", name, val_fraction);
      return FALSE;
    }
  if (!pl_dataset_check (ds, error))
    return FALSE;

  gsize n = ds->n;
  gsize n_val = (gsize) floor (val_fraction * (double) n + 0.5);
  if (n_val == 0 || n_val >= n)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_DATA,
                   "%s: a validation fraction of %g of %" G_GSIZE_FORMAT " rows "
                   "leaves an empty %s split", name, val_fraction, n,
                   n_val == 0 ? "validation" : "training");
      return FALSE;
    }

  int k = ds->n_classes;
  g_autofree gsize *counts = g_new0 (gsize, k);
  pl_dataset_class_counts (ds, counts);

  /* Rows grouped by class, each group in file order: start[c] .. start[c+1]. */
  g_autofree gsize *start = g_new0 (gsize, k + 1);
  for (int c = 0; c < k; c++)
    start[c + 1] = start[c] + counts[c];
  g_autofree gsize *fill = g_memdup2 (start, (k + 1) * sizeof (gsize));
  g_autofree uint32_t *by_class = g_new (uint32_t, n);
  for (gsize i = 0; i < n; i++)
    by_class[fill[ds->y[i]]++] = (uint32_t) i;

  /* Largest remainder: class c gets floor(f * count_c) validation rows, and the
   * rows still missing from n_val go to the largest fractional parts. */
  g_autofree gsize *take = g_new0 (gsize, k);
  g_autofree double *rem = g_new0 (double, k);
  gsize taken = 0;
  for (int c = 0; c < k; c++)
    {
      double want = val_fraction * (double) counts[c];
      take[c] = (gsize) floor (want);
      rem[c] = want - (double) take[c];
      taken += take[c];
    }
  while (taken < n_val)
    {
      int best = -1;
      for (int c = 0; c < k; c++)
        if (take[c] < counts[c] && (best < 0 || rem[c] > rem[best]))
          best = c;
      g_assert (best >= 0);
      take[best]++;
      rem[best] = -1.0;
      taken++;
    }
  /* only floating-point rounding of f * count_c could overshoot */
  while (taken > n_val)
    {
      int c = 0;
      for (int d = 1; d < k; d++)
        if (take[d] > take[c])
          c = d;
      take[c]--;
      taken--;
    }

  PlRng rng;
  pl_rng_init_stream (&rng, seed, "split");
  g_autofree uint32_t *val_rows = g_new (uint32_t, n_val);
  g_autofree uint32_t *train_rows = g_new (uint32_t, n - n_val);
  gsize nv = 0, nt = 0;
  for (int c = 0; c < k; c++)
    {
      uint32_t *group = by_class + start[c];
      pl_rng_shuffle_u32 (&rng, group, counts[c]);
      for (gsize j = 0; j < counts[c]; j++)
        {
          if (j < take[c])
            val_rows[nv++] = group[j];
          else
            train_rows[nt++] = group[j];
        }
    }
  g_assert (nv == n_val && nt == n - n_val);
  qsort (val_rows, nv, sizeof (uint32_t), cmp_u32);
  qsort (train_rows, nt, sizeof (uint32_t), cmp_u32);

  *train = pl_dataset_subset (ds, train_rows, nt);
  *val = pl_dataset_subset (ds, val_rows, nv);
  return TRUE;
}

/* --- normalization ------------------------------------------------------------ */

struct _PlNormalizer {
  PlNormalize kind;
  gsize n_features;
  float *offset;  /* [n_features] */
  float *scale;   /* [n_features], never 0 */
};

static PlNormalizer *
normalizer_alloc (PlNormalize kind, gsize n_features)
{
  PlNormalizer *norm = g_new0 (PlNormalizer, 1);
  norm->kind = kind;
  norm->n_features = n_features;
  norm->offset = g_new0 (float, n_features);
  norm->scale = g_new (float, n_features);
  for (gsize j = 0; j < n_features; j++)
    norm->scale[j] = 1.0f;
  return norm;
}

PlNormalizer *
pl_normalizer_fit (const PlDataset *train, PlNormalize kind)
{
  g_return_val_if_fail (train != NULL, NULL);
  g_return_val_if_fail (kind >= PL_NORMALIZE_NONE && kind <= PL_NORMALIZE_MINMAX,
                        NULL);

  gsize n = train->n, d = train->n_features;
  PlNormalizer *norm = normalizer_alloc (kind, d);
  if (kind == PL_NORMALIZE_NONE || n == 0)
    return norm;

  if (kind == PL_NORMALIZE_STANDARD)
    {
      /* mean_j = sum_i x_ij / n; std_j = sqrt(sum_i (x_ij - mean_j)^2 / n),
       * two passes in double for accuracy */
      g_autofree double *sum = g_new0 (double, d);
      g_autofree double *sq = g_new0 (double, d);
      for (gsize i = 0; i < n; i++)
        for (gsize j = 0; j < d; j++)
          sum[j] += train->x[i * d + j];
      for (gsize j = 0; j < d; j++)
        sum[j] /= (double) n;
      for (gsize i = 0; i < n; i++)
        for (gsize j = 0; j < d; j++)
          {
            double dev = train->x[i * d + j] - sum[j];
            sq[j] += dev * dev;
          }
      for (gsize j = 0; j < d; j++)
        {
          double std = sqrt (sq[j] / (double) n);
          norm->offset[j] = (float) sum[j];
          norm->scale[j] = (float) std > 0.0f ? (float) std : 1.0f;
        }
    }
  else
    {
      /* min_j, max_j over rows; scale_j = max_j - min_j */
      for (gsize j = 0; j < d; j++)
        {
          float lo = train->x[j], hi = train->x[j];
          for (gsize i = 1; i < n; i++)
            {
              float v = train->x[i * d + j];
              lo = v < lo ? v : lo;
              hi = v > hi ? v : hi;
            }
          norm->offset[j] = lo;
          norm->scale[j] = hi - lo > 0.0f ? hi - lo : 1.0f;
        }
    }
  return norm;
}

PlNormalizer *
pl_normalizer_new (PlNormalize kind, gsize n_features, const float *offset,
                   const float *scale)
{
  g_return_val_if_fail (kind >= PL_NORMALIZE_NONE && kind <= PL_NORMALIZE_MINMAX,
                        NULL);
  g_return_val_if_fail (n_features == 0 || (offset != NULL && scale != NULL), NULL);

  PlNormalizer *norm = normalizer_alloc (kind, n_features);
  for (gsize j = 0; j < n_features; j++)
    {
      norm->offset[j] = offset[j];
      norm->scale[j] = scale[j] != 0.0f ? scale[j] : 1.0f;
    }
  return norm;
}

void
pl_normalizer_free (PlNormalizer *norm)
{
  if (!norm)
    return;
  g_free (norm->offset);
  g_free (norm->scale);
  g_free (norm);
}

void
pl_normalizer_apply (const PlNormalizer *norm, PlDataset *ds)
{
  g_return_if_fail (norm != NULL && ds != NULL);
  g_return_if_fail (ds->n_features == norm->n_features);

  if (norm->kind == PL_NORMALIZE_NONE)
    return;
  gsize d = ds->n_features;
  g_autofree float *inv = g_new (float, d);
  for (gsize j = 0; j < d; j++)
    inv[j] = 1.0f / norm->scale[j];
  /* x_ij = (x_ij - offset_j) * (1 / scale_j) */
  for (gsize i = 0; i < ds->n; i++)
    {
      float *row = ds->x + i * d;
      for (gsize j = 0; j < d; j++)
        row[j] = (row[j] - norm->offset[j]) * inv[j];
    }
}

PlNormalize
pl_normalizer_get_kind (const PlNormalizer *norm)
{
  g_return_val_if_fail (norm != NULL, PL_NORMALIZE_NONE);
  return norm->kind;
}

gsize
pl_normalizer_get_n_features (const PlNormalizer *norm)
{
  g_return_val_if_fail (norm != NULL, 0);
  return norm->n_features;
}

const float *
pl_normalizer_get_mean (const PlNormalizer *norm)
{
  g_return_val_if_fail (norm != NULL, NULL);
  return norm->offset;
}

const float *
pl_normalizer_get_scale (const PlNormalizer *norm)
{
  g_return_val_if_fail (norm != NULL, NULL);
  return norm->scale;
}

static const char * const normalize_names[] = { "none", "standard", "minmax" };

const char *
pl_normalize_to_string (PlNormalize kind)
{
  g_return_val_if_fail (kind >= PL_NORMALIZE_NONE && kind <= PL_NORMALIZE_MINMAX,
                        NULL);
  return normalize_names[kind];
}

gboolean
pl_normalize_from_string (const char *s, PlNormalize *kind)
{
  for (int k = 0; k < (int) G_N_ELEMENTS (normalize_names); k++)
    if (g_strcmp0 (s, normalize_names[k]) == 0)
      {
        if (kind)
          *kind = (PlNormalize) k;
        return TRUE;
      }
  return FALSE;
}

/* --- batching ------------------------------------------------------------------ */

struct _PlBatcher {
  const PlDataset *ds;
  int batch_size;
  gboolean shuffle;
  guint64 seed;
  uint32_t *order;  /* [n] row ids in this epoch's order */
  gsize pos;        /* first row of the next batch in order */
  gsize cur;        /* first row of the batch last returned */
  int cur_len;
};

PlBatcher *
pl_batcher_new (const PlDataset *ds, int batch_size, gboolean shuffle, guint64 seed)
{
  g_return_val_if_fail (ds != NULL, NULL);
  g_return_val_if_fail (batch_size > 0, NULL);
  g_return_val_if_fail (ds->n <= G_MAXUINT32, NULL);

  PlBatcher *b = g_new0 (PlBatcher, 1);
  b->ds = ds;
  b->batch_size = batch_size;
  b->shuffle = shuffle;
  b->seed = seed;
  b->order = g_new (uint32_t, ds->n ? ds->n : 1);
  pl_batcher_start_epoch (b, 0);
  return b;
}

void
pl_batcher_free (PlBatcher *b)
{
  if (!b)
    return;
  g_free (b->order);
  g_free (b);
}

void
pl_batcher_start_epoch (PlBatcher *b, int epoch)
{
  g_return_if_fail (b != NULL);
  g_return_if_fail (epoch >= 0);

  for (gsize i = 0; i < b->ds->n; i++)
    b->order[i] = (uint32_t) i;
  if (b->shuffle)
    {
      /* seed ^ (epoch+1) * golden ratio: a distinct, order-free stream per epoch */
      PlRng rng;
      guint64 mix = ((guint64) epoch + 1) * 0x9e3779b97f4a7c15ULL;
      pl_rng_init_stream (&rng, b->seed ^ mix, "shuffle");
      pl_rng_shuffle_u32 (&rng, b->order, b->ds->n);
    }
  b->pos = 0;
  b->cur = 0;
  b->cur_len = 0;
}

int
pl_batcher_next (PlBatcher *b, float *x_out, int32_t *y_out)
{
  g_return_val_if_fail (b != NULL, 0);

  const PlDataset *ds = b->ds;
  gsize left = ds->n - b->pos;
  int len = left < (gsize) b->batch_size ? (int) left : b->batch_size;
  gsize d = ds->n_features;
  for (int i = 0; i < len; i++)
    {
      uint32_t r = b->order[b->pos + i];
      if (x_out)
        memcpy (x_out + (gsize) i * d, ds->x + (gsize) r * d, d * sizeof (float));
      if (y_out)
        y_out[i] = ds->y[r];
    }
  b->cur = b->pos;
  b->cur_len = len;
  b->pos += len;
  return len;
}

int
pl_batcher_n_batches (const PlBatcher *b)
{
  g_return_val_if_fail (b != NULL, 0);
  return (int) ((b->ds->n + b->batch_size - 1) / b->batch_size);
}

int
pl_batcher_get_batch_size (const PlBatcher *b)
{
  g_return_val_if_fail (b != NULL, 0);
  return b->batch_size;
}

const uint32_t *
pl_batcher_index (const PlBatcher *b, int *n_rows)
{
  g_return_val_if_fail (b != NULL, NULL);
  if (n_rows)
    *n_rows = b->cur_len;
  return b->order + b->cur;
}
