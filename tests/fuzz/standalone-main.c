/* standalone-main.c: replays files through LLVMFuzzerTestOneInput without
 * libFuzzer, so that gcc builds run the seed corpus and the regression files
 * (suite 'fuzz'). Arguments are files or directories (their files, sorted; names
 * starting with '.' are skipped). A directory that does not exist is an error. */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz-common.h"

static int
replay_file (const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *data = NULL;
  gsize len = 0;
  if (!g_file_get_contents (path, &data, &len, &error))
    {
      fprintf (stderr, "%s\n", error->message);
      return 1;
    }
  /* a copy of exactly len bytes, so that AddressSanitizer sees overreads */
  g_autofree uint8_t *copy = g_memdup2 (data, len ? len : 1);
  LLVMFuzzerTestOneInput (copy, len);
  return 0;
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

int
main (int argc, char **argv)
{
  guint n = 0;
  for (int i = 1; i < argc; i++)
    {
      if (!g_file_test (argv[i], G_FILE_TEST_IS_DIR))
        {
          if (replay_file (argv[i]) != 0)
            return 1;
          n++;
          continue;
        }
      g_autoptr (GError) error = NULL;
      g_autoptr (GDir) dir = g_dir_open (argv[i], 0, &error);
      if (!dir)
        {
          fprintf (stderr, "%s\n", error->message);
          return 1;
        }
      g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
      const char *name;
      while ((name = g_dir_read_name (dir)))
        if (name[0] != '.')
          g_ptr_array_add (names, g_build_filename (argv[i], name, NULL));
      g_ptr_array_sort (names, compare_names);
      for (guint k = 0; k < names->len; k++)
        {
          if (g_file_test (names->pdata[k], G_FILE_TEST_IS_DIR))
            continue;
          if (replay_file (names->pdata[k]) != 0)
            return 1;
          n++;
        }
    }
  printf ("%u inputs replayed without a crash: %u accepted, %u refused%s\n", n,
          fuzz_n_accepted, fuzz_n_refused,
          fuzz_n_accepted + fuzz_n_refused != n ? " (counted per line or part)" : "");
  return 0;
}
