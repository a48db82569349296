#include "paramlab.h"
#include "pl-test-util.h"

#include <string.h>

/* --- helpers ------------------------------------------------------------------ */

static char *
fixture (const char *name)
{
  return g_build_filename (pl_test_srcdir (), "tests", "data", "dataset", name, NULL);
}

/* Writes data to a file in the test's temporary directory. (transfer full) */
static char *
write_tmp (const char *name, const void *data, gssize len)
{
  char *path = g_build_filename (pl_test_tmpdir (), name, NULL);
  GError *error = NULL;
  /* no fsync: these files are rewritten hundreds of times */
  g_remove (path);
  g_file_set_contents_full (path, data, len, G_FILE_SET_CONTENTS_NONE, 0644, &error);
  g_assert_no_error (error);
  return path;
}

static PlDataset *
load_csv_text (const char *text, int label_column, char **path_out, GError **error)
{
  g_autofree char *path = write_tmp ("t.csv", text, -1);
  PlDataset *ds = pl_dataset_load_csv (path, label_column, error);
  if (path_out)
    *path_out = g_steal_pointer (&path);
  return ds;
}

/* Asserts that error is set, has code, and its message holds every string of
 * the NULL-terminated list. */
static void
assert_error_has (const GError *error, int code, const char * const *parts,
                  const char *context)
{
  if (!error)
    g_error ("%s: expected an error, got success", context);
  if (error->domain != PL_ERROR || error->code != code)
    g_error ("%s: expected PL_ERROR code %d, got %s code %d: %s", context, code,
             g_quark_to_string (error->domain), error->code, error->message);
  for (const char * const *p = parts; p && *p; p++)
    if (!strstr (error->message, *p))
      g_error ("%s: message '%s' lacks '%s'", context, error->message, *p);
}

static PlDataset *
tagged_dataset (gsize n, gsize nf, int n_classes, const int *class_of_row)
{
  PlDataset *ds = pl_dataset_new (n, nf, n_classes);
  for (gsize i = 0; i < n; i++)
    {
      for (gsize j = 0; j < nf; j++)
        ds->x[i * nf + j] = (float) (i * 1000 + j);
      ds->y[i] = class_of_row ? class_of_row[i] : (int32_t) (i % n_classes);
    }
  return ds;
}

/* --- bundled datasets ----------------------------------------------------------- */

static void
test_builtin_digits (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PlDataset) ds = pl_dataset_load_builtin ("digits", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ds->name, ==, "digits");
  g_assert_cmpuint (ds->n, ==, 1797);
  g_assert_cmpuint (ds->n_features, ==, 64);
  g_assert_cmpint (ds->n_classes, ==, 10);
  g_assert_cmpint (ds->sample_shape[0], ==, 1);
  g_assert_cmpint (ds->sample_shape[1], ==, 8);
  g_assert_cmpint (ds->sample_shape[2], ==, 8);
  g_assert_null (ds->feature_names);
  g_assert_cmpuint (g_strv_length (ds->class_names), ==, 10);
  g_assert_cmpstr (ds->class_names[7], ==, "7");

  /* first row of the file: 0,0,5,13,9,1,0,0,... label 0 */
  static const float row0[8] = { 0, 0, 5, 13, 9, 1, 0, 0 };
  for (int j = 0; j < 8; j++)
    g_assert_cmpfloat (ds->x[j], ==, row0[j]);
  g_assert_cmpint (ds->y[0], ==, 0);
  for (gsize i = 0; i < ds->n * ds->n_features; i++)
    g_assert_true (ds->x[i] >= 0 && ds->x[i] <= 16 && ds->x[i] == floorf (ds->x[i]));

  static const gsize expect[10] = { 178, 182, 177, 183, 181, 182, 181, 179, 174, 180 };
  gsize counts[10];
  pl_dataset_class_counts (ds, counts);
  for (int c = 0; c < 10; c++)
    g_assert_cmpuint (counts[c], ==, expect[c]);
}

static void
test_builtin_breast_cancer (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PlDataset) ds = pl_dataset_load_builtin ("breast-cancer", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ds->name, ==, "breast-cancer");
  g_assert_cmpuint (ds->n, ==, 569);
  g_assert_cmpuint (ds->n_features, ==, 30);
  g_assert_cmpint (ds->n_classes, ==, 2);
  g_assert_cmpint (ds->sample_shape[0], ==, 30);
  g_assert_cmpuint (g_strv_length (ds->feature_names), ==, 30);
  g_assert_cmpstr (ds->feature_names[0], ==, "mean radius");
  g_assert_cmpstr (ds->feature_names[10], ==, "radius error");
  g_assert_cmpstr (ds->feature_names[29], ==, "worst fractal dimension");
  g_assert_cmpstr (ds->class_names[0], ==, "malignant");
  g_assert_cmpstr (ds->class_names[1], ==, "benign");
  pl_assert_close (ds->x[0], 17.99, 1e-5, 0);
  pl_assert_close (ds->x[3], 1001, 1e-3, 0);
  g_assert_cmpint (ds->y[0], ==, 0);
  g_assert_cmpint (ds->y[568], ==, 1);
  gsize counts[2];
  pl_dataset_class_counts (ds, counts);
  g_assert_cmpuint (counts[0], ==, 212);
  g_assert_cmpuint (counts[1], ==, 357);
}

static void
test_builtin_names (void)
{
  const char * const *names = pl_dataset_builtin_names ();
  g_assert_cmpuint (g_strv_length ((char **) names), ==, 2);
  g_assert_true (g_strv_contains (names, "digits"));
  g_assert_true (g_strv_contains (names, "breast-cancer"));
  for (const char * const *n = names; *n; n++)
    {
      const char *desc = pl_dataset_builtin_description (*n);
      g_assert_nonnull (desc);
      g_assert_null (strchr (desc, '\n'));
      g_assert_cmpuint (strlen (desc), >, 20);
    }
  g_assert_null (pl_dataset_builtin_description ("mnist"));

  g_autoptr(GError) error = NULL;
  g_assert_null (pl_dataset_load_builtin ("mnist", &error));
  assert_error_has (error, PL_ERROR_NOT_FOUND,
                    (const char *[]) { "mnist", "digits", "breast-cancer", NULL },
                    "unknown builtin");
}

static void
test_data_dir_env (void)
{
  g_autofree char *root = g_build_filename (pl_test_tmpdir (), "datadir", NULL);
  g_autofree char *sets = g_build_filename (root, "datasets", NULL);
  g_assert_cmpint (g_mkdir_with_parents (sets, 0700), ==, 0);
  g_autofree char *digits = g_build_filename (sets, "digits.csv", NULL);

  g_setenv ("PARAMLAB_DATA_DIR", root, TRUE);
  g_assert_cmpstr (pl_data_dir (), ==, root);

  /* a file of the wrong shape in the overridden dir is the one that is read */
  g_assert_true (g_file_set_contents (digits, "1,2,0\n3,4,1\n", -1, NULL));
  g_autoptr(GError) error = NULL;
  g_assert_null (pl_dataset_load_builtin ("digits", &error));
  assert_error_has (error, PL_ERROR_DATA,
                    (const char *[]) { digits, "64 features", NULL }, "data dir");
  g_clear_error (&error);

  /* a well-formed 64-pixel, 10-class file loads with the digits shape */
  GString *s = g_string_new (NULL);
  for (int i = 0; i < 10; i++)
    {
      for (int j = 0; j < 64; j++)
        g_string_append_printf (s, "%d,", (i + j) % 17);
      g_string_append_printf (s, "%d\n", i);
    }
  g_assert_true (g_file_set_contents (digits, s->str, -1, NULL));
  g_string_free (s, TRUE);
  g_autoptr(PlDataset) ds = pl_dataset_load_builtin ("digits", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ds->n, ==, 10);
  g_assert_cmpint (ds->sample_shape[1], ==, 8);

  g_unsetenv ("PARAMLAB_DATA_DIR");
  g_assert_cmpstr (pl_data_dir (), !=, root);
  g_autofree char *real = g_build_filename (pl_data_dir (), "datasets", "digits.csv",
                                            NULL);
  g_assert_true (g_file_test (real, G_FILE_TEST_IS_REGULAR));
}

