#include "paramlab.h"
#include "pl-test-util.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define BAD "bad.safetensors"

static char *
tmp_path (const char *leaf)
{
  return g_build_filename (pl_test_tmpdir (), leaf, NULL);
}

static GBytes *
read_file (const char *path)
{
  g_autoptr (GError) error = NULL;
  char *contents;
  gsize len;
  g_file_get_contents (path, &contents, &len, &error);
  g_assert_no_error (error);
  return g_bytes_new_take (contents, len);
}

/* A file with the given header (its length field says header_len bytes, or the
 * real length when header_len < 0) and data_len bytes of data 0, 1, 2, ... */
static GBytes *
make_file_full (const char *header, gint64 header_len, gsize data_len)
{
  gsize hlen = strlen (header);
  guint64 n = header_len < 0 ? hlen : (guint64) header_len;
  GByteArray *b = g_byte_array_new ();
  for (int i = 0; i < 8; i++)
    {
      guint8 c = (n >> (8 * i)) & 0xff;
      g_byte_array_append (b, &c, 1);
    }
  g_byte_array_append (b, (const guint8 *) header, hlen);
  for (gsize i = 0; i < data_len; i++)
    {
      guint8 c = i & 0xff;
      g_byte_array_append (b, &c, 1);
    }
  return g_byte_array_free_to_bytes (b);
}

static GBytes *
make_file (const char *header, gsize data_len)
{
  return make_file_full (header, -1, data_len);
}

/* bytes must be refused with PL_ERROR_FORMAT and a message that names the file
 * and contains each of the NULL-terminated expected strings. */
static void
assert_rejected (GBytes *bytes, const char *const *expected, const char *label)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PlSafetensors) st = pl_safetensors_load_from_bytes (bytes, BAD, &error);
  if (st)
    g_error ("%s: accepted", label);
  g_assert_error (error, PL_ERROR, PL_ERROR_FORMAT);
  g_test_message ("%s: %s", label, error->message);
  if (!g_str_has_prefix (error->message, BAD ": "))
    g_error ("%s: message \"%s\" does not name the file", label, error->message);
  for (int i = 0; expected && expected[i]; i++)
    if (!strstr (error->message, expected[i]))
      g_error ("%s: message \"%s\" lacks \"%s\"", label, error->message, expected[i]);
}

