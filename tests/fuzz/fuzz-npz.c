/* fuzz-npz.c: fuzz target for the .npz loader (pl_dataset_load_npz): zip
 * directory, zip64 records, stored and deflated members, CRC checks, declared
 * sizes against limits, then the .npy members. A dataset that loads must pass
 * pl_dataset_check; errors name the file and are valid UTF-8. */
#include "fuzz-common.h"
#include "pl-dataset.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *path = fuzz_write_file (".npz", data, size);
  g_autoptr (GError) error = NULL;
  g_autoptr (PlDataset) ds = pl_dataset_load_npz (path, &error);
  g_assert ((ds == NULL) == (error != NULL));
  if (!ds)
    {
      fuzz_check_error (error, path);
      fuzz_n_refused++;
      return 0;
    }
  fuzz_n_accepted++;
  g_assert_cmpuint (ds->n, >, 0);
  g_assert (pl_dataset_check (ds, &error));
  return 0;
}