/* --- CSV ------------------------------------------------------------------------ */

typedef struct {
  const char *name;
  const char *text;
  int label_column;
  gsize n, nf;
  int n_classes;
  const char *feature_names[4];  /* NULL-terminated; empty = no header */
  const char *class_names[4];    /* NULL-terminated; empty = numeric labels */
  float x[8];                    /* the first n * nf values */
  int32_t y[4];
} CsvCase;

static const CsvCase csv_cases[] = {
  { "no header", "1,2,0\n3,4,1\n", -1, 2, 2, 2, { NULL }, { NULL },
    { 1, 2, 3, 4 }, { 0, 1 } },
  { "header", "a,b,label\n1,2,0\n3,4,2\n", -1, 2, 2, 3, { "a", "b", NULL }, { NULL },
    { 1, 2, 3, 4 }, { 0, 2 } },
  { "numeric feature names", "0,1,label\n1,2,0\n3,4,1\n", -1, 2, 2, 2,
    { "0", "1", NULL }, { NULL }, { 1, 2, 3, 4 }, { 0, 1 } },
  { "string labels, no header", "1.5,2,cat\n3,4,dog\n5,6,cat\n", -1, 3, 2, 2,
    { NULL }, { "cat", "dog", NULL }, { 1.5, 2, 3, 4, 5, 6 }, { 0, 1, 0 } },
  { "string labels, header", "x1,x2,species\n1,2,setosa\n3,4,virginica\n"
    "5,6,versicolor\n", -1, 3, 2, 3, { "x1", "x2", NULL },
    { "setosa", "virginica", "versicolor", NULL }, { 1, 2, 3, 4, 5, 6 },
    { 0, 1, 2 } },
  { "label first", "label,a,b\n1,5,6\n0,7,8\n", 0, 2, 2, 2, { "a", "b", NULL },
    { NULL }, { 5, 6, 7, 8 }, { 1, 0 } },
  { "label middle", "1,9,2\n3,8,4\n", 1, 2, 2, 10, { NULL }, { NULL },
    { 1, 2, 3, 4 }, { 9, 8 } },
  { "integral float labels", "1,2,0.0\n3,4,1e0\n", -1, 2, 2, 2, { NULL }, { NULL },
    { 1, 2, 3, 4 }, { 0, 1 } },
  { "quoted", "\"a,1\",\"say \"\"hi\"\"\",\"y\"\n\"1.25\", 2 ,\"1\"\n", -1, 1, 2, 2,
    { "a,1", "say \"hi\"", NULL }, { NULL }, { 1.25, 2 }, { 1 } },
  { "quoted newline", "\"multi\nline\",b,y\n1,2,0\n", -1, 1, 2, 1,
    { "multi\nline", "b", NULL }, { NULL }, { 1, 2 }, { 0 } },
  { "crlf, blanks, bom", "\xef\xbb\xbf" "a , b,y\r\n\r\n  1 ,\t2,1\r\n\n   \n3,4,0",
    -1, 2, 2, 2, { "a", "b", NULL }, { NULL }, { 1, 2, 3, 4 }, { 1, 0 } },
  { "number forms", "-1.5e-3,+7,0\n.5,1E+2,1\n", -1, 2, 2, 2, { NULL }, { NULL },
    { -1.5e-3f, 7, 0.5f, 100 }, { 0, 1 } },
  { "long numbers", "0.1234567890123456789012,1e-320,0\n", -1, 1, 2, 1, { NULL },
    { NULL }, { 0.12345679f, 0 }, { 0 } },
};

static void
test_csv_cases (void)
{
  for (gsize t = 0; t < G_N_ELEMENTS (csv_cases); t++)
    {
      const CsvCase *c = &csv_cases[t];
      g_autoptr(GError) error = NULL;
      g_test_message ("case: %s", c->name);
      g_autoptr(PlDataset) ds = load_csv_text (c->text, c->label_column, NULL,
                                               &error);
      g_assert_no_error (error);
      g_assert_cmpstr (ds->name, ==, "t");
      g_assert_cmpuint (ds->n, ==, c->n);
      g_assert_cmpuint (ds->n_features, ==, c->nf);
      g_assert_cmpint (ds->n_classes, ==, c->n_classes);
      g_assert_cmpint (ds->sample_shape[0], ==, (int) c->nf);
      for (gsize i = 0; i < c->n * c->nf; i++)
        g_assert_cmpfloat (ds->x[i], ==, c->x[i]);
      for (gsize i = 0; i < c->n; i++)
        g_assert_cmpint (ds->y[i], ==, c->y[i]);
      if (c->feature_names[0])
        g_assert_true (g_strv_equal ((const char * const *) ds->feature_names,
                                     c->feature_names));
      else
        g_assert_null (ds->feature_names);
      if (c->class_names[0])
        g_assert_true (g_strv_equal ((const char * const *) ds->class_names,
                                     c->class_names));
      else
        g_assert_null (ds->class_names);
    }
}

typedef struct {
  const char *name;
  const char *text;
  int label_column;
  int code;
  const char *parts[5];
} CsvErrorCase;

