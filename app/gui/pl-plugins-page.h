/* pl-plugins-page.h: every plugin by slot, with its description, version,
 * options and whether it loaded (and why not); a switch that offers it in the
 * editor or not; and a button that writes a new plugin project from the
 * `paramlab-cli new-plugin` scaffold into a folder the user picks. */
#pragma once

#include <adwaita.h>

#include "pl-plugin-catalog.h"

G_BEGIN_DECLS

#define PL_TYPE_PLUGINS_PAGE (pl_plugins_page_get_type ())
G_DECLARE_FINAL_TYPE (PlPluginsPage, pl_plugins_page, PL, PLUGINS_PAGE, GtkWidget)

/* @cli is the paramlab-cli used for new-plugin and reloading. */
GtkWidget *pl_plugins_page_new        (PlPluginCatalog *catalog,
                                       GSettings       *settings,
                                       const char      *cli);
/* Plugins listed on the page (0 in the empty state). */
guint      pl_plugins_page_get_n_rows (PlPluginsPage *self);

G_END_DECLS
