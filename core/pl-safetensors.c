#include "pl-safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "pl-error.h"
#include "pl-file-util.h"
#include "pl-json.h"

/* Tensor bytes are exchanged as they lie in memory; the format is little-endian. */
G_STATIC_ASSERT (G_BYTE_ORDER == G_LITTLE_ENDIAN);

#define METADATA_KEY "__metadata__"

static const struct {
  const char *name;
  gsize size;
} dtype_table[] = {
  [PL_DTYPE_F32] = { "F32", 4 },
  [PL_DTYPE_F16] = { "F16", 2 },
  [PL_DTYPE_BF16] = { "BF16", 2 },
  [PL_DTYPE_F64] = { "F64", 8 },
  [PL_DTYPE_I8] = { "I8", 1 },
  [PL_DTYPE_U8] = { "U8", 1 },
  [PL_DTYPE_I16] = { "I16", 2 },
  [PL_DTYPE_I32] = { "I32", 4 },
  [PL_DTYPE_I64] = { "I64", 8 },
  [PL_DTYPE_BOOL] = { "BOOL", 1 },
};

static gboolean
dtype_valid (PlDtype dtype)
{
  return (guint) dtype < G_N_ELEMENTS (dtype_table);
}

gsize
pl_dtype_size (PlDtype dtype)
{
  g_return_val_if_fail (dtype_valid (dtype), 0);
  return dtype_table[dtype].size;
}

const char *
pl_dtype_to_string (PlDtype dtype)
{
  g_return_val_if_fail (dtype_valid (dtype), NULL);
  return dtype_table[dtype].name;
}

gboolean
pl_dtype_from_string (const char *name, PlDtype *out)
{
  g_return_val_if_fail (name != NULL, FALSE);
  for (guint i = 0; i < G_N_ELEMENTS (dtype_table); i++)
    if (strcmp (name, dtype_table[i].name) == 0)
      {
        if (out)
          *out = (PlDtype) i;
        return TRUE;
      }
  return FALSE;
}

/* numel = prod(shape), nbytes = numel * elsize. FALSE when a dimension is negative
 * or when the product of the non-zero dimensions times elsize exceeds G_MAXINT64,
 * so that consumers may compute any stride of the tensor in gint64 safely. */
static gboolean
shape_numel (const gint64 *shape, int ndim, gsize elsize, gsize *numel, gsize *nbytes)
{
  guint64 bound = elsize;
  gboolean empty = FALSE;
  for (int d = 0; d < ndim; d++)
    {
      if (shape[d] < 0)
        return FALSE;
      if (shape[d] == 0)
        empty = TRUE;
      else if (bound > (guint64) G_MAXINT64 / (guint64) shape[d])
        return FALSE;
      else
        bound *= (guint64) shape[d];
    }
  *nbytes = empty ? 0 : bound;
  *numel = empty ? 0 : bound / elsize;
  return TRUE;
}

