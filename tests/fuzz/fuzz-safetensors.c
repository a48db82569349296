/* fuzz-safetensors.c: fuzz target for the safetensors reader and writer and the
 * JSON parser under them (see fuzz-common.h and tests/fuzz/meson.build); run e.g.
 *   ./fuzz-safetensors -max_total_time=120 -max_len=4096 corpus/
 * Every input must either load or be refused with a GError; anything else
 * (crash, sanitizer report, leak) is a bug. A file that loads must write back
 * through PlSafetensorsWriter and load again to the same tensors. */
#include "fuzz-common.h"
#include "pl-json.h"
#include "pl-safetensors.h"

/* Writes st back through the writer and checks that it reads back the same. */
static void
round_trip (const PlSafetensors *st)
{
  g_autoptr (GError) error = NULL;
  PlSafetensorsWriter *w = pl_safetensors_writer_new ();
  for (guint i = 0; i < pl_safetensors_get_n_tensors (st); i++)
    {
      const PlTensorInfo *t = pl_safetensors_get_tensor_at (st, i);
      g_assert (pl_safetensors_writer_add (w, t->name, t->dtype, t->shape, t->ndim, t->data,
                                           t->nbytes, &error));
    }
  const char **keys = pl_safetensors_get_metadata_keys (st);
  for (int i = 0; keys[i]; i++)
    pl_safetensors_writer_set_metadata (w, keys[i], pl_safetensors_get_metadata (st, keys[i]));
  g_free (keys);
  const char *path = fuzz_write_file (".safetensors", NULL, 0);
  gboolean written = pl_safetensors_writer_write (w, path, &error);
  pl_safetensors_writer_free (w);
  if (!written)
    {
      /* only a header over the limit may be refused */
      g_assert (strstr (error->message, "more than the limit"));
      return;
    }
  PlSafetensors *back = pl_safetensors_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (pl_safetensors_get_n_tensors (back), ==, pl_safetensors_get_n_tensors (st));
  for (guint i = 0; i < pl_safetensors_get_n_tensors (st); i++)
    {
      const PlTensorInfo *t = pl_safetensors_get_tensor_at (st, i);
      const PlTensorInfo *b = pl_safetensors_lookup (back, t->name);
      g_assert (b != NULL && b->dtype == t->dtype && b->ndim == t->ndim);
      g_assert (b->nbytes == t->nbytes && memcmp (b->data, t->data, t->nbytes) == 0);
    }
  pl_safetensors_free (back);
}

static void
touch_json (const PlJson *node)
{
  switch (pl_json_type (node))
    {
    case PL_JSON_ARRAY:
      for (guint i = 0; i < pl_json_array_length (node); i++)
        touch_json (pl_json_array_get (node, i));
      break;
    case PL_JSON_OBJECT:
      for (guint i = 0; i < pl_json_object_size (node); i++)
        {
          /* keys holding NUL characters are not found by their C string */
          (void) pl_json_object_get (node, pl_json_object_key_at (node, i));
          touch_json (pl_json_object_value_at (node, i));
        }
      break;
    case PL_JSON_STRING:
      {
        gsize len;
        const char *s = pl_json_get_string (node, &len);
        g_assert (s[len] == '\0');
        GString *out = g_string_new (NULL);
        pl_json_append_string (out, s);
        /* what the writer escapes reads back */
        PlJson *back = pl_json_parse (out->str, out->len, NULL);
        g_assert (back != NULL);
        if (strlen (s) == len)
          g_assert (strcmp (pl_json_get_string (back, NULL), s) == 0);
        pl_json_free (back);
        g_string_free (out, TRUE);
        break;
      }
    case PL_JSON_NUMBER:
      {
        gint64 v;
        pl_json_get_int64 (node, &v);
        GString *out = g_string_new (NULL);
        pl_json_append_double (out, pl_json_get_double (node));
        g_string_free (out, TRUE);
        break;
      }
    case PL_JSON_NULL:
    case PL_JSON_BOOL:
    default:
      break;
    }
}

/* Loads bytes as a safetensors file; every accepted tensor must lie inside it.
 * Returns whether it loaded. */
static gboolean
load_safetensors (const uint8_t *data, size_t size)
{
  GError *error = NULL;
  GBytes *bytes = g_bytes_new_static (data, size);
  PlSafetensors *st = pl_safetensors_load_from_bytes (bytes, "fuzz", &error);
  g_assert ((st == NULL) == (error != NULL));
  if (st)
    {
      const uint8_t *end = data + size;
      for (guint i = 0; i < pl_safetensors_get_n_tensors (st); i++)
        {
          const PlTensorInfo *t = pl_safetensors_get_tensor_at (st, i);
          g_assert (pl_safetensors_lookup (st, t->name) == t);
          g_assert ((const uint8_t *) t->data >= data
                    && t->nbytes <= (gsize) (end - (const uint8_t *) t->data));
          guint8 sum = 0;
          for (gsize k = 0; k < t->nbytes; k++)
            sum += ((const guint8 *) t->data)[k];
          (void) sum;
          if (t->dtype == PL_DTYPE_F32 && t->numel <= 4096)
            {
              float *out = g_new (float, t->numel + 1);
              g_assert (pl_safetensors_read_f32 (t, out, t->numel, NULL));
              g_free (out);
            }
        }
      const char **keys = pl_safetensors_get_metadata_keys (st);
      for (int i = 0; keys[i]; i++)
        g_assert (pl_safetensors_get_metadata (st, keys[i]) != NULL);
      g_free (keys);
      round_trip (st);
    }
  else
    g_assert (g_str_has_prefix (error->message, "fuzz: "));
  gboolean loaded = st != NULL;
  pl_safetensors_free (st);
  g_bytes_unref (bytes);
  g_clear_error (&error);
  return loaded;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  GError *error = NULL;

  /* the bytes as a JSON document */
  PlJson *root = pl_json_parse ((const char *) data, size, &error);
  g_assert ((root == NULL) == (error != NULL));
  if (root)
    touch_json (root);
  pl_json_free (root);
  g_clear_error (&error);

  /* the bytes as a safetensors file */
  if (load_safetensors (data, size))
    fuzz_n_accepted++;
  else
    fuzz_n_refused++;

  /* the bytes up to the first NUL as the header of a file whose data buffer is
   * the rest: lets the fuzzer mutate the header without keeping the length
   * field in step */
  const uint8_t *nul = memchr (data, 0, size);
  size_t header_len = nul ? (size_t) (nul - data) : size;
  size_t data_len = nul ? size - header_len - 1 : 0;
  uint8_t *file = g_malloc (8 + header_len + data_len);
  for (int i = 0; i < 8; i++)
    file[i] = ((guint64) header_len >> (8 * i)) & 0xff;
  memcpy (file + 8, data, header_len);
  if (data_len)
    memcpy (file + 8 + header_len, nul + 1, data_len);
  load_safetensors (file, 8 + header_len + data_len);
  g_free (file);
  return 0;
}
