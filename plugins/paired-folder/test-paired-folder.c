/* The paired-folder dataset: the image decoders, a fabricated folder loaded
 * through the plugin engine (layout, vocabulary, split), every error a user can
 * make with such a folder, and a short fusion run on it. */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <string.h>

#include "paramlab.h"
#include "pl-test-util.h"
#include "plp-image-decode.h"

static PlPluginEngine *
engine (void)
{
  static PlPluginEngine *e;
  if (!e)
    e = pl_plugin_engine_new ();
  return e;
}

/* ---- writing PNG and PGM files ------------------------------------------------ */

static guint32
crc32 (const guint8 *p, gsize n)
{
  guint32 crc = 0xffffffffu;
  for (gsize i = 0; i < n; i++)
    {
      crc ^= p[i];
      for (int k = 0; k < 8; k++)
        crc = crc & 1 ? 0xedb88320u ^ (crc >> 1) : crc >> 1;
    }
  return ~crc;
}

static void
put32 (GByteArray *b, guint32 v)
{
  guint8 x[4] = { v >> 24, v >> 16, v >> 8, v };
  g_byte_array_append (b, x, 4);
}

static void
chunk (GByteArray *png, const char *type, const guint8 *data, gsize n)
{
  put32 (png, (guint32) n);
  g_autoptr (GByteArray) body = g_byte_array_new ();
  g_byte_array_append (body, (const guint8 *) type, 4);
  if (n)
    g_byte_array_append (body, data, (guint) n);
  g_byte_array_append (png, body->data, body->len);
  put32 (png, crc32 (body->data, body->len));
}

static int
paeth (int a, int b, int c)
{
  int p = a + b - c, pa = ABS (p - a), pb = ABS (p - b), pc = ABS (p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

static GByteArray *
zlib_compress (const guint8 *in, gsize n)
{
  g_autoptr (GZlibCompressor) z = g_zlib_compressor_new (G_ZLIB_COMPRESSOR_FORMAT_ZLIB, 9);
  GByteArray *out = g_byte_array_sized_new ((guint) n + 64);
  g_byte_array_set_size (out, (guint) (2 * n + 64));
  gsize in_pos = 0, out_pos = 0;
  for (;;)
    {
      gsize r = 0, w = 0;
      GConverterResult res = g_converter_convert (G_CONVERTER (z), in + in_pos, n - in_pos,
                                                  out->data + out_pos, out->len - out_pos,
                                                  G_CONVERTER_INPUT_AT_END, &r, &w, NULL);
      g_assert_cmpint (res, !=, G_CONVERTER_ERROR);
      in_pos += r;
      out_pos += w;
      if (res == G_CONVERTER_FINISHED)
        break;
    }
  g_byte_array_set_size (out, (guint) out_pos);
  return out;
}

/* An 8-bit PNG of @px [h, w]; row y uses filter y % 5, so every filter is
 * exercised; the data is split into two IDAT chunks. @color and @interlace go
 * into the header as given. */
static GByteArray *
png_encode (const guint8 *px, int w, int h, int color, int interlace)
{
  g_autoptr (GByteArray) raw = g_byte_array_new ();
  for (int y = 0; y < h; y++)
    {
      guint8 f = (guint8) (y % 5);
      g_byte_array_append (raw, &f, 1);
      for (int x = 0; x < w; x++)
        {
          int v = px[y * w + x], a = x ? px[y * w + x - 1] : 0, b = y ? px[(y - 1) * w + x] : 0;
          int c = x && y ? px[(y - 1) * w + x - 1] : 0;
          int pred[5] = { 0, a, b, (a + b) / 2, paeth (a, b, c) };
          guint8 o = (guint8) (v - pred[f]);
          g_byte_array_append (raw, &o, 1);
        }
    }
  g_autoptr (GByteArray) z = zlib_compress (raw->data, raw->len);
  GByteArray *png = g_byte_array_new ();
  static const guint8 sig[8] = { 137, 'P', 'N', 'G', '\r', '\n', 26, '\n' };
  g_byte_array_append (png, sig, 8);
  guint8 ihdr[13] = { w >> 24, w >> 16, w >> 8, w, h >> 24, h >> 16, h >> 8, h, 8,
                      (guint8) color, 0, 0, (guint8) interlace };
  chunk (png, "IHDR", ihdr, 13);
  static const guint8 text[] = "Comment\0made by test-paired-folder";
  chunk (png, "tEXt", text, sizeof text - 1);
  guint half = z->len / 2;
  chunk (png, "IDAT", z->data, half);
  chunk (png, "IDAT", z->data + half, z->len - half);
  chunk (png, "IEND", NULL, 0);
  return png;
}

static void
write_file (const char *path, const void *data, gssize len)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (g_file_set_contents (path, data, len, &error));
  g_assert_no_error (error);
}

/* a w x h test image: a bright square on a gradient when @bright */
static void
make_pixels (guint8 *px, int w, int h, int seed, gboolean bright)
{
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++)
      {
        int v = (x * 13 + y * 7 + seed * 31) % 97;
        if (bright && x >= w / 4 && x < 3 * w / 4 && y >= h / 4 && y < 3 * h / 4)
          v += 150;
        px[y * w + x] = (guint8) v;
      }
}