static char *
format_shape (const gint64 *shape, int ndim)
{
  GString *s = g_string_new ("[");
  for (int d = 0; d < ndim; d++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, d ? ", " : "", shape[d]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

/* A name as a quoted JSON string, shortened, for messages. */
static char *
quote (const char *name)
{
  GString *s = g_string_new (NULL);
  gsize len = strlen (name);
  if (len <= 100)
    pl_json_append_string (s, name);
  else
    {
      g_autofree char *head = g_strndup (name, 100);
      pl_json_append_string (s, head);
      g_string_insert (s, s->len - 1, "...");
    }
  return g_string_free (s, FALSE);
}

/* "a number", "an array", "null", ... for messages */
static const char *
a_type (const PlJson *node)
{
  switch (pl_json_type (node))
    {
    case PL_JSON_NULL: return "null";
    case PL_JSON_BOOL: return "a boolean";
    case PL_JSON_NUMBER: return "a number";
    case PL_JSON_STRING: return "a string";
    case PL_JSON_ARRAY: return "an array";
    case PL_JSON_OBJECT: return "an object";
    default: return "a JSON value";
    }
}

/* ---- reader ---------------------------------------------------------------- */

struct _PlSafetensors {
  char *display_name;
  GBytes *bytes;
  PlJson *header;
  const PlJson *metadata;  /* in header, or NULL */
  GArray *tensors;         /* PlTensorInfo, header order */
  GHashTable *by_name;     /* name -> PlTensorInfo * into tensors */
};

void
pl_safetensors_free (PlSafetensors *st)
{
  if (!st)
    return;
  g_clear_pointer (&st->by_name, g_hash_table_unref);
  g_clear_pointer (&st->tensors, g_array_unref);
  g_clear_pointer (&st->header, pl_json_free);
  g_clear_pointer (&st->bytes, g_bytes_unref);
  g_free (st->display_name);
  g_free (st);
}

static void
st_fail (GError **error, const char *file, const char *format, ...) G_GNUC_PRINTF (3, 4);

static void
st_fail (GError **error, const char *file, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *msg = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, PL_ERROR, PL_ERROR_FORMAT, "%s: %s", file, msg);
}

/* Reads a non-negative JSON integer into *out. */
static gboolean
get_size (const PlJson *node, guint64 *out)
{
  gint64 v;
  if (!pl_json_get_int64 (node, &v) || v < 0)
    return FALSE;
  *out = (guint64) v;
  return TRUE;
}

static gboolean
parse_metadata (const char *file, const PlJson *md, GError **error)
{
  if (pl_json_type (md) != PL_JSON_OBJECT)
    {
      st_fail (error, file, "\"" METADATA_KEY "\" is %s, expected an object of "
               "string values", a_type (md));
      return FALSE;
    }
  for (guint i = 0; i < pl_json_object_size (md); i++)
    {
      const char *key = pl_json_object_key_at (md, i);
      const PlJson *value = pl_json_object_value_at (md, i);
      g_autofree char *q = quote (key);
      gsize len;
      const char *s = pl_json_get_string (value, &len);
      if (!s)
        {
          st_fail (error, file, "\"" METADATA_KEY "\" value of %s is %s, expected a "
                   "string", q, a_type (value));
          return FALSE;
        }
      if (strlen (s) != len)
        {
          st_fail (error, file, "\"" METADATA_KEY "\" value of %s contains a NUL "
                   "character", q);
          return FALSE;
        }
    }
  /* keys with NULs: the JSON tree cuts them at the NUL, so they would collide */
  for (guint i = 0; i < pl_json_object_size (md); i++)
    if (pl_json_object_get (md, pl_json_object_key_at (md, i))
        != pl_json_object_value_at (md, i))
      {
        g_autofree char *q = quote (pl_json_object_key_at (md, i));
        st_fail (error, file, "\"" METADATA_KEY "\" key %s contains a NUL character", q);
        return FALSE;
      }
  return TRUE;
}

/* Fills t from the header entry of one tensor; data_len bounds the offsets. */
static gboolean
parse_tensor (const char *file, const char *name, const PlJson *entry, guint64 data_len,
              PlTensorInfo *t, GError **error)
{
  g_autofree char *q = quote (name);

  t->name = name;
  if (pl_json_type (entry) != PL_JSON_OBJECT)
    {
      st_fail (error, file, "tensor %s is %s, expected an object with \"dtype\", "
               "\"shape\" and \"data_offsets\"", q, a_type (entry));
      return FALSE;
    }

  const PlJson *dtype = pl_json_object_get (entry, "dtype");
  const char *dtype_str = dtype ? pl_json_get_string (dtype, NULL) : NULL;
  if (!dtype)
    {
      st_fail (error, file, "tensor %s has no \"dtype\"", q);
      return FALSE;
    }
  if (!dtype_str || !pl_dtype_from_string (dtype_str, &t->dtype))
    {
      GString *found = g_string_new (NULL);
      if (dtype_str)
        pl_json_append_string (found, dtype_str);
      else
        g_string_append_printf (found, "%s", a_type (dtype));
      st_fail (error, file, "tensor %s has dtype %s, expected one of F32, F16, BF16, "
               "F64, I8, U8, I16, I32, I64, BOOL", q, found->str);
      g_string_free (found, TRUE);
      return FALSE;
    }

  const PlJson *shape = pl_json_object_get (entry, "shape");
  if (!shape)
    {
      st_fail (error, file, "tensor %s has no \"shape\"", q);
      return FALSE;
    }
  if (pl_json_type (shape) != PL_JSON_ARRAY)
    {
      st_fail (error, file, "tensor %s: \"shape\" is %s, expected an array of "
               "non-negative integers", q, a_type (shape));
      return FALSE;
    }
  guint ndim = pl_json_array_length (shape);
  if (ndim > PL_SAFETENSORS_MAX_DIMS)
    {
      st_fail (error, file, "tensor %s has %u dimensions, at most %d are supported", q,
               ndim, PL_SAFETENSORS_MAX_DIMS);
      return FALSE;
    }
  t->ndim = ndim;
  for (guint d = 0; d < ndim; d++)
    {
      const PlJson *dim = pl_json_array_get (shape, d);
      if (!pl_json_get_int64 (dim, &t->shape[d]) || t->shape[d] < 0)
        {
          st_fail (error, file, "tensor %s: \"shape\" element %u is not a non-negative "
                   "integer", q, d);
          return FALSE;
        }
    }
  g_autofree char *shape_str = format_shape (t->shape, t->ndim);
  if (!shape_numel (t->shape, t->ndim, pl_dtype_size (t->dtype), &t->numel, &t->nbytes))
    {
      st_fail (error, file, "tensor %s: shape %s of %s is too large (its size "
               "overflows 63 bits)", q, shape_str, pl_dtype_to_string (t->dtype));
      return FALSE;
    }

  const PlJson *offsets = pl_json_object_get (entry, "data_offsets");
  guint64 begin, end;
  if (!offsets)
    {
      st_fail (error, file, "tensor %s has no \"data_offsets\"", q);
      return FALSE;
    }
  if (pl_json_array_length (offsets) != 2
      || !get_size (pl_json_array_get (offsets, 0), &begin)
      || !get_size (pl_json_array_get (offsets, 1), &end))
    {
      st_fail (error, file, "tensor %s: \"data_offsets\" is not an array of two "
               "non-negative integers [begin, end]", q);
      return FALSE;
    }
  if (begin > end)
    {
      st_fail (error, file, "tensor %s: data_offsets [%" G_GUINT64_FORMAT ", %"
               G_GUINT64_FORMAT "] begin after they end", q, begin, end);
      return FALSE;
    }
  if (end > data_len)
    {
      st_fail (error, file, "tensor %s: data_offsets [%" G_GUINT64_FORMAT ", %"
               G_GUINT64_FORMAT "] end beyond the %" G_GUINT64_FORMAT "-byte data "
               "buffer (file truncated?)", q, begin, end, data_len);
      return FALSE;
    }
  if (end - begin != t->nbytes)
    {
      st_fail (error, file, "tensor %s: data_offsets [%" G_GUINT64_FORMAT ", %"
               G_GUINT64_FORMAT "] hold %" G_GUINT64_FORMAT " bytes, but shape %s of %s "
               "needs %" G_GSIZE_FORMAT, q, begin, end, end - begin, shape_str,
               pl_dtype_to_string (t->dtype), t->nbytes);
      return FALSE;
    }
  t->offset = begin;
  return TRUE;
}

static int
compare_extent (const void *a, const void *b)
{
  const PlTensorInfo *x = *(const PlTensorInfo *const *) a;
  const PlTensorInfo *y = *(const PlTensorInfo *const *) b;
  if (x->offset != y->offset)
    return x->offset < y->offset ? -1 : 1;
  if (x->nbytes != y->nbytes)
    return x->nbytes < y->nbytes ? -1 : 1;
  return x < y ? -1 : x > y;
}

/* The tensors must tile [0, data_len) exactly: sorted by offset, each begins where
 * the previous one ended and the last ends at data_len. */
static gboolean
check_coverage (const char *file, GArray *tensors, guint64 data_len, GError **error)
{
  guint n = tensors->len;
  g_autofree PlTensorInfo **sorted = g_new (PlTensorInfo *, n + 1);
  for (guint i = 0; i < n; i++)
    sorted[i] = &g_array_index (tensors, PlTensorInfo, i);
  qsort (sorted, n, sizeof *sorted, compare_extent);

  guint64 covered = 0;
  const PlTensorInfo *prev = NULL;
  for (guint i = 0; i < n; i++)
    {
      const PlTensorInfo *t = sorted[i];
      g_autofree char *q = quote (t->name);
      if (t->offset < covered)
        {
          g_autofree char *qp = quote (prev->name);
          st_fail (error, file, "tensor %s (bytes %" G_GSIZE_FORMAT "..%" G_GSIZE_FORMAT
                   " of the data buffer) overlaps tensor %s (bytes %" G_GSIZE_FORMAT
                   "..%" G_GSIZE_FORMAT ")", q, t->offset, t->offset + t->nbytes, qp,
                   prev->offset, prev->offset + prev->nbytes);
          return FALSE;
        }
      if (t->offset > covered)
        {
          st_fail (error, file, "bytes %" G_GUINT64_FORMAT "..%" G_GSIZE_FORMAT " of the "
                   "data buffer belong to no tensor (a hole before tensor %s); the "
                   "tensors must cover the buffer without gaps", covered, t->offset, q);
          return FALSE;
        }
      covered = t->offset + t->nbytes;
      prev = t;
    }
  if (covered != data_len)
    {
      st_fail (error, file, "bytes %" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT " of the "
               "data buffer belong to no tensor (trailing bytes after the last tensor); "
               "the tensors must cover the buffer without gaps", covered, data_len);
      return FALSE;
    }
  return TRUE;
}

PlSafetensors *
pl_safetensors_load_from_bytes (GBytes *bytes, const char *display_name, GError **error)
{
  g_return_val_if_fail (bytes != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  const char *file = display_name ? display_name : "(safetensors data)";
  gsize size;
  const guint8 *p = g_bytes_get_data (bytes, &size);

  if (size < 8)
    {
      st_fail (error, file, "file is %" G_GSIZE_FORMAT " bytes, too short for the "
               "8-byte header length of a safetensors file", size);
      return NULL;
    }
  guint64 n = 0;
  for (int i = 7; i >= 0; i--)
    n = (n << 8) | p[i];
  if (n > PL_SAFETENSORS_MAX_HEADER)
    {
      st_fail (error, file, "header length %" G_GUINT64_FORMAT " is larger than the "
               "limit of %d bytes (not a safetensors file?)", n, PL_SAFETENSORS_MAX_HEADER);
      return NULL;
    }
  if (n > size - 8)
    {
      st_fail (error, file, "header length %" G_GUINT64_FORMAT " runs past the end of "
               "the %" G_GSIZE_FORMAT "-byte file (truncated, or not a safetensors file)",
               n, size);
      return NULL;
    }

  g_autoptr (PlSafetensors) st = g_new0 (PlSafetensors, 1);
  st->display_name = g_strdup (file);
  st->bytes = g_bytes_ref (bytes);
  g_autoptr (GError) json_error = NULL;
  st->header = pl_json_parse ((const char *) p + 8, n, &json_error);
  if (!st->header)
    {
      st_fail (error, file, "header (file bytes 8..%" G_GUINT64_FORMAT ") is not valid "
               "JSON: %s", n + 8, json_error->message);
      return NULL;
    }
  if (pl_json_type (st->header) != PL_JSON_OBJECT)
    {
      st_fail (error, file, "header is %s, expected an object of tensors",
               a_type (st->header));
      return NULL;
    }

  const guint8 *data = p + 8 + n;
  guint64 data_len = size - 8 - n;
  guint n_members = pl_json_object_size (st->header);
  st->tensors = g_array_sized_new (FALSE, TRUE, sizeof (PlTensorInfo), n_members);
  for (guint i = 0; i < n_members; i++)
    {
      const char *name = pl_json_object_key_at (st->header, i);
      const PlJson *value = pl_json_object_value_at (st->header, i);
      /* a key cut short by a NUL is not found under its C-string name */
      if (pl_json_object_get (st->header, name) != value)
        {
          g_autofree char *q = quote (name);
          st_fail (error, file, "tensor name %s contains a NUL character", q);
          return NULL;
        }
      if (strcmp (name, METADATA_KEY) == 0)
        {
          st->metadata = value;
          if (!parse_metadata (file, value, error))
            return NULL;
          continue;
        }
      PlTensorInfo t = { 0 };
      if (!parse_tensor (file, name, value, data_len, &t, error))
        return NULL;
      t.data = data + t.offset;
      g_array_append_val (st->tensors, t);
    }
  if (!check_coverage (file, st->tensors, data_len, error))
    return NULL;

  st->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < st->tensors->len; i++)
    {
      PlTensorInfo *t = &g_array_index (st->tensors, PlTensorInfo, i);
      g_hash_table_insert (st->by_name, (gpointer) t->name, t);
    }
  return g_steal_pointer (&st);
}

PlSafetensors *
pl_safetensors_load (const char *path, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_autoptr (GError) local = NULL;
  g_autoptr (GBytes) bytes = NULL;
  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, PL_ERROR, PL_ERROR_IO, "%s: is a directory, expected a "
                   "safetensors file", path);
      return NULL;
    }
  if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
    {
      GMappedFile *mf = g_mapped_file_new (path, FALSE, &local);
      if (mf)
        {
          bytes = g_mapped_file_get_bytes (mf);
          g_mapped_file_unref (mf);
        }
    }
  else
    {
      /* pipes and devices cannot be mapped */
      char *contents;
      gsize len;
      if (g_file_get_contents (path, &contents, &len, &local))
        bytes = g_bytes_new_take (contents, len);
    }
  if (!bytes)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_IO, "%s: cannot read: %s", path,
                   local->message);
      return NULL;
    }
  return pl_safetensors_load_from_bytes (bytes, path, error);
}

