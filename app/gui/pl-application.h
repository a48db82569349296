/* pl-application.h: the Paramlab application (AdwApplication).
 *
 * Owns what outlives a window: the GSettings, the run queue (PlRunManager) and
 * the connection to the run store. Sends a notification when a run ends. */
#pragma once

#include <adwaita.h>

#include "pl-run-manager.h"
#include "pl-run-store.h"

G_BEGIN_DECLS

#define PL_APPLICATION_ID "io.github.paramlab.Paramlab"

#define PL_TYPE_APPLICATION (pl_application_get_type ())
G_DECLARE_FINAL_TYPE (PlApplication, pl_application, PL, APPLICATION, AdwApplication)

/* (transfer full) */
PlApplication *pl_application_new              (GApplicationFlags flags);

GSettings     *pl_application_get_settings     (PlApplication *self);
PlRunManager  *pl_application_get_run_manager  (PlApplication *self);
/* The open run store, or NULL with the reason in @error (transfer none). */
PlRunStore    *pl_application_get_store        (PlApplication *self, GError **error);
/* The database file in use: the database-path preference, else the default
 * ($PARAMLAB_DB, else the user data dir). (transfer full) */
char          *pl_application_dup_db_path      (PlApplication *self);
/* Directory of the bundled data (experiments/, datasets/): the source tree when
 * running uninstalled, else the installed one. (transfer none) */
const char    *pl_application_get_data_dir     (void);

G_END_DECLS
