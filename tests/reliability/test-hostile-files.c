/* Hostile files (issue 6): every reader refuses a malformed file with a clear
 * error that names the file (and the key, column or tensor) and says what was
 * expected, and never crashes. One table per reader; each row is a file and the
 * fragments its error message must hold. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "paramlab.h"
#include "pl-test-util.h"

typedef struct {
  const char *name;
  const char *bytes;
  gssize len;              /* -1: NUL-terminated */
  const char *expect[5];   /* fragments of the message, NULL-terminated */
} Case;

static void
check_message (const Case *c, const GError *error)
{
  g_assert_nonnull (error);
  g_test_message ("%s: %s", c->name, error->message);
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
  for (int i = 0; c->expect[i]; i++)
    if (!strstr (error->message, c->expect[i]))
      g_error ("%s: the message lacks \"%s\": %s", c->name, c->expect[i], error->message);
}

static char *
write_case (const char *name, const char *bytes, gssize len)
{
  g_autoptr (GError) error = NULL;
  char *path = g_build_filename (pl_test_tmpdir (), name, NULL);
  g_file_set_contents (path, bytes, len < 0 ? (gssize) strlen (bytes) : len, &error);
  g_assert_no_error (error);
  return path;
}

/* ---- safetensors ----------------------------------------------------------- */

/* 8-byte little-endian length, then the header, then the data */
static GBytes *
st_file (guint64 declared, const char *header, gsize header_len, const char *data,
         gsize data_len)
{
  GByteArray *b = g_byte_array_new ();
  for (int i = 0; i < 8; i++)
    {
      guint8 c = (declared >> (8 * i)) & 0xff;
      g_byte_array_append (b, &c, 1);
    }
  g_byte_array_append (b, (const guint8 *) header, header_len);
  g_byte_array_append (b, (const guint8 *) data, data_len);
  return g_byte_array_free_to_bytes (b);
}

#define T(name, json) "\"" name "\":" json
static const struct {
  Case c;
  const char *data;  /* the data buffer after the header */
  gsize data_len;
} st_cases[] = {
  { { "overlapping offsets",
      "{" T ("a", "{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}") ","
          T ("b", "{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}") "}", -1,
      { "hostile.safetensors: ", "tensor \"b\"", "overlaps tensor \"a\"", NULL } },
    "0123456789ab", 12 },
  { { "offsets out of the file",
      "{" T ("w", "{\"dtype\":\"F32\",\"shape\":[256],\"data_offsets\":[0,1024]}") "}", -1,
      { "hostile.safetensors: ", "tensor \"w\"", "end beyond the 4-byte data buffer", NULL } },
    "abcd", 4 },
  { { "offsets near 2^64",
      "{" T ("w", "{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":"
                  "[18446744073709551612,18446744073709551615]}") "}", -1,
      { "hostile.safetensors: ", "tensor \"w\"", "two non-negative integers", NULL } },
    "abcd", 4 },
  { { "offsets before they begin",
      "{" T ("w", "{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,0]}") "}", -1,
      { "tensor \"w\"", "begin after they end", NULL } },
    "abcd", 4 },
  { { "shape overflows size_t",
      "{" T ("w", "{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],"
                  "\"data_offsets\":[0,4]}") "}", -1,
      { "hostile.safetensors: ", "tensor \"w\"", "[4611686018427387904, 4]",
        "overflows 63 bits" } },
    "abcd", 4 },
  { { "shape product overflows 64 bits",
      "{" T ("w", "{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296,16],"
                  "\"data_offsets\":[0,4]}") "}", -1,
      { "tensor \"w\"", "too large", NULL } },
    "abcd", 4 },
  { { "negative dimension",
      "{" T ("w", "{\"dtype\":\"U8\",\"shape\":[-4],\"data_offsets\":[0,4]}") "}", -1,
      { "tensor \"w\"", "\"shape\" element 0 is not a non-negative integer", NULL } },
    "abcd", 4 },
  { { "unknown dtype",
      "{" T ("w", "{\"dtype\":\"F128\",\"shape\":[1],\"data_offsets\":[0,4]}") "}", -1,
      { "hostile.safetensors: ", "tensor \"w\" has dtype \"F128\"", "expected one of F32",
        NULL } },
    "abcd", 4 },
  { { "dtype of the wrong type",
      "{" T ("w", "{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}") "}", -1,
      { "tensor \"w\" has dtype a number", "expected one of F32", NULL } },
    "abcd", 4 },
  { { "size does not match dtype",
      "{" T ("w", "{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,4]}") "}", -1,
      { "tensor \"w\"", "hold 4 bytes", "needs 8", NULL } },
    "abcd", 4 },
  { { "truncated data",
      "{" T ("w", "{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}") "}", -1,
      { "tensor \"w\"", "end beyond the 5-byte data buffer (file truncated?)", NULL } },
    "abcde", 5 },
  { { "invalid UTF-8 in the header",
      "{\"__metadata__\":{\"k\":\"\xc3\x28\"}}", -1,
      { "hostile.safetensors: header", "is not valid JSON", "UTF-8", NULL } },
    "", 0 },
  { { "invalid UTF-8 in a key",
      "{" T ("w\xff", "{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}") "}", -1,
      { "hostile.safetensors: header", "not valid JSON", "UTF-8", NULL } },
    "", 0 },
  { { "NUL in a tensor name",
      "{" T ("w\\u0000x", "{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}") "}", -1,
      { "hostile.safetensors: tensor name \"w\" contains a NUL character", NULL } },
    "", 0 },
  { { "header not an object", "[1,2,3]", -1,
      { "hostile.safetensors: header is an array, expected an object of tensors", NULL } },
    "", 0 },
};

