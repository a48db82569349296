/* fuzz-common.h: helpers shared by the fuzz harnesses in tests/fuzz/.
 *
 * Each harness defines LLVMFuzzerTestOneInput. It is linked twice: with
 * libFuzzer (clang, -fsanitize=fuzzer; see run-fuzzers.sh) and with
 * standalone-main.c, which replays the seed corpus and the regression files in
 * every build (suite 'fuzz'). Every input must be accepted or refused with a
 * GError; a crash, a sanitizer report or a failed assertion is a bug. */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Inputs the reader accepted and refused, for standalone-main.c's summary
 * (weak: one definition shared by the harness and the driver). */
__attribute__ ((weak)) unsigned fuzz_n_accepted;
__attribute__ ((weak)) unsigned fuzz_n_refused;

static GHashTable *fuzz_paths;  /* suffix -> path; lives as long as the process */

static void
fuzz_remove_files (void)
{
  GHashTableIter it;
  gpointer path;
  g_hash_table_iter_init (&it, fuzz_paths);
  while (g_hash_table_iter_next (&it, NULL, &path))
    g_unlink (path);
}

/* Writes data to a file private to this process (one per @suffix, made once and
 * overwritten on every call, removed at exit) and returns its path, for loaders
 * that take a path. (transfer none) */
static inline const char *
fuzz_write_file (const char *suffix, const uint8_t *data, size_t size)
{
  GHashTable *paths = fuzz_paths;
  if (!paths)
    {
      paths = fuzz_paths = g_hash_table_new (g_str_hash, g_str_equal);
      atexit (fuzz_remove_files);
    }
  char *path = g_hash_table_lookup (paths, suffix);
  if (!path)
    {
      path = g_strdup_printf ("%s/paramlab-fuzz-%d%s", g_get_tmp_dir (), (int) getpid (),
                              suffix);
      g_hash_table_insert (paths, g_strdup (suffix), path);
    }
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  g_assert (fd >= 0);
  size_t done = 0;
  while (done < size)
    {
      ssize_t n = write (fd, data + done, size - done);
      if (n < 0 && errno == EINTR)
        continue;
      g_assert (n > 0);
      done += (size_t) n;
    }
  close (fd);
  return path;
}

/* An error from a loader: set, in Paramlab's domain, naming @file, valid UTF-8. */
static inline void
fuzz_check_error (const GError *error, const char *file)
{
  g_assert (error != NULL);
  g_assert (error->message != NULL);
  g_assert (g_utf8_validate (error->message, -1, NULL));
  if (file)
    g_assert (strstr (error->message, file) != NULL);
}
