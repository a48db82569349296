/* pl-compare-view.h: two or more runs side by side.
 *
 * Their curves overlaid per metric (each run keeps its colour in every plot),
 * the settings that differ between them (identical ones folded away), their
 * final and best metrics, and an export of the comparison as CSV. Everything is
 * read from the run store. */
#pragma once

#include <adwaita.h>

#include "pl-run-store.h"

G_BEGIN_DECLS

#define PL_TYPE_COMPARE_VIEW (pl_compare_view_get_type ())
G_DECLARE_FINAL_TYPE (PlCompareView, pl_compare_view, PL, COMPARE_VIEW, GtkWidget)

GtkWidget  *pl_compare_view_new          (void);

/* Compares the runs @ids (fewer than two: the empty state). */
void        pl_compare_view_set_runs     (PlCompareView *self,
                                          PlRunStore    *store,
                                          const gint64  *ids,
                                          guint          n_ids);
/* Re-reads the runs shown (a run that was training has more points). */
void        pl_compare_view_reload       (PlCompareView *self);
guint       pl_compare_view_get_n_runs   (PlCompareView *self);

/* The keys that differ ("prune.schedule", "train.lr", …) in table order.
 * (transfer none) */
GPtrArray  *pl_compare_view_get_differing_keys (PlCompareView *self);
/* Number of keys that are the same for every run. */
guint       pl_compare_view_get_n_identical (PlCompareView *self);
/* (transfer full) the comparison as CSV text */
char       *pl_compare_view_to_csv       (PlCompareView *self);
/* Writes the CSV to @path. */
gboolean    pl_compare_view_export_csv   (PlCompareView *self,
                                          const char    *path,
                                          GError       **error);

G_END_DECLS