static void
test_safetensors (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (st_cases); i++)
    {
      const Case *c = &st_cases[i].c;
      gsize hlen = c->len < 0 ? strlen (c->bytes) : (gsize) c->len;
      g_autoptr (GBytes) b = st_file (hlen, c->bytes, hlen, st_cases[i].data,
                                      st_cases[i].data_len);
      g_autoptr (GError) error = NULL;
      PlSafetensors *st = pl_safetensors_load_from_bytes (b, "hostile.safetensors", &error);
      g_assert_null (st);
      check_message (c, error);
    }
}

/* The 8-byte length field against the file: near 2^64, past the end, absent. */
static void
test_safetensors_length (void)
{
  static const struct {
    guint64 declared;
    gsize size;
    const char *expect;
  } cases[] = {
    { G_MAXUINT64, 16, "header length 18446744073709551615 is larger than the limit" },
    { G_MAXUINT64 - 7, 16, "header length 18446744073709551608 is larger than the limit" },
    { (guint64) 1 << 63, 16, "header length 9223372036854775808 is larger than the limit" },
    { 9, 16, "header length 9 runs past the end of the 16-byte file (truncated" },
    { 0, 5, "file is 5 bytes, too short for the 8-byte header length" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *bytes = g_malloc0 (cases[i].size);
      for (int k = 0; k < 8 && (gsize) k < cases[i].size; k++)
        bytes[k] = (cases[i].declared >> (8 * k)) & 0xff;
      g_autoptr (GBytes) b = g_bytes_new (bytes, cases[i].size);
      g_autoptr (GError) error = NULL;
      g_assert_null (pl_safetensors_load_from_bytes (b, "hostile.safetensors", &error));
      Case c = { "length", NULL, 0, { "hostile.safetensors: ", cases[i].expect, NULL } };
      check_message (&c, error);
    }
}

/* A valid file cut at every length is refused, never read past its end. */
static void
test_safetensors_truncated (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_build_filename (pl_test_tmpdir (), "whole.safetensors", NULL);
  PlSafetensorsWriter *w = pl_safetensors_writer_new ();
  const float v[6] = { 1, 2, 3, 4, 5, 6 };
  const gint64 shape[2] = { 2, 3 };
  g_assert_true (pl_safetensors_writer_add (w, "w", PL_DTYPE_F32, shape, 2, v, sizeof v,
                                            &error));
  pl_safetensors_writer_set_metadata (w, "format", "pt");
  g_assert_true (pl_safetensors_writer_write (w, path, &error));
  pl_safetensors_writer_free (w);
  g_autofree char *bytes = NULL;
  gsize len;
  g_assert_true (g_file_get_contents (path, &bytes, &len, &error));
  for (gsize cut = 0; cut < len; cut++)
    {
      /* an exact-size copy, so that sanitizers see any overread */
      g_autoptr (GBytes) b = g_bytes_new (bytes, cut);
      g_autoptr (GError) e = NULL;
      g_assert_null (pl_safetensors_load_from_bytes (b, "cut.safetensors", &e));
      g_assert_true (g_str_has_prefix (e->message, "cut.safetensors: "));
    }
}

/* ---- npy ------------------------------------------------------------------- */

/* A version 1.0 .npy with @header (padded) and @data_len bytes of data. */
static GString *
npy_file (const char *header, gsize data_len)
{
  GString *h = g_string_new (header);
  while ((10 + h->len + 1) % 64)
    g_string_append_c (h, ' ');
  g_string_append_c (h, '\n');
  GString *f = g_string_new_len ("\x93NUMPY\x01\x00", 8);
  g_string_append_c (f, h->len & 0xff);
  g_string_append_c (f, (h->len >> 8) & 0xff);
  g_string_append_len (f, h->str, h->len);
  for (gsize i = 0; i < data_len; i++)
    g_string_append_c (f, 0);
  g_string_free (h, TRUE);
  return f;
}

static const struct {
  const char *name;
  const char *header;
  gsize data_len;
  const char *expect[3];
} npy_cases[] = {
  { "huge-shape.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, "
    "4611686018427387904), }", 0, { "huge-shape.npy: shape is too large to address", NULL } },
  { "huge-rows.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 3), }",
    24, { "huge-rows.npy: truncated data: 24 bytes", "for shape (1099511627776, 3)", NULL } },
  { "huge-dim.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': "
    "(99999999999999999999999, 3), }", 0, { "huge-dim.npy: ", "a smaller dimension", NULL } },
  { "bad-descr.npy", "{'descr': '<c16', 'fortran_order': False, 'shape': (2, 2), }", 64,
    { "bad-descr.npy: dtype '<c16' is not supported", "expected one of <f4", NULL } },
  { "garbage-descr.npy", "{'descr': '\xff\xfe', 'fortran_order': False, 'shape': (2, 2), }", 16,
    { "garbage-descr.npy: the .npy header has byte 0xff at header byte 11",
      "expected the text of a Python dict literal", NULL } },
  { "big-endian.npy", "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 2), }", 16,
    { "big-endian.npy: dtype '>f4' is big-endian, expected little-endian", NULL } },
  { "structured.npy", "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", 8,
    { "structured.npy: structured dtype", NULL } },
  { "fortran.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 16,
    { "fortran.npy: fortran_order is True, expected C order", NULL } },
  { "truncated-data.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (4, 2), }", 20,
    { "truncated-data.npy: truncated data: 20 bytes, expected 8 x 4 bytes", NULL } },
  { "extra-data.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }", 20,
    { "extra-data.npy: 4 bytes after the array data", NULL } },
  { "not-a-dict.npy", "[1, 2]", 0,
    { "not-a-dict.npy: the .npy header is not a dict literal", "expected '{'", NULL } },
};

static void
test_npy (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (npy_cases); i++)
    {
      g_autoptr (GString) f = npy_file (npy_cases[i].header, npy_cases[i].data_len);
      g_autofree char *path = write_case (npy_cases[i].name, f->str, f->len);
      g_autoptr (GError) error = NULL;
      g_autoptr (PlDataset) ds = pl_dataset_load_npy (path, NULL, &error);
      g_assert_null (ds);
      Case c = { npy_cases[i].name, NULL, 0, { NULL } };
      memcpy (c.expect, npy_cases[i].expect, sizeof npy_cases[i].expect);
      check_message (&c, error);
    }
  /* a file cut inside its header */
  g_autoptr (GString) f = npy_file ("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }",
                                    16);
  static const gsize cuts[] = { 0, 3, 9, 11, 40 };
  for (guint i = 0; i < G_N_ELEMENTS (cuts); i++)
    {
      g_autofree char *path = write_case ("cut.npy", f->str, cuts[i]);
      g_autoptr (GError) error = NULL;
      g_assert_null (pl_dataset_load_npy (path, NULL, &error));
      Case c = { "cut.npy", NULL, 0, { "cut.npy: ", NULL } };
      check_message (&c, error);
      g_assert_true (strstr (error->message, "truncated") || strstr (error->message, "magic"));
    }
}

