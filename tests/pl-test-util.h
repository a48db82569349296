/* pl-test-util.h: shared helpers for the test programs. */
#pragma once

#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdlib.h>

static inline void
pl_test_rm_rf (const char *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    {
      GDir *d = g_dir_open (path, 0, NULL);
      const char *name;
      while (d && (name = g_dir_read_name (d)))
        {
          char *child = g_build_filename (path, name, NULL);
          pl_test_rm_rf (child);
          g_free (child);
        }
      if (d)
        g_dir_close (d);
    }
  g_remove (path);
}

static char *pl_test_tmpdir_path G_GNUC_UNUSED;

static inline void
pl_test_tmpdir_cleanup (void)
{
  if (pl_test_tmpdir_path && !g_getenv ("PARAMLAB_KEEP_TMP"))
    pl_test_rm_rf (pl_test_tmpdir_path);
}

/* A fresh temporary directory for one test program, removed at exit (kept when
 * PARAMLAB_KEEP_TMP is set, for a look after a failure).
 * Also points XDG_DATA_HOME and PARAMLAB_DB into it, so no test touches the
 * user's real run store. */
static inline char *
pl_test_tmpdir (void)
{
  if (!pl_test_tmpdir_path)
    {
      GError *error = NULL;
      char *dir = g_dir_make_tmp ("paramlab-test-XXXXXX", &error);
      g_assert_no_error (error);
      pl_test_tmpdir_path = dir;
      atexit (pl_test_tmpdir_cleanup);
      char *xdg = g_build_filename (dir, "xdg-data", NULL);
      g_mkdir_with_parents (xdg, 0700);
      g_setenv ("XDG_DATA_HOME", xdg, TRUE);
      g_free (xdg);
    }
  return pl_test_tmpdir_path;
}

/* The source tree, for test data and the bundled datasets. */
static inline const char *
pl_test_srcdir (void)
{
  const char *d = g_getenv ("PARAMLAB_SOURCE_DIR");
  return d ? d : ".";
}

/* assert |a - b| <= atol + rtol * |b| with a message naming both */
#define pl_assert_close(a, b, atol, rtol)                                      \
  G_STMT_START {                                                               \
    double _a = (a), _b = (b);                                                 \
    if (!(fabs (_a - _b) <= (atol) + (rtol) * fabs (_b)))                      \
      g_error ("%s:%d: %s = %.9g, %s = %.9g differ beyond atol %g rtol %g",    \
               __FILE__, __LINE__, #a, _a, #b, _b, (double) (atol),            \
               (double) (rtol));                                               \
  } G_STMT_END
