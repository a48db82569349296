/* pl-plot-data.h: the model and renderer behind the window's live plots.
 *
 * Pure C on GLib and Cairo, no GTK: a PlPlotData holds series of (step, value)
 * points and the view (zoom, log y, smoothing, hover, legend state), and draws
 * itself onto any cairo_t. The PlPlot widget wraps it; tests and exports use it
 * directly, without a display.
 *
 * Drawing cost does not grow with the number of points on screen: each series is
 * reduced to one vertical min/max segment per device pixel column (see
 * pl_plot_decimate), so a million points redraw in a few milliseconds and a single
 * spike is never lost. */
#pragma once

#include <glib.h>
#include <cairo.h>

G_BEGIN_DECLS

/* Components in [0, 1]; same layout as GdkRGBA but in double. */
typedef struct {
  double red;
  double green;
  double blue;
  double alpha;
} PlPlotColor;

/* The colours a plot takes from its surroundings (the widget's GTK style, or a
 * fixed light/dark theme for exports). */
typedef struct {
  PlPlotColor foreground;   /* text, axes; grid and faint elements derive from it */
  PlPlotColor background;   /* filled first unless alpha is 0 (the widget lets CSS paint) */
  gboolean    dark;         /* dark theme: tooltip box and selection tints follow */
  const char *font_family;  /* NULL: "Sans" */
  double      font_size;    /* tick labels, legend and read-out, in user units; title is 1.15x */
} PlPlotStyle;

/* Fills @style with the default light or dark theme (opaque background). */
void pl_plot_style_init (PlPlotStyle *style, gboolean dark);

/* The fixed palette: colour @index (taken modulo the palette size). */
#define PL_PLOT_PALETTE_SIZE 10
void pl_plot_palette_color (guint index, PlPlotColor *out);
/* The colour of run @run_id, the same in every plot: consecutive ids get
 * distinct colours (id modulo the palette, negative ids included). */
void pl_plot_run_color (gint64 run_id, PlPlotColor *out);

/* ---- Decimation ---------------------------------------------------------- */

/* One pixel column that holds at least one point. */
typedef struct {
  int    col;     /* column index in [0, width_px) */
  double min;     /* smallest y among the column's points */
  double max;     /* largest y */
  double first;   /* y of the column's first point (smallest x) */
  double last;    /* y of its last point */
  guint  count;   /* points in the column */
} PlDecimatedColumn;

/* The output of pl_plot_decimate. Initialize with pl_decimated_init, reuse across
 * calls (the buffer grows once to the widest width), free with pl_decimated_clear. */
typedef struct {
  PlDecimatedColumn *cols;
  int                n_cols;      /* columns with points, in increasing col order */
  int                capacity;
  gsize              n_points;    /* points that fell in the range (after skipping) */
  /* The nearest usable points just outside [x0, x1], for a line that enters and
   * leaves the view at its edges. */
  gboolean           has_before;
  double             before_x, before_y;
  gboolean           has_after;
  double             after_x, after_y;
} PlDecimated;

void pl_decimated_init  (PlDecimated *dec);
void pl_decimated_clear (PlDecimated *dec);

/* Reduces the points (xs[i], ys[i]), i < n, sorted by x, to at most @width_px
 * columns over [x0, x1]: column c covers x in [x0 + c*w, x0 + (c+1)*w) with
 * w = (x1 - x0) / width_px, the last column also takes x == x1; when x0 == x1 the
 * one column 0 takes the points at exactly x0. Points whose y is NaN or infinite
 * are skipped. Cost: two binary searches plus one pass over the points in range.
 * An empty or inverted range, or width_px <= 0, gives no columns. */
void pl_plot_decimate          (const double *xs, const double *ys, gsize n,
                                double x0, double x1, int width_px,
                                PlDecimated *out);
/* The same, and when @positive_only also skips y <= 0 (for a log axis). */
void pl_plot_decimate_full     (const double *xs, const double *ys, gsize n,
                                double x0, double x1, int width_px,
                                gboolean positive_only, PlDecimated *out);

/* ---- Ticks ------------------------------------------------------------- */

/* Chooses "nice" tick values k * s inside [lo, hi], with the step s one of
 * {1, 2, 5} x 10^e: the smallest such step that gives at most @max_ticks ticks
 * (max_ticks >= 2). @ticks must hold @max_ticks values; *n gets the count, which
 * is at least 2 (the range is widened around the value when lo == hi, and the
 * ends are swapped when lo > hi). Returns the step, for pl_plot_format_tick; 0 and
 * no ticks when lo or hi is not finite. */