static void
test_dtype (void)
{
  static const struct {
    PlDtype dtype;
    const char *name;
    gsize size;
  } cases[] = {
    { PL_DTYPE_F32, "F32", 4 }, { PL_DTYPE_F16, "F16", 2 }, { PL_DTYPE_BF16, "BF16", 2 },
    { PL_DTYPE_F64, "F64", 8 }, { PL_DTYPE_I8, "I8", 1 }, { PL_DTYPE_U8, "U8", 1 },
    { PL_DTYPE_I16, "I16", 2 }, { PL_DTYPE_I32, "I32", 4 }, { PL_DTYPE_I64, "I64", 8 },
    { PL_DTYPE_BOOL, "BOOL", 1 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      PlDtype d = (PlDtype) 99;
      g_assert_cmpuint (pl_dtype_size (cases[i].dtype), ==, cases[i].size);
      g_assert_cmpstr (pl_dtype_to_string (cases[i].dtype), ==, cases[i].name);
      g_assert_true (pl_dtype_from_string (cases[i].name, &d));
      g_assert_cmpint (d, ==, cases[i].dtype);
    }
  const char *unknown[] = { "f32", "F8_E4M3", "U16", "", "F32 ", "FLOAT" };
  for (guint i = 0; i < G_N_ELEMENTS (unknown); i++)
    g_assert_false (pl_dtype_from_string (unknown[i], NULL));
}

typedef struct {
  const char *name;
  PlDtype dtype;
  int ndim;
  gint64 shape[8];
} TensorSpec;

static const TensorSpec round_trip_specs[] = {
  { "layers.0.weight", PL_DTYPE_F32, 2, { 2, 3 } },
  { "scalar", PL_DTYPE_F32, 0, { 0 } },
  { "empty", PL_DTYPE_F32, 3, { 3, 0, 2 } },
  { "f64", PL_DTYPE_F64, 1, { 3 } },
  { "f16", PL_DTYPE_F16, 1, { 5 } },
  { "bf16", PL_DTYPE_BF16, 2, { 1, 3 } },
  { "i8", PL_DTYPE_I8, 1, { 7 } },
  { "u8", PL_DTYPE_U8, 1, { 0 } },
  { "i16", PL_DTYPE_I16, 3, { 2, 1, 3 } },
  { "i32", PL_DTYPE_I32, 1, { 1 } },
  { "i64", PL_DTYPE_I64, 2, { 2, 2 } },
  { "mask", PL_DTYPE_BOOL, 8, { 2, 1, 1, 2, 1, 1, 1, 1 } },
  { "caf\xc3\xa9/\"quoted\"\\name", PL_DTYPE_U8, 1, { 3 } },
};

static gsize
spec_nbytes (const TensorSpec *s)
{
  gsize n = pl_dtype_size (s->dtype);
  for (int d = 0; d < s->ndim; d++)
    n *= s->shape[d];
  return n;
}

static void
test_round_trip (void)
{
  g_autofree char *path = tmp_path ("round-trip.safetensors");
  g_autoptr (PlSafetensorsWriter) w = pl_safetensors_writer_new ();
  GPtrArray *datas = g_ptr_array_new_with_free_func (g_free);
  PlRng rng;
  pl_rng_init (&rng, 11);
  for (guint i = 0; i < G_N_ELEMENTS (round_trip_specs); i++)
    {
      const TensorSpec *s = &round_trip_specs[i];
      gsize n = spec_nbytes (s);
      guint8 *data = g_malloc (n + 1);
      for (gsize k = 0; k < n; k++)
        data[k] = pl_rng_next_u64 (&rng) & 0xff;
      g_ptr_array_add (datas, data);
      g_autoptr (GError) error = NULL;
      g_assert_true (pl_safetensors_writer_add (w, s->name, s->dtype, s->shape, s->ndim,
                                                data, n, &error));
      g_assert_no_error (error);
    }
  /* the writer copies: scribbling over the caller's buffers changes nothing */
  g_autoptr (GPtrArray) expected = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < datas->len; i++)
    {
      gsize n = spec_nbytes (&round_trip_specs[i]);
      g_ptr_array_add (expected, g_memdup2 (datas->pdata[i], n + 1));
      memset (datas->pdata[i], 0xee, n);
    }
  g_ptr_array_unref (datas);

  g_autoptr (GError) error = NULL;
  g_assert_true (pl_safetensors_writer_write (w, path, &error));
  g_assert_no_error (error);

  g_autoptr (PlSafetensors) st = pl_safetensors_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (pl_safetensors_get_n_tensors (st), ==, G_N_ELEMENTS (round_trip_specs));
  for (guint i = 0; i < G_N_ELEMENTS (round_trip_specs); i++)
    {
      const TensorSpec *s = &round_trip_specs[i];
      const PlTensorInfo *t = pl_safetensors_get_tensor_at (st, i);
      g_assert_cmpstr (t->name, ==, s->name);
      g_assert_true (pl_safetensors_lookup (st, s->name) == t);
      g_assert_cmpint (t->dtype, ==, s->dtype);
      g_assert_cmpint (t->ndim, ==, s->ndim);
      gsize numel = 1;
      for (int d = 0; d < s->ndim; d++)
        {
          g_assert_cmpint (t->shape[d], ==, s->shape[d]);
          numel *= s->shape[d];
        }
      g_assert_cmpuint (t->numel, ==, numel);
      g_assert_cmpuint (t->nbytes, ==, spec_nbytes (s));
      g_assert_cmpmem (t->data, t->nbytes, expected->pdata[i], spec_nbytes (s));
    }
  g_assert_null (pl_safetensors_lookup (st, "missing"));
  g_assert_null (pl_safetensors_get_metadata (st, "anything"));
  g_autofree const char **keys = pl_safetensors_get_metadata_keys (st);
  g_assert_null (keys[0]);

  /* the scalar holds one element */
  const PlTensorInfo *scalar = pl_safetensors_lookup (st, "scalar");
  g_assert_cmpuint (scalar->numel, ==, 1);
  g_assert_cmpuint (scalar->nbytes, ==, 4);
  const PlTensorInfo *empty = pl_safetensors_lookup (st, "empty");
  g_assert_cmpuint (empty->numel, ==, 0);
  g_assert_cmpuint (empty->nbytes, ==, 0);
}

/* The exact bytes of a small file: what the reference implementation writes for
 * the same tensors (header JSON, space padding to 8, little-endian data). */
