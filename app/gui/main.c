/* main.c: the paramlab window's entry point. */
#include <glib/gi18n.h>

#include "pl-application.h"
#include "pl-config.h"
#include "pl-gui.h"

/* Run from the build tree (build/app/gui/paramlab), the window finds the
 * compiled schema and the translations there, as `meson devenv` would set. */
static void
use_build_tree (void)
{
  g_autofree char *exe = g_file_read_link ("/proc/self/exe", NULL);
  if (!exe || !g_str_has_prefix (exe, PL_BUILD_DIR "/"))
    return;
  g_setenv ("GSETTINGS_SCHEMA_DIR", PL_BUILD_DIR "/data", FALSE);
  g_setenv ("PARAMLAB_LOCALEDIR", PL_BUILD_DIR "/po", FALSE);
}

int
main (int    argc,
      char **argv)
{
  pl_gui_trace ("main");
  use_build_tree ();
  pl_gui_init_i18n ();
  g_autoptr (PlApplication) app = pl_application_new (G_APPLICATION_DEFAULT_FLAGS);
  return g_application_run (G_APPLICATION (app), argc, argv);
}