guint
pl_safetensors_get_n_tensors (const PlSafetensors *st)
{
  g_return_val_if_fail (st != NULL, 0);
  return st->tensors->len;
}

const PlTensorInfo *
pl_safetensors_get_tensor_at (const PlSafetensors *st, guint i)
{
  g_return_val_if_fail (st != NULL, NULL);
  g_return_val_if_fail (i < st->tensors->len, NULL);
  return &g_array_index (st->tensors, PlTensorInfo, i);
}

const PlTensorInfo *
pl_safetensors_lookup (const PlSafetensors *st, const char *name)
{
  g_return_val_if_fail (st != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);
  return g_hash_table_lookup (st->by_name, name);
}

const char *
pl_safetensors_get_metadata (const PlSafetensors *st, const char *key)
{
  g_return_val_if_fail (st != NULL, NULL);
  g_return_val_if_fail (key != NULL, NULL);
  if (!st->metadata)
    return NULL;
  const PlJson *v = pl_json_object_get (st->metadata, key);
  return v ? pl_json_get_string (v, NULL) : NULL;
}

const char **
pl_safetensors_get_metadata_keys (const PlSafetensors *st)
{
  g_return_val_if_fail (st != NULL, NULL);
  guint n = st->metadata ? pl_json_object_size (st->metadata) : 0;
  const char **keys = g_new0 (const char *, n + 1);
  for (guint i = 0; i < n; i++)
    keys[i] = pl_json_object_key_at (st->metadata, i);
  return keys;
}

