/* pl-run-view.h: the live view of one run.
 *
 * Four plots (loss, accuracy, learning rate, sparsity), a progress bar with the
 * time left, Pause/Resume and Stop, and the run's log. A run of this session
 * (PlLiveRun) is drawn as its events arrive, on the frame clock at the plot
 * refresh rate; a run from history is read from the run store. */
#pragma once

#include <adwaita.h>

#include "pl-plot.h"
#include "pl-run-item.h"
#include "pl-run-store.h"

G_BEGIN_DECLS

#define PL_TYPE_RUN_VIEW (pl_run_view_get_type ())
G_DECLARE_FINAL_TYPE (PlRunView, pl_run_view, PL, RUN_VIEW, GtkWidget)

typedef enum {
  PL_RUN_VIEW_PLOT_LOSS,
  PL_RUN_VIEW_PLOT_ACCURACY,
  PL_RUN_VIEW_PLOT_LR,
  PL_RUN_VIEW_PLOT_SPARSITY,
  PL_RUN_VIEW_N_PLOTS
} PlRunViewPlot;

/* @settings gives the plot refresh rate and smoothing (may be NULL). */
GtkWidget  *pl_run_view_new          (GSettings *settings);

/* Shows @item (NULL: the empty state). History is read from @store. */
void        pl_run_view_show         (PlRunView  *self,
                                      PlRunItem  *item,
                                      PlRunStore *store);
/* (transfer none) the item shown, or NULL */
PlRunItem  *pl_run_view_get_item     (PlRunView *self);

/* Pause a running run, resume a paused one. */
void        pl_run_view_toggle_pause (PlRunView *self);
void        pl_run_view_stop         (PlRunView *self);

/* (transfer none) */
PlPlot     *pl_run_view_get_plot     (PlRunView *self, PlRunViewPlot which);
/* Text of the progress label ("Step 12 of 1350 …"), for tests. */
const char *pl_run_view_get_progress_text (PlRunView *self);
/* The status pill's text and icon name, and the Resume Training button. */
const char *pl_run_view_get_status_text (PlRunView *self);
const char *pl_run_view_get_status_icon (PlRunView *self);
GtkWidget  *pl_run_view_get_resume_button (PlRunView *self);
/* The log as shown. (transfer full) */
char       *pl_run_view_get_log_text (PlRunView *self);

G_END_DECLS
