/* pl-run-list.h: the runs of the sidebar, as a GListModel of PlRunItem.
 *
 * Merges the run store's list (history, newest first) with the runs of this
 * session that the store does not know yet (queued, starting, failed before
 * they started). Refreshing keeps the item objects of runs that are still
 * there, so selections and bound rows survive. */
#pragma once

#include <gio/gio.h>

#include "pl-run-item.h"
#include "pl-run-manager.h"
#include "pl-run-store.h"

G_BEGIN_DECLS

#define PL_TYPE_RUN_LIST (pl_run_list_get_type ())
G_DECLARE_FINAL_TYPE (PlRunList, pl_run_list, PL, RUN_LIST, GObject)

/* (transfer full) */
PlRunList  *pl_run_list_new          (PlRunManager *manager);
/* (transfer none) a GListModel of PlRunItem */
GListModel *pl_run_list_get_model    (PlRunList *self);

/* Re-reads the store (may be NULL: session runs only). FALSE with @error when
 * the store could not be read; the session runs are listed anyway. */
gboolean    pl_run_list_refresh      (PlRunList   *self,
                                      PlRunStore  *store,
                                      GError     **error);

/* (transfer none) the item of store run @id, or NULL */
PlRunItem  *pl_run_list_lookup       (PlRunList *self, gint64 id);
/* (transfer none) the item of session run @live, or NULL */
PlRunItem  *pl_run_list_lookup_live  (PlRunList *self, PlLiveRun *live);
/* Runs listed from the store (session-only ones excluded). */
guint       pl_run_list_get_n_stored (PlRunList *self);

G_END_DECLS