static void
test_layout (void)
{
  g_autofree char *path = tmp_path ("layout.safetensors");
  g_autoptr (PlSafetensorsWriter) w = pl_safetensors_writer_new ();
  float a[2] = { 1.0f, -2.0f };
  gint16 b[1] = { 0x0102 };
  gint64 sa[] = { 2 }, sb[] = { 1, 1 };
  g_autoptr (GError) error = NULL;
  g_assert_true (pl_safetensors_writer_add (w, "a", PL_DTYPE_F32, sa, 1, a, sizeof a, &error));
  g_assert_true (pl_safetensors_writer_add (w, "b", PL_DTYPE_I16, sb, 2, b, sizeof b, &error));
  g_assert_true (pl_safetensors_writer_write (w, path, &error));
  g_assert_no_error (error);

  const char header[] =
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
    "\"b\":{\"dtype\":\"I16\",\"shape\":[1,1],\"data_offsets\":[8,10]}}";
  gsize hlen = strlen (header);   /* 105 */
  gsize padded = (hlen + 7) / 8 * 8;
  g_autoptr (GBytes) bytes = read_file (path);
  gsize size;
  const guint8 *p = g_bytes_get_data (bytes, &size);
  g_assert_cmpuint (size, ==, 8 + padded + 10);
  g_assert_cmpuint (padded % 8, ==, 0);
  guint64 n = 0;
  for (int i = 7; i >= 0; i--)
    n = (n << 8) | p[i];
  g_assert_cmpuint (n, ==, padded);
  g_assert_cmpmem (p + 8, hlen, header, hlen);
  for (gsize i = hlen; i < padded; i++)
    g_assert_cmpint (p[8 + i], ==, ' ');
  static const guint8 data[] = { 0x00, 0x00, 0x80, 0x3f,   /* 1.0f */
                                 0x00, 0x00, 0x00, 0xc0,   /* -2.0f */
                                 0x02, 0x01 };             /* 0x0102 */
  g_assert_cmpmem (p + 8 + padded, 10, data, sizeof data);

  /* a writer without tensors writes the empty header, which reads back */
  g_autoptr (PlSafetensorsWriter) none = pl_safetensors_writer_new ();
  g_autofree char *empty_path = tmp_path ("empty.safetensors");
  g_assert_true (pl_safetensors_writer_write (none, empty_path, &error));
  g_autoptr (GBytes) eb = read_file (empty_path);
  g_assert_cmpmem (g_bytes_get_data (eb, NULL), g_bytes_get_size (eb),
                   "\x08\0\0\0\0\0\0\0{}      ", 16);
  g_autoptr (PlSafetensors) st = pl_safetensors_load (empty_path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (pl_safetensors_get_n_tensors (st), ==, 0);
}

static void
test_metadata (void)
{
  g_autofree char *path = tmp_path ("metadata.safetensors");
  g_autoptr (PlSafetensorsWriter) w = pl_safetensors_writer_new ();
  pl_safetensors_writer_set_metadata (w, "format", "pt");
  pl_safetensors_writer_set_metadata (w, "seed", "1");
  pl_safetensors_writer_set_metadata (w, "experiment", "[run]\nname = \"caf\xc3\xa9\"\t\\x\n");
  pl_safetensors_writer_set_metadata (w, "seed", "42");  /* replaces, keeps its place */
  pl_safetensors_writer_set_metadata (w, "", "empty key");
  float x = 3.5f;
  g_autoptr (GError) error = NULL;
  g_assert_true (pl_safetensors_writer_add (w, "x", PL_DTYPE_F32, NULL, 0, &x, 4, &error));
  g_assert_true (pl_safetensors_writer_write (w, path, &error));
  g_assert_no_error (error);

  g_autoptr (PlSafetensors) st = pl_safetensors_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (pl_safetensors_get_metadata (st, "format"), ==, "pt");
  g_assert_cmpstr (pl_safetensors_get_metadata (st, "seed"), ==, "42");
  g_assert_cmpstr (pl_safetensors_get_metadata (st, "experiment"), ==,
                   "[run]\nname = \"caf\xc3\xa9\"\t\\x\n");
  g_assert_cmpstr (pl_safetensors_get_metadata (st, ""), ==, "empty key");
  g_assert_null (pl_safetensors_get_metadata (st, "missing"));
  g_autofree const char **keys = pl_safetensors_get_metadata_keys (st);
  const char *want[] = { "format", "seed", "experiment", "", NULL };
  for (int i = 0; want[i]; i++)
    g_assert_cmpstr (keys[i], ==, want[i]);
  g_assert_null (keys[4]);
  /* __metadata__ is not a tensor */
  g_assert_cmpuint (pl_safetensors_get_n_tensors (st), ==, 1);
  g_assert_null (pl_safetensors_lookup (st, "__metadata__"));

  float y = 0;
  g_assert_true (pl_safetensors_read_f32 (pl_safetensors_lookup (st, "x"), &y, 1, &error));
  g_assert_cmpfloat (y, ==, 3.5f);
}

static void
test_writer_errors (void)
{
  static const struct {
    const char *name;
    PlDtype dtype;
    int ndim;
    gint64 shape[9];
    gsize nbytes;
    gint code;
    const char *expected;
  } cases[] = {
    { "w", PL_DTYPE_F32, 2, { 2, 3 }, 20, PL_ERROR_SHAPE,
      "tensor \"w\": 20 bytes given, but shape [2, 3] of F32 needs 24" },
    { "w", PL_DTYPE_F32, 0, { 0 }, 0, PL_ERROR_SHAPE,
      "tensor \"w\": 0 bytes given, but shape [] of F32 needs 4" },
    { "w", PL_DTYPE_I64, 1, { 0 }, 8, PL_ERROR_SHAPE, "shape [0] of I64 needs 0" },
    { "w", PL_DTYPE_F32, 2, { 2, -3 }, 0, PL_ERROR_SHAPE,
      "tensor \"w\": shape [2, -3] of F32 has a negative dimension or is too large" },
    { "w", PL_DTYPE_F64, 2, { G_MAXINT64 / 4, 2 }, 0, PL_ERROR_SHAPE, "too large" },
    { "w", PL_DTYPE_U8, 9, { 1, 1, 1, 1, 1, 1, 1, 1, 1 }, 1, PL_ERROR_FAILED,
      "tensor \"w\" has 9 dimensions, at most 8 are supported" },
    { "dup", PL_DTYPE_U8, 1, { 1 }, 1, PL_ERROR_FAILED, "tensor \"dup\" was already added" },
    { "__metadata__", PL_DTYPE_U8, 1, { 1 }, 1, PL_ERROR_FAILED,
      "tensor name \"__metadata__\" is reserved" },
    { "bad\xff", PL_DTYPE_U8, 1, { 1 }, 1, PL_ERROR_FAILED, "is not valid UTF-8" },
  };
  g_autoptr (PlSafetensorsWriter) w = pl_safetensors_writer_new ();
  guint8 buf[64] = { 0 };
  g_autoptr (GError) error = NULL;
  gint64 one = 1;
  g_assert_true (pl_safetensors_writer_add (w, "dup", PL_DTYPE_U8, &one, 1, buf, 1, &error));
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_clear_error (&error);
      g_assert_false (pl_safetensors_writer_add (w, cases[i].name, cases[i].dtype,
                                                 cases[i].shape, cases[i].ndim, buf,
                                                 cases[i].nbytes, &error));
      g_assert_error (error, PL_ERROR, cases[i].code);
      if (!strstr (error->message, cases[i].expected))
        g_error ("case %u: message \"%s\" lacks \"%s\"", i, error->message,
                 cases[i].expected);
    }

  /* the refused tensors left no trace */
  g_autofree char *path = tmp_path ("writer-errors.safetensors");
  g_clear_error (&error);
  g_assert_true (pl_safetensors_writer_write (w, path, &error));
  g_autoptr (PlSafetensors) st = pl_safetensors_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (pl_safetensors_get_n_tensors (st), ==, 1);
  g_assert_cmpstr (pl_safetensors_get_tensor_at (st, 0)->name, ==, "dup");
}

