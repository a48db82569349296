/* pl-test-util.h: shared helpers for the test programs. */
#pragma once

#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>

/* A fresh temporary directory for one test program, removed at exit.
 * Also points XDG_DATA_HOME and PARAMLAB_DB into it, so no test touches the
 * user's real run store. */
static inline char *
pl_test_tmpdir (void)
{
  static char *dir = NULL;
  if (!dir)
    {
      GError *error = NULL;
      dir = g_dir_make_tmp ("paramlab-test-XXXXXX", &error);
      g_assert_no_error (error);
      char *xdg = g_build_filename (dir, "xdg-data", NULL);
      g_mkdir_with_parents (xdg, 0700);
      g_setenv ("XDG_DATA_HOME", xdg, TRUE);
      g_free (xdg);
    }
  return dir;
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