/* ---- the decoders -------------------------------------------------------------- */

static void
test_png_decode (void)
{
  static const int sizes[][2] = { { 1, 1 }, { 7, 5 }, { 16, 16 }, { 33, 9 } };
  for (guint k = 0; k < G_N_ELEMENTS (sizes); k++)
    {
      int w = sizes[k][0], h = sizes[k][1];
      g_autofree guint8 *px = g_new (guint8, w * h);
      for (int i = 0; i < w * h; i++)
        px[i] = (guint8) ((i * 37 + k * 11) % 256);
      g_autoptr (GByteArray) png = png_encode (px, w, h, 0, 0);
      int gw, gh;
      g_autofree float *out = NULL;
      g_autoptr (GError) error = NULL;
      g_assert_true (plp_image_decode_png (png->data, png->len, "t.png", &gw, &gh, &out,
                                           &error));
      g_assert_no_error (error);
      g_assert_cmpint (gw, ==, w);
      g_assert_cmpint (gh, ==, h);
      for (int i = 0; i < w * h; i++)
        g_assert_cmpfloat (out[i], ==, px[i] / 255.0f);
    }
}

static void
test_pgm_decode (void)
{
  static const struct {
    const char *data;
    gsize len;
    float expect[4];
  } cases[] = {
    { "P5\n2 2\n255\n\x00\x80\xff\x01", 15, { 0, 128 / 255.f, 1, 1 / 255.f } },
    { "P5 # comment\n2 # w\n2\n# another\n4\n\x00\x01\x02\x04", 38,
      { 0, 0.25f, 0.5f, 1 } },
    { "P2\n2 2\n10\n0 5\n10 1\n", 20, { 0, 0.5f, 1, 0.1f } },
    { "P5\n2 2\n1000\n\x00\x00\x01\xf4\x03\xe8\x00\x64", 20, { 0, 0.5f, 1, 0.1f } },
  };
  for (guint k = 0; k < G_N_ELEMENTS (cases); k++)
    {
      int w, h;
      g_autofree float *out = NULL;
      g_autoptr (GError) error = NULL;
      g_assert_true (plp_image_decode_pgm ((const guint8 *) cases[k].data, cases[k].len, "t.pgm",
                                           &w, &h, &out, &error));
      g_assert_no_error (error);
      g_assert_cmpint (w, ==, 2);
      g_assert_cmpint (h, ==, 2);
      for (int i = 0; i < 4; i++)
        pl_assert_close (out[i], cases[k].expect[i], 1e-6, 0);
    }
}