gboolean
pl_safetensors_read_f32 (const PlTensorInfo *t, float *out, gsize n, GError **error)
{
  g_return_val_if_fail (t != NULL, FALSE);
  g_return_val_if_fail (out != NULL || n == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  g_autofree char *q = quote (t->name);
  if (t->dtype != PL_DTYPE_F32)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FORMAT, "tensor %s has dtype %s, expected "
                   "F32", q, pl_dtype_to_string (t->dtype));
      return FALSE;
    }
  if (n != t->numel)
    {
      g_autofree char *shape = format_shape (t->shape, t->ndim);
      g_set_error (error, PL_ERROR, PL_ERROR_SHAPE, "tensor %s has %" G_GSIZE_FORMAT
                   " elements (shape %s), expected %" G_GSIZE_FORMAT, q, t->numel, shape,
                   n);
      return FALSE;
    }
  if (n > 0)
    memcpy (out, t->data, n * sizeof (float));
  return TRUE;
}

/* ---- writer ---------------------------------------------------------------- */

typedef struct {
  char *name;
  PlDtype dtype;
  int ndim;
  gint64 shape[PL_SAFETENSORS_MAX_DIMS];
  GBytes *data;
} WriterTensor;

struct _PlSafetensorsWriter {
  GPtrArray *tensors;      /* WriterTensor *, insertion order */
  GHashTable *names;       /* set of tensor names (owned by tensors) */
  GPtrArray *meta_keys;    /* char *, insertion order */
  GHashTable *meta;        /* key (owned by meta_keys) -> value (owned) */
};