static const CsvErrorCase csv_errors[] = {
  { "ragged short", "1,2,0\n3,4,1\n5,6\n", -1, PL_ERROR_FORMAT,
    { ":3:", "2 columns, expected 3", "column 3 is missing", NULL } },
  { "ragged long", "a,b,y\n1,2,0\n5,6,7,1\n", -1, PL_ERROR_FORMAT,
    { ":3:", "4 columns", "column 4 is extra", NULL } },
  { "ragged after blank lines", "1,2,0\n\n\n3,4\n", -1, PL_ERROR_FORMAT,
    { ":4:", "column 3", NULL } },
  { "not a number", "a,b,y\n1,2,0\nx1,3,1\n", -1, PL_ERROR_FORMAT,
    { ":3:", "column 1 (\"a\")", "expected a number", "'x1'", NULL } },
  { "not a number, no header", "1,2,0\n3,4x,1\n", -1, PL_ERROR_FORMAT,
    { ":2:", "column 2", "'4x'", NULL } },
  { "nan", "1,2,0\n3,nan,1\n", -1, PL_ERROR_FORMAT,
    { ":2:", "column 2", "NaN", NULL } },
  { "inf", "1,2,0\n-inf,2,1\n", -1, PL_ERROR_FORMAT,
    { ":2:", "column 1", "infinite", NULL } },
  { "float overflow", "1,2,0\n1e39,2,1\n", -1, PL_ERROR_FORMAT,
    { ":2:", "column 1", "out of float range", NULL } },
  { "empty cell", "1,2,0\n3,,1\n", -1, PL_ERROR_FORMAT,
    { ":2:", "column 2", "empty value", NULL } },
  { "empty file", "", -1, PL_ERROR_DATA, { ":1:", "empty file", NULL } },
  { "blank lines only", "\n  \r\n\n", -1, PL_ERROR_DATA, { "empty file", NULL } },
  { "header only", "a,b,y\n", -1, PL_ERROR_DATA, { "no data rows", NULL } },
  { "label column too big", "1,2,0\n", 3, PL_ERROR_DATA,
    { ":1:", "label column 3", "out of range", "3 columns", NULL } },
  { "label column negative", "1,2,0\n", -2, PL_ERROR_DATA,
    { "label column -2", "out of range", NULL } },
  { "fractional label", "1,2,0\n3,4,0.5\n", -1, PL_ERROR_DATA,
    { ":2:", "column 3 (the label)", "'0.5'", "not an integer", NULL } },
  { "negative label", "a,b,y\n1,2,0\n3,4,-1\n", -1, PL_ERROR_DATA,
    { ":3:", "column 3 (\"y\", the label)", "negative", NULL } },
  { "huge label", "1,2,0\n3,4,99999999\n", -1, PL_ERROR_DATA,
    { ":2:", "too large", NULL } },
  { "empty label", "1,2,cat\n3,4,\n", -1, PL_ERROR_FORMAT,
    { ":2:", "column 3", "expected a class label", NULL } },
  { "unterminated quote", "1,2,0\n3,\"4,1\n", -1, PL_ERROR_FORMAT,
    { ":2:", "column 2", "never closed", NULL } },
  { "junk after quote", "1,2,0\n\"3\"x,4,1\n", -1, PL_ERROR_FORMAT,
    { ":2:", "column 1", "after a closing quote", NULL } },
  { "one column", "1\n2\n", -1, PL_ERROR_FORMAT, { ":1:", "at least 2", NULL } },
};

static void
test_csv_errors (void)
{
  for (gsize t = 0; t < G_N_ELEMENTS (csv_errors); t++)
    {
      const CsvErrorCase *c = &csv_errors[t];
      g_autoptr(GError) error = NULL;
      g_autofree char *path = NULL;
      PlDataset *ds = load_csv_text (c->text, c->label_column, &path, &error);
      g_assert_null (ds);
      assert_error_has (error, c->code, c->parts, c->name);
      /* every message names the file */
      assert_error_has (error, c->code, (const char *[]) { path, NULL }, c->name);
    }

  g_autoptr(GError) error = NULL;
  g_autofree char *missing = g_build_filename (pl_test_tmpdir (), "nope.csv", NULL);
  g_assert_null (pl_dataset_load_csv (missing, -1, &error));
  assert_error_has (error, PL_ERROR_IO, (const char *[]) { missing, NULL }, "missing");
}

/* A 20000 x 50 file parses in well under a second (the bound here is loose
 * for shared machines; the parser does no per-cell allocation). */
static void
test_csv_large (void)
{
  const int rows = 20000, cols = 50;
  GString *s = g_string_sized_new ((gsize) rows * cols * 8);
  for (int c = 0; c < cols; c++)
    g_string_append_printf (s, "f%d,", c);
  g_string_append (s, "label\n");
  for (int i = 0; i < rows; i++)
    {
      for (int c = 0; c < cols; c++)
        g_string_append_printf (s, "%d.%02d,", (i + c) % 1000, c);
      g_string_append_printf (s, "%d\n", i % 7);
    }
  g_autofree char *path = write_tmp ("large.csv", s->str, s->len);
  g_string_free (s, TRUE);

  g_autoptr(GError) error = NULL;
  gint64 t0 = g_get_monotonic_time ();
  g_autoptr(PlDataset) ds = pl_dataset_load_csv (path, -1, &error);
  double secs = (g_get_monotonic_time () - t0) / 1e6;
  g_assert_no_error (error);
  g_test_message ("20000 x 50 CSV parsed in %.3f s", secs);
  g_assert_cmpfloat (secs, <, 3.0);
  g_assert_cmpuint (ds->n, ==, rows);
  g_assert_cmpuint (ds->n_features, ==, cols);
  g_assert_cmpint (ds->n_classes, ==, 7);
  g_assert_cmpstr (ds->feature_names[49], ==, "f49");
  pl_assert_close (ds->x[(gsize) 12345 * cols + 7], (12345 + 7) % 1000 + 0.07, 1e-4, 0);
  g_assert_cmpint (ds->y[12345], ==, 12345 % 7);
  g_remove (path);
}

/* --- NPY ---------------------------------------------------------------------- */

static PlDataset *
load_npy_fixtures (const char *x, const char *y, GError **error)
{
  g_autofree char *xp = fixture (x);
  g_autofree char *yp = y ? fixture (y) : NULL;
  return pl_dataset_load_npy (xp, yp, error);
}

static void
test_npy_dtypes (void)
{
  static const char *tags[] = { "f4", "f8", "i1", "u1", "i2", "u2", "i4", "u4",
                                "i8", "u8", "b1" };
  for (gsize t = 0; t < G_N_ELEMENTS (tags); t++)
    {
      const char *tag = tags[t];
      g_autofree char *xn = g_strdup_printf ("x-%s.npy", tag);
      g_autofree char *yn = g_strdup_printf ("y-%s.npy", tag);
      g_autoptr(GError) error = NULL;
      g_test_message ("dtype %s", tag);
      g_autoptr(PlDataset) ds = load_npy_fixtures (xn, yn, &error);
      g_assert_no_error (error);
      g_assert_true (g_str_has_prefix (xn, ds->name));
      g_assert_cmpuint (ds->n, ==, 4);
      g_assert_cmpuint (ds->n_features, ==, 3);
      gboolean is_bool = tag[0] == 'b', is_signed = tag[0] == 'i';
      /* x[i, j] = 3 i + j, minus 6 when signed, mod 2 when bool */
      for (int i = 0; i < 12; i++)
        {
          float want = is_bool ? i % 2 : is_signed ? i - 6 : i;
          g_assert_cmpfloat (ds->x[i], ==, want);
        }
      static const int32_t y[4] = { 0, 1, 2, 1 };
      for (int i = 0; i < 4; i++)
        g_assert_cmpint (ds->y[i], ==, is_bool ? y[i] % 2 : y[i]);
      g_assert_cmpint (ds->n_classes, ==, is_bool ? 2 : 3);
    }
}

