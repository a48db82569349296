/* pl-plot.h: PlPlot, the live line plot of the Paramlab window.
 *
 * A GtkWidget around PlPlotData: series of (step, value) points appended live
 * from the main thread, nice ticks on linear or log y, a legend whose entries
 * toggle their series, a hover read-out, zoom (scroll: x around the pointer,
 * Ctrl+scroll: y; drag a rectangle; double-click resets), TensorBoard-style EMA
 * smoothing, and export to PNG, SVG or PDF. Colours follow the GTK style. */
#pragma once

#include <gtk/gtk.h>

#include "pl-plot-data.h"

G_BEGIN_DECLS

#define PL_TYPE_PLOT (pl_plot_get_type ())
G_DECLARE_FINAL_TYPE (PlPlot, pl_plot, PL, PLOT, GtkWidget)

/* (transfer floating) A plot titled @title (may be NULL). */
GtkWidget  *pl_plot_new               (const char *title);

void        pl_plot_set_title         (PlPlot *plot, const char *title);
const char *pl_plot_get_title         (PlPlot *plot);
void        pl_plot_set_y_label       (PlPlot *plot, const char *label);
const char *pl_plot_get_y_label       (PlPlot *plot);
/* Default "step". */
void        pl_plot_set_x_label       (PlPlot *plot, const char *label);

/* Adds an empty visible series and returns its id (> 0). @color NULL takes the
 * palette colour of the series' index; for runs pass pl_plot_run_rgba's colour so
 * a run looks the same in every plot. */
guint       pl_plot_add_series        (PlPlot *plot, const char *name, const GdkRGBA *color);
gboolean    pl_plot_remove_series     (PlPlot *plot, guint id);
/* Appends a point (amortized O(1)); x is the step, y may be NaN. */
void        pl_plot_append            (PlPlot *plot, guint id, double x, double y);
/* Replaces the series' points with a copy of xs[0..n), ys[0..n). */
void        pl_plot_set_points        (PlPlot *plot, guint id, const double *xs,
                                       const double *ys, gsize n);
/* Removes every series and resets the zoom. */
void        pl_plot_clear             (PlPlot *plot);
/* Points in series @id, or in all series for id 0. */
gsize       pl_plot_get_n_points      (PlPlot *plot, guint id);

void        pl_plot_set_series_visible (PlPlot *plot, guint id, gboolean visible);
gboolean    pl_plot_get_series_visible (PlPlot *plot, guint id);

void        pl_plot_set_log_y         (PlPlot *plot, gboolean log_y);
gboolean    pl_plot_get_log_y         (PlPlot *plot);
/* EMA weight in [0, 0.999] (a slider's value); 0 turns smoothing off. */
void        pl_plot_set_smoothing     (PlPlot *plot, double weight);
double      pl_plot_get_smoothing     (PlPlot *plot);
void        pl_plot_reset_zoom        (PlPlot *plot);

/* Writes the plot as the user sees it (zoom, smoothing, visibility; no hover) at
 * @width x @height to @path; PNG, SVG or PDF by the extension. See
 * pl_plot_data_export for the errors. */
gboolean    pl_plot_export            (PlPlot *plot, const char *path, int width, int height,
                                       GError **error);

/* (transfer none) The model, for callers that need more than the above. Call
 * gtk_widget_queue_draw after changing it. */
PlPlotData *pl_plot_get_data          (PlPlot *plot);

/* The palette colour of run @run_id, the same in every plot. */
void        pl_plot_run_rgba          (gint64 run_id, GdkRGBA *out);

G_END_DECLS
