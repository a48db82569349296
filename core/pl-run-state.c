#include "pl-run-state.h"

#include <string.h>

#include "pl-error.h"

char *
pl_state_shape_text (const gint64 *shape, int ndim)
{
  GString *s = g_string_new ("[");
  for (int d = 0; d < ndim; d++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, d ? ", " : "", shape[d]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

static gboolean
write_1d (PlSafetensorsWriter *w, const char *prefix, const char *name, PlDtype dtype,
          const void *data, gsize n, GError **error)
{
  g_return_val_if_fail (w != NULL && name != NULL, FALSE);
  g_autofree char *full = g_strconcat (prefix ? prefix : "", name, NULL);
  gint64 shape[1] = { (gint64) n };
  static const char zero[8];
  return pl_safetensors_writer_add (w, full, dtype, shape, 1, n ? data : zero,
                                    n * pl_dtype_size (dtype), error);
}

gboolean
pl_state_write_f32 (PlSafetensorsWriter *w, const char *prefix, const char *name,
                    const float *data, gsize n, GError **error)
{
  return write_1d (w, prefix, name, PL_DTYPE_F32, data, n, error);
}

gboolean
pl_state_write_f64 (PlSafetensorsWriter *w, const char *prefix, const char *name,
                    const double *data, gsize n, GError **error)
{
  return write_1d (w, prefix, name, PL_DTYPE_F64, data, n, error);
}

gboolean
pl_state_write_i64 (PlSafetensorsWriter *w, const char *prefix, const char *name,
                    const gint64 *data, gsize n, GError **error)
{
  return write_1d (w, prefix, name, PL_DTYPE_I64, data, n, error);
}

static gboolean
read_1d (const PlSafetensors *st, const char *prefix, const char *name, PlDtype dtype,
         void *out, gsize n, GError **error)
{
  g_return_val_if_fail (st != NULL && name != NULL, FALSE);
  g_autofree char *full = g_strconcat (prefix ? prefix : "", name, NULL);
  const PlTensorInfo *t = pl_safetensors_lookup (st, full);
  if (!t)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_NOT_FOUND,
                   "the training state has no tensor \"%s\" (%s [%zu])", full,
                   pl_dtype_to_string (dtype), (size_t) n);
      return FALSE;
    }
  if (t->dtype != dtype)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                   "training-state tensor \"%s\" is %s, expected %s", full,
                   pl_dtype_to_string (t->dtype), pl_dtype_to_string (dtype));
      return FALSE;
    }
  if (t->ndim != 1 || t->shape[0] != (gint64) n)
    {
      g_autofree char *got = pl_state_shape_text (t->shape, t->ndim);
      g_set_error (error, PL_ERROR, PL_ERROR_SHAPE,
                   "training-state tensor \"%s\" has shape %s, expected [%zu]", full, got,
                   (size_t) n);
      return FALSE;
    }
  if (n)
    memcpy (out, t->data, t->nbytes);
  return TRUE;
}

gboolean
pl_state_read_f32 (const PlSafetensors *st, const char *prefix, const char *name,
                   float *out, gsize n, GError **error)
{
  return read_1d (st, prefix, name, PL_DTYPE_F32, out, n, error);
}

gboolean
pl_state_read_f64 (const PlSafetensors *st, const char *prefix, const char *name,
                   double *out, gsize n, GError **error)
{
  return read_1d (st, prefix, name, PL_DTYPE_F64, out, n, error);
}

gboolean
pl_state_read_i64 (const PlSafetensors *st, const char *prefix, const char *name,
                   gint64 *out, gsize n, GError **error)
{
  return read_1d (st, prefix, name, PL_DTYPE_I64, out, n, error);
}
