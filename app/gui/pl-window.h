/* pl-window.h: the Paramlab main window.
 *
 * A runs sidebar (search, multi-select, rename/tag/delete with undo, run again)
 * next to a view stack: the experiment editor, the live view of the selected
 * run, the compare view of the selected runs, and the plugins page. The window
 * starts runs through the application's PlRunManager and reads history from
 * its run store; it trains nothing itself. */
#pragma once

#include <adwaita.h>

#include "pl-application.h"

G_BEGIN_DECLS

#define PL_TYPE_WINDOW (pl_window_get_type ())
G_DECLARE_FINAL_TYPE (PlWindow, pl_window, PL, WINDOW, AdwApplicationWindow)

PlWindow *pl_window_new        (PlApplication *app);

/* Loads the experiment in @file into the editor (errors are shown). */
void      pl_window_open_file  (PlWindow *self, GFile *file);
/* Selects run @id in the sidebar and shows its live view. */
void      pl_window_show_run   (PlWindow *self, gint64 id);
/* Takes @toast (floating). */
void      pl_window_add_toast  (PlWindow *self, AdwToast *toast);

G_END_DECLS
