/* fuzz-npy.c: fuzz target for the .npy loader (pl_dataset_load_npy). The first
 * byte picks the layout: even, the rest is one file holding features and the
 * label column; odd, the next two bytes (little-endian) split the rest into a
 * features file and a labels file. A dataset that loads must pass
 * pl_dataset_check; errors name a file and are valid UTF-8. */
#include "fuzz-common.h"
#include "pl-dataset.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  g_autoptr (GError) error = NULL;
  g_autoptr (PlDataset) ds = NULL;
  const char *x_path;
  if (data[0] % 2 == 0)
    {
      x_path = fuzz_write_file ("-x.npy", data + 1, size - 1);
      ds = pl_dataset_load_npy (x_path, NULL, &error);
    }
  else
    {
      if (size < 3)
        return 0;
      size_t split = MIN ((size_t) (data[1] | (data[2] << 8)), size - 3);
      x_path = fuzz_write_file ("-x.npy", data + 3, split);
      const char *y_path = fuzz_write_file ("-y.npy", data + 3 + split, size - 3 - split);
      ds = pl_dataset_load_npy (x_path, y_path, &error);
    }
  g_assert ((ds == NULL) == (error != NULL));
  if (!ds)
    {
      fuzz_check_error (error, "paramlab-fuzz-");
      fuzz_n_refused++;
      return 0;
    }
  fuzz_n_accepted++;
  g_assert_cmpuint (ds->n, >, 0);
  g_assert_cmpuint (ds->n_features, >, 0);
  g_assert (pl_dataset_check (ds, &error));
  return 0;
}