/* ---- npz ------------------------------------------------------------------- */

static void
put16 (GString *s, guint v)
{
  g_string_append_c (s, v & 0xff);
  g_string_append_c (s, (v >> 8) & 0xff);
}

static void
put32 (GString *s, guint32 v)
{
  put16 (s, v & 0xffff);
  put16 (s, v >> 16);
}

typedef struct {
  const char *name;
  guint method;
  guint32 crc, csize, usize;
  const char *data;   /* csize bytes; NULL: that many zeros (a hole in the file) */
} Member;

/* A zip archive of @n members; a member with data NULL is written as a hole
 * (the file is sparse). */
static char *
write_zip (const char *file, const Member *m, guint n)
{
  g_autofree char *path = g_build_filename (pl_test_tmpdir (), file, NULL);
  g_autoptr (GString) central = g_string_new (NULL);
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  g_assert_cmpint (fd, >=, 0);
  off_t pos = 0;
  for (guint i = 0; i < n; i++)
    {
      g_autoptr (GString) local = g_string_new (NULL);
      put32 (local, 0x04034b50);
      put16 (local, 20), put16 (local, 0), put16 (local, m[i].method);
      put16 (local, 0), put16 (local, 0);
      put32 (local, m[i].crc), put32 (local, m[i].csize), put32 (local, m[i].usize);
      put16 (local, strlen (m[i].name)), put16 (local, 0);
      g_string_append (local, m[i].name);
      g_assert_cmpint (pwrite (fd, local->str, local->len, pos), ==, (ssize_t) local->len);
      off_t offset = pos;
      pos += local->len;
      if (m[i].data)
        g_assert_cmpint (pwrite (fd, m[i].data, m[i].csize, pos), ==, (ssize_t) m[i].csize);
      pos += m[i].csize;

      put32 (central, 0x02014b50);
      put16 (central, 20), put16 (central, 20), put16 (central, 0);
      put16 (central, m[i].method), put16 (central, 0), put16 (central, 0);
      put32 (central, m[i].crc), put32 (central, m[i].csize), put32 (central, m[i].usize);
      put16 (central, strlen (m[i].name));
      put16 (central, 0), put16 (central, 0), put16 (central, 0), put16 (central, 0);
      put32 (central, 0), put32 (central, (guint32) offset);
      g_string_append (central, m[i].name);
    }
  g_autoptr (GString) end = g_string_new (NULL);
  put32 (end, 0x06054b50);
  put16 (end, 0), put16 (end, 0), put16 (end, n), put16 (end, n);
  put32 (end, central->len), put32 (end, (guint32) pos);
  put16 (end, 0);
  g_string_prepend_len (end, central->str, central->len);
  g_assert_cmpint (pwrite (fd, end->str, end->len, pos), ==, (ssize_t) end->len);
  close (fd);
  return g_steal_pointer (&path);
}