static void
writer_tensor_free (gpointer data)
{
  WriterTensor *t = data;
  g_free (t->name);
  g_bytes_unref (t->data);
  g_free (t);
}

PlSafetensorsWriter *
pl_safetensors_writer_new (void)
{
  PlSafetensorsWriter *w = g_new0 (PlSafetensorsWriter, 1);
  w->tensors = g_ptr_array_new_with_free_func (writer_tensor_free);
  w->names = g_hash_table_new (g_str_hash, g_str_equal);
  w->meta_keys = g_ptr_array_new_with_free_func (g_free);
  w->meta = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  return w;
}

void
pl_safetensors_writer_free (PlSafetensorsWriter *w)
{
  if (!w)
    return;
  g_hash_table_unref (w->meta);
  g_ptr_array_unref (w->meta_keys);
  g_hash_table_unref (w->names);
  g_ptr_array_unref (w->tensors);
  g_free (w);
}

gboolean
pl_safetensors_writer_add (PlSafetensorsWriter *w, const char *name, PlDtype dtype,
                           const gint64 *shape, int ndim, const void *data, gsize nbytes,
                           GError **error)
{
  g_return_val_if_fail (w != NULL, FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (dtype_valid (dtype), FALSE);
  g_return_val_if_fail (ndim >= 0, FALSE);
  g_return_val_if_fail (shape != NULL || ndim == 0, FALSE);
  g_return_val_if_fail (data != NULL || nbytes == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  g_autofree char *q = quote (name);
  if (!g_utf8_validate (name, -1, NULL))
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FAILED,
                   "tensor name %s is not valid UTF-8", q);
      return FALSE;
    }
  if (strcmp (name, METADATA_KEY) == 0)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FAILED, "tensor name %s is reserved for "
                   "the file's metadata", q);
      return FALSE;
    }
  if (g_hash_table_contains (w->names, name))
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FAILED, "tensor %s was already added", q);
      return FALSE;
    }
  if (ndim > PL_SAFETENSORS_MAX_DIMS)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FAILED, "tensor %s has %d dimensions, at "
                   "most %d are supported", q, ndim, PL_SAFETENSORS_MAX_DIMS);
      return FALSE;
    }
  g_autofree char *shape_str = format_shape (shape, ndim);
  gsize numel, expected;
  if (!shape_numel (shape, ndim, pl_dtype_size (dtype), &numel, &expected))
    {
      g_set_error (error, PL_ERROR, PL_ERROR_SHAPE, "tensor %s: shape %s of %s has a "
                   "negative dimension or is too large", q, shape_str,
                   pl_dtype_to_string (dtype));
      return FALSE;
    }
  if (nbytes != expected)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_SHAPE, "tensor %s: %" G_GSIZE_FORMAT
                   " bytes given, but shape %s of %s needs %" G_GSIZE_FORMAT, q, nbytes,
                   shape_str, pl_dtype_to_string (dtype), expected);
      return FALSE;
    }

  WriterTensor *t = g_new0 (WriterTensor, 1);
  t->name = g_strdup (name);
  t->dtype = dtype;
  t->ndim = ndim;
  if (ndim > 0)
    memcpy (t->shape, shape, ndim * sizeof *shape);
  t->data = g_bytes_new (data, nbytes);
  g_ptr_array_add (w->tensors, t);
  g_hash_table_add (w->names, t->name);
  return TRUE;
}

