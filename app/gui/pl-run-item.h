/* pl-run-item.h: one row of the runs sidebar.
 *
 * An item is a run from the store (its list row), a run of this session (a
 * PlLiveRun, possibly not yet in the store), or both once the live run has an
 * id. Live values win while the run is active. Properties notify when they
 * change, so rows rebind cheaply. */
#pragma once

#include <glib-object.h>

#include "paramlab.h"
#include "pl-live-run.h"
#include "pl-run-store.h"

G_BEGIN_DECLS

#define PL_TYPE_RUN_ITEM (pl_run_item_get_type ())
G_DECLARE_FINAL_TYPE (PlRunItem, pl_run_item, PL, RUN_ITEM, GObject)

/* (transfer full) */
PlRunItem  *pl_run_item_new_from_info   (const PlRunInfo *info);
PlRunItem  *pl_run_item_new_from_live   (PlLiveRun *live);

/* Takes the store's row (keeps the live run). */
void        pl_run_item_update_info     (PlRunItem *self, const PlRunInfo *info);
void        pl_run_item_set_live        (PlRunItem *self, PlLiveRun *live);
/* "agp, magnitude": the plugin ids the run used; NULL for none. */
void        pl_run_item_set_plugins     (PlRunItem *self, const char *plugins);

gint64      pl_run_item_get_id          (PlRunItem *self);
/* (transfer none) or NULL */
PlLiveRun  *pl_run_item_get_live        (PlRunItem *self);
const char *pl_run_item_get_name        (PlRunItem *self);
/* As the store spells it: queued, running, paused, finished, stopped, failed. */
const char *pl_run_item_get_status      (PlRunItem *self);
const char *pl_run_item_get_dataset     (PlRunItem *self);
const char *pl_run_item_get_architecture (PlRunItem *self);
const char *pl_run_item_get_plugins     (PlRunItem *self);
const char * const *pl_run_item_get_tags (PlRunItem *self);
double      pl_run_item_get_best_val_acc (PlRunItem *self);
double      pl_run_item_get_final_sparsity (PlRunItem *self);
double      pl_run_item_get_started_at  (PlRunItem *self);
double      pl_run_item_get_progress    (PlRunItem *self);
gboolean    pl_run_item_is_active       (PlRunItem *self);

/* TRUE when every word of @casefolded_query is a substring of the casefolded
 * name, status, dataset, architecture, plugins or tags. */
gboolean    pl_run_item_matches         (PlRunItem *self, const char *casefolded_query);

/* How a status of the store ("finished", "interrupted", …) shows: its
 * translated label, a symbolic icon and a style class ("success", "warning",
 * "error", "accent" or "dim-label") for the icon or the status pill. A status
 * this window does not know shows as itself with a neutral icon.
 * (transfer none) */
const char *pl_run_status_label         (const char *status);
const char *pl_run_status_icon_name     (const char *status);
const char *pl_run_status_style_class   (const char *status);
/* TRUE for the statuses `paramlab-cli resume` continues: stopped, interrupted
 * and failed (when the run has a training state; see pl_run_store_find_state_file()). */
gboolean    pl_run_status_can_resume    (const char *status);

G_END_DECLS
