/* fuzz-csv.c: fuzz target for the CSV loader (pl_dataset_load_csv). The first
 * byte picks the label column (-1 or 0..3), the rest is the file. A dataset that
 * loads must pass pl_dataset_check and carry valid UTF-8 names; errors name the
 * file and are valid UTF-8. */
#include "fuzz-common.h"
#include "pl-dataset.h"

static void
check_names (char **names, gsize expected)
{
  if (!names)
    return;
  gsize n = 0;
  for (; names[n]; n++)
    g_assert (g_utf8_validate (names[n], -1, NULL));
  if (expected)
    g_assert_cmpuint (n, ==, expected);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  int label_column = (int) (data[0] % 5) - 1;
  const char *path = fuzz_write_file (".csv", data + 1, size - 1);
  g_autoptr (GError) error = NULL;
  g_autoptr (PlDataset) ds = pl_dataset_load_csv (path, label_column, &error);
  g_assert ((ds == NULL) == (error != NULL));
  if (!ds)
    {
      fuzz_check_error (error, path);
      fuzz_n_refused++;
      return 0;
    }
  fuzz_n_accepted++;
  g_assert_cmpuint (ds->n, >, 0);
  g_assert_cmpuint (ds->n_features, >, 0);
  g_assert_cmpint (ds->n_classes, >, 0);
  g_assert (pl_dataset_check (ds, &error));
  check_names (ds->feature_names, ds->n_features);
  check_names (ds->class_names, 0);
  if (ds->class_names)
    g_assert_cmpuint (g_strv_length (ds->class_names), >=, (guint) ds->n_classes);
  return 0;
}