static void
test_npy_versions_and_shapes (void)
{
  for (int v = 1; v <= 3; v++)
    {
      g_autofree char *xn = g_strdup_printf ("x-v%d.npy", v);
      g_autoptr(GError) error = NULL;
      g_autoptr(PlDataset) ds = load_npy_fixtures (xn, "y-i8.npy", &error);
      g_assert_no_error (error);
      g_assert_cmpuint (ds->n, ==, 4);
      for (int i = 0; i < 12; i++)
        g_assert_cmpfloat (ds->x[i], ==, i / 4.0f);
    }

  g_autoptr(GError) error = NULL;
  g_autoptr(PlDataset) d3 = load_npy_fixtures ("x-3d.npy", "y-5.npy", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (d3->n, ==, 5);
  g_assert_cmpuint (d3->n_features, ==, 6);
  g_assert_cmpint (d3->sample_shape[0], ==, 1);
  g_assert_cmpint (d3->sample_shape[1], ==, 2);
  g_assert_cmpint (d3->sample_shape[2], ==, 3);
  g_assert_cmpfloat (d3->x[29], ==, 29);
  g_assert_cmpint (d3->y[4], ==, 1);

  g_autoptr(PlDataset) d4 = load_npy_fixtures ("x-4d.npy", "y-5.npy", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (d4->n_features, ==, 12);
  g_assert_cmpint (d4->sample_shape[0], ==, 3);
  g_assert_cmpint (d4->sample_shape[1], ==, 2);
  g_assert_cmpint (d4->sample_shape[2], ==, 2);

  g_autoptr(PlDataset) col = load_npy_fixtures ("x-f4.npy", "y-col.npy", &error);
  g_assert_no_error (error);
  g_assert_cmpint (col->y[2], ==, 2);

  /* without labels file: last column of a 2-D array */
  g_autoptr(PlDataset) xy = load_npy_fixtures ("xy.npy", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (xy->n, ==, 3);
  g_assert_cmpuint (xy->n_features, ==, 2);
  g_assert_cmpint (xy->n_classes, ==, 2);
  static const float want[6] = { 0.5, 1.5, 2.5, 3.5, 4.5, 5.5 };
  for (int i = 0; i < 6; i++)
    g_assert_cmpfloat (xy->x[i], ==, want[i]);
  g_assert_cmpint (xy->y[0], ==, 0);
  g_assert_cmpint (xy->y[2], ==, 1);
}

/* Writes a .npy with the given version, header dict text and data. */
static char *
write_npy (const char *name, int major, const char *dict, const void *data,
           gsize len)
{
  GByteArray *b = g_byte_array_new ();
  g_byte_array_append (b, (const guint8 *) "\x93NUMPY", 6);
  guint8 ver[2] = { major, 0 };
  g_byte_array_append (b, ver, 2);
  gsize pre = major == 1 ? 10 : 12;
  g_autoptr(GString) h = g_string_new (dict);
  while ((pre + h->len + 1) % 64)
    g_string_append_c (h, ' ');
  g_string_append_c (h, '\n');
  guint8 hl[4] = { h->len & 0xff, (h->len >> 8) & 0xff, 0, 0 };
  g_byte_array_append (b, hl, major == 1 ? 2 : 4);
  g_byte_array_append (b, (const guint8 *) h->str, h->len);
  g_byte_array_append (b, data, len);
  char *path = write_tmp (name, b->data, b->len);
  g_byte_array_unref (b);
  return path;
}

typedef struct {
  const char *name;
  const char *x, *y;      /* fixtures */
  int code;
  const char *parts[4];
} NpyErrorCase;

static const NpyErrorCase npy_errors[] = {
  { "big-endian", "big-endian.npy", "y-i8.npy", PL_ERROR_FORMAT,
    { "big-endian.npy", "'>f4'", "big-endian", NULL } },
  { "fortran", "fortran.npy", "y-i8.npy", PL_ERROR_FORMAT,
    { "fortran.npy", "fortran_order", NULL } },
  { "float label", "x-f4.npy", "y-float.npy", PL_ERROR_DATA,
    { "y-float.npy", "label 1.5", "sample 1", NULL } },
  { "negative label", "x-f4.npy", "y-negative.npy", PL_ERROR_DATA,
    { "y-negative.npy", "label -1", NULL } },
  { "nan feature", "x-nan.npy", "y-i8.npy", PL_ERROR_DATA,
    { "x-nan.npy", "sample 1 feature 1", "NaN", NULL } },
  { "unicode dtype", "x-unicode.npy", "y-i8.npy", PL_ERROR_FORMAT,
    { "x-unicode.npy", "dtype '<U1'", NULL } },
  { "row count mismatch", "x-f4.npy", "y-5.npy", PL_ERROR_SHAPE,
    { "y-5.npy", "(5,)", "(4, 3)", NULL } },
  { "labels as features", "x-f4.npy", "x-f4.npy", PL_ERROR_SHAPE,
    { "expected (4,)", NULL } },
  { "3-d without labels", "x-3d.npy", NULL, PL_ERROR_SHAPE,
    { "x-3d.npy", "(5, 2, 3)", "last column", NULL } },
  { "missing file", "does-not-exist.npy", NULL, PL_ERROR_IO,
    { "does-not-exist.npy", NULL } },
};

static void
test_npy_errors (void)
{
  for (gsize t = 0; t < G_N_ELEMENTS (npy_errors); t++)
    {
      const NpyErrorCase *c = &npy_errors[t];
      g_autoptr(GError) error = NULL;
      g_assert_null (load_npy_fixtures (c->x, c->y, &error));
      assert_error_has (error, c->code, c->parts, c->name);
    }

  /* hand-made headers */
  static const struct {
    const char *name;
    int major;
    const char *dict;
    gsize data_len;
    const char *part;
  } bad[] = {
    { "not a dict", 1, "['descr', '<f4']", 8, "not a dict literal" },
    { "garbage", 1, "hello", 8, "not a dict literal" },
    { "missing shape", 1, "{'descr': '<f4', 'fortran_order': False}", 8,
      "lacks 'shape'" },
    { "extra key", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), "
      "'x': 1}", 8, "unexpected or repeated key 'x'" },
    { "repeated key", 1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False,"
      " 'shape': (2,)}", 8, "repeated key 'descr'" },
    { "structured", 1, "{'descr': [('a', '<f4')], 'fortran_order': False, "
      "'shape': (2,)}", 8, "structured dtype" },
    { "bad bool", 1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}", 8,
      "True or False" },
    { "after brace", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x",
      8, "only padding" },
    { "half precision", 1, "{'descr': '<f2', 'fortran_order': False, "
      "'shape': (2,)}", 4, "dtype '<f2'" },
    { "trailing data", 2, "{'descr': '<f4', 'fortran_order': False, "
      "'shape': (2,)}", 12, "4 bytes after the array" },
    { "short data", 3, "{'descr': '<f4', 'fortran_order': False, "
      "'shape': (3,)}", 8, "truncated data: 8 bytes, expected 3 x 4" },
    { "huge shape", 1, "{'descr': '<f8', 'fortran_order': False, "
      "'shape': (4294967296, 4294967296)}", 8, "too large" },
    { "scalar", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': ()}", 4,
      "expected [n_samples" },
    { "no samples", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3)}",
      0, "n_samples > 0" },
  };
  static const float data[4] = { 0 };
  for (gsize t = 0; t < G_N_ELEMENTS (bad); t++)
    {
      g_autofree char *path = write_npy ("bad.npy", bad[t].major, bad[t].dict, data,
                                         bad[t].data_len);
      g_autoptr(GError) error = NULL;
      g_assert_null (pl_dataset_load_npy (path, NULL, &error));
      if (!error)
        g_error ("%s: loaded", bad[t].name);
      if (!strstr (error->message, bad[t].part) || !strstr (error->message, path))
        g_error ("%s: message '%s' lacks '%s' or the path", bad[t].name,
                 error->message, bad[t].part);
    }

  g_autoptr(GError) error = NULL;
  g_autofree char *magic = write_tmp ("magic.npy", "\x93NUMPZ\x01\x00", 8);
  g_assert_null (pl_dataset_load_npy (magic, NULL, &error));
  assert_error_has (error, PL_ERROR_FORMAT, (const char *[]) { magic, "bad magic", NULL },
                    "magic");
  g_clear_error (&error);
  g_autofree char *ver = write_tmp ("ver.npy", "\x93NUMPY\x04\x00\x00\x00", 10);
  g_assert_null (pl_dataset_load_npy (ver, NULL, &error));
  assert_error_has (error, PL_ERROR_FORMAT, (const char *[]) { "version 4.0", NULL },
                    "version");
}