/* A hand-made header of odd length puts the data at an odd file offset; reads
 * must not assume alignment. */
static void
test_read_f32 (void)
{
  const char *header =
    "{\"t\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
    " \"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[16,20]}}";
  g_assert_cmpuint (strlen (header) % 4, !=, 0);
  GByteArray *b = g_byte_array_new ();
  guint64 n = strlen (header);
  for (int i = 0; i < 8; i++)
    {
      guint8 c = (n >> (8 * i)) & 0xff;
      g_byte_array_append (b, &c, 1);
    }
  g_byte_array_append (b, (const guint8 *) header, n);
  float values[4] = { 0.5f, -1.25f, 3e30f, -0.0f };
  g_byte_array_append (b, (const guint8 *) values, sizeof values);
  g_byte_array_append (b, (const guint8 *) "\x00\x3c\x00\xc0", 4);  /* F16 1, -2 */
  g_autoptr (GBytes) bytes = g_byte_array_free_to_bytes (b);

  g_autoptr (GError) error = NULL;
  g_autoptr (PlSafetensors) st = pl_safetensors_load_from_bytes (bytes, "odd", &error);
  g_assert_no_error (error);
  const PlTensorInfo *t = pl_safetensors_lookup (st, "t");
  g_assert_cmpuint ((guintptr) t->data % 4, !=, 0);
  float out[4];
  g_assert_true (pl_safetensors_read_f32 (t, out, 4, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (out, sizeof out, values, sizeof values);

  g_assert_false (pl_safetensors_read_f32 (t, out, 3, &error));
  g_assert_error (error, PL_ERROR, PL_ERROR_SHAPE);
  g_assert_cmpstr (error->message, ==,
                   "tensor \"t\" has 4 elements (shape [2, 2]), expected 3");
  g_clear_error (&error);
  g_assert_false (pl_safetensors_read_f32 (pl_safetensors_lookup (st, "h"), out, 2, &error));
  g_assert_error (error, PL_ERROR, PL_ERROR_FORMAT);
  g_assert_cmpstr (error->message, ==, "tensor \"h\" has dtype F16, expected F32");
}

/* Unusual but valid files. */
static void
test_valid_variants (void)
{
  static const struct {
    const char *header;
    gsize data_len;
    guint n_tensors;
  } cases[] = {
    { "{}", 0, 0 },
    { "  {}  \n\t ", 0, 0 },
    { "{\"__metadata__\":{}}", 0, 0 },
    /* tensors listed out of offset order */
    { "{\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]},"
      "\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 4, 2 },
    /* empty tensors at the same offset as others, at the start and the end */
    { "{\"e1\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
      "\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
      "\"e2\":{\"dtype\":\"I64\",\"shape\":[4,0],\"data_offsets\":[2,2]},"
      "\"e3\":{\"dtype\":\"I64\",\"shape\":[0,4],\"data_offsets\":[2,2]}}", 2, 4 },
    /* members in any order, unknown members ignored as the reference does */
    { "{\"a\":{\"data_offsets\":[0,1],\"note\":[1,{}],\"shape\":[],\"dtype\":\"BOOL\"}}", 1, 1 },
    /* a zero dimension makes a huge shape empty (the other dimensions must still
     * fit in 63 bits of bytes, see the invalid cases) */
    { "{\"a\":{\"dtype\":\"U8\",\"shape\":[0,9223372036854775807],\"data_offsets\":[0,0]}}", 0, 1 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GBytes) bytes = make_file (cases[i].header, cases[i].data_len);
      g_autoptr (GError) error = NULL;
      g_autoptr (PlSafetensors) st = pl_safetensors_load_from_bytes (bytes, "ok", &error);
      g_assert_no_error (error);
      g_assert_cmpuint (pl_safetensors_get_n_tensors (st), ==, cases[i].n_tensors);
    }
}

#define T(name, dtype, shape, offsets) \
  "\"" name "\":{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":" offsets "}"

static void
test_invalid (void)
{
  static const struct {
    const char *header;
    gsize data_len;
    const char *expected[3];
  } cases[] = {
    { "{\"a\":", 0, { "header (file bytes 8..13) is not valid JSON", "JSON at byte 5: expected a value" } },
    { "{\"a\":1,}", 0, { "not valid JSON", "trailing commas" } },
    { "\xff{}", 0, { "not valid JSON", "found byte 0xff" } },
    { "{\"\xff\":1}", 0, { "not valid JSON", "invalid UTF-8" } },
    { "[]", 0, { "header is an array, expected an object of tensors" } },
    { "null", 0, { "header is null, expected an object" } },
    { "{\"a\":[]}", 0, { "tensor \"a\" is an array, expected an object with \"dtype\", \"shape\" and \"data_offsets\"" } },
    { "{" T ("w", "F8", "[1]", "[0,1]") "}", 1,
      { "tensor \"w\" has dtype \"F8\", expected one of F32, F16, BF16, F64, I8, U8, I16, I32, I64, BOOL" } },
    { "{" T ("w", "f32", "[1]", "[0,4]") "}", 4, { "tensor \"w\" has dtype \"f32\"" } },
    { "{\"w\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
      { "tensor \"w\" has dtype a number, expected one of" } },
    { "{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, { "tensor \"w\" has no \"dtype\"" } },
    { "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, { "tensor \"w\" has no \"shape\"" } },
    { "{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, { "tensor \"w\" has no \"data_offsets\"" } },
    { "{" T ("w", "F32", "4", "[0,16]") "}", 16,
      { "tensor \"w\": \"shape\" is a number, expected an array of non-negative integers" } },
    { "{" T ("w", "F32", "[2,-1]", "[0,0]") "}", 0,
      { "tensor \"w\": \"shape\" element 1 is not a non-negative integer" } },
    { "{" T ("w", "F32", "[2.0]", "[0,8]") "}", 8, { "\"shape\" element 0 is not a non-negative integer" } },
    { "{" T ("w", "F32", "[\"2\"]", "[0,8]") "}", 8, { "\"shape\" element 0" } },
    { "{" T ("w", "F32", "[1e2]", "[0,400]") "}", 400, { "\"shape\" element 0" } },
    { "{" T ("w", "F32", "[9223372036854775808]", "[0,0]") "}", 0, { "\"shape\" element 0" } },
    { "{" T ("w", "F32", "[4294967296,4294967296]", "[0,0]") "}", 0,
      { "tensor \"w\": shape [4294967296, 4294967296] of F32 is too large" } },
    { "{" T ("w", "U8", "[3037000500,3037000500]", "[0,0]") "}", 0, { "is too large" } },
    { "{" T ("w", "F64", "[0,9223372036854775807]", "[0,0]") "}", 0,
      { "shape [0, 9223372036854775807] of F64 is too large" } },
    { "{" T ("w", "U8", "[1,1,1,1,1,1,1,1,1]", "[0,1]") "}", 1,
      { "tensor \"w\" has 9 dimensions, at most 8 are supported" } },
    { "{" T ("w", "U8", "[1]", "[0]") "}", 1,
      { "tensor \"w\": \"data_offsets\" is not an array of two non-negative integers" } },
    { "{" T ("w", "U8", "[1]", "[0,1,2]") "}", 1, { "\"data_offsets\" is not an array of two" } },
    { "{" T ("w", "U8", "[1]", "{}") "}", 1, { "\"data_offsets\" is not an array of two" } },
    { "{" T ("w", "U8", "[0]", "[-1,-1]") "}", 0, { "\"data_offsets\" is not an array of two" } },
    { "{" T ("w", "U8", "[1]", "[0,1.0]") "}", 1, { "\"data_offsets\" is not an array of two" } },
    { "{" T ("w", "U8", "[1]", "[0,18446744073709551617]") "}", 1, { "\"data_offsets\" is not" } },
    { "{" T ("w", "U8", "[0]", "[8,4]") "}", 8,
      { "tensor \"w\": data_offsets [8, 4] begin after they end" } },
    { "{" T ("w", "F32", "[4]", "[0,16]") "}", 8,
      { "tensor \"w\": data_offsets [0, 16] end beyond the 8-byte data buffer" } },
    { "{" T ("w", "F32", "[3]", "[0,8]") "}", 8,
      { "tensor \"w\": data_offsets [0, 8] hold 8 bytes, but shape [3] of F32 needs 12" } },
    { "{" T ("w", "F32", "[]", "[0,8]") "}", 8,
      { "tensor \"w\": data_offsets [0, 8] hold 8 bytes, but shape [] of F32 needs 4" } },
    { "{" T ("w", "BF16", "[2,2]", "[0,4]") "}", 4, { "hold 4 bytes, but shape [2, 2] of BF16 needs 8" } },
    { "{" T ("a", "F32", "[2]", "[0,8]") "," T ("b", "F32", "[2]", "[4,12]") "}", 12,
      { "tensor \"b\" (bytes 4..12 of the data buffer) overlaps tensor \"a\" (bytes 0..8)" } },
    { "{" T ("a", "F32", "[2]", "[0,8]") "," T ("b", "F32", "[2]", "[0,8]") "}", 8,
      { "overlaps tensor" } },
    { "{" T ("a", "F32", "[2]", "[0,8]") "," T ("e", "F32", "[0]", "[4,4]") "}", 8,
      { "tensor \"e\" (bytes 4..4 of the data buffer) overlaps tensor \"a\"" } },
    { "{" T ("a", "F32", "[1]", "[0,4]") "," T ("b", "F32", "[1]", "[8,12]") "}", 12,
      { "bytes 4..8 of the data buffer belong to no tensor (a hole before tensor \"b\")" } },
    { "{" T ("a", "F32", "[1]", "[4,8]") "}", 8,
      { "bytes 0..4 of the data buffer belong to no tensor (a hole before tensor \"a\")" } },
    { "{" T ("a", "F32", "[1]", "[0,4]") "}", 8,
      { "bytes 4..8 of the data buffer belong to no tensor (trailing bytes after the last tensor)" } },
    { "{}", 3, { "bytes 0..3 of the data buffer belong to no tensor" } },
    { "{\"__metadata__\":{\"k\":1}}", 0,
      { "\"__metadata__\" value of \"k\" is a number, expected a string" } },
    { "{\"__metadata__\":{\"a\":\"x\",\"k\":null}}", 0, { "value of \"k\" is null, expected a string" } },
    { "{\"__metadata__\":{\"k\":{\"nested\":\"x\"}}}", 0, { "value of \"k\" is an object" } },
    { "{\"__metadata__\":\"x\"}", 0,
      { "\"__metadata__\" is a string, expected an object of string values" } },
    { "{\"__metadata__\":{\"k\":\"a\\u0000b\"}}", 0,
      { "\"__metadata__\" value of \"k\" contains a NUL character" } },
    { "{\"__metadata__\":{\"k\\u0000x\":\"v\"}}", 0, { "\"__metadata__\" key \"k\" contains a NUL" } },
    { "{\"__metadata__\":{},\"__metadata__\":{}}", 0, { "duplicate key \"__metadata__\"" } },
    { "{" T ("a", "U8", "[1]", "[0,1]") "," T ("a", "U8", "[1]", "[1,2]") "}", 2,
      { "not valid JSON", "duplicate key \"a\" (first at byte 1)" } },
    { "{" T ("a\\u0000b", "U8", "[1]", "[0,1]") "}", 1,
      { "tensor name \"a\" contains a NUL character" } },
    { "{" T ("__metadata__\\u0000", "U8", "[1]", "[0,1]") "}", 1,
      { "tensor name \"__metadata__\" contains a NUL character" } },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GBytes) bytes = make_file (cases[i].header, cases[i].data_len);
      g_autofree char *label = g_strdup_printf ("case %u", i);
      assert_rejected (bytes, cases[i].expected, label);
    }
}