static void
test_npz (void)
{
  g_autoptr (GString) x = npy_file ("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }",
                                    16);
  g_autoptr (GString) y = npy_file ("{'descr': '|u1', 'fortran_order': False, 'shape': (2,), }",
                                    2);
  guint32 xcrc = 0, ycrc = 0;
  {
    /* CRC-32 of the members, computed here so that the cases below are valid
     * archives but for the one thing each breaks */
    for (int k = 0; k < 2; k++)
      {
        GString *s = k ? y : x;
        guint32 c = 0xffffffffu;
        for (gsize i = 0; i < s->len; i++)
          {
            c ^= (guint8) s->str[i];
            for (int b = 0; b < 8; b++)
              c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
          }
        *(k ? &ycrc : &xcrc) = c ^ 0xffffffffu;
      }
  }
  Member good[] = {
    { "x.npy", 0, xcrc, x->len, x->len, x->str },
    { "y.npy", 0, ycrc, y->len, y->len, y->str },
  };
  g_autofree char *ok_path = write_zip ("good.npz", good, 2);
  g_autoptr (GError) error = NULL;
  g_autoptr (PlDataset) ds = pl_dataset_load_npz (ok_path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ds->n, ==, 2);

  /* declared sizes a deflate stream of that length cannot produce: a zip bomb
   * that lies about itself is refused before anything is allocated */
  Member lie[] = {
    { "x.npy", 8, 0, 100, 1000000, "" },
    good[1],
  };
  char hundred[100] = { 0 };
  lie[0].data = hundred;
  /* an honest bomb: 5 MB of compressed data that would inflate to 4 GiB; more
   * than the per-member limit (the file is sparse) */
  Member big[] = {
    { "x.npy", 8, 0, 5u << 20, 0xfffffff0u, NULL },
    good[1],
  };
  Member stored_mismatch[] = {
    { "x.npy", 0, xcrc, x->len, x->len + 10, x->str },
    good[1],
  };
  Member bad_crc[] = {
    { "x.npy", 0, xcrc ^ 1, x->len, x->len, x->str },
    good[1],
  };
  Member method[] = {
    { "x.npy", 12, xcrc, x->len, x->len, x->str },
    good[1],
  };
  Member no_y[] = { good[0] };
  static const struct {
    const char *file;
    const char *expect[4];
  } expect[] = {
    { "lie.npz", { "lie.npz:x.npy: declares 1000000 bytes inflated from 100 compressed",
                   "more than deflate can produce", NULL } },
    { "big.npz", { "big.npz:x.npy: ", "4294967280 bytes", "limit" } },
    { "stored.npz", { "stored.npz:x.npy: stored member has", NULL } },
    { "crc.npz", { "crc.npz:x.npy: CRC-32 mismatch", NULL } },
    { "method.npz", { "method.npz:x.npy: compression method 12 is not supported", NULL } },
    { "no-y.npz", { "no-y.npz: no labels array", "(the archive has: x.npy)", NULL } },
  };
  const Member *sets[] = { lie, big, stored_mismatch, bad_crc, method, no_y };
  const guint counts[] = { 2, 2, 2, 2, 2, 1 };
  for (guint i = 0; i < G_N_ELEMENTS (expect); i++)
    {
      g_autofree char *path = write_zip (expect[i].file, sets[i], counts[i]);
      g_autoptr (GError) e = NULL;
      g_assert_null (pl_dataset_load_npz (path, &e));
      Case c = { expect[i].file, NULL, 0, { NULL } };
      memcpy (c.expect, expect[i].expect, sizeof expect[i].expect);
      check_message (&c, e);
    }

  /* not a zip at all, and the good archive cut at every length */
  g_autofree char *junk = write_case ("junk.npz", "this is not a zip archive", -1);
  g_clear_error (&error);
  g_assert_null (pl_dataset_load_npz (junk, &error));
  Case c = { "junk.npz", NULL, 0,
             { "junk.npz: not a valid .npz (zip) archive: no end-of-central-directory", NULL } };
  check_message (&c, error);
  g_autofree char *whole = NULL;
  gsize len;
  g_assert_true (g_file_get_contents (ok_path, &whole, &len, NULL));
  for (gsize cut = 0; cut < len; cut++)
    {
      g_autofree char *path = write_case ("cut.npz", whole, cut);
      g_autoptr (GError) e = NULL;
      g_assert_null (pl_dataset_load_npz (path, &e));
      g_assert_true (strstr (e->message, "cut.npz") != NULL);
    }
}