static void
test_decode_errors (void)
{
  guint8 px[16];
  for (int i = 0; i < 16; i++)
    px[i] = (guint8) (i * 9);
  g_autoptr (GByteArray) good = png_encode (px, 4, 4, 0, 0);
  g_autoptr (GByteArray) rgb = png_encode (px, 4, 4, 2, 0);
  g_autoptr (GByteArray) laced = png_encode (px, 4, 4, 0, 1);
  g_autoptr (GByteArray) bad_crc = g_byte_array_new ();
  g_byte_array_append (bad_crc, good->data, good->len);
  bad_crc->data[8 + 8 + 3] ^= 1;  /* a byte of IHDR's body */
  /* the IDAT bytes replaced by garbage with valid CRCs: rebuild from parts */
  g_autoptr (GByteArray) garbage = g_byte_array_new ();
  g_byte_array_append (garbage, good->data, 8 + 25);
  static const guint8 junk[] = { 0x78, 0x9c, 0xff, 0xff, 0xff, 0x00, 0x13 };
  chunk (garbage, "IDAT", junk, sizeof junk);
  chunk (garbage, "IEND", NULL, 0);
  g_autoptr (GByteArray) no_end = g_byte_array_new ();
  g_byte_array_append (no_end, good->data, good->len - 12);
  g_autoptr (GByteArray) bad_filter = g_byte_array_new ();
  {
    guint8 raw[5 * 4] = { 0 };
    raw[5] = 9;  /* row 1's filter */
    g_autoptr (GByteArray) z = zlib_compress (raw, sizeof raw);
    g_byte_array_append (bad_filter, good->data, 8 + 25);
    chunk (bad_filter, "IDAT", z->data, z->len);
    chunk (bad_filter, "IEND", NULL, 0);
  }
  g_autoptr (GByteArray) short_data = g_byte_array_new ();
  {
    guint8 raw[5 * 3] = { 0 };  /* three rows of four */
    g_autoptr (GByteArray) z = zlib_compress (raw, sizeof raw);
    g_byte_array_append (short_data, good->data, 8 + 25);
    chunk (short_data, "IDAT", z->data, z->len);
    chunk (short_data, "IEND", NULL, 0);
  }
  static const char *const pgm_bad[][2] = {
    { "P6\n2 2\n255\n....", "expected the magic P5 or P2" },
    { "P5\n2 2\n255\n\x01\x02", "truncated" },
    { "P2\n2 2\n10\n0 5\n11 1\n", "sample 2 is 11, above maxval 10" },
    { "P2\n2 2\n10\n0 5\n", "sample 2 is missing" },
    { "P5\n0 2\n255\n", "image size 0x2" },
    { "P5\n2 2\n70000\n", "maxval 70000" },
    { "P5\nx", "expected width, height and maxval" },
  };
  const struct {
    GByteArray **png;
    const char *expect;
  } png_bad[] = {
    { &rgb, "color type 2 with bit depth 8 is not supported" },
    { &laced, "interlaced" },
    { &bad_crc, "chunk IHDR at byte 8 fails its CRC check" },
    { &garbage, "corrupt" },
    { &no_end, "no IEND" },
    { &bad_filter, "row 1 has filter type 9" },
    { &short_data, "inflates to 15 bytes, its header promises 20" },
  };
  for (guint k = 0; k < G_N_ELEMENTS (png_bad); k++)
    {
      int w, h;
      float *out = NULL;
      g_autoptr (GError) error = NULL;
      GByteArray *b = *png_bad[k].png;
      g_assert_false (plp_image_decode_png (b->data, b->len, "x.png", &w, &h, &out, &error));
      g_assert_null (out);
      g_assert_error (error, PL_ERROR, PL_ERROR_FORMAT);
      if (!strstr (error->message, png_bad[k].expect) || !g_str_has_prefix (error->message, "x.png: "))
        g_error ("png case %u: \"%s\" lacks \"%s\"", k, error->message, png_bad[k].expect);
    }
  /* every truncation of a good file fails cleanly */
  for (guint n = 0; n < good->len; n++)
    {
      int w, h;
      float *out = NULL;
      g_autoptr (GError) error = NULL;
      g_assert_false (plp_image_decode_png (good->data, n, "cut.png", &w, &h, &out, &error));
      g_assert_error (error, PL_ERROR, PL_ERROR_FORMAT);
    }
  for (guint k = 0; k < G_N_ELEMENTS (pgm_bad); k++)
    {
      int w, h;
      float *out = NULL;
      g_autoptr (GError) error = NULL;
      g_assert_false (plp_image_decode_pgm ((const guint8 *) pgm_bad[k][0],
                                            strlen (pgm_bad[k][0]), "x.pgm", &w, &h, &out,
                                            &error));
      g_assert_error (error, PL_ERROR, PL_ERROR_FORMAT);
      if (!strstr (error->message, pgm_bad[k][1]))
        g_error ("pgm case %u: \"%s\" lacks \"%s\"", k, error->message, pgm_bad[k][1]);
    }
}