double pl_plot_nice_ticks (double lo, double hi, int max_ticks, double *ticks, int *n);

/* Ticks for a log axis over [lo, hi], lo > 0: the decades 10^k inside the range
 * (every m-th decade when there are more than @max_ticks), plus 2 x and 5 x 10^k
 * when the range spans few decades and they fit; linear nice ticks when the range
 * holds fewer than two decades and {1,2,5} values; lo == hi is widened by half a
 * decade each way. @ticks holds @max_ticks values.
 * Returns FALSE with *n = 0 when the range is not positive and finite. */
gboolean pl_plot_log_ticks (double lo, double hi, int max_ticks, double *ticks, int *n);

/* Writes a compact label for tick @value on an axis whose ticks are @step apart
 * into @buf: "0", "0.25", "0.001", "1e-05", "2.5k", "1.2M", "3G", with just the
 * digits the step needs ("1.00000002" for a step of 2e-8) and no trailing zeros.
 * @step <= 0 formats the value alone (log axes). */
void pl_plot_format_tick (double value, double step, char *buf, gsize size);

/* ---- Smoothing --------------------------------------------------------- */

/* TensorBoard's debiased exponential moving average, for @weight in [0, 1):
 *   m_k = weight * m_{k-1} + (1 - weight) * y_k,  m_0 = 0
 *   out_k = m_k / (1 - weight^k)        (k counts finite values so far)
 * A non-finite y_k is copied to out and leaves the average untouched. @out may be
 * @ys. weight 0 copies. */
void pl_plot_ema (const double *ys, gsize n, double weight, double *out);

/* ---- The model ---------------------------------------------------------- */

typedef struct _PlPlotData PlPlotData;

/* (transfer full) An empty plot with @title (may be NULL). */
PlPlotData *pl_plot_data_new  (const char *title);
void        pl_plot_data_free (PlPlotData *data);

void        pl_plot_data_set_title   (PlPlotData *data, const char *title);
const char *pl_plot_data_get_title   (PlPlotData *data);
void        pl_plot_data_set_y_label (PlPlotData *data, const char *label);
const char *pl_plot_data_get_y_label (PlPlotData *data);
/* Default "step". */
void        pl_plot_data_set_x_label (PlPlotData *data, const char *label);
const char *pl_plot_data_get_x_label (PlPlotData *data);

/* Adds an empty visible series and returns its id (> 0, never reused by this
 * plot). @color NULL takes the palette colour of the series' index. */
guint    pl_plot_data_add_series     (PlPlotData *data, const char *name,
                                      const PlPlotColor *color);
/* FALSE if there is no series @id. */
gboolean pl_plot_data_remove_series  (PlPlotData *data, guint id);
/* Removes every series. */
void     pl_plot_data_clear          (PlPlotData *data);
guint    pl_plot_data_get_n_series   (PlPlotData *data);
/* The id of the @index-th series in legend order, 0 past the end. */
guint    pl_plot_data_get_series_id  (PlPlotData *data, guint index);
gboolean pl_plot_data_has_series     (PlPlotData *data, guint id);
const char *pl_plot_data_get_series_name (PlPlotData *data, guint id);
void     pl_plot_data_set_series_color (PlPlotData *data, guint id, const PlPlotColor *color);
gboolean pl_plot_data_get_series_color (PlPlotData *data, guint id, PlPlotColor *out);

/* Appends one point, amortized O(1). Steps normally arrive in increasing x; an
 * earlier x is accepted and the series is re-sorted (stably) before its next use.
 * x must be finite; y may be NaN or infinite (drawn as a gap, shown in the
 * read-out). */
void     pl_plot_data_append        (PlPlotData *data, guint id, double x, double y);
/* Replaces the series' points with a copy of xs[0..n), ys[0..n) (any order). */
void     pl_plot_data_set_points    (PlPlotData *data, guint id,
                                     const double *xs, const double *ys, gsize n);
/* Points of series @id; id 0 counts all series. */
gsize    pl_plot_data_get_n_points  (PlPlotData *data, guint id);
/* The @index-th point of series @id in x order. FALSE if out of range. */
gboolean pl_plot_data_get_point     (PlPlotData *data, guint id, gsize index,
                                     double *x, double *y);

void     pl_plot_data_set_series_visible (PlPlotData *data, guint id, gboolean visible);
gboolean pl_plot_data_get_series_visible (PlPlotData *data, guint id);