void
pl_safetensors_writer_set_metadata (PlSafetensorsWriter *w, const char *key,
                                    const char *value)
{
  g_return_if_fail (w != NULL);
  g_return_if_fail (key != NULL && g_utf8_validate (key, -1, NULL));
  g_return_if_fail (value != NULL && g_utf8_validate (value, -1, NULL));

  if (!g_hash_table_contains (w->meta, key))
    {
      char *k = g_strdup (key);
      g_ptr_array_add (w->meta_keys, k);
      g_hash_table_insert (w->meta, k, g_strdup (value));
    }
  else
    /* keeps the stored key, frees the old value */
    g_hash_table_insert (w->meta, (gpointer) key, g_strdup (value));
}

/* The header JSON, space-padded to a multiple of 8 bytes, or NULL with an error
 * when it would be too long for readers to accept. */
static GString *
writer_header (PlSafetensorsWriter *w, GError **error)
{
  GString *h = g_string_new ("{");
  gboolean first = TRUE;
  if (w->meta_keys->len > 0)
    {
      g_string_append (h, "\"" METADATA_KEY "\":{");
      for (guint i = 0; i < w->meta_keys->len; i++)
        {
          const char *key = w->meta_keys->pdata[i];
          if (i > 0)
            g_string_append_c (h, ',');
          pl_json_append_string (h, key);
          g_string_append_c (h, ':');
          pl_json_append_string (h, g_hash_table_lookup (w->meta, key));
        }
      g_string_append_c (h, '}');
      first = FALSE;
    }
  guint64 offset = 0;
  for (guint i = 0; i < w->tensors->len; i++)
    {
      WriterTensor *t = w->tensors->pdata[i];
      gsize nbytes = g_bytes_get_size (t->data);
      if (!first)
        g_string_append_c (h, ',');
      first = FALSE;
      pl_json_append_string (h, t->name);
      g_string_append_printf (h, ":{\"dtype\":\"%s\",\"shape\":[",
                              pl_dtype_to_string (t->dtype));
      for (int d = 0; d < t->ndim; d++)
        g_string_append_printf (h, "%s%" G_GINT64_FORMAT, d ? "," : "", t->shape[d]);
      g_string_append_printf (h, "],\"data_offsets\":[%" G_GUINT64_FORMAT ",%"
                              G_GUINT64_FORMAT "]}", offset, offset + nbytes);
      offset += nbytes;
    }
  g_string_append_c (h, '}');
  while (h->len % 8 != 0)
    g_string_append_c (h, ' ');
  if (h->len > PL_SAFETENSORS_MAX_HEADER)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FAILED, "the safetensors header would be %"
                   G_GSIZE_FORMAT " bytes, more than the limit of %d", h->len,
                   PL_SAFETENSORS_MAX_HEADER);
      g_string_free (h, TRUE);
      return NULL;
    }
  return h;
}