static GBytes *
write_small_file (void)
{
  g_autofree char *path = tmp_path ("small.safetensors");
  g_autoptr (PlSafetensorsWriter) w = pl_safetensors_writer_new ();
  float a[3] = { 1, 2, 3 };
  gint64 sa[] = { 3 }, sb[] = { 2, 0 };
  g_autoptr (GError) error = NULL;
  pl_safetensors_writer_set_metadata (w, "seed", "7");
  g_assert_true (pl_safetensors_writer_add (w, "a", PL_DTYPE_F32, sa, 1, a, 12, &error));
  g_assert_true (pl_safetensors_writer_add (w, "e", PL_DTYPE_I8, sb, 2, NULL, 0, &error));
  g_assert_true (pl_safetensors_writer_add (w, "c", PL_DTYPE_U8, NULL, 0, "x", 1, &error));
  g_assert_true (pl_safetensors_writer_write (w, path, &error));
  g_assert_no_error (error);
  return read_file (path);
}

/* Every proper prefix of a valid file is refused, naming the file. */
static void
test_truncated (void)
{
  g_autoptr (GBytes) whole = write_small_file ();
  gsize size;
  const guint8 *p = g_bytes_get_data (whole, &size);
  g_autoptr (GError) error = NULL;
  g_autoptr (PlSafetensors) ok = pl_safetensors_load_from_bytes (whole, BAD, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (pl_safetensors_get_n_tensors (ok), ==, 3);
  guint64 n = 0;
  for (int i = 7; i >= 0; i--)
    n = (n << 8) | p[i];

  for (gsize len = 0; len < size; len++)
    {
      /* an exact-size copy, so that ASan sees any read past the end */
      g_autoptr (GBytes) cut = g_bytes_new_take (g_memdup2 (p, len), len);
      g_autofree char *label = g_strdup_printf ("prefix of %" G_GSIZE_FORMAT " bytes", len);
      const char *expected[2] = { NULL, NULL };
      if (len < 8)
        expected[0] = "too short for the 8-byte header length";
      else if (len < 8 + n)
        expected[0] = "runs past the end of the";
      else if (len == 8 + n)
        expected[0] = "end beyond the 0-byte data buffer";
      else
        expected[0] = "end beyond the";
      assert_rejected (cut, expected, label);
    }
}

/* A valid file with its header length field replaced. */
static void
test_header_length (void)
{
  g_autoptr (GBytes) whole = write_small_file ();
  gsize size;
  const guint8 *p = g_bytes_get_data (whole, &size);
  guint64 n = 0;
  for (int i = 7; i >= 0; i--)
    n = (n << 8) | p[i];
  const struct {
    guint64 len;
    const char *expected;  /* NULL: any message naming the file */
  } cases[] = {
    { 0, "header (file bytes 8..8) is not valid JSON: JSON at byte 0: expected a value" },
    { 1, "JSON at byte 1: expected a string key or '}', found end of input" },
    { n - 1, NULL },   /* a padding space less: the data buffer shifts */
    { n + 1, NULL },   /* a data byte more in the header */
    { 2 * n, "runs past the end" },
    { PL_SAFETENSORS_MAX_HEADER + 1, "larger than the limit of 100000000 bytes" },
    { G_MAXUINT64, "header length 18446744073709551615 is larger than the limit" },
    { 1u << 20, "header length 1048576 runs past the end of the" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      guint64 len = cases[i].len;
      guint8 *copy = g_memdup2 (p, size);
      for (int k = 0; k < 8; k++)
        copy[k] = (len >> (8 * k)) & 0xff;
      g_autoptr (GBytes) bytes = g_bytes_new_take (copy, size);
      const char *expected[] = { cases[i].expected, NULL };
      g_autofree char *label = g_strdup_printf ("header length %" G_GUINT64_FORMAT, len);
      assert_rejected (bytes, expected, label);
    }

  const char *expected[] = { "too short", NULL };
  g_autoptr (GBytes) tiny = g_bytes_new_static ("\x01\0\0\0", 4);
  assert_rejected (tiny, expected, "4-byte file");
  g_autoptr (GBytes) nothing = g_bytes_new_static ("", 0);
  assert_rejected (nothing, expected, "empty file");
}

static gboolean
dir_has_only (const char *dir, const char *leaf)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  gboolean ok = TRUE;
  while ((name = g_dir_read_name (d)))
    if (g_strcmp0 (name, leaf) != 0)
      {
        g_test_message ("unexpected file %s in %s", name, dir);
        ok = FALSE;
      }
  return ok;
}

static PlSafetensorsWriter *
writer_with_value (float v, gsize n)
{
  PlSafetensorsWriter *w = pl_safetensors_writer_new ();
  float *data = g_new (float, n);
  for (gsize i = 0; i < n; i++)
    data[i] = v;
  gint64 shape[] = { n };
  g_assert_true (pl_safetensors_writer_add (w, "w", PL_DTYPE_F32, shape, 1, data,
                                            n * sizeof (float), NULL));
  g_free (data);
  return w;
}

static void
test_atomic (void)
{
  g_autofree char *dir = tmp_path ("atomic");
  g_assert_cmpint (g_mkdir (dir, 0755), ==, 0);
  g_autofree char *path = g_build_filename (dir, "model.safetensors", NULL);
  g_autoptr (GError) error = NULL;

  mode_t old_umask = umask (022);
  g_autoptr (PlSafetensorsWriter) w1 = writer_with_value (1.0f, 4);
  g_assert_true (pl_safetensors_writer_write (w1, path, &error));
  g_assert_no_error (error);
  umask (old_umask);
  GStatBuf sb;
  g_assert_cmpint (g_stat (path, &sb), ==, 0);
  g_assert_cmpint (sb.st_mode & 0777, ==, 0644);   /* not mkstemp's 0600 */
  g_autoptr (GBytes) original = read_file (path);

  /* a write that fails half-way (file size limit: EFBIG, even for root) leaves the
   * old file as it was and no temporary file behind */
  struct rlimit saved, small;
  g_assert_cmpint (getrlimit (RLIMIT_FSIZE, &saved), ==, 0);
  small = saved;
  small.rlim_cur = 4096;
  void (*old_handler) (int) = signal (SIGXFSZ, SIG_IGN);
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &small), ==, 0);
  g_autoptr (PlSafetensorsWriter) big = writer_with_value (2.0f, 1 << 16);
  gboolean ok = pl_safetensors_writer_write (big, path, &error);
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &saved), ==, 0);
  signal (SIGXFSZ, old_handler);
  g_assert_false (ok);
  g_assert_error (error, PL_ERROR, PL_ERROR_IO);
  g_test_message ("%s", error->message);
  g_assert_true (g_str_has_prefix (error->message, path));
  g_assert_nonnull (strstr (error->message, "cannot write"));
  g_autoptr (GBytes) after = read_file (path);
  g_assert_true (g_bytes_equal (original, after));
  g_assert_true (dir_has_only (dir, "model.safetensors"));
  g_clear_error (&error);

  /* a successful overwrite replaces the file, and a reader that has the old one
   * open keeps seeing the old tensors */
  g_autoptr (PlSafetensors) old = pl_safetensors_load (path, &error);
  g_assert_no_error (error);
  g_autoptr (PlSafetensorsWriter) w3 = writer_with_value (3.0f, 8);
  g_assert_true (pl_safetensors_writer_write (w3, path, &error));
  g_assert_no_error (error);
  g_autoptr (PlSafetensors) fresh = pl_safetensors_load (path, &error);
  g_assert_no_error (error);
  float v[8];
  g_assert_true (pl_safetensors_read_f32 (pl_safetensors_lookup (fresh, "w"), v, 8, &error));
  g_assert_cmpfloat (v[7], ==, 3.0f);
  g_assert_true (pl_safetensors_read_f32 (pl_safetensors_lookup (old, "w"), v, 4, &error));
  g_assert_cmpfloat (v[0], ==, 1.0f);
  g_assert_true (dir_has_only (dir, "model.safetensors"));

  /* no such directory */
  g_autofree char *nowhere = g_build_filename (dir, "missing", "m.safetensors", NULL);
  g_assert_false (pl_safetensors_writer_write (w3, nowhere, &error));
  g_assert_error (error, PL_ERROR, PL_ERROR_IO);
  g_assert_true (g_str_has_prefix (error->message, nowhere));
  g_assert_nonnull (strstr (error->message, "cannot create a temporary file"));
  g_clear_error (&error);

  /* the target is a directory: the rename fails, the directory stays, the
   * temporary file is removed */
  g_autofree char *sub = g_build_filename (dir, "sub.safetensors", NULL);
  g_autofree char *inner = g_build_filename (sub, "keep", NULL);
  g_assert_cmpint (g_mkdir (sub, 0755), ==, 0);
  g_assert_true (g_file_set_contents (inner, "x", 1, NULL));
  g_assert_false (pl_safetensors_writer_write (w3, sub, &error));
  g_assert_error (error, PL_ERROR, PL_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "cannot replace"));
  g_assert_true (g_file_test (inner, G_FILE_TEST_IS_REGULAR));
  g_clear_error (&error);
  g_assert_cmpint (g_unlink (inner), ==, 0);
  g_assert_cmpint (g_rmdir (sub), ==, 0);
  g_assert_true (dir_has_only (dir, "model.safetensors"));
}