/* ---- folders ------------------------------------------------------------------- */

#define SIDE 8

/* A folder of @n samples under the test dir: labels alternate 0/1 (or
 * benign/malignant with @names); images alternate PNG, P5 PGM and P2 PGM, a
 * bright square for label 1; reports "The mass, the MASS the w<i>." plus
 * "malignant" or "benign". Returns the folder (transfer full). */
static char *
make_folder (const char *name, int n, gboolean names)
{
  char *dir = g_build_filename (pl_test_tmpdir (), name, NULL);
  pl_test_rm_rf (dir);
  g_autofree char *img = g_build_filename (dir, "images", NULL);
  g_autofree char *rep = g_build_filename (dir, "reports", NULL);
  g_mkdir_with_parents (img, 0700);
  g_mkdir_with_parents (rep, 0700);
  g_autoptr (GString) labels = g_string_new ("id,label\n");
  for (int i = 0; i < n; i++)
    {
      int y = i % 2;
      g_string_append_printf (labels, "s%02d,%s\n", i,
                              names ? (y ? "malignant" : "benign") : (y ? "1" : "0"));
      guint8 px[SIDE * SIDE];
      make_pixels (px, SIDE, SIDE, i, y == 1);
      g_autofree char *base = g_strdup_printf ("s%02d", i);
      if (i % 3 == 0)
        {
          g_autoptr (GByteArray) png = png_encode (px, SIDE, SIDE, 0, 0);
          g_autofree char *f = g_strdup_printf ("%s/%s.png", img, base);
          write_file (f, png->data, png->len);
        }
      else if (i % 3 == 1)
        {
          g_autoptr (GByteArray) pgm = g_byte_array_new ();
          g_autofree char *hdr = g_strdup_printf ("P5\n%d %d\n255\n", SIDE, SIDE);
          g_byte_array_append (pgm, (const guint8 *) hdr, strlen (hdr));
          g_byte_array_append (pgm, px, sizeof px);
          g_autofree char *f = g_strdup_printf ("%s/%s.pgm", img, base);
          write_file (f, pgm->data, pgm->len);
        }
      else
        {
          g_autoptr (GString) pgm = g_string_new (NULL);
          g_string_append_printf (pgm, "P2\n# plain\n%d %d\n255\n", SIDE, SIDE);
          for (int j = 0; j < SIDE * SIDE; j++)
            g_string_append_printf (pgm, "%u%c", px[j], j % SIDE == SIDE - 1 ? '\n' : ' ');
          g_autofree char *f = g_strdup_printf ("%s/%s.pgm", img, base);
          write_file (f, pgm->str, -1);
        }
      g_autofree char *text = g_strdup_printf ("The mass, the MASS the w%02d.\n%s\n", i,
                                               y ? "malignant" : "benign");
      g_autofree char *f = g_strdup_printf ("%s/%s.txt", rep, base);
      write_file (f, text, -1);
    }
  g_autofree char *lp = g_build_filename (dir, "labels.csv", NULL);
  write_file (lp, labels->str, -1);
  return dir;
}

static gboolean
load (const char *folder, const char *opts, const char *normalize, PlRunData *data,
      PlExperiment **exp_out, GError **error)
{
  g_autofree char *text = g_strdup_printf ("[experiment]\nseed=4\n[data]\nnormalize=%s\n"
                                           "val-fraction=0.25\n"
                                           "[dataset]\nplugin=paired-folder\n%s%s%s",
                                           normalize, folder ? "folder=" : "",
                                           folder ? folder : "", folder ? "\n" : "");
  g_autofree char *with_opts = g_strconcat (text, opts, NULL);
  g_autofree char *ini = g_build_filename (pl_test_tmpdir (), "paired.ini", NULL);
  write_file (ini, with_opts, -1);
  g_autoptr (PlExperiment) exp = pl_experiment_load_file (ini, error);
  if (!exp)
    return FALSE;
  g_autoptr (PlPluginSelection) sel = pl_plugin_selection_new (engine (), exp, error);
  if (!sel || !pl_run_data_load (exp, sel, data, error))
    return FALSE;
  if (exp_out)
    *exp_out = g_steal_pointer (&exp);
  return TRUE;
}