/* ---- CSV ------------------------------------------------------------------- */

static void
test_csv (void)
{
  static const Case cases[] = {
    { "bad-utf8.csv", "a,b,label\n1,2,x\n3,\xff\xfe,y\n", -1,
      { "bad-utf8.csv:3: byte 3 of the line is not valid UTF-8, expected UTF-8 text", NULL } },
    { "bad-utf8-label.csv", "1,2,caf\xc3\n", -1,
      { "bad-utf8-label.csv:1: byte 8 of the line is not valid UTF-8", NULL } },
    { "nul.csv", "1,2,0\n3,4\0,1\n", 14,
      { "nul.csv:2: byte 4 of the line is a NUL character, expected UTF-8 text", NULL } },
    { "ragged.csv", "a,b,label\n1,2,0\n3,4\n", -1,
      { "ragged.csv:3: row has 2 columns, expected 3 as on line 1 (column 3 is missing)",
        NULL } },
    { "ragged-extra.csv", "1,2,0\n3,4,1,9\n", -1,
      { "ragged-extra.csv:2: row has 4 columns, expected 3", "(column 4 is extra)", NULL } },
    { "unclosed.csv", "1,2,0\n3,\"4,1\n", -1,
      { "unclosed.csv:2: column 2: quoted field is never closed", NULL } },
    { "after-quote.csv", "1,\"2\"\xc3\xa9,0\n", -1,
      { "after-quote.csv:1: column 2: unexpected character '\xc3\xa9' after a closing quote",
        NULL } },
    { "not-a-number.csv", "a,b,label\n1,x\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
      "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
      "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9,0\n", -1,
      { "not-a-number.csv:2: column 2 (\"b\"): expected a number, got 'x", "...'", NULL } },
    { "label-too-big.csv", "1,2,99999999999\n", -1,
      { "label-too-big.csv:1: column 3 (the label): '99999999999' is too large", NULL } },
    { "inf.csv", "1,1e39,0\n", -1,
      { "inf.csv:1: column 2: value '1e39' is infinite or out of float range", NULL } },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = write_case (cases[i].name, cases[i].bytes, cases[i].len);
      g_autoptr (GError) error = NULL;
      g_autoptr (PlDataset) ds = pl_dataset_load_csv (path, -1, &error);
      g_assert_null (ds);
      check_message (&cases[i], error);
    }
}