/* Every prefix of a valid file is rejected with a message naming the file. */
static void
check_prefixes (const char *fixture_name, gboolean npz)
{
  g_autofree char *src = fixture (fixture_name);
  g_autofree char *yp = fixture ("y-i8.npy");
  g_autofree char *contents = NULL;
  gsize len;
  g_assert_true (g_file_get_contents (src, &contents, &len, NULL));
  g_autofree char *name = g_strdup_printf ("cut-%s", fixture_name);
  for (gsize cut = 0; cut < len; cut++)
    {
      g_autofree char *path = write_tmp (name, contents, cut);
      g_autoptr(GError) error = NULL;
      PlDataset *ds = npz ? pl_dataset_load_npz (path, &error)
                          : pl_dataset_load_npy (path, yp, &error);
      if (ds)
        g_error ("%s cut at %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " loaded",
                 fixture_name, cut, len);
      g_assert_error (error, PL_ERROR, error->code);
      g_assert_nonnull (strstr (error->message, path));
    }
}

static void
test_npy_truncated (void)
{
  check_prefixes ("x-f4.npy", FALSE);
  check_prefixes ("x-v2.npy", FALSE);
  check_prefixes ("x-v3.npy", FALSE);
  check_prefixes ("x-u8.npy", FALSE);
}

/* --- NPZ ------------------------------------------------------------------------ */

