#include "pl-paired-layout.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pl-error.h"

int
pl_paired_layout_n_features (const PlPairedLayout *layout)
{
  g_return_val_if_fail (layout != NULL, 0);
  return layout->height * layout->width + layout->report_length;
}

void
pl_paired_layout_describe (const PlPairedLayout *layout, PlDataset *ds)
{
  g_return_if_fail (layout != NULL && ds != NULL);
  g_return_if_fail (layout->height > 0 && layout->width > 0 && layout->report_length > 0
                    && layout->vocab_size > PL_PAIRED_UNK_ID);
  g_return_if_fail (ds->n_features == (gsize) pl_paired_layout_n_features (layout));

  ds->sample_shape[0] = 1;
  ds->sample_shape[1] = layout->height;
  ds->sample_shape[2] = layout->width;
  g_strfreev (ds->feature_names);
  ds->feature_names = g_new0 (char *, ds->n_features + 1);
  gsize j = 0;
  for (int r = 0; r < layout->height; r++)
    for (int c = 0; c < layout->width; c++)
      ds->feature_names[j++] = g_strdup_printf ("image.%d.%d", r, c);
  for (int i = 0; i < layout->report_length; i++)
    ds->feature_names[j++] = g_strdup_printf ("report.%d:vocab=%d", i, layout->vocab_size);
}

static gboolean
not_paired (const PlDataset *ds, const char *why, GError **error)
{
  g_set_error (error, PL_ERROR, PL_ERROR_DATA,
               "dataset %s is not paired scan + report data (%s); use a dataset plugin "
               "that packs an image and its report per row, such as "
               "synthetic-scan-report or paired-folder",
               ds->name ? ds->name : "(unnamed)", why);
  return FALSE;
}

gboolean
pl_paired_layout_from_dataset (const PlDataset *ds, PlPairedLayout *out, GError **error)
{
  g_return_val_if_fail (ds != NULL && out != NULL, FALSE);
  int h = ds->sample_shape[1], w = ds->sample_shape[2];
  if (ds->sample_shape[0] != 1 || h < 1 || w < 1
      || (gsize) h * (gsize) w >= ds->n_features)
    return not_paired (ds, "its sample shape is not a one-channel image followed by "
                           "report tokens", error);
  if (!ds->feature_names)
    return not_paired (ds, "its features have no names", error);
  int len = (int) (ds->n_features - (gsize) h * (gsize) w);
  int vocab = -1;
  for (int i = 0; i < len; i++)
    {
      const char *name = ds->feature_names[(gsize) h * w + i];
      int pos = -1, v = -1, end = 0;
      if (!name || sscanf (name, "report.%d:vocab=%d%n", &pos, &v, &end) != 2
          || name[end] != '\0' || pos != i || v <= PL_PAIRED_UNK_ID
          || (vocab >= 0 && v != vocab))
        {
          g_autofree char *why = g_strdup_printf (
            "feature %zu is named \"%s\", expected \"report.%d:vocab=<V>\" with the "
            "same V > 1 on every token", (size_t) ((gsize) h * w + i),
            name ? name : "(none)", i);
          return not_paired (ds, why, error);
        }
      vocab = v;
    }
  out->height = h;
  out->width = w;
  out->report_length = len;
  out->vocab_size = vocab;
  return TRUE;
}

gboolean
pl_paired_layout_check_ids (const PlPairedLayout *layout, const PlDataset *ds,
                            GError **error)
{
  g_return_val_if_fail (layout != NULL && ds != NULL, FALSE);
  gsize hw = (gsize) layout->height * layout->width;
  g_return_val_if_fail (ds->n_features == hw + (gsize) layout->report_length, FALSE);
  const char *name = ds->name ? ds->name : "(unnamed)";
  for (gsize r = 0; r < ds->n; r++)
    {
      const float *row = ds->x + r * ds->n_features;
      for (gsize j = 0; j < hw; j++)
        if (!isfinite (row[j]))
          {
            g_set_error (error, PL_ERROR, PL_ERROR_DATA,
                         "dataset %s: row %zu: pixel %zu (image.%zu.%zu) is %g, expected "
                         "a finite value", name, (size_t) r, (size_t) j,
                         (size_t) (j / layout->width), (size_t) (j % layout->width),
                         (double) row[j]);
            return FALSE;
          }
      for (int i = 0; i < layout->report_length; i++)
        {
          float v = row[hw + i];
          if (!(v >= 0.0f && v < (float) layout->vocab_size && v == floorf (v)))
            {
              g_set_error (error, PL_ERROR, PL_ERROR_DATA,
                           "dataset %s: row %zu: report token %d holds %g, expected an "
                           "integer id in [0, %d) (token ids must not be normalized: use "
                           "[data] normalize=none)", name, (size_t) r, i, (double) v,
                           layout->vocab_size);
              return FALSE;
            }
        }
    }
  return TRUE;
}

gboolean
pl_paired_layout_check_normalize (const PlExperiment *exp, const char *who, GError **error)
{
  g_return_val_if_fail (exp != NULL, FALSE);
  if (exp->data.normalize == PL_NORMALIZE_CHOICE_NONE)
    return TRUE;
  g_autofree char *where = pl_experiment_get_location (exp, "data", "normalize");
  const char *kind = exp->data.normalize == PL_NORMALIZE_CHOICE_STANDARD ? "standard"
                                                                         : "minmax";
  g_set_error (error, PL_ERROR, PL_ERROR_CONFIG,
               "%s: [data] normalize: %s would rescale the report token ids that %s packs "
               "after the pixels; set normalize = none (the pixels are already in "
               "[0, 1])%s", where, kind, who,
               pl_experiment_get_line (exp, "data", "normalize") == 0
                 ? "; standard is the default when the key is not given" : "");
  return FALSE;
}