/* the id of @row's token @t */
static int
token (const PlDataset *ds, gsize row, int t)
{
  return (int) ds->x[row * ds->n_features + SIDE * SIDE + t];
}

static void
test_load (void)
{
  g_autofree char *dir = make_folder ("folder-a", 12, FALSE);
  static const struct {
    const char *opts;
    int vocab;          /* expected V */
  } cases[] = {
    { "report-length=8\nvocab-size=4\n", 4 },      /* the, mass */
    { "report-length=4\nvocab-size=1000\n", -1 },  /* every training word */
  };
  for (guint k = 0; k < G_N_ELEMENTS (cases); k++)
    {
      g_autoptr (GError) error = NULL;
      PlRunData data = { 0 };
      g_assert_true (load (dir, cases[k].opts, "none", &data, NULL, &error));
      g_assert_no_error (error);
      PlDataset *tr = data.train, *va = data.val;
      g_assert_cmpuint (tr->n + va->n, ==, 12);
      g_assert_cmpuint (va->n, ==, 3);
      g_assert_cmpstr (tr->name, ==, "folder-a");
      PlPairedLayout lay;
      g_assert_true (pl_paired_layout_from_dataset (tr, &lay, &error));
      g_assert_cmpint (lay.height, ==, SIDE);
      g_assert_cmpint (lay.width, ==, SIDE);
      g_assert_cmpint (lay.report_length, ==, k == 0 ? 8 : 4);
      /* 9 training rows: the, mass, benign, malignant and one w<i> each */
      g_assert_cmpint (lay.vocab_size, ==, cases[k].vocab > 0 ? cases[k].vocab : 2 + 4 + 9);
      g_assert_true (pl_paired_layout_check_ids (&lay, va, &error));
      for (int s = 0; s < 2; s++)
        {
          PlDataset *ds = s ? va : tr;
          for (gsize r = 0; r < ds->n; r++)
            {
              /* pixels decode to the bytes written, whichever format */
              const float *row = ds->x + r * ds->n_features;
              gboolean bright = row[SIDE * SIDE / 2 + SIDE / 2] > 150 / 255.0f;
              g_assert_cmpint (bright, ==, ds->y[r] == 1);
              /* "the mass the mass the w<i> <class>" */
              g_assert_cmpint (token (ds, r, 0), ==, 2);
              g_assert_cmpint (token (ds, r, 1), ==, 3);
              g_assert_cmpint (token (ds, r, 2), ==, 2);
              g_assert_cmpint (token (ds, r, 3), ==, 3);
              if (k == 0)
                {
                  g_assert_cmpint (token (ds, r, 4), ==, 2);
                  g_assert_cmpint (token (ds, r, 5), ==, PL_PAIRED_UNK_ID);
                  g_assert_cmpint (token (ds, r, 6), ==, PL_PAIRED_UNK_ID);
                  g_assert_cmpint (token (ds, r, 7), ==, PL_PAIRED_PAD_ID);
                }
            }
        }
      if (k == 1)
        {
          /* the full vocabulary on a longer report: the class word and w<i> are
           * known in training rows; a validation row's w<i> is unknown */
          pl_run_data_clear (&data);
          g_assert_true (load (dir, "report-length=7\n", "none", &data, NULL, &error));
          for (gsize r = 0; r < data.train->n; r++)
            {
              g_assert_cmpint (token (data.train, r, 5), >=, 2);
              g_assert_cmpint (token (data.train, r, 6), >=, 2);
            }
          for (gsize r = 0; r < data.val->n; r++)
            {
              g_assert_cmpint (token (data.val, r, 5), ==, PL_PAIRED_UNK_ID);
              g_assert_cmpint (token (data.val, r, 6), >=, 2);
            }
        }
      pl_run_data_clear (&data);
    }
}