/* Log y axis: non-positive values are skipped. Switching resets the y zoom. */
void     pl_plot_data_set_log_y     (PlPlotData *data, gboolean log_y);
gboolean pl_plot_data_get_log_y     (PlPlotData *data);
/* EMA weight, clamped to [0, 0.999]; 0 draws the raw curves only. */
void     pl_plot_data_set_smoothing (PlPlotData *data, double weight);
double   pl_plot_data_get_smoothing (PlPlotData *data);
void     pl_plot_data_set_show_legend (PlPlotData *data, gboolean show);

/* ---- View, in data units ---- */

/* Fixes the x (or y) range; lo >= hi is ignored. The other axis stays as it is
 * (y follows the points inside the x range while it is automatic). For a log axis
 * y0 and y1 are values (> 0), not logarithms. */
void     pl_plot_data_set_view_x    (PlPlotData *data, double x0, double x1);
void     pl_plot_data_set_view_y    (PlPlotData *data, double y0, double y1);
/* Keeps the automatic linear y range inside [lo, hi] (for values that cannot
 * leave it, like fractions); lo >= hi removes the limits. Zooming ignores them. */
void     pl_plot_data_set_y_limits  (PlPlotData *data, double lo, double hi);
/* Back to automatic ranges covering all visible points. */
void     pl_plot_data_reset_view    (PlPlotData *data);
gboolean pl_plot_data_is_zoomed     (PlPlotData *data);
/* The ranges the next draw will use (computed from the points when automatic).
 * FALSE (and zeros) when no visible series has a point. */
gboolean pl_plot_data_get_view      (PlPlotData *data, double *x0, double *x1,
                                     double *y0, double *y1);

/* ---- Interaction, in the pixel coordinates of the last draw ---- */

/* Zooms by @factor (< 1 in, > 1 out) around the pixel (px, py): the x axis, or
 * the y axis when @y_axis. No-op before the first draw. */
void     pl_plot_data_zoom          (PlPlotData *data, gboolean y_axis, double factor,
                                     double px, double py);
/* Zooms both axes to the rectangle between two pixels (clipped to the plot area);
 * FALSE, and no change, when it is smaller than 4 px on a side. */
gboolean pl_plot_data_zoom_rect     (PlPlotData *data, double px0, double py0,
                                     double px1, double py1);
/* A selection rectangle drawn while dragging; clear with a negative width. */
void     pl_plot_data_set_selection (PlPlotData *data, double px0, double py0,
                                     double px1, double py1);
void     pl_plot_data_clear_selection (PlPlotData *data);
/* The pointer position for the hover read-out. */
void     pl_plot_data_set_hover     (PlPlotData *data, double px, double py);
void     pl_plot_data_clear_hover   (PlPlotData *data);
/* TRUE if (px, py) is inside the plot area of the last draw. */
gboolean pl_plot_data_in_plot_area  (PlPlotData *data, double px, double py);
/* The id of the legend entry under (px, py) in the last draw, 0 for none. */
guint    pl_plot_data_legend_hit    (PlPlotData *data, double px, double py);
/* The data coordinates of a pixel of the last draw. FALSE before any draw. */
gboolean pl_plot_data_pixel_to_value (PlPlotData *data, double px, double py,
                                      double *x, double *y);

/* ---- Output ---- */

/* Draws the whole plot (title, y label, legend, grid, ticks, curves, hover
 * read-out, selection, or the "No data yet" text) into the rectangle (0, 0, w, h)
 * of @cr's user space, and records the layout for the interaction calls above.
 * Leaves @cr's state as it found it. */
void     pl_plot_data_draw          (PlPlotData *data, cairo_t *cr, int width, int height,
                                     const PlPlotStyle *style);

/* Writes the plot at @width x @height to @path as PNG, SVG or PDF, chosen by the
 * extension (case-insensitive .png, .svg, .pdf), replacing the file atomically.
 * Draws without hover read-out or selection; @style NULL is the light theme.
 * On failure returns FALSE with a G_IO_ERROR naming the path: INVALID_ARGUMENT for
 * an unknown extension or a size outside 1..16384, FAILED when Cairo fails, and
 * the code from the file system when the file cannot be written. */
gboolean pl_plot_data_export        (PlPlotData *data, const char *path,
                                     int width, int height, const PlPlotStyle *style,
                                     GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PlPlotData, pl_plot_data_free)

G_END_DECLS
