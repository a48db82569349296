/* pl-window-private.h: the window's parts, for tests and benchmarks. */
#pragma once

#include "pl-compare-view.h"
#include "pl-experiment-editor.h"
#include "pl-plugins-page.h"
#include "pl-run-list.h"
#include "pl-run-view.h"
#include "pl-window.h"

G_BEGIN_DECLS

PlExperimentEditor *_pl_window_get_editor        (PlWindow *self);
PlRunView          *_pl_window_get_run_view      (PlWindow *self);
PlCompareView      *_pl_window_get_compare_view  (PlWindow *self);
PlPluginsPage      *_pl_window_get_plugins_page  (PlWindow *self);
PlPluginCatalog    *_pl_window_get_catalog       (PlWindow *self);
PlRunList          *_pl_window_get_run_list      (PlWindow *self);
GtkSelectionModel  *_pl_window_get_selection     (PlWindow *self);
GtkWidget          *_pl_window_get_run_button    (PlWindow *self);
GtkWidget          *_pl_window_get_search_entry  (PlWindow *self);
/* "editor", "run", "compare" or "plugins" */
const char         *_pl_window_get_page          (PlWindow *self);
void                _pl_window_set_page          (PlWindow *self, const char *name);
/* Selects exactly the runs with these store ids. */
void                _pl_window_select_runs       (PlWindow *self, const gint64 *ids, guint n);
/* Keeps toasts off screen (for screenshots); they still come and go. */
void                _pl_window_hide_toasts       (PlWindow *self, gboolean hide);
/* Re-reads the run store into the sidebar. */
void                _pl_window_refresh           (PlWindow *self);
/* The status icon name and its tooltip in the sidebar row of run @id, as drawn
 * now; FALSE when the row is not on screen. */
gboolean            _pl_window_get_row_status    (PlWindow    *self,
                                                  gint64       id,
                                                  const char **icon,
                                                  const char **tooltip);

G_END_DECLS