/* class names, a relative folder, and a stratified split */
static void
test_names_and_relative (void)
{
  g_autofree char *dir = make_folder ("folder-names", 8, TRUE);
  g_autoptr (GError) error = NULL;
  PlRunData data = { 0 };
  /* relative to the experiment file, which is in the test dir */
  g_assert_true (load ("folder-names", "", "none", &data, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (data.train->class_names[0], ==, "benign");
  g_assert_cmpstr (data.train->class_names[1], ==, "malignant");
  gsize counts[2];
  pl_dataset_class_counts (data.val, counts);
  g_assert_cmpuint (counts[0], ==, 1);
  g_assert_cmpuint (counts[1], ==, 1);
  pl_run_data_clear (&data);
}

typedef enum {
  BREAK_NONE,
  BREAK_LABELS_FIELDS,
  BREAK_LABELS_DUPLICATE,
  BREAK_LABELS_PATH,
  BREAK_LABELS_MIXED,
  BREAK_LABELS_MISSING,
  BREAK_IMAGE_MISSING,
  BREAK_IMAGE_SIZE,
  BREAK_IMAGE_CORRUPT,
  BREAK_REPORT_MISSING,
  BREAK_REPORT_UTF8,
} Break;

static void
break_folder (const char *dir, Break what)
{
  g_autofree char *labels = g_build_filename (dir, "labels.csv", NULL);
  g_autofree char *s00 = g_build_filename (dir, "images", "s00.png", NULL);
  g_autofree char *s01 = g_build_filename (dir, "images", "s01.pgm", NULL);
  g_autofree char *r02 = g_build_filename (dir, "reports", "s02.txt", NULL);
  switch (what)
    {
    case BREAK_LABELS_FIELDS:
      write_file (labels, "id,label\ns00,0\ns01,1,extra\n", -1);
      break;
    case BREAK_LABELS_DUPLICATE:
      write_file (labels, "s00,0\ns01,1\n\ns00,1\n", -1);
      break;
    case BREAK_LABELS_PATH:
      write_file (labels, "s00,0\n../s01,1\n", -1);
      break;
    case BREAK_LABELS_MIXED:
      write_file (labels, "s00,0\ns01,cat\n", -1);
      break;
    case BREAK_LABELS_MISSING:
      g_remove (labels);
      break;
    case BREAK_IMAGE_MISSING:
      g_remove (s01);
      break;
    case BREAK_IMAGE_SIZE:
      write_file (s01, "P5\n2 2\n255\n\x01\x02\x03\x04", 15);
      break;
    case BREAK_IMAGE_CORRUPT:
      write_file (s00, "\x89PNG\r\n\x1a\nxx", 10);
      break;
    case BREAK_REPORT_MISSING:
      g_remove (r02);
      break;
    case BREAK_REPORT_UTF8:
      write_file (r02, "the \xff mass", -1);
      break;
    case BREAK_NONE:
      break;
    }
}

static void
test_errors (void)
{
  static const struct {
    Break what;
    int code;
    const char *expect[3];
  } cases[] = {
    { BREAK_LABELS_FIELDS, PL_ERROR_FORMAT, { "labels.csv:3", "two comma-separated fields", "got 3" } },
    { BREAK_LABELS_DUPLICATE, PL_ERROR_FORMAT, { "labels.csv:4", "\"s00\" is listed again", "line 1" } },
    { BREAK_LABELS_PATH, PL_ERROR_FORMAT, { "labels.csv:2", "../s01", "plain" } },
    { BREAK_LABELS_MIXED, PL_ERROR_FORMAT, { "labels.csv:2", "mixes class ids and class names", NULL } },
    { BREAK_LABELS_MISSING, PL_ERROR_IO, { "labels.csv", NULL } },
    { BREAK_IMAGE_MISSING, PL_ERROR_NOT_FOUND, { "labels.csv:3", "s01.png", "s01.pgm" } },
    { BREAK_IMAGE_SIZE, PL_ERROR_DATA, { "s01.pgm is 2x2", "s00.png (the first image) is 8x8", NULL } },
    { BREAK_IMAGE_CORRUPT, PL_ERROR_FORMAT, { "s00.png", "truncated", NULL } },
    { BREAK_REPORT_MISSING, PL_ERROR_NOT_FOUND, { "labels.csv:4", "\"s02\" has no readable report", NULL } },
    { BREAK_REPORT_UTF8, PL_ERROR_FORMAT, { "s02.txt", "not UTF-8", "offset 4" } },
  };
  for (guint k = 0; k < G_N_ELEMENTS (cases); k++)
    {
      g_autofree char *dir = make_folder ("folder-broken", 6, FALSE);
      break_folder (dir, cases[k].what);
      g_autoptr (GError) error = NULL;
      PlRunData data = { 0 };
      g_assert_false (load (dir, "", "none", &data, NULL, &error));
      g_assert_nonnull (error);
      if (!g_error_matches (error, PL_ERROR, cases[k].code))
        g_error ("case %u: error %d \"%s\", expected code %d", k, error->code, error->message,
                 cases[k].code);
      for (guint j = 0; j < 3 && cases[k].expect[j]; j++)
        if (!strstr (error->message, cases[k].expect[j]))
          g_error ("case %u: \"%s\" lacks \"%s\"", k, error->message, cases[k].expect[j]);
      pl_run_data_clear (&data);
    }
}

static void
test_config_errors (void)
{
  g_autofree char *dir = make_folder ("folder-c", 6, FALSE);
  static const struct {
    const char *folder, *opts, *normalize;
    const char *expect[2];
  } cases[] = {
    { NULL, "", "none", { "paired-folder needs folder = PATH", "paired.ini:7" } },
    { "no-such-folder", "", "none", { "[dataset] folder", "is not a folder" } },
    { "folder-c", "", "standard", { "[data] normalize", "paired.ini:4" } },
    { "folder-c", "vocab-size=2\n", "none", { "vocab-size", "between 3 and 1000000" } },
  };
  for (guint k = 0; k < G_N_ELEMENTS (cases); k++)
    {
      g_autoptr (GError) error = NULL;
      PlRunData data = { 0 };
      g_assert_false (load (cases[k].folder, cases[k].opts, cases[k].normalize, &data, NULL,
                            &error));
      g_assert_nonnull (error);
      for (guint j = 0; j < 2; j++)
        if (!strstr (error->message, cases[k].expect[j]))
          g_error ("case %u: \"%s\" lacks \"%s\"", k, error->message, cases[k].expect[j]);
      pl_run_data_clear (&data);
    }
}

/* the fusion model trains on a folder: the words and the bright square both tell
 * the class here, so a short run gets the validation rows right */
static void
test_fusion_run (void)
{
  g_autofree char *dir = make_folder ("folder-run", 48, FALSE);
  g_autofree char *text = g_strdup_printf (
    "[experiment]\nseed=2\n[data]\nnormalize=none\nval-fraction=0.25\n"
    "[model]\ndropout=0\n[train]\nepochs=15\nbatch-size=8\noptimizer=adam\nlr=3e-3\n"
    "[dataset]\nplugin=paired-folder\nfolder=%s\nreport-length=8\n"
    "[arch]\nplugin=fusion-shared-attention\nmode=shared\nwidth=16\npatch=4\n", dir);
  g_autoptr (GError) error = NULL;
  g_autoptr (PlExperiment) exp = pl_experiment_load_data (text, -1, "run.ini", &error);
  g_assert_no_error (error);
  g_autoptr (PlPluginSelection) sel = pl_plugin_selection_new (engine (), exp, &error);
  g_assert_no_error (error);
  g_autoptr (PlRun) run = pl_run_new_with_plugins (exp, NULL, sel, &error);
  g_assert_no_error (error);
  g_assert_true (pl_run_execute (run, &error));
  g_assert_no_error (error);
  g_test_message ("val/acc %.3f val/f1 %.3f", pl_run_get_metric (run, "val/acc"),
                  pl_run_get_metric (run, "val/f1"));
  g_assert_cmpfloat (pl_run_get_metric (run, "val/acc"), ==, 1.0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  pl_test_tmpdir ();
  g_test_add_func ("/plugins/paired-folder/png", test_png_decode);
  g_test_add_func ("/plugins/paired-folder/pgm", test_pgm_decode);
  g_test_add_func ("/plugins/paired-folder/decode-errors", test_decode_errors);
  g_test_add_func ("/plugins/paired-folder/load", test_load);
  g_test_add_func ("/plugins/paired-folder/names-relative", test_names_and_relative);
  g_test_add_func ("/plugins/paired-folder/errors", test_errors);
  g_test_add_func ("/plugins/paired-folder/config-errors", test_config_errors);
  g_test_add_func ("/plugins/paired-folder/fusion-run", test_fusion_run);
  return g_test_run ();
}
