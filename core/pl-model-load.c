#include "pl-model-load.h"

#include "pl-error.h"
#include "pl-safetensors.h"

/* "[a, b]" */
static char *
shape_text (const int *shape, int ndim)
{
  GString *s = g_string_new ("[");
  for (int d = 0; d < ndim; d++)
    g_string_append_printf (s, "%s%d", d ? ", " : "", shape[d]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

static char *
file_shape_text (const PlTensorInfo *t)
{
  GString *s = g_string_new ("[");
  for (int d = 0; d < t->ndim; d++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, d ? ", " : "", t->shape[d]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

static gboolean
same_shape (const PlTensorInfo *t, const PlParam *p)
{
  if (t->ndim != p->ndim)
    return FALSE;
  for (int d = 0; d < p->ndim; d++)
    if (t->shape[d] != p->shape[d])
      return FALSE;
  return TRUE;
}

static gboolean
ignored (const char *name, const char *const *ignore)
{
  for (int i = 0; ignore && ignore[i]; i++)
    if (g_pattern_match_simple (ignore[i], name))
      return TRUE;
  return FALSE;
}

gboolean
pl_model_load_safetensors_with_rules (PlModel *m, const char *path, PlLoadRuleFunc rule,
                                      gpointer user_data, const char *const *ignore,
                                      guint *n_loaded, GError **error)
{
  g_return_val_if_fail (m != NULL && path != NULL, FALSE);
  if (n_loaded)
    *n_loaded = 0;
  g_autoptr (PlSafetensors) st = pl_safetensors_load (path, error);
  if (!st)
    return FALSE;

  guint np = pl_model_get_n_params (m);
  /* first pass: decide and check everything, so a failure leaves @m untouched */
  g_autofree const PlTensorInfo **take = g_new0 (const PlTensorInfo *, MAX (np, 1));
  for (guint i = 0; i < np; i++)
    {
      PlParam *p = pl_model_get_param (m, i);
      PlLoadRule r = rule ? rule (p, user_data) : PL_LOAD_REQUIRED;
      if (r == PL_LOAD_SKIP)
        continue;
      const PlTensorInfo *t = pl_safetensors_lookup (st, p->name);
      g_autofree char *want = shape_text (p->shape, p->ndim);
      if (!t)
        {
          if (r == PL_LOAD_IF_MATCHING)
            continue;
          g_set_error (error, PL_ERROR, PL_ERROR_NOT_FOUND,
                       "%s: has no tensor \"%s\" (%s) that the model needs", path, p->name,
                       want);
          return FALSE;
        }
      if (!same_shape (t, p))
        {
          if (r == PL_LOAD_IF_MATCHING)
            continue;
          g_autofree char *got = file_shape_text (t);
          g_set_error (error, PL_ERROR, PL_ERROR_SHAPE,
                       "%s: tensor \"%s\" has shape %s, the model expects %s", path, p->name,
                       got, want);
          return FALSE;
        }
      if (t->dtype != PL_DTYPE_F32)
        {
          g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                       "%s: tensor \"%s\" is %s, expected F32 (load an fp32 checkpoint, "
                       "not an int8 export)", path, p->name, pl_dtype_to_string (t->dtype));
          return FALSE;
        }
      take[i] = t;
    }
  guint nt = pl_safetensors_get_n_tensors (st);
  for (guint i = 0; i < nt; i++)
    {
      const PlTensorInfo *t = pl_safetensors_get_tensor_at (st, i);
      if (g_str_has_prefix (t->name, "__") || ignored (t->name, ignore)
          || pl_model_lookup_param (m, t->name))
        continue;
      g_set_error (error, PL_ERROR, PL_ERROR_SHAPE,
                   "%s: tensor \"%s\" does not match any parameter of this %s model", path,
                   t->name, pl_model_get_architecture (m));
      return FALSE;
    }

  for (guint i = 0; i < np; i++)
    {
      PlParam *p = pl_model_get_param (m, i);
      if (!take[i])
        continue;
      if (!pl_safetensors_read_f32 (take[i], p->data, p->numel, error))
        {
          g_prefix_error (error, "%s: ", path);
          return FALSE;
        }
      if (n_loaded)
        (*n_loaded)++;
    }
  pl_model_apply_masks (m);
  return TRUE;
}