/* Without write permission on the directory the old file stays. Root ignores
 * permissions, so there the test is skipped (test_atomic covers root). */
static void
test_unwritable_dir (void)
{
  if (geteuid () == 0)
    {
      g_test_skip ("root ignores directory permissions");
      return;
    }
  g_autofree char *dir = tmp_path ("readonly");
  g_assert_cmpint (g_mkdir (dir, 0755), ==, 0);
  g_autofree char *path = g_build_filename (dir, "model.safetensors", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (PlSafetensorsWriter) w1 = writer_with_value (1.0f, 4);
  g_assert_true (pl_safetensors_writer_write (w1, path, &error));
  g_autoptr (GBytes) original = read_file (path);
  g_assert_cmpint (g_chmod (dir, 0555), ==, 0);
  g_autoptr (PlSafetensorsWriter) w2 = writer_with_value (2.0f, 4);
  gboolean ok = pl_safetensors_writer_write (w2, path, &error);
  g_chmod (dir, 0755);
  g_assert_false (ok);
  g_assert_error (error, PL_ERROR, PL_ERROR_IO);
  g_assert_true (g_str_has_prefix (error->message, path));
  g_autoptr (GBytes) after = read_file (path);
  g_assert_true (g_bytes_equal (original, after));
  g_assert_true (dir_has_only (dir, "model.safetensors"));
}

static void
test_load_errors (void)
{
  g_autofree char *missing = tmp_path ("no-such.safetensors");
  g_autoptr (GError) error = NULL;
  g_assert_null (pl_safetensors_load (missing, &error));
  g_assert_error (error, PL_ERROR, PL_ERROR_IO);
  g_assert_true (g_str_has_prefix (error->message, missing));
  g_clear_error (&error);

  g_autofree char *text = tmp_path ("text.safetensors");
  g_assert_true (g_file_set_contents (text, "hello, I am not a checkpoint", -1, NULL));
  g_assert_null (pl_safetensors_load (text, &error));
  g_assert_error (error, PL_ERROR, PL_ERROR_FORMAT);
  g_autofree char *prefix = g_strdup_printf ("%s: header length", text);
  g_assert_true (g_str_has_prefix (error->message, prefix));
  g_assert_nonnull (strstr (error->message, "larger than the limit"));
  g_clear_error (&error);

  g_assert_null (pl_safetensors_load (pl_test_tmpdir (), &error));
  g_assert_error (error, PL_ERROR, PL_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "is a directory, expected a safetensors file"));
  g_clear_error (&error);

  g_autofree char *empty = tmp_path ("zero.safetensors");
  g_assert_true (g_file_set_contents (empty, "", 0, NULL));
  g_assert_null (pl_safetensors_load (empty, &error));
  g_assert_error (error, PL_ERROR, PL_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "file is 0 bytes, too short"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/core/safetensors/dtype", test_dtype);
  g_test_add_func ("/core/safetensors/round-trip", test_round_trip);
  g_test_add_func ("/core/safetensors/layout", test_layout);
  g_test_add_func ("/core/safetensors/metadata", test_metadata);
  g_test_add_func ("/core/safetensors/writer-errors", test_writer_errors);
  g_test_add_func ("/core/safetensors/read-f32", test_read_f32);
  g_test_add_func ("/core/safetensors/valid-variants", test_valid_variants);
  g_test_add_func ("/core/safetensors/invalid", test_invalid);
  g_test_add_func ("/core/safetensors/truncated", test_truncated);
  g_test_add_func ("/core/safetensors/header-length", test_header_length);
  g_test_add_func ("/core/safetensors/atomic", test_atomic);
  g_test_add_func ("/core/safetensors/unwritable-dir", test_unwritable_dir);
  g_test_add_func ("/core/safetensors/load-errors", test_load_errors);
  return g_test_run ();
}