typedef struct {
  PlSafetensorsWriter *w;
  const GString *header;
} WriteJob;

/* PlFileWriteFunc: the length, the header and the tensor data. */
static gboolean
write_contents (int fd, const char *path, gpointer user_data, GError **error)
{
  WriteJob *job = user_data;
  guint8 len[8];
  guint64 n = job->header->len;
  for (int i = 0; i < 8; i++)
    len[i] = (n >> (8 * i)) & 0xff;
  if (!pl_file_write_all (fd, len, sizeof len, path, error)
      || !pl_file_write_all (fd, job->header->str, job->header->len, path, error))
    return FALSE;
  for (guint i = 0; i < job->w->tensors->len; i++)
    {
      WriterTensor *t = job->w->tensors->pdata[i];
      gsize size;
      const void *data = g_bytes_get_data (t->data, &size);
      if (!pl_file_write_all (fd, data, size, path, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
pl_safetensors_writer_write_full (PlSafetensorsWriter *w, const char *path,
                                  PlFileWriteFlags flags, GError **error)
{
  g_return_val_if_fail (w != NULL, FALSE);
  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  g_autoptr (GString) header = writer_header (w, error);
  if (!header)
    {
      g_prefix_error (error, "%s: ", path);
      return FALSE;
    }
  WriteJob job = { w, header };
  return pl_file_write_atomic (path, flags, write_contents, &job, error);
}

gboolean
pl_safetensors_writer_write (PlSafetensorsWriter *w, const char *path, GError **error)
{
  return pl_safetensors_writer_write_full (w, path, PL_FILE_WRITE_REPLACE, error);
}