static void
test_npz_load (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *stored = fixture ("stored.npz");
  g_autoptr(PlDataset) s = pl_dataset_load_npz (stored, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (s->name, ==, "stored");
  g_assert_cmpuint (s->n, ==, 4);
  g_assert_cmpuint (s->n_features, ==, 3);
  for (int i = 0; i < 12; i++)
    g_assert_cmpfloat (s->x[i], ==, i / 4.0f);
  g_assert_cmpint (s->y[2], ==, 2);

  g_autofree char *deflated = fixture ("deflated.npz");
  g_autoptr(PlDataset) d = pl_dataset_load_npz (deflated, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (d->n, ==, 100);
  g_assert_cmpuint (d->n_features, ==, 3);
  g_assert_cmpint (d->n_classes, ==, 3);
  for (int i = 0; i < 300; i++)
    g_assert_cmpfloat (d->x[i], ==, i);
  for (int i = 0; i < 100; i++)
    g_assert_cmpint (d->y[i], ==, i % 3);

  g_autofree char *dt = fixture ("data-target.npz");
  g_autoptr(PlDataset) t = pl_dataset_load_npz (dt, &error);
  g_assert_no_error (error);
  g_assert_cmpint (t->y[1], ==, 1);

  g_autofree char *nol = fixture ("no-labels.npz");
  g_assert_null (pl_dataset_load_npz (nol, &error));
  assert_error_has (error, PL_ERROR_NOT_FOUND,
                    (const char *[]) { nol, "x, X, data or features", "inputs.npy",
                                       "outputs.npy", NULL }, "no x");
  g_clear_error (&error);

  g_autofree char *npy = fixture ("x-f4.npy");
  g_assert_null (pl_dataset_load_npz (npy, &error));
  assert_error_has (error, PL_ERROR_FORMAT,
                    (const char *[]) { npy, "not a valid .npz", NULL }, "not zip");
}

static void
test_npz_corrupt (void)
{
  check_prefixes ("stored.npz", TRUE);
  check_prefixes ("deflated.npz", TRUE);

  /* flipping any single byte never crashes; in member data it is always caught */
  g_autofree char *src = fixture ("deflated.npz");
  g_autofree char *contents = NULL;
  gsize len;
  g_assert_true (g_file_get_contents (src, &contents, &len, NULL));
  int rejected = 0;
  for (gsize i = 0; i < len; i++)
    {
      g_autofree char *copy = g_memdup2 (contents, len);
      copy[i] ^= 0x5a;
      g_autofree char *path = write_tmp ("flip.npz", copy, len);
      g_autoptr(GError) error = NULL;
      g_autoptr(PlDataset) ds = pl_dataset_load_npz (path, &error);
      g_assert_true ((ds == NULL) == (error != NULL));
      rejected += ds == NULL;
    }
  g_assert_cmpint (rejected, >, (int) len / 2);

  /* a flipped byte in the stored data of x.npy: caught by the CRC */
  g_autofree char *st = fixture ("stored.npz");
  g_autofree char *sc = NULL;
  g_assert_true (g_file_get_contents (st, &sc, &len, NULL));
  sc[0x60] ^= 0x01;  /* inside x.npy's header text */
  g_autofree char *path = write_tmp ("crc.npz", sc, len);
  g_autoptr(GError) error = NULL;
  g_assert_null (pl_dataset_load_npz (path, &error));
  assert_error_has (error, PL_ERROR_FORMAT,
                    (const char *[]) { path, "x.npy", "CRC-32", NULL }, "crc");
}

/* A zip written by hand: stored members, optionally with zip64 extra fields in
 * the central directory and a zip64 end record, as large archives have. */
static guint32
test_crc32 (const guint8 *p, gsize n)
{
  guint32 c = 0xffffffffu;
  for (gsize i = 0; i < n; i++)
    {
      c ^= p[i];
      for (int k = 0; k < 8; k++)
        c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    }
  return ~c;
}

static void
put16 (GByteArray *b, guint v)
{
  guint8 p[2] = { v & 0xff, (v >> 8) & 0xff };
  g_byte_array_append (b, p, 2);
}

static void
put32 (GByteArray *b, guint32 v)
{
  put16 (b, v & 0xffff);
  put16 (b, v >> 16);
}

static void
put64 (GByteArray *b, guint64 v)
{
  put32 (b, (guint32) v);
  put32 (b, (guint32) (v >> 32));
}

static char *
write_zip (const char *name, const char * const *names, GBytes **members, int n,
           gboolean zip64)
{
  GByteArray *b = g_byte_array_new ();
  guint32 offsets[8], crcs[8];
  for (int i = 0; i < n; i++)
    {
      gsize sz;
      const guint8 *d = g_bytes_get_data (members[i], &sz);
      offsets[i] = b->len;
      crcs[i] = test_crc32 (d, sz);
      put32 (b, 0x04034b50);
      put16 (b, 20); put16 (b, 0); put16 (b, 0); put16 (b, 0); put16 (b, 0);
      put32 (b, crcs[i]); put32 (b, sz); put32 (b, sz);
      put16 (b, strlen (names[i])); put16 (b, 0);
      g_byte_array_append (b, (const guint8 *) names[i], strlen (names[i]));
      g_byte_array_append (b, d, sz);
    }
  guint32 cd_off = b->len;
  for (int i = 0; i < n; i++)
    {
      gsize sz = g_bytes_get_size (members[i]);
      put32 (b, 0x02014b50);
      put16 (b, 45); put16 (b, 45); put16 (b, 0); put16 (b, 0); put16 (b, 0);
      put16 (b, 0);
      put32 (b, crcs[i]);
      put32 (b, zip64 ? 0xffffffffu : sz);
      put32 (b, zip64 ? 0xffffffffu : sz);
      put16 (b, strlen (names[i]));
      put16 (b, zip64 ? 4 + 24 : 0);
      put16 (b, 0); put16 (b, 0); put16 (b, 0); put32 (b, 0);
      put32 (b, zip64 ? 0xffffffffu : offsets[i]);
      g_byte_array_append (b, (const guint8 *) names[i], strlen (names[i]));
      if (zip64)
        {
          put16 (b, 1); put16 (b, 24);
          put64 (b, sz); put64 (b, sz); put64 (b, offsets[i]);
        }
    }
  guint32 cd_size = b->len - cd_off;
  if (zip64)
    {
      guint32 z = b->len;
      put32 (b, 0x06064b50); put64 (b, 44); put16 (b, 45); put16 (b, 45);
      put32 (b, 0); put32 (b, 0); put64 (b, n); put64 (b, n);
      put64 (b, cd_size); put64 (b, cd_off);
      put32 (b, 0x07064b50); put32 (b, 0); put64 (b, z); put32 (b, 1);
    }
  put32 (b, 0x06054b50); put16 (b, 0); put16 (b, 0);
  put16 (b, zip64 ? 0xffff : n); put16 (b, zip64 ? 0xffff : n);
  put32 (b, zip64 ? 0xffffffffu : cd_size); put32 (b, zip64 ? 0xffffffffu : cd_off);
  put16 (b, 0);
  char *path = write_tmp (name, b->data, b->len);
  g_byte_array_unref (b);
  return path;
}

static GBytes *
fixture_bytes (const char *name)
{
  g_autofree char *p = fixture (name);
  char *c;
  gsize len;
  g_assert_true (g_file_get_contents (p, &c, &len, NULL));
  return g_bytes_new_take (c, len);
}

static void
test_npz_zip64 (void)
{
  GBytes *m[2] = { fixture_bytes ("x-f8.npy"), fixture_bytes ("y-u1.npy") };
  const char *names[] = { "features.npy", "target.npy" };
  for (int zip64 = 0; zip64 <= 1; zip64++)
    {
      g_autofree char *path = write_zip ("hand.npz", names, m, 2, zip64);
      g_autoptr(GError) error = NULL;
      g_autoptr(PlDataset) ds = pl_dataset_load_npz (path, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (ds->n, ==, 4);
      g_assert_cmpfloat (ds->x[11], ==, 11);
      g_assert_cmpint (ds->y[3], ==, 1);
    }
  g_bytes_unref (m[0]);
  g_bytes_unref (m[1]);
}

/* --- splits ---------------------------------------------------------------------- */

static void
test_split (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(PlDataset) digits = pl_dataset_load_builtin ("digits", &error);
  g_assert_no_error (error);

  g_autoptr(PlDataset) tr = NULL, va = NULL;
  g_assert_true (pl_dataset_split (digits, 0.2, 1, &tr, &va, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (va->n, ==, 359);  /* round(0.2 * 1797) */
  g_assert_cmpuint (tr->n, ==, 1797 - 359);
  g_assert_cmpint (tr->sample_shape[1], ==, 8);
  g_assert_cmpstr (va->class_names[3], ==, "3");

  gsize all[10], vc[10];
  pl_dataset_class_counts (digits, all);
  pl_dataset_class_counts (va, vc);
  for (int c = 0; c < 10; c++)
    {
      g_assert_cmpuint (vc[c], >=, (gsize) floor (0.2 * all[c]));
      g_assert_cmpuint (vc[c], <=, (gsize) ceil (0.2 * all[c]));
    }

  /* same seed, same split; another seed, another split */
  g_autoptr(PlDataset) tr2 = NULL, va2 = NULL, tr3 = NULL, va3 = NULL;
  g_assert_true (pl_dataset_split (digits, 0.2, 1, &tr2, &va2, NULL));
  g_assert_true (pl_dataset_split (digits, 0.2, 2, &tr3, &va3, NULL));
  g_assert_cmpmem (va->x, va->n * 64 * 4, va2->x, va2->n * 64 * 4);
  g_assert_cmpmem (tr->y, tr->n * 4, tr2->y, tr2->n * 4);
  g_assert_cmpuint (va3->n, ==, va->n);
  g_assert_true (memcmp (va->x, va3->x, va->n * 64 * 4) != 0);
}

static void
test_split_cover (void)
{
  /* 103 rows of 3 unbalanced classes (60/30/13); x[i, 0] tags row i */
  int cls[103];
  for (int i = 0; i < 103; i++)
    cls[i] = i % 10 < 6 ? 0 : i % 10 < 9 ? 1 : 2;
  g_autoptr(PlDataset) ds = tagged_dataset (103, 2, 3, cls);
  gsize all[3];
  pl_dataset_class_counts (ds, all);

  for (guint64 seed = 0; seed < 20; seed++)
    {
      g_autoptr(PlDataset) tr = NULL, va = NULL;
      g_autoptr(GError) error = NULL;
      g_assert_true (pl_dataset_split (ds, 0.25, seed, &tr, &va, &error));
      g_assert_cmpuint (va->n, ==, 26);  /* round(25.75) */
      g_assert_cmpuint (tr->n + va->n, ==, 103);
      gboolean seen[103] = { 0 };
      PlDataset *parts[2] = { tr, va };
      for (int p = 0; p < 2; p++)
        {
          int last = -1;
          for (gsize i = 0; i < parts[p]->n; i++)
            {
              int row = (int) (parts[p]->x[i * 2] / 1000);
              g_assert_cmpint (row, >, last);  /* file order kept */
              last = row;
              g_assert_false (seen[row]);      /* disjoint */
              seen[row] = TRUE;
              g_assert_cmpint (parts[p]->y[i], ==, cls[row]);
            }
        }
      for (int i = 0; i < 103; i++)
        g_assert_true (seen[i]);               /* covering */
      gsize vc[3];
      pl_dataset_class_counts (va, vc);
      for (int c = 0; c < 3; c++)
        g_assert_cmpuint (vc[c], <=, (gsize) ceil (0.25 * all[c]));
    }

  static const struct { double f; gsize n; const char *part; } bad[] = {
    { 0.0, 103, "out of range" },
    { 1.0, 103, "out of range" },
    { -0.5, 103, "out of range" },
    { NAN, 103, "out of range" },
    { 0.001, 103, "empty validation split" },
    { 0.999, 103, "empty training split" },
    { 0.5, 1, "empty" },
  };
  for (gsize t = 0; t < G_N_ELEMENTS (bad); t++)
    {
      g_autoptr(PlDataset) small = tagged_dataset (bad[t].n, 2, 3, cls);
      g_autoptr(PlDataset) tr = NULL, va = NULL;
      g_autoptr(GError) error = NULL;
      g_assert_false (pl_dataset_split (small, bad[t].f, 1, &tr, &va, &error));
      assert_error_has (error, PL_ERROR_DATA,
                        (const char *[]) { bad[t].part, NULL }, "split");
      g_assert_null (tr);
      g_assert_null (va);
    }
}

/* --- normalization ----------------------------------------------------------------- */

static void
test_normalizer (void)
{
  /* train: column 0 = 1..4, column 1 constant 5, column 2 = 0, 10, 0, 10.
   * val: far-off values, so any use of val in the fit would show. */
  static const float train_x[12] = { 1, 5, 0, 2, 5, 10, 3, 5, 0, 4, 5, 10 };
  g_autoptr(PlDataset) train = pl_dataset_new (4, 3, 2);
  memcpy (train->x, train_x, sizeof train_x);
  g_autoptr(PlDataset) val = pl_dataset_new (2, 3, 2);
  static const float val_x[6] = { 1000, -50, 7, 2.5, 5, 5 };
  memcpy (val->x, val_x, sizeof val_x);

  g_autoptr(PlNormalizer) st = pl_normalizer_fit (train, PL_NORMALIZE_STANDARD);
  g_assert_cmpint (pl_normalizer_get_kind (st), ==, PL_NORMALIZE_STANDARD);
  g_assert_cmpuint (pl_normalizer_get_n_features (st), ==, 3);
  const float *mean = pl_normalizer_get_mean (st), *scale = pl_normalizer_get_scale (st);
  pl_assert_close (mean[0], 2.5, 1e-6, 0);
  pl_assert_close (scale[0], sqrt (1.25), 1e-6, 0);  /* population std */
  pl_assert_close (mean[1], 5, 1e-6, 0);
  pl_assert_close (scale[1], 1, 0, 0);               /* constant: divide by 1 */
  pl_assert_close (mean[2], 5, 1e-6, 0);
  pl_assert_close (scale[2], 5, 1e-6, 0);

  pl_normalizer_apply (st, val);
  pl_assert_close (val->x[0], (1000 - 2.5) / sqrt (1.25), 1e-3, 1e-6);
  pl_assert_close (val->x[1], -55, 1e-5, 0);
  pl_assert_close (val->x[2], 0.4, 1e-6, 0);
  pl_assert_close (val->x[3], 0, 1e-6, 0);

  g_autoptr(PlDataset) tcopy = pl_dataset_subset (train, (uint32_t[]) { 0, 1, 2, 3 }, 4);
  pl_normalizer_apply (st, tcopy);
  double s = 0, s2 = 0;
  for (int i = 0; i < 4; i++)
    {
      s += tcopy->x[i * 3];
      s2 += tcopy->x[i * 3] * tcopy->x[i * 3];
    }
  pl_assert_close (s / 4, 0, 1e-6, 0);
  pl_assert_close (s2 / 4, 1, 1e-5, 0);

  g_autoptr(PlNormalizer) mm = pl_normalizer_fit (train, PL_NORMALIZE_MINMAX);
  pl_assert_close (pl_normalizer_get_mean (mm)[0], 1, 0, 0);
  pl_assert_close (pl_normalizer_get_scale (mm)[0], 3, 0, 0);
  pl_normalizer_apply (mm, train);
  for (int i = 0; i < 4; i++)
    {
      pl_assert_close (train->x[i * 3], i / 3.0, 1e-6, 0);
      g_assert_cmpfloat (train->x[i * 3 + 1], ==, 0);  /* constant column */
      g_assert_cmpfloat (train->x[i * 3 + 2], ==, train_x[i * 3 + 2] / 10);
    }

  /* restored from saved statistics, it acts the same */
  g_autoptr(PlNormalizer) back = pl_normalizer_new (PL_NORMALIZE_STANDARD, 3, mean,
                                                    scale);
  g_autoptr(PlDataset) v2 = pl_dataset_new (2, 3, 2);
  memcpy (v2->x, val_x, sizeof val_x);
  pl_normalizer_apply (back, v2);
  g_assert_cmpmem (v2->x, sizeof val_x, val->x, sizeof val_x);

  g_autoptr(PlNormalizer) none = pl_normalizer_fit (v2, PL_NORMALIZE_NONE);
  pl_normalizer_apply (none, v2);
  g_assert_cmpmem (v2->x, sizeof val_x, val->x, sizeof val_x);

  PlNormalize k;
  for (int i = PL_NORMALIZE_NONE; i <= PL_NORMALIZE_MINMAX; i++)
    {
      g_assert_true (pl_normalize_from_string (pl_normalize_to_string (i), &k));
      g_assert_cmpint (k, ==, i);
    }
  g_assert_false (pl_normalize_from_string ("zscore", &k));
}

static void
test_normalizer_train_only (void)
{
  /* rows 0..99 of class i % 2; the split's validation rows get x = 1e6 after the
   * split, so stats over anything but the training rows would be far off */
  g_autoptr(PlDataset) ds = tagged_dataset (100, 2, 2, NULL);
  g_autoptr(PlDataset) tr = NULL, va = NULL;
  g_assert_true (pl_dataset_split (ds, 0.3, 5, &tr, &va, NULL));
  for (gsize i = 0; i < va->n * 2; i++)
    va->x[i] = 1e6f;
  g_autoptr(PlNormalizer) norm = pl_normalizer_fit (tr, PL_NORMALIZE_STANDARD);
  for (int j = 0; j < 2; j++)
    {
      double s = 0, s2 = 0;
      for (gsize i = 0; i < tr->n; i++)
        s += tr->x[i * 2 + j];
      s /= tr->n;
      for (gsize i = 0; i < tr->n; i++)
        s2 += (tr->x[i * 2 + j] - s) * (tr->x[i * 2 + j] - s);
      pl_assert_close (pl_normalizer_get_mean (norm)[j], s, 1e-3, 1e-6);
      pl_assert_close (pl_normalizer_get_scale (norm)[j], sqrt (s2 / tr->n), 1e-3, 1e-6);
      g_assert_cmpfloat (pl_normalizer_get_mean (norm)[j], <, 1e5);
    }
}

/* --- batching ------------------------------------------------------------------------ */

/* Draws one epoch; order[] gets the row ids, sizes[] the batch sizes. Returns the
 * number of batches. */
static int
draw_epoch (PlBatcher *b, const PlDataset *ds, int epoch, uint32_t *order, int *sizes)
{
  int bs = pl_batcher_get_batch_size (b);
  g_autofree float *x = g_new (float, (gsize) bs * ds->n_features);
  g_autofree int32_t *y = g_new (int32_t, bs);
  pl_batcher_start_epoch (b, epoch);
  int nb = 0, got, pos = 0;
  while ((got = pl_batcher_next (b, x, y)) > 0)
    {
      int nidx;
      const uint32_t *idx = pl_batcher_index (b, &nidx);
      g_assert_cmpint (nidx, ==, got);
      for (int i = 0; i < got; i++)
        {
          uint32_t row = (uint32_t) (x[i * ds->n_features] / 1000);
          g_assert_cmpuint (row, ==, idx[i]);
          g_assert_cmpint (y[i], ==, ds->y[row]);
          g_assert_cmpfloat (x[i * ds->n_features + 1], ==, ds->x[row * ds->n_features + 1]);
          order[pos++] = row;
        }
      sizes[nb++] = got;
    }
  g_assert_cmpint (pl_batcher_next (b, x, y), ==, 0);
  g_assert_cmpint (pos, ==, (int) ds->n);
  return nb;
}

static void
test_batcher (void)
{
  g_autoptr(PlDataset) ds = tagged_dataset (10, 2, 3, NULL);
  uint32_t order[10], order2[10];
  int sizes[10];

  /* no shuffle: file order, partial last batch kept */
  g_autoptr(PlBatcher) plain = pl_batcher_new (ds, 3, FALSE, 1);
  g_assert_cmpint (pl_batcher_n_batches (plain), ==, 4);
  g_assert_cmpint (draw_epoch (plain, ds, 0, order, sizes), ==, 4);
  static const int want_sizes[4] = { 3, 3, 3, 1 };
  for (int i = 0; i < 4; i++)
    g_assert_cmpint (sizes[i], ==, want_sizes[i]);
  for (int i = 0; i < 10; i++)
    g_assert_cmpuint (order[i], ==, i);
  draw_epoch (plain, ds, 3, order, sizes);
  for (int i = 0; i < 10; i++)
    g_assert_cmpuint (order[i], ==, i);

  /* shuffle: a permutation; same seed same order; epochs differ */
  g_autoptr(PlBatcher) a = pl_batcher_new (ds, 4, TRUE, 42);
  g_autoptr(PlBatcher) b = pl_batcher_new (ds, 4, TRUE, 42);
  g_autoptr(PlBatcher) c = pl_batcher_new (ds, 4, TRUE, 43);
  g_assert_cmpint (draw_epoch (a, ds, 0, order, sizes), ==, 3);
  g_assert_cmpint (sizes[2], ==, 2);
  gboolean seen[10] = { 0 };
  for (int i = 0; i < 10; i++)
    {
      g_assert_false (seen[order[i]]);
      seen[order[i]] = TRUE;
    }
  draw_epoch (b, ds, 0, order2, sizes);
  g_assert_cmpmem (order, sizeof order, order2, sizeof order2);
  draw_epoch (c, ds, 0, order2, sizes);
  g_assert_true (memcmp (order, order2, sizeof order) != 0);

  uint32_t e1[10], e2[10], e2_again[10];
  draw_epoch (a, ds, 1, e1, sizes);
  draw_epoch (a, ds, 2, e2, sizes);
  g_assert_true (memcmp (order, e1, sizeof order) != 0);
  g_assert_true (memcmp (e1, e2, sizeof e1) != 0);

  /* epoch 2's order does not depend on what was drawn before */
  g_autoptr(PlBatcher) fresh = pl_batcher_new (ds, 4, TRUE, 42);
  pl_batcher_next (fresh, NULL, NULL);
  draw_epoch (fresh, ds, 2, e2_again, sizes);
  g_assert_cmpmem (e2, sizeof e2, e2_again, sizeof e2_again);

  /* a batch larger than the dataset is one partial batch */
  g_autoptr(PlBatcher) big = pl_batcher_new (ds, 64, TRUE, 7);
  g_assert_cmpint (pl_batcher_n_batches (big), ==, 1);
  g_assert_cmpint (draw_epoch (big, ds, 0, order, sizes), ==, 1);
  g_assert_cmpint (sizes[0], ==, 10);

  /* the first epoch starts without an explicit call */
  g_autoptr(PlBatcher) lazy = pl_batcher_new (ds, 5, FALSE, 0);
  int32_t y[5];
  g_assert_cmpint (pl_batcher_next (lazy, NULL, y), ==, 5);
  g_assert_cmpint (y[1], ==, ds->y[1]);
}

/* --- misc ------------------------------------------------------------------------------ */

static void
test_subset_and_check (void)
{
  g_autoptr(PlDataset) ds = tagged_dataset (6, 2, 3, NULL);
  ds->name = g_strdup ("tagged");
  ds->class_names = g_strsplit ("a,b,c", ",", -1);
  ds->sample_shape[0] = 1;
  ds->sample_shape[1] = 1;
  ds->sample_shape[2] = 2;
  g_autoptr(PlDataset) sub = pl_dataset_subset (ds, (uint32_t[]) { 5, 0, 5 }, 3);
  g_assert_cmpuint (sub->n, ==, 3);
  g_assert_cmpfloat (sub->x[0], ==, 5000);
  g_assert_cmpfloat (sub->x[3], ==, 1);
  g_assert_cmpint (sub->y[2], ==, 2);
  g_assert_cmpstr (sub->name, ==, "tagged");
  g_assert_cmpstr (sub->class_names[2], ==, "c");
  g_assert_cmpint (sub->sample_shape[2], ==, 2);
  gsize counts[3];
  pl_dataset_class_counts (sub, counts);
  g_assert_cmpuint (counts[0], ==, 1);
  g_assert_cmpuint (counts[1], ==, 0);
  g_assert_cmpuint (counts[2], ==, 2);

  g_autoptr(GError) error = NULL;
  g_assert_true (pl_dataset_check (ds, &error));
  ds->y[4] = 3;
  g_assert_false (pl_dataset_check (ds, &error));
  assert_error_has (error, PL_ERROR_DATA,
                    (const char *[]) { "tagged", "row 4", "label 3", "0..2", NULL },
                    "check label");
  g_clear_error (&error);
  ds->y[4] = 1;
  ds->x[3] = NAN;
  g_assert_false (pl_dataset_check (ds, &error));
  assert_error_has (error, PL_ERROR_DATA,
                    (const char *[]) { "row 1 feature 1", "finite", NULL }, "check x");
}

static void
test_load_file (void)
{
  static const struct { const char *name; gsize n; } ok[] = {
    { "xy.npy", 3 }, { "stored.npz", 4 },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (ok); i++)
    {
      g_autofree char *p = fixture (ok[i].name);
      g_autoptr(GError) error = NULL;
      g_autoptr(PlDataset) ds = pl_dataset_load_file (p, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (ds->n, ==, ok[i].n);
    }
  g_autofree char *csv = write_tmp ("f.csv", "1,2,1\n", -1);
  g_autoptr(GError) error = NULL;
  g_autoptr(PlDataset) ds = pl_dataset_load_file (csv, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ds->y[0], ==, 1);

  g_autofree char *txt = write_tmp ("f.parquet", "x", -1);
  g_assert_null (pl_dataset_load_file (txt, &error));
  assert_error_has (error, PL_ERROR_FORMAT,
                    (const char *[]) { txt, ".csv, .npy or .npz", NULL }, "ext");
}

/* Removes this program's temporary directory and everything in it. */
static void
remove_tree (const char *path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  if (dir)
    {
      const char *name;
      while ((name = g_dir_read_name (dir)))
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          remove_tree (child);
        }
      g_dir_close (dir);
    }
  g_remove (path);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/core/dataset/builtin/digits", test_builtin_digits);
  g_test_add_func ("/core/dataset/builtin/breast-cancer", test_builtin_breast_cancer);
  g_test_add_func ("/core/dataset/builtin/names", test_builtin_names);
  g_test_add_func ("/core/dataset/builtin/data-dir", test_data_dir_env);
  g_test_add_func ("/core/dataset/csv/cases", test_csv_cases);
  g_test_add_func ("/core/dataset/csv/errors", test_csv_errors);
  g_test_add_func ("/core/dataset/csv/large", test_csv_large);
  g_test_add_func ("/core/dataset/npy/dtypes", test_npy_dtypes);
  g_test_add_func ("/core/dataset/npy/versions-shapes", test_npy_versions_and_shapes);
  g_test_add_func ("/core/dataset/npy/errors", test_npy_errors);
  g_test_add_func ("/core/dataset/npy/truncated", test_npy_truncated);
  g_test_add_func ("/core/dataset/npz/load", test_npz_load);
  g_test_add_func ("/core/dataset/npz/corrupt", test_npz_corrupt);
  g_test_add_func ("/core/dataset/npz/zip64", test_npz_zip64);
  g_test_add_func ("/core/dataset/split/stratified", test_split);
  g_test_add_func ("/core/dataset/split/cover", test_split_cover);
  g_test_add_func ("/core/dataset/normalizer/stats", test_normalizer);
  g_test_add_func ("/core/dataset/normalizer/train-only", test_normalizer_train_only);
  g_test_add_func ("/core/dataset/batcher", test_batcher);
  g_test_add_func ("/core/dataset/subset-check", test_subset_and_check);
  g_test_add_func ("/core/dataset/load-file", test_load_file);
  int rc = g_test_run ();
  remove_tree (pl_test_tmpdir ());
  return rc;
}