/* A 4 MB line: a cell that long is refused with a short message, and a row of
 * 200,000 columns loads. */
static void
test_csv_huge_lines (void)
{
  g_autoptr (GString) s = g_string_new ("1,2,0\n1,");
  for (int i = 0; i < 4 << 20; i++)
    g_string_append_c (s, '7');
  g_string_append (s, "x,0\n");
  g_autofree char *path = write_case ("huge-cell.csv", s->str, s->len);
  g_autoptr (GError) error = NULL;
  g_assert_null (pl_dataset_load_csv (path, -1, &error));
  Case c = { "huge-cell", NULL, 0,
             { "huge-cell.csv:2: column 2: expected a number, got '7777", "...'", NULL } };
  check_message (&c, error);
  g_assert_cmpuint (strlen (error->message), <, 300);

  g_string_truncate (s, 0);
  for (int row = 0; row < 2; row++)
    {
      for (int i = 0; i < 200000; i++)
        g_string_append (s, "0.5,");
      g_string_append_printf (s, "%d\n", row);
    }
  g_autofree char *wide = write_case ("wide.csv", s->str, s->len);
  g_clear_error (&error);
  g_autoptr (PlDataset) ds = pl_dataset_load_csv (wide, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ds->n, ==, 2);
  g_assert_cmpuint (ds->n_features, ==, 200000);
}

/* ---- experiment files -------------------------------------------------------- */

static void
test_experiment (void)
{
  static const Case cases[] = {
    { "bad-utf8.ini", "[experiment]\nname = ok\n[train]\nepochs = 3\xff\n", -1,
      { "bad-utf8.ini:4: not valid UTF-8 text", NULL } },
    { "nul.ini", "[experiment]\nname = a\0b\n", 22, { "nul.ini:2: contains a NUL byte", NULL } },
    { "unknown-key.ini", "[train]\nepochz = 3\n", -1,
      { "unknown-key.ini:2: ", "[train] unknown key \"epochz\"", "known keys:", NULL } },
    { "unknown-section.ini", "[trian]\nepochs = 3\n", -1,
      { "unknown-section.ini:1: ", "unknown section [trian]", NULL } },
    { "int-overflow.ini", "[train]\nepochs = 99999999999999999999999\n", -1,
      { "int-overflow.ini:2: ", "[train] epochs", "99999999999999999999999", NULL } },
    { "int-too-big.ini", "[train]\nbatch-size = 9223372036854775807\n", -1,
      { "int-too-big.ini:2: ", "[train] batch-size", NULL } },
    { "double-overflow.ini", "[train]\nlr = 1e400\n", -1,
      { "double-overflow.ini:2: ", "[train] lr", "1e400", NULL } },
    { "nan.ini", "[train]\nlr = nan\n", -1, { "nan.ini:2: ", "[train] lr", NULL } },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      PlExperiment *exp = pl_experiment_load_data (cases[i].bytes, cases[i].len, cases[i].name,
                                                   &error);
      g_assert_null (exp);
      check_message (&cases[i], error);
    }
}

/* --set with bytes that are not UTF-8 is refused; the experiment is unchanged. */
static void
test_experiment_set (void)
{
  g_autoptr (GError) error = NULL;
  PlExperiment *exp = pl_experiment_new_default ();
  g_autofree char *before = pl_experiment_to_text (exp);
  static const char * const bad[] = {
    "experiment.name=caf\xc3", "train.\xff=1", "gate.threshold=\xfe", "train.epochs=1e999999",
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_clear_error (&error);
      g_assert_false (pl_experiment_set (exp, bad[i], &error));
      Case c = { "set", NULL, 0, { "--set ", NULL } };
      check_message (&c, error);
    }
  g_autofree char *after = pl_experiment_to_text (exp);
  g_assert_cmpstr (before, ==, after);
  pl_experiment_unref (exp);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/reliability/files/safetensors/hostile", test_safetensors);
  g_test_add_func ("/reliability/files/safetensors/length", test_safetensors_length);
  g_test_add_func ("/reliability/files/safetensors/truncated", test_safetensors_truncated);
  g_test_add_func ("/reliability/files/npy", test_npy);
  g_test_add_func ("/reliability/files/npz", test_npz);
  g_test_add_func ("/reliability/files/csv", test_csv);
  g_test_add_func ("/reliability/files/csv/huge-lines", test_csv_huge_lines);
  g_test_add_func ("/reliability/files/experiment", test_experiment);
  g_test_add_func ("/reliability/files/experiment/set", test_experiment_set);
  return g_test_run ();
}
