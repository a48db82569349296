/* pl-plot-data.c: series storage, decimation, ticks, smoothing and drawing for
 * the live plots. No GTK here: see pl-plot-data.h. */
#include "pl-plot-data.h"

#include <gio/gio.h>
#include <math.h>
#include <string.h>
#include <cairo-pdf.h>
#include <cairo-svg.h>

/* ---- Colours ------------------------------------------------------------ */

/* Tableau 10: distinct hues that read on light and dark backgrounds. */
static const PlPlotColor palette[PL_PLOT_PALETTE_SIZE] = {
  { 0.122, 0.467, 0.706, 1.0 },  /* blue */
  { 1.000, 0.498, 0.055, 1.0 },  /* orange */
  { 0.173, 0.627, 0.173, 1.0 },  /* green */
  { 0.839, 0.153, 0.157, 1.0 },  /* red */
  { 0.580, 0.404, 0.741, 1.0 },  /* purple */
  { 0.549, 0.337, 0.294, 1.0 },  /* brown */
  { 0.890, 0.467, 0.761, 1.0 },  /* pink */
  { 0.498, 0.498, 0.498, 1.0 },  /* grey */
  { 0.737, 0.741, 0.133, 1.0 },  /* olive */
  { 0.090, 0.745, 0.812, 1.0 },  /* cyan */
};

void
pl_plot_palette_color (guint index, PlPlotColor *out)
{
  g_return_if_fail (out != NULL);
  *out = palette[index % PL_PLOT_PALETTE_SIZE];
}

void
pl_plot_run_color (gint64 run_id, PlPlotColor *out)
{
  g_return_if_fail (out != NULL);
  gint64 m = run_id % PL_PLOT_PALETTE_SIZE;
  if (m < 0)
    m += PL_PLOT_PALETTE_SIZE;
  *out = palette[m];
}

void
pl_plot_style_init (PlPlotStyle *style, gboolean dark)
{
  g_return_if_fail (style != NULL);
  memset (style, 0, sizeof *style);
  style->dark = dark;
  if (dark)
    {
      style->foreground = (PlPlotColor) { 0.92, 0.92, 0.92, 1.0 };
      style->background = (PlPlotColor) { 0.14, 0.14, 0.14, 1.0 };
    }
  else
    {
      style->foreground = (PlPlotColor) { 0.13, 0.13, 0.15, 1.0 };
      style->background = (PlPlotColor) { 1.0, 1.0, 1.0, 1.0 };
    }
  style->font_family = NULL;
  style->font_size = 12.0;
}

/* ---- Decimation ---------------------------------------------------------- */

void
pl_decimated_init (PlDecimated *dec)
{
  memset (dec, 0, sizeof *dec);
}

void
pl_decimated_clear (PlDecimated *dec)
{
  if (dec == NULL)
    return;
  g_free (dec->cols);
  memset (dec, 0, sizeof *dec);
}

static inline gboolean
usable (double y, gboolean positive_only)
{
  return isfinite (y) && (!positive_only || y > 0);
}

/* first i in [0, n) with xs[i] >= v, n if none */
static gsize
lower_bound (const double *xs, gsize n, double v)
{
  gsize lo = 0, hi = n;
  while (lo < hi)
    {
      gsize mid = lo + (hi - lo) / 2;
      if (xs[mid] < v)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo;
}

/* first i in [0, n) with xs[i] > v, n if none */
static gsize
upper_bound (const double *xs, gsize n, double v)
{
  gsize lo = 0, hi = n;
  while (lo < hi)
    {
      gsize mid = lo + (hi - lo) / 2;
      if (xs[mid] <= v)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo;
}

/* How far to look past the range's ends for a usable neighbour point. */
#define NEIGHBOUR_SCAN 4096

void
pl_plot_decimate_full (const double *xs, const double *ys, gsize n,
                       double x0, double x1, int width_px,
                       gboolean positive_only, PlDecimated *out)
{
  g_return_if_fail (out != NULL);
  g_return_if_fail (n == 0 || (xs != NULL && ys != NULL));

  out->n_cols = 0;
  out->n_points = 0;
  out->has_before = FALSE;
  out->has_after = FALSE;
  if (n == 0 || width_px <= 0 || !isfinite (x0) || !isfinite (x1) || !(x0 <= x1))
    return;

  if (out->capacity < width_px)
    {
      out->cols = g_renew (PlDecimatedColumn, out->cols, width_px);
      out->capacity = width_px;
    }

  gsize lo = lower_bound (xs, n, x0);
  gsize hi = upper_bound (xs, n, x1);

  for (gsize i = lo, k = 0; i > 0 && k < NEIGHBOUR_SCAN; i--, k++)
    if (usable (ys[i - 1], positive_only))
      {
        out->has_before = TRUE;
        out->before_x = xs[i - 1];
        out->before_y = ys[i - 1];
        break;
      }
  for (gsize i = hi, k = 0; i < n && k < NEIGHBOUR_SCAN; i++, k++)
    if (usable (ys[i], positive_only))
      {
        out->has_after = TRUE;
        out->after_x = xs[i];
        out->after_y = ys[i];
        break;
      }

  /* column = floor ((x - x0) * (width_px / (x1 - x0))), clamped to width_px - 1;
   * monotone in x, so each column is one slice of the sorted points */
  double scale = x1 > x0 ? (double) width_px / (x1 - x0) : 0.0;
  int last_col = width_px - 1;
  gsize used = 0;

#define COL_OF(x) MIN ((int) (((x) - x0) * scale), last_col)
  for (gsize i = lo; i < hi;)
    {
      int col = COL_OF (xs[i]);
      /* gallop then bisect to the first point of a later column */
      gsize good = i, step = 1, bad = hi;
      while (good + step < hi)
        {
          if (COL_OF (xs[good + step]) > col)
            {
              bad = good + step;
              break;
            }
          good += step;
          step *= 2;
        }
      while (bad - good > 1)
        {
          gsize mid = good + (bad - good) / 2;
          if (COL_OF (xs[mid]) > col)
            bad = mid;
          else
            good = mid;
        }
      gsize j = bad;

      /* min and max with NaN falling out of the comparisons (y < mn is false
       * for NaN), four accumulators to break the dependency chains; count the
       * NaNs */
      double mn0 = INFINITY, mn1 = INFINITY, mn2 = INFINITY, mn3 = INFINITY;
      double mx0 = -INFINITY, mx1 = -INFINITY, mx2 = -INFINITY, mx3 = -INFINITY;
      gsize nans = 0, k = i;
      for (; k + 4 <= j; k += 4)
        {
          double y0 = ys[k], y1 = ys[k + 1], y2 = ys[k + 2], y3 = ys[k + 3];
          mn0 = y0 < mn0 ? y0 : mn0;
          mn1 = y1 < mn1 ? y1 : mn1;
          mn2 = y2 < mn2 ? y2 : mn2;
          mn3 = y3 < mn3 ? y3 : mn3;
          mx0 = y0 > mx0 ? y0 : mx0;
          mx1 = y1 > mx1 ? y1 : mx1;
          mx2 = y2 > mx2 ? y2 : mx2;
          mx3 = y3 > mx3 ? y3 : mx3;
          nans += (y0 != y0) + (y1 != y1) + (y2 != y2) + (y3 != y3);
        }
      for (; k < j; k++)
        {
          double y = ys[k];
          mn0 = y < mn0 ? y : mn0;
          mx0 = y > mx0 ? y : mx0;
          nans += y != y;
        }
      double mn = MIN (MIN (mn0, mn1), MIN (mn2, mn3));
      double mx = MAX (MAX (mx0, mx1), MAX (mx2, mx3));
      PlDecimatedColumn *c = &out->cols[out->n_cols];
      if (mn != -INFINITY && mx != INFINITY && mn != INFINITY && (!positive_only || mn > 0))
        {
          gsize a = i, b = j;
          while (!usable (ys[a], FALSE))
            a++;
          while (!usable (ys[b - 1], FALSE))
            b--;
          c->col = col;
          c->min = mn;
          c->max = mx;
          c->first = ys[a];
          c->last = ys[b - 1];
          c->count = (guint) (j - i - nans);
          out->n_cols++;
          used += c->count;
        }
      else
        {
          /* infinities, only NaN, or values <= 0 on a log axis: point by point */
          guint count = 0;
          for (gsize k = i; k < j; k++)
            {
              double y = ys[k];
              if (!usable (y, positive_only))
                continue;
              if (count++ == 0)
                {
                  c->min = c->max = c->first = y;
                }
              if (y < c->min)
                c->min = y;
              if (y > c->max)
                c->max = y;
              c->last = y;
            }
          if (count > 0)
            {
              c->col = col;
              c->count = count;
              out->n_cols++;
              used += count;
            }
        }
      i = j;
    }
#undef COL_OF
  out->n_points = used;
}

void
pl_plot_decimate (const double *xs, const double *ys, gsize n,
                  double x0, double x1, int width_px, PlDecimated *out)
{
  pl_plot_decimate_full (xs, ys, n, x0, x1, width_px, FALSE, out);
}

/* ---- Ticks --------------------------------------------------------------- */

/* m x 10^e, correctly rounded for the small integers m used here (10^|e| is exact
 * up to e = 22, and dividing by it rounds once) */
static double
scaled (double m, int e)
{
  if (e >= 0)
    return m * pow (10.0, e);
  return m / pow (10.0, -e);
}

static const double nice_mults[3] = { 1.0, 2.0, 5.0 };

/* The i-th nice step: {1, 2, 5}[i mod 3] x 10^floor(i / 3). */
static double
nice_step (int i, double *mult, int *exp10)
{
  int e = i >= 0 ? i / 3 : -((-i + 2) / 3);
  int r = i - 3 * e;
  *mult = nice_mults[r];
  *exp10 = e;
  return scaled (nice_mults[r], e);
}

static double
nice_ticks_impl (double lo, double hi, int max_ticks, double min_step,
                 double *ticks, int *n)
{
  *n = 0;
  if (!isfinite (lo) || !isfinite (hi) || max_ticks < 1)
    return 0.0;
  if (lo > hi)
    {
      double t = lo;
      lo = hi;
      hi = t;
    }
  if (lo == hi)
    {
      double d = lo == 0.0 ? 1.0 : fabs (lo) * 0.1;
      lo -= d;
      hi += d;
    }
  double span = hi - lo;
  if (!isfinite (span) || span <= 0)
    {
      ticks[0] = lo;
      ticks[(*n = MIN (2, max_ticks)) - 1] = hi;
      return 0.0;
    }

  /* Start a decade below span / max_ticks and take the first (smallest) nice
   * step whose multiples inside [lo, hi] number at most max_ticks. */
  int i = 3 * ((int) floor (log10 (span / max_ticks)) - 1);
  double step = 0, mult = 1;
  int e = 0;
  gint64 k0 = 0, k1 = -1;
  for (int tries = 0; tries < 64; tries++, i++)
    {
      step = nice_step (i, &mult, &e);
      if (step < min_step)
        continue;
      double a = ceil (lo / step - 1e-9);
      double b = floor (hi / step + 1e-9);
      if (b - a + 1 <= max_ticks)
        {
          k0 = (gint64) a;
          k1 = (gint64) b;
          break;
        }
    }
  for (gint64 k = k0; k <= k1 && *n < max_ticks; k++)
    {
      /* k x step = (k m) x 10^e, rounded once */
      double t = scaled ((double) k * mult, e);
      ticks[(*n)++] = k == 0 ? 0.0 : t;
    }
  return step;
}

double
pl_plot_nice_ticks (double lo, double hi, int max_ticks, double *ticks, int *n)
{
  g_return_val_if_fail (ticks != NULL && n != NULL, 0.0);
  return nice_ticks_impl (lo, hi, max_ticks, 0.0, ticks, n);
}

gboolean
pl_plot_log_ticks (double lo, double hi, int max_ticks, double *ticks, int *n)
{
  g_return_val_if_fail (ticks != NULL && n != NULL, FALSE);
  *n = 0;
  if (!isfinite (lo) || !isfinite (hi) || !(lo > 0) || !(hi > 0) || max_ticks < 1)
    return FALSE;
  if (lo > hi)
    {
      double t = lo;
      lo = hi;
      hi = t;
    }
  double l0 = log10 (lo), l1 = log10 (hi);
  if (l0 == l1)
    {
      /* a single value: half a decade either side */
      l0 -= 0.5;
      l1 += 0.5;
      lo = pow (10.0, l0);
      hi = pow (10.0, l1);
    }
  int d0 = (int) ceil (l0 - 1e-9);
  int d1 = (int) floor (l1 + 1e-9);
  int n_dec = d1 - d0 + 1;

  if (n_dec > max_ticks)
    {
      /* every m-th decade, at multiples of m so that labels stay round */
      int m = (n_dec + max_ticks - 1) / max_ticks;
      int first = (int) ceil ((double) d0 / m) * m;
      for (int d = first; d <= d1 && *n < max_ticks; d += m)
        ticks[(*n)++] = scaled (1.0, d);
      if (*n >= 2)
        return TRUE;
      *n = 0;
    }

  if (l1 - l0 <= 3.0 + 1e-9)
    {
      /* few decades: 1, 2, 5 x 10^d when they all fit */
      double tmp[64];
      int m = 0;
      double tol = 1e-9;
      for (int d = d0 - 1; d <= d1 && m < 60; d++)
        for (int j = 0; j < 3; j++)
          {
            double t = scaled (nice_mults[j], d);
            if (t >= lo * (1 - tol) && t <= hi * (1 + tol))
              tmp[m++] = t;
          }
      if (m >= 2 && m <= max_ticks)
        {
          memcpy (ticks, tmp, m * sizeof (double));
          *n = m;
          return TRUE;
        }
    }

  if (n_dec >= 2 && n_dec <= max_ticks)
    {
      for (int d = d0; d <= d1; d++)
        ticks[(*n)++] = scaled (1.0, d);
      return TRUE;
    }

  /* within a decade or so: linear nice ticks read fine on a log axis */
  nice_ticks_impl (lo, hi, max_ticks, 0.0, ticks, n);
  int k = 0;
  for (int j = 0; j < *n; j++)
    if (ticks[j] > 0)
      ticks[k++] = ticks[j];
  *n = k;
  return TRUE;
}

/* Removes trailing zeros after a decimal point in the digits that start at
 * @s and end before @end, and the point itself if nothing follows it; returns the
 * new end. */
static char *
strip_zeros (char *s, char *end)
{
  char *dot = memchr (s, '.', end - s);
  if (dot == NULL)
    return end;
  while (end > dot + 1 && end[-1] == '0')
    end--;
  if (end == dot + 1)
    end = dot;
  return end;
}

void
pl_plot_format_tick (double value, double step, char *buf, gsize size)
{
  g_return_if_fail (buf != NULL && size > 0);
  char tmp[96];

  if (!isfinite (value))
    {
      g_snprintf (buf, size, "%s", isnan (value) ? "nan" : value > 0 ? "inf" : "-inf");
      return;
    }
  if (step > 0 && isfinite (step) && fabs (value) < step * 1e-9)
    value = 0.0;
  if (value == 0.0)
    {
      g_snprintf (buf, size, "0");
      return;
    }
  double a = fabs (value);
  if (!(step > 0) || !isfinite (step))
    /* the value alone: three significant digits at most */
    step = scaled (1.0, (int) floor (log10 (a)) - 2);

  int ev = (int) floor (log10 (a) + 1e-12);
  int es = (int) floor (log10 (step) + 1e-9);

  if (a < 1e-4 || a >= 1e15)
    {
      /* 1.5e-05: mantissa digits down to the step's decade */
      int digits = CLAMP (ev - es, 0, 15);
      g_snprintf (tmp, sizeof tmp, "%.*e", digits, value);
      char *e = strchr (tmp, 'e');
      if (e != NULL)
        {
          char *end = strip_zeros (tmp, e);
          memmove (end, e, strlen (e) + 1);
        }
      g_snprintf (buf, size, "%s", tmp);
      return;
    }

  if (a >= 1000)
    {
      static const struct { double unit; const char *suffix; } units[] = {
        { 1e12, "T" }, { 1e9, "G" }, { 1e6, "M" }, { 1e3, "k" },
      };
      for (guint i = 0; i < G_N_ELEMENTS (units); i++)
        {
          if (a < units[i].unit)
            continue;
          int decimals = MAX (0, -(int) floor (log10 (step / units[i].unit) + 1e-9));
          if (decimals > 2)
            break;  /* 1001 reads better than 1.001k */
          g_snprintf (tmp, sizeof tmp, "%.*f", decimals, value / units[i].unit);
          char *end = strip_zeros (tmp, tmp + strlen (tmp));
          *end = '\0';
          g_snprintf (buf, size, "%s%s", tmp, units[i].suffix);
          return;
        }
    }

  int decimals = CLAMP (-es, 0, 17);
  g_snprintf (tmp, sizeof tmp, "%.*f", decimals, value);
  char *end = strip_zeros (tmp, tmp + strlen (tmp));
  *end = '\0';
  g_snprintf (buf, size, "%s", tmp);
}

/* ---- Smoothing ----------------------------------------------------------- */

typedef struct {
  double weight;
  double m;      /* biased average */
  double wpow;   /* weight^k */
} EmaState;

static inline void
ema_reset (EmaState *s, double weight)
{
  s->weight = weight;
  s->m = 0.0;
  s->wpow = 1.0;
}

static inline double
ema_step (EmaState *s, double y)
{
  if (!isfinite (y))
    return y;
  /* m_k = w m_{k-1} + (1 - w) y_k;  debiased m_k / (1 - w^k) */
  s->m = s->m * s->weight + (1.0 - s->weight) * y;
  s->wpow *= s->weight;
  /* below 1e-17, 1 - w^k is exactly 1.0; stop before w^k turns subnormal,
   * which is some 15 times slower on x86 */
  if (s->wpow < 1e-17)
    s->wpow = 0.0;
  return s->m / (1.0 - s->wpow);
}

void
pl_plot_ema (const double *ys, gsize n, double weight, double *out)
{
  g_return_if_fail (n == 0 || (ys != NULL && out != NULL));
  g_return_if_fail (weight >= 0.0 && weight < 1.0);
  EmaState s;
  ema_reset (&s, weight);
  for (gsize i = 0; i < n; i++)
    out[i] = ema_step (&s, ys[i]);
}

/* ---- The model ----------------------------------------------------------- */

typedef struct {
  guint       id;
  char       *name;
  PlPlotColor color;
  gboolean    visible;

  double     *xs;
  double     *ys;
  gsize       n;
  gsize       cap;
  /* xs[0..sorted_n) is sorted; when sorted_n < n the rest waits for ensure_sorted */
  gsize       sorted_n;

  /* over all finite y: range, and the smallest positive one (log axis) */
  double      ymin, ymax, ymin_pos;
  gboolean    has_finite, has_pos;
  double      xmin, xmax;

  /* EMA of ys in x order: ema[0..ema_n) valid for ema_state.weight */
  double     *ema;
  gsize       ema_cap;
  gsize       ema_n;
  EmaState    ema_state;
} PlSeries;

typedef struct {
  double x, y, w, h;
  guint  id;
} LegendEntry;

typedef struct {
  gboolean valid;
  double   ax, ay, aw, ah;   /* plot area in user units */
  double   x0, x1;           /* x range */
  double   t0, t1;           /* y range, in log10 units on a log axis */
  gboolean log_y;
  GArray  *legend;           /* LegendEntry */
} Layout;

struct _PlPlotData {
  char      *title;
  char      *y_label;
  char      *x_label;
  GPtrArray *series;         /* PlSeries *, legend order */
  guint      next_id;

  gboolean   log_y;
  double     smoothing;
  gboolean   show_legend;

  gboolean   x_manual, y_manual;
  double     view_x0, view_x1, view_y0, view_y1;
  gboolean   has_y_limits;   /* automatic linear y stays inside [lo, hi] */
  double     y_limit_lo, y_limit_hi;

  gboolean   hover;
  double     hover_x, hover_y;
  gboolean   selecting;
  double     sel_x0, sel_y0, sel_x1, sel_y1;

  Layout     layout;
  PlDecimated dec;
};

static void
series_free (gpointer p)
{
  PlSeries *s = p;
  g_free (s->name);
  g_free (s->xs);
  g_free (s->ys);
  g_free (s->ema);
  g_free (s);
}

static char *
dup_valid (const char *s)
{
  return s != NULL && *s ? g_utf8_make_valid (s, -1) : NULL;
}

PlPlotData *
pl_plot_data_new (const char *title)
{
  PlPlotData *data = g_new0 (PlPlotData, 1);
  data->title = dup_valid (title);
  data->x_label = g_strdup ("step");
  data->series = g_ptr_array_new_with_free_func (series_free);
  data->next_id = 1;
  data->show_legend = TRUE;
  data->layout.legend = g_array_new (FALSE, FALSE, sizeof (LegendEntry));
  pl_decimated_init (&data->dec);
  return data;
}

void
pl_plot_data_free (PlPlotData *data)
{
  if (data == NULL)
    return;
  g_free (data->title);
  g_free (data->y_label);
  g_free (data->x_label);
  g_ptr_array_unref (data->series);
  g_array_unref (data->layout.legend);
  pl_decimated_clear (&data->dec);
  g_free (data);
}

void
pl_plot_data_set_title (PlPlotData *data, const char *title)
{
  g_return_if_fail (data != NULL);
  g_free (data->title);
  data->title = dup_valid (title);
}

const char *
pl_plot_data_get_title (PlPlotData *data)
{
  g_return_val_if_fail (data != NULL, NULL);
  return data->title;
}

void
pl_plot_data_set_y_label (PlPlotData *data, const char *label)
{
  g_return_if_fail (data != NULL);
  g_free (data->y_label);
  data->y_label = dup_valid (label);
}

const char *
pl_plot_data_get_y_label (PlPlotData *data)
{
  g_return_val_if_fail (data != NULL, NULL);
  return data->y_label;
}

void
pl_plot_data_set_x_label (PlPlotData *data, const char *label)
{
  g_return_if_fail (data != NULL);
  g_free (data->x_label);
  data->x_label = dup_valid (label);
}

const char *
pl_plot_data_get_x_label (PlPlotData *data)
{
  g_return_val_if_fail (data != NULL, NULL);
  return data->x_label;
}

static PlSeries *
find_series (PlPlotData *data, guint id)
{
  for (guint i = 0; i < data->series->len; i++)
    {
      PlSeries *s = g_ptr_array_index (data->series, i);
      if (s->id == id)
        return s;
    }
  return NULL;
}

guint
pl_plot_data_add_series (PlPlotData *data, const char *name, const PlPlotColor *color)
{
  g_return_val_if_fail (data != NULL, 0);
  PlSeries *s = g_new0 (PlSeries, 1);
  s->id = data->next_id++;
  s->name = g_utf8_make_valid (name != NULL ? name : "", -1);
  if (color != NULL)
    s->color = *color;
  else
    pl_plot_palette_color (data->series->len, &s->color);
  s->visible = TRUE;
  g_ptr_array_add (data->series, s);
  return s->id;
}

gboolean
pl_plot_data_remove_series (PlPlotData *data, guint id)
{
  g_return_val_if_fail (data != NULL, FALSE);
  PlSeries *s = find_series (data, id);
  if (s == NULL)
    return FALSE;
  g_ptr_array_remove (data->series, s);
  return TRUE;
}

void
pl_plot_data_clear (PlPlotData *data)
{
  g_return_if_fail (data != NULL);
  g_ptr_array_set_size (data->series, 0);
  pl_plot_data_reset_view (data);
}

guint
pl_plot_data_get_n_series (PlPlotData *data)
{
  g_return_val_if_fail (data != NULL, 0);
  return data->series->len;
}

guint
pl_plot_data_get_series_id (PlPlotData *data, guint index)
{
  g_return_val_if_fail (data != NULL, 0);
  if (index >= data->series->len)
    return 0;
  return ((PlSeries *) g_ptr_array_index (data->series, index))->id;
}

gboolean
pl_plot_data_has_series (PlPlotData *data, guint id)
{
  g_return_val_if_fail (data != NULL, FALSE);
  return find_series (data, id) != NULL;
}

const char *
pl_plot_data_get_series_name (PlPlotData *data, guint id)
{
  g_return_val_if_fail (data != NULL, NULL);
  PlSeries *s = find_series (data, id);
  return s != NULL ? s->name : NULL;
}

void
pl_plot_data_set_series_color (PlPlotData *data, guint id, const PlPlotColor *color)
{
  g_return_if_fail (data != NULL && color != NULL);
  PlSeries *s = find_series (data, id);
  g_return_if_fail (s != NULL);
  s->color = *color;
}

gboolean
pl_plot_data_get_series_color (PlPlotData *data, guint id, PlPlotColor *out)
{
  g_return_val_if_fail (data != NULL && out != NULL, FALSE);
  PlSeries *s = find_series (data, id);
  if (s == NULL)
    return FALSE;
  *out = s->color;
  return TRUE;
}

static void
series_reserve (PlSeries *s, gsize want)
{
  if (want <= s->cap)
    return;
  gsize cap = MAX (s->cap * 2, 256);
  while (cap < want)
    cap *= 2;
  s->xs = g_renew (double, s->xs, cap);
  s->ys = g_renew (double, s->ys, cap);
  s->cap = cap;
}

static inline void
series_note (PlSeries *s, double x, double y)
{
  if (s->n == 0 || x < s->xmin)
    s->xmin = x;
  if (s->n == 0 || x > s->xmax)
    s->xmax = x;
  if (!isfinite (y))
    return;
  if (!s->has_finite || y < s->ymin)
    s->ymin = y;
  if (!s->has_finite || y > s->ymax)
    s->ymax = y;
  s->has_finite = TRUE;
  if (y > 0 && (!s->has_pos || y < s->ymin_pos))
    {
      s->ymin_pos = y;
      s->has_pos = TRUE;
    }
}

void
pl_plot_data_append (PlPlotData *data, guint id, double x, double y)
{
  g_return_if_fail (data != NULL);
  g_return_if_fail (isfinite (x));
  PlSeries *s = find_series (data, id);
  g_return_if_fail (s != NULL);

  series_reserve (s, s->n + 1);
  /* once a step arrives early, the suffix from there on waits for sorting */
  gboolean in_order = s->sorted_n == s->n && (s->n == 0 || x >= s->xs[s->n - 1]);
  series_note (s, x, y);
  s->xs[s->n] = x;
  s->ys[s->n] = y;
  s->n++;
  if (in_order)
    s->sorted_n = s->n;
}

typedef struct {
  double x, y;
} Pt;

static gint
pt_cmp (gconstpointer a, gconstpointer b, gpointer user_data)
{
  double xa = ((const Pt *) a)->x, xb = ((const Pt *) b)->x;
  return (xa > xb) - (xa < xb);
}

/* Sorts the unsorted suffix (stably: equal steps keep their order) and merges it
 * into the sorted prefix; invalidates the EMA from the first moved point. */
static void
series_ensure_sorted (PlSeries *s)
{
  if (s->sorted_n >= s->n)
    return;
  gsize p = s->sorted_n, q = s->n - p;
  Pt *suf = g_new (Pt, q);
  for (gsize i = 0; i < q; i++)
    suf[i] = (Pt) { s->xs[p + i], s->ys[p + i] };
  /* g_qsort_with_data is a stable merge sort */
  g_qsort_with_data (suf, q, sizeof (Pt), pt_cmp, NULL);

  /* merge from the back into the arrays: prefix wins ties, as it came first */
  gsize i = p, j = q, k = s->n;
  while (j > 0)
    {
      if (i > 0 && s->xs[i - 1] > suf[j - 1].x)
        {
          k--;
          i--;
          s->xs[k] = s->xs[i];
          s->ys[k] = s->ys[i];
        }
      else
        {
          k--;
          j--;
          s->xs[k] = suf[j].x;
          s->ys[k] = suf[j].y;
        }
    }
  g_free (suf);
  s->sorted_n = s->n;
  if (s->ema_n > i)
    s->ema_n = 0;
}

void
pl_plot_data_set_points (PlPlotData *data, guint id,
                         const double *xs, const double *ys, gsize n)
{
  g_return_if_fail (data != NULL);
  g_return_if_fail (n == 0 || (xs != NULL && ys != NULL));
  PlSeries *s = find_series (data, id);
  g_return_if_fail (s != NULL);

  s->n = 0;
  s->sorted_n = 0;
  s->ema_n = 0;
  s->has_finite = s->has_pos = FALSE;
  series_reserve (s, n);
  gsize k = 0;
  for (gsize i = 0; i < n; i++)
    {
      if (!isfinite (xs[i]))
        continue;  /* a step is always finite; drop what is not */
      gboolean in_order = s->sorted_n == k && (k == 0 || xs[i] >= s->xs[k - 1]);
      s->n = k;
      series_note (s, xs[i], ys[i]);
      s->xs[k] = xs[i];
      s->ys[k] = ys[i];
      k++;
      if (in_order)
        s->sorted_n = k;
    }
  s->n = k;
}

gsize
pl_plot_data_get_n_points (PlPlotData *data, guint id)
{
  g_return_val_if_fail (data != NULL, 0);
  if (id == 0)
    {
      gsize total = 0;
      for (guint i = 0; i < data->series->len; i++)
        total += ((PlSeries *) g_ptr_array_index (data->series, i))->n;
      return total;
    }
  PlSeries *s = find_series (data, id);
  return s != NULL ? s->n : 0;
}

gboolean
pl_plot_data_get_point (PlPlotData *data, guint id, gsize index, double *x, double *y)
{
  g_return_val_if_fail (data != NULL, FALSE);
  PlSeries *s = find_series (data, id);
  if (s == NULL || index >= s->n)
    return FALSE;
  series_ensure_sorted (s);
  if (x != NULL)
    *x = s->xs[index];
  if (y != NULL)
    *y = s->ys[index];
  return TRUE;
}

void
pl_plot_data_set_series_visible (PlPlotData *data, guint id, gboolean visible)
{
  g_return_if_fail (data != NULL);
  PlSeries *s = find_series (data, id);
  g_return_if_fail (s != NULL);
  s->visible = !!visible;
}

gboolean
pl_plot_data_get_series_visible (PlPlotData *data, guint id)
{
  g_return_val_if_fail (data != NULL, FALSE);
  PlSeries *s = find_series (data, id);
  return s != NULL && s->visible;
}

void
pl_plot_data_set_log_y (PlPlotData *data, gboolean log_y)
{
  g_return_if_fail (data != NULL);
  if (data->log_y == !!log_y)
    return;
  data->log_y = !!log_y;
  data->y_manual = FALSE;
}

gboolean
pl_plot_data_get_log_y (PlPlotData *data)
{
  g_return_val_if_fail (data != NULL, FALSE);
  return data->log_y;
}

void
pl_plot_data_set_smoothing (PlPlotData *data, double weight)
{
  g_return_if_fail (data != NULL);
  if (!isfinite (weight))
    weight = 0.0;
  data->smoothing = CLAMP (weight, 0.0, 0.999);
}

double
pl_plot_data_get_smoothing (PlPlotData *data)
{
  g_return_val_if_fail (data != NULL, 0.0);
  return data->smoothing;
}

void
pl_plot_data_set_show_legend (PlPlotData *data, gboolean show)
{
  g_return_if_fail (data != NULL);
  data->show_legend = !!show;
}

/* The EMA of the (sorted) series for the current weight, extended incrementally
 * as points arrive. */
static const double *
series_ema (PlSeries *s, double weight)
{
  series_ensure_sorted (s);
  if (s->ema_n > 0 && s->ema_state.weight != weight)
    s->ema_n = 0;
  if (s->ema_n == 0)
    ema_reset (&s->ema_state, weight);
  if (s->ema_cap < s->cap)
    {
      s->ema = g_renew (double, s->ema, s->cap);
      s->ema_cap = s->cap;
    }
  for (gsize i = s->ema_n; i < s->n; i++)
    s->ema[i] = ema_step (&s->ema_state, s->ys[i]);
  s->ema_n = s->n;
  return s->ema;
}

/* ---- View ------------------------------------------------------------------ */

static inline double
to_axis (double y, gboolean log_y)
{
  return log_y ? log10 (y) : y;
}

static inline double
from_axis (double t, gboolean log_y)
{
  return log_y ? pow (10.0, t) : t;
}

void
pl_plot_data_set_view_x (PlPlotData *data, double x0, double x1)
{
  g_return_if_fail (data != NULL);
  if (!isfinite (x0) || !isfinite (x1) || !(x0 < x1))
    return;
  data->x_manual = TRUE;
  data->view_x0 = x0;
  data->view_x1 = x1;
}

void
pl_plot_data_set_view_y (PlPlotData *data, double y0, double y1)
{
  g_return_if_fail (data != NULL);
  if (!isfinite (y0) || !isfinite (y1) || !(y0 < y1))
    return;
  if (data->log_y && !(y0 > 0))
    return;
  data->y_manual = TRUE;
  data->view_y0 = y0;
  data->view_y1 = y1;
}

void
pl_plot_data_reset_view (PlPlotData *data)
{
  g_return_if_fail (data != NULL);
  data->x_manual = FALSE;
  data->y_manual = FALSE;
}

gboolean
pl_plot_data_is_zoomed (PlPlotData *data)
{
  g_return_val_if_fail (data != NULL, FALSE);
  return data->x_manual || data->y_manual;
}

typedef struct {
  gboolean has_data;   /* some visible series has a point */
  double   x0, x1;
  double   t0, t1;     /* y range in axis units */
} Ranges;

static void
minmax_range (const double *v, gsize lo, gsize hi, gboolean pos_only,
              double *mn, double *mx, gboolean *found)
{
  for (gsize i = lo; i < hi; i++)
    {
      double y = v[i];
      if (!usable (y, pos_only))
        continue;
      if (!*found || y < *mn)
        *mn = y;
      if (!*found || y > *mx)
        *mx = y;
      *found = TRUE;
    }
}

/* The ranges a draw uses: manual ones as set, automatic x over all visible
 * points, automatic y over the visible points inside the x range (raw and, when
 * smoothing, smoothed), padded by 5 % and widened when flat. */
static void
compute_ranges (PlPlotData *data, Ranges *r)
{
  gboolean log_y = data->log_y;
  gboolean any = FALSE;
  double xmin = 0, xmax = 0;

  memset (r, 0, sizeof *r);
  for (guint i = 0; i < data->series->len; i++)
    {
      PlSeries *s = g_ptr_array_index (data->series, i);
      if (!s->visible || s->n == 0)
        continue;
      if (!any || s->xmin < xmin)
        xmin = s->xmin;
      if (!any || s->xmax > xmax)
        xmax = s->xmax;
      any = TRUE;
    }
  r->has_data = any;
  if (!any)
    return;

  if (data->x_manual)
    {
      r->x0 = data->view_x0;
      r->x1 = data->view_x1;
    }
  else
    {
      r->x0 = xmin;
      r->x1 = xmax;
      if (r->x0 == r->x1)
        {
          double d = MAX (0.5, fabs (r->x0) * 1e-3);
          r->x0 -= d;
          r->x1 += d;
        }
    }

  if (data->y_manual)
    {
      r->t0 = to_axis (data->view_y0, log_y);
      r->t1 = to_axis (data->view_y1, log_y);
      return;
    }

  gboolean found = FALSE, found_all = FALSE;
  double mn = 0, mx = 0, mn_all = 0, mx_all = 0;
  for (guint i = 0; i < data->series->len; i++)
    {
      PlSeries *s = g_ptr_array_index (data->series, i);
      if (!s->visible || s->n == 0)
        continue;
      /* the whole series' range, from the running statistics */
      if (log_y ? s->has_pos : s->has_finite)
        {
          double smn = log_y ? s->ymin_pos : s->ymin;
          if (!found_all || smn < mn_all)
            mn_all = smn;
          if (!found_all || s->ymax > mx_all)
            mx_all = s->ymax;
          found_all = TRUE;
        }
      if (!data->x_manual)
        continue;
      series_ensure_sorted (s);
      gsize lo = lower_bound (s->xs, s->n, r->x0);
      gsize hi = upper_bound (s->xs, s->n, r->x1);
      minmax_range (s->ys, lo, hi, log_y, &mn, &mx, &found);
      if (data->smoothing > 0)
        minmax_range (series_ema (s, data->smoothing), lo, hi, log_y, &mn, &mx, &found);
    }
  if (!data->x_manual || !found)
    {
      /* the debiased EMA is a weighted mean of earlier values, so the raw
       * range covers it */
      found = found_all;
      mn = mn_all;
      mx = mx_all;
    }
  if (!found)
    {
      r->t0 = log_y ? -1.0 : 0.0;
      r->t1 = log_y ? 1.0 : 1.0;
      return;
    }
  double t0 = to_axis (mn, log_y), t1 = to_axis (mx, log_y);
  if (t0 == t1)
    {
      double d = log_y ? 0.5 : (t0 == 0 ? 1.0 : fabs (t0) * 0.1);
      t0 -= d;
      t1 += d;
    }
  else
    {
      double pad = (t1 - t0) * 0.05;
      t0 -= pad;
      t1 += pad;
    }
  /* a fraction never shows below 0 or above 1, even when its curve is flat */
  if (data->has_y_limits && !log_y)
    {
      double c0 = MAX (t0, data->y_limit_lo), c1 = MIN (t1, data->y_limit_hi);
      if (c0 < c1)
        {
          t0 = c0;
          t1 = c1;
        }
    }
  r->t0 = t0;
  r->t1 = t1;
}

void
pl_plot_data_set_y_limits (PlPlotData *data, double lo, double hi)
{
  g_return_if_fail (data != NULL);
  data->has_y_limits = isfinite (lo) && isfinite (hi) && lo < hi;
  data->y_limit_lo = lo;
  data->y_limit_hi = hi;
}

gboolean
pl_plot_data_get_view (PlPlotData *data, double *x0, double *x1, double *y0, double *y1)
{
  g_return_val_if_fail (data != NULL, FALSE);
  Ranges r;
  compute_ranges (data, &r);
  if (x0)
    *x0 = r.has_data ? r.x0 : 0;
  if (x1)
    *x1 = r.has_data ? r.x1 : 0;
  if (y0)
    *y0 = r.has_data ? from_axis (r.t0, data->log_y) : 0;
  if (y1)
    *y1 = r.has_data ? from_axis (r.t1, data->log_y) : 0;
  return r.has_data;
}

/* ---- Interaction ------------------------------------------------------------ */

static inline double
px_to_x (const Layout *l, double px)
{
  return l->x0 + (px - l->ax) / l->aw * (l->x1 - l->x0);
}

static inline double
py_to_t (const Layout *l, double py)
{
  return l->t0 + (l->ay + l->ah - py) / l->ah * (l->t1 - l->t0);
}

static inline double
x_to_px (const Layout *l, double x)
{
  return l->ax + (x - l->x0) / (l->x1 - l->x0) * l->aw;
}

static inline double
t_to_py (const Layout *l, double t)
{
  return l->ay + l->ah - (t - l->t0) / (l->t1 - l->t0) * l->ah;
}

/* A range worth zooming to: finite, not collapsed below float resolution. */
static gboolean
sane_range (double a, double b)
{
  double span = b - a;
  return isfinite (a) && isfinite (b) && isfinite (span)
         && span > 1e-12 * MAX (1.0, MAX (fabs (a), fabs (b)));
}

void
pl_plot_data_zoom (PlPlotData *data, gboolean y_axis, double factor, double px, double py)
{
  g_return_if_fail (data != NULL);
  const Layout *l = &data->layout;
  if (!l->valid || l->log_y != data->log_y || !isfinite (factor) || factor <= 0)
    return;
  if (!y_axis)
    {
      /* keep the step under the pointer in place */
      double a = px_to_x (l, CLAMP (px, l->ax, l->ax + l->aw));
      double x0 = a + (l->x0 - a) * factor, x1 = a + (l->x1 - a) * factor;
      if (sane_range (x0, x1))
        pl_plot_data_set_view_x (data, x0, x1);
      return;
    }
  double a = py_to_t (l, CLAMP (py, l->ay, l->ay + l->ah));
  double t0 = a + (l->t0 - a) * factor, t1 = a + (l->t1 - a) * factor;
  if (!sane_range (t0, t1) || (l->log_y && (t0 < -300 || t1 > 300)))
    return;
  pl_plot_data_set_view_y (data, from_axis (t0, l->log_y), from_axis (t1, l->log_y));
}

gboolean
pl_plot_data_zoom_rect (PlPlotData *data, double px0, double py0, double px1, double py1)
{
  g_return_val_if_fail (data != NULL, FALSE);
  const Layout *l = &data->layout;
  if (!l->valid || l->log_y != data->log_y)
    return FALSE;
  px0 = CLAMP (px0, l->ax, l->ax + l->aw);
  px1 = CLAMP (px1, l->ax, l->ax + l->aw);
  py0 = CLAMP (py0, l->ay, l->ay + l->ah);
  py1 = CLAMP (py1, l->ay, l->ay + l->ah);
  if (fabs (px1 - px0) < 4 || fabs (py1 - py0) < 4)
    return FALSE;
  double x0 = px_to_x (l, MIN (px0, px1)), x1 = px_to_x (l, MAX (px0, px1));
  double t0 = py_to_t (l, MAX (py0, py1)), t1 = py_to_t (l, MIN (py0, py1));
  if (!sane_range (x0, x1) || !sane_range (t0, t1))
    return FALSE;
  pl_plot_data_set_view_x (data, x0, x1);
  pl_plot_data_set_view_y (data, from_axis (t0, l->log_y), from_axis (t1, l->log_y));
  return TRUE;
}

void
pl_plot_data_set_selection (PlPlotData *data, double px0, double py0, double px1, double py1)
{
  g_return_if_fail (data != NULL);
  data->selecting = TRUE;
  data->sel_x0 = px0;
  data->sel_y0 = py0;
  data->sel_x1 = px1;
  data->sel_y1 = py1;
}

void
pl_plot_data_clear_selection (PlPlotData *data)
{
  g_return_if_fail (data != NULL);
  data->selecting = FALSE;
}

void
pl_plot_data_set_hover (PlPlotData *data, double px, double py)
{
  g_return_if_fail (data != NULL);
  data->hover = TRUE;
  data->hover_x = px;
  data->hover_y = py;
}

void
pl_plot_data_clear_hover (PlPlotData *data)
{
  g_return_if_fail (data != NULL);
  data->hover = FALSE;
}

gboolean
pl_plot_data_in_plot_area (PlPlotData *data, double px, double py)
{
  g_return_val_if_fail (data != NULL, FALSE);
  const Layout *l = &data->layout;
  return l->valid && px >= l->ax && px <= l->ax + l->aw && py >= l->ay && py <= l->ay + l->ah;
}

guint
pl_plot_data_legend_hit (PlPlotData *data, double px, double py)
{
  g_return_val_if_fail (data != NULL, 0);
  GArray *a = data->layout.legend;
  for (guint i = 0; i < a->len; i++)
    {
      const LegendEntry *e = &g_array_index (a, LegendEntry, i);
      if (px >= e->x && px <= e->x + e->w && py >= e->y && py <= e->y + e->h)
        return find_series (data, e->id) != NULL ? e->id : 0;
    }
  return 0;
}

gboolean
pl_plot_data_pixel_to_value (PlPlotData *data, double px, double py, double *x, double *y)
{
  g_return_val_if_fail (data != NULL, FALSE);
  const Layout *l = &data->layout;
  if (!l->valid)
    return FALSE;
  if (x)
    *x = px_to_x (l, px);
  if (y)
    *y = from_axis (py_to_t (l, py), l->log_y);
  return TRUE;
}

/* ---- Drawing --------------------------------------------------------------- */

static void
set_color (cairo_t *cr, const PlPlotColor *c, double alpha)
{
  cairo_set_source_rgba (cr, c->red, c->green, c->blue, c->alpha * alpha);
}

static double
text_width (cairo_t *cr, const char *s)
{
  cairo_text_extents_t e;
  cairo_text_extents (cr, s, &e);
  return e.x_advance;
}

/* Text with its vertical middle at @ym; @align 0 left, 0.5 centre, 1 right of x. */
static void
draw_text (cairo_t *cr, double x, double ym, double align, const char *s)
{
  cairo_font_extents_t fe;
  cairo_font_extents (cr, &fe);
  cairo_move_to (cr, x - align * text_width (cr, s), ym + (fe.ascent - fe.descent) / 2);
  cairo_show_text (cr, s);
}

static void
set_font (cairo_t *cr, const PlPlotStyle *st, double size, gboolean bold)
{
  cairo_select_font_face (cr, st->font_family ? st->font_family : "Sans",
                          CAIRO_FONT_SLANT_NORMAL,
                          bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size (cr, size);
}

static void
rounded_rect (cairo_t *cr, double x, double y, double w, double h, double r)
{
  r = MIN (r, MIN (w, h) / 2);
  cairo_new_sub_path (cr);
  cairo_arc (cr, x + w - r, y + r, r, -G_PI / 2, 0);
  cairo_arc (cr, x + w - r, y + h - r, r, 0, G_PI / 2);
  cairo_arc (cr, x + r, y + h - r, r, G_PI / 2, G_PI);
  cairo_arc (cr, x + r, y + r, r, G_PI, 3 * G_PI / 2);
  cairo_close_path (cr);
}

/* A name cut to @max characters with an ellipsis. */
static char *
ellipsize (const char *s, glong max)
{
  if (g_utf8_strlen (s, -1) <= max)
    return g_strdup (s);
  g_autofree char *head = g_utf8_substring (s, 0, max - 1);
  return g_strconcat (head, "\xe2\x80\xa6", NULL);
}

/* Draws one curve (xs, vs)[0..n), sorted by x, clipped by the caller, in the
 * current source, line width and @alpha: the points themselves when few are in
 * view; else, per device column, the min/max envelope. The envelope is one
 * polygon, upper edge through the columns' maxima and lower edge back through
 * their minima, filled and outlined: it holds every column's vertical min-max
 * segment and every line from one column's last point to the next one's first
 * (both ends lie between the edges), and costs a few edges per scanline where
 * stroking the segments themselves would cost thousands on noisy data. */
static void
draw_curve (PlPlotData *data, cairo_t *cr, const Layout *l, int cols,
            const double *xs, const double *vs, gsize n, double alpha)
{
  gboolean log_y = l->log_y;
  gsize lo = lower_bound (xs, n, l->x0);
  gsize hi = upper_bound (xs, n, l->x1);
  /* A group makes the overlapping fill and outline blend once. Not on vector
   * targets: Cairo 1.16's SVG surface leaks each group pattern, and there the
   * faint outline is merely a shade darker than the fill. */
  cairo_surface_type_t target = cairo_surface_get_type (cairo_get_target (cr));
  gboolean group = alpha < 1.0 && target != CAIRO_SURFACE_TYPE_SVG
                   && target != CAIRO_SURFACE_TYPE_PDF;

  if (group)
    cairo_push_group (cr);
  else if (alpha < 1.0)
    {
      cairo_pattern_t *src = cairo_get_source (cr);
      double r, g, b, a;
      if (cairo_pattern_get_rgba (src, &r, &g, &b, &a) == CAIRO_STATUS_SUCCESS)
        cairo_set_source_rgba (cr, r, g, b, a * alpha);
    }
  cairo_new_path (cr);
  if (hi - lo <= (gsize) cols * 2)
    {
      /* include one usable neighbour on each side so the line meets the edges */
      gsize a = lo, b = hi;
      int drawn = 0;
      double px = 0, py = 0;
      for (gsize k = 0; a > 0 && k < NEIGHBOUR_SCAN; k++)
        if (usable (vs[--a], log_y))
          break;
      for (gsize k = 0; b < n && k < NEIGHBOUR_SCAN; k++)
        if (usable (vs[b++], log_y))
          break;
      for (gsize i = a; i < b; i++)
        {
          if (!usable (vs[i], log_y))
            continue;
          px = x_to_px (l, xs[i]);
          py = t_to_py (l, to_axis (vs[i], log_y));
          if (drawn++ == 0)
            cairo_move_to (cr, px, py);
          else
            cairo_line_to (cr, px, py);
        }
      if (drawn == 1)
        {
          /* a lone point: a dot, or it would not show */
          cairo_new_path (cr);
          cairo_arc (cr, px, py, cairo_get_line_width (cr) * 1.5, 0, 2 * G_PI);
          cairo_fill (cr);
        }
      else
        cairo_stroke (cr);
    }
  else
    {
      PlDecimated *d = &data->dec;
      pl_plot_decimate_full (xs, vs, n, l->x0, l->x1, cols, log_y, d);
      double colw = l->aw / cols;
#define COL_PX(c) (l->ax + ((c)->col + 0.5) * colw)
#define VAL_PY(v) t_to_py (l, to_axis ((v), log_y))
      /* lines to the neighbours outside the view */
      if (d->n_cols == 0 && d->has_before && d->has_after)
        {
          cairo_move_to (cr, x_to_px (l, d->before_x), VAL_PY (d->before_y));
          cairo_line_to (cr, x_to_px (l, d->after_x), VAL_PY (d->after_y));
        }
      if (d->n_cols > 0 && d->has_before)
        {
          cairo_move_to (cr, x_to_px (l, d->before_x), VAL_PY (d->before_y));
          cairo_line_to (cr, COL_PX (&d->cols[0]), VAL_PY (d->cols[0].first));
        }
      if (d->n_cols > 0 && d->has_after)
        {
          const PlDecimatedColumn *c = &d->cols[d->n_cols - 1];
          cairo_move_to (cr, COL_PX (c), VAL_PY (c->last));
          cairo_line_to (cr, x_to_px (l, d->after_x), VAL_PY (d->after_y));
        }
      cairo_stroke (cr);

      if (d->n_cols > 0)
        {
          for (int c = 0; c < d->n_cols; c++)
            {
              const PlDecimatedColumn *col = &d->cols[c];
              if (c == 0)
                cairo_move_to (cr, COL_PX (col), VAL_PY (col->max));
              else
                cairo_line_to (cr, COL_PX (col), VAL_PY (col->max));
            }
          for (int c = d->n_cols - 1; c >= 0; c--)
            cairo_line_to (cr, COL_PX (&d->cols[c]), VAL_PY (d->cols[c].min));
          cairo_close_path (cr);
          cairo_fill_preserve (cr);
          cairo_stroke (cr);
        }
#undef COL_PX
#undef VAL_PY
    }
  if (group)
    {
      cairo_pop_group_to_source (cr);
      cairo_paint_with_alpha (cr, alpha);
    }
}

/* The index of the point nearest to x, n if none. */
static gsize
nearest_index (const double *xs, gsize n, double x)
{
  if (n == 0)
    return 0;
  gsize i = lower_bound (xs, n, x);
  if (i == n)
    return n - 1;
  if (i > 0 && x - xs[i - 1] <= xs[i] - x)
    return i - 1;
  return i;
}

static void
format_value (double v, char *buf, gsize size)
{
  if (isfinite (v) && fabs (v) >= 1e-4 && fabs (v) < 1e6)
    g_snprintf (buf, size, "%.5g", v);
  else
    g_snprintf (buf, size, "%.4g", v);
}

static void
format_step (double x, char *buf, gsize size)
{
  if (x == floor (x) && fabs (x) < 1e15)
    g_snprintf (buf, size, "%.0f", x);
  else
    g_snprintf (buf, size, "%.6g", x);
}

#define HOVER_MAX_ROWS 12

static void
draw_hover (PlPlotData *data, cairo_t *cr, const Layout *l, int width, int height,
            const PlPlotStyle *st, double fs)
{
  double hx = data->hover_x;
  if (hx < l->ax || hx > l->ax + l->aw || data->hover_y < l->ay || data->hover_y > l->ay + l->ah)
    return;
  double xv = px_to_x (l, hx);
  gboolean smooth = data->smoothing > 0;

  typedef struct {
    PlSeries *s;
    double x, raw, shown;
  } Row;
  Row rows[HOVER_MAX_ROWS];
  int n_rows = 0, more = 0;

  for (guint i = 0; i < data->series->len; i++)
    {
      PlSeries *s = g_ptr_array_index (data->series, i);
      if (!s->visible || s->n == 0)
        continue;
      series_ensure_sorted (s);
      gsize k = nearest_index (s->xs, s->n, xv);
      if (n_rows == HOVER_MAX_ROWS)
        {
          more++;
          continue;
        }
      Row *r = &rows[n_rows++];
      r->s = s;
      r->x = s->xs[k];
      r->raw = s->ys[k];
      r->shown = smooth ? series_ema (s, data->smoothing)[k] : r->raw;
    }
  if (n_rows == 0)
    return;

  /* the pointer's step and a dot on each curve */
  cairo_save (cr);
  cairo_set_line_width (cr, 1.0);
  set_color (cr, &st->foreground, 0.35);
  cairo_move_to (cr, floor (hx) + 0.5, l->ay);
  cairo_line_to (cr, floor (hx) + 0.5, l->ay + l->ah);
  cairo_stroke (cr);
  cairo_rectangle (cr, l->ax, l->ay, l->aw, l->ah);
  cairo_clip (cr);
  for (int i = 0; i < n_rows; i++)
    {
      Row *r = &rows[i];
      if (!usable (r->shown, l->log_y))
        continue;
      double px = x_to_px (l, r->x), py = t_to_py (l, to_axis (r->shown, l->log_y));
      cairo_arc (cr, px, py, 3.5, 0, 2 * G_PI);
      set_color (cr, &r->s->color, 1.0);
      cairo_fill_preserve (cr);
      /* a ring in the page colour lifts the dot off its curve */
      if (st->dark)
        cairo_set_source_rgba (cr, 0.1, 0.1, 0.1, 1.0);
      else
        cairo_set_source_rgba (cr, 1.0, 1.0, 1.0, 1.0);
      cairo_stroke (cr);
    }
  cairo_restore (cr);

  /* the box: a header with the step, then name | value | raw | @ step columns */
  char head[64], step[48];
  double header_x = rows[0].x;
  format_step (header_x, step, sizeof step);
  g_snprintf (head, sizeof head, "%s %s", data->x_label ? data->x_label : "step", step);

  enum { NAME, VALUE, RAW, AT, N_PARTS };
  char *parts[HOVER_MAX_ROWS][N_PARTS];
  double colw[N_PARTS] = { 0 };
  set_font (cr, st, fs, FALSE);
  for (int i = 0; i < n_rows; i++)
    {
      Row *r = &rows[i];
      char v[48];
      parts[i][NAME] = ellipsize (r->s->name, 28);
      format_value (r->shown, v, sizeof v);
      parts[i][VALUE] = g_strdup (v);
      format_value (r->raw, v, sizeof v);
      parts[i][RAW] = smooth ? g_strdup_printf ("raw %s", v) : g_strdup ("");
      format_step (r->x, v, sizeof v);
      parts[i][AT] = r->x != header_x ? g_strdup_printf ("@ %s", v) : g_strdup ("");
      for (int p = 0; p < N_PARTS; p++)
        colw[p] = MAX (colw[p], text_width (cr, parts[i][p]));
    }
  char more_text[48] = "";
  if (more > 0)
    g_snprintf (more_text, sizeof more_text, "+%d more", more);

  double sw = fs * 0.8, gap = fs * 0.9;
  double col_x[N_PARTS];
  col_x[NAME] = sw + fs * 0.5;
  col_x[VALUE] = col_x[NAME] + colw[NAME] + gap;
  col_x[RAW] = col_x[VALUE] + colw[VALUE] + (colw[RAW] > 0 ? gap : 0);
  col_x[AT] = col_x[RAW] + colw[RAW] + (colw[AT] > 0 ? gap : 0);
  double tw = col_x[AT] + colw[AT];
  tw = MAX (tw, text_width (cr, more_text));
  set_font (cr, st, fs, TRUE);
  tw = MAX (tw, text_width (cr, head));

  double row_h = fs * 1.45, pad = fs * 0.6;
  double bw = tw + 2 * pad;
  double bh = row_h * (n_rows + (more > 0)) + fs * 1.2 + 2 * pad;
  /* right of and above the pointer, where a falling loss curve is not; flipped
   * where it does not fit */
  double bx = hx + 14, by = data->hover_y - 14 - bh;
  if (bx + bw > width - 2)
    bx = hx - 14 - bw;
  if (bx < 2)
    bx = 2;
  if (by < 2)
    by = data->hover_y + 14;
  if (by + bh > height - 2)
    by = MAX (2, height - 2 - bh);

  cairo_save (cr);
  rounded_rect (cr, bx, by, bw, bh, 5);
  if (st->dark)
    cairo_set_source_rgba (cr, 0.20, 0.20, 0.22, 0.96);
  else
    cairo_set_source_rgba (cr, 1.0, 1.0, 1.0, 0.96);
  cairo_fill_preserve (cr);
  cairo_set_line_width (cr, 1.0);
  set_color (cr, &st->foreground, 0.25);
  cairo_stroke (cr);

  double y = by + pad + fs * 0.6;
  set_color (cr, &st->foreground, 1.0);
  draw_text (cr, bx + pad, y, 0, head);
  set_font (cr, st, fs, FALSE);
  for (int i = 0; i < n_rows; i++)
    {
      y += row_h;
      set_color (cr, &rows[i].s->color, 1.0);
      rounded_rect (cr, bx + pad, y - sw / 2, sw, sw, 2);
      cairo_fill (cr);
      for (int p = 0; p < N_PARTS; p++)
        {
          set_color (cr, &st->foreground, p == VALUE || p == NAME ? 1.0 : 0.6);
          /* values right-aligned so their digits line up */
          if (p == VALUE)
            draw_text (cr, bx + pad + col_x[p] + colw[p], y, 1.0, parts[i][p]);
          else
            draw_text (cr, bx + pad + col_x[p], y, 0, parts[i][p]);
          g_free (parts[i][p]);
        }
    }
  if (more > 0)
    {
      y += row_h;
      set_color (cr, &st->foreground, 0.6);
      draw_text (cr, bx + pad, y, 0, more_text);
    }
  cairo_restore (cr);
}

#define MAX_TICKS 8

static void
draw_impl (PlPlotData *data, cairo_t *cr, int width, int height,
           const PlPlotStyle *st, Layout *l, gboolean interactive)
{
  double fs = st->font_size > 0 ? st->font_size : 12.0;
  double pad = MAX (6.0, fs * 0.7);
  const PlPlotColor *fg = &st->foreground;
  char buf[64];

  l->valid = FALSE;
  l->log_y = data->log_y;
  g_array_set_size (l->legend, 0);

  cairo_save (cr);
  cairo_rectangle (cr, 0, 0, width, height);
  cairo_clip (cr);
  if (st->background.alpha > 0)
    {
      set_color (cr, &st->background, 1.0);
      cairo_paint (cr);
    }

  /* title row, with the legend flowing after it */
  double top = pad;
  double row_h = fs * 1.6;
  double cursor = pad;
  if (data->title != NULL)
    {
      set_font (cr, st, fs * 1.15, TRUE);
      set_color (cr, fg, 1.0);
      draw_text (cr, pad, top + row_h / 2, 0, data->title);
      cursor = pad + text_width (cr, data->title) + fs * 1.5;
    }
  int rows = data->title != NULL ? 1 : 0;

  set_font (cr, st, fs, FALSE);
  if (data->show_legend && data->series->len > 0)
    {
      double sw = fs * 0.8;
      int row = 0, max_rows = MAX (1, MIN (3, (int) ((height * 0.3) / row_h)));
      guint shown = 0;
      if (rows == 0)
        rows = 1;
      for (guint i = 0; i < data->series->len; i++)
        {
          PlSeries *s = g_ptr_array_index (data->series, i);
          g_autofree char *name = ellipsize (s->name, 32);
          double ew = sw + fs * 0.4 + text_width (cr, name);
          if (cursor + ew > width - pad && cursor > pad)
            {
              if (row + 1 >= max_rows)
                break;
              row++;
              cursor = pad;
            }
          double ym = top + row * row_h + row_h / 2;
          set_color (cr, &s->color, 1.0);
          rounded_rect (cr, cursor + 0.5, ym - sw / 2 + 0.5, sw - 1, sw - 1, 2);
          if (s->visible)
            cairo_fill (cr);
          else
            {
              cairo_set_line_width (cr, 1.0);
              cairo_stroke (cr);
            }
          set_color (cr, fg, s->visible ? 0.9 : 0.4);
          draw_text (cr, cursor + sw + fs * 0.4, ym, 0, name);
          LegendEntry e = { cursor - 3, ym - row_h / 2, ew + 6, row_h, s->id };
          g_array_append_val (l->legend, e);
          cursor += ew + fs * 1.2;
          shown++;
        }
      if (shown < data->series->len)
        {
          g_snprintf (buf, sizeof buf, "+%u more", data->series->len - shown);
          set_color (cr, fg, 0.6);
          draw_text (cr, width - pad, top + row * row_h + row_h / 2, 1.0, buf);
        }
      rows = MAX (rows, row + 1);
    }
  top += rows * row_h + (rows > 0 ? fs * 0.4 : 0);

  cairo_font_extents_t fe;
  cairo_font_extents (cr, &fe);
  double label_h = fe.ascent + fe.descent;
  double bottom = pad + label_h * 2 + fs * 0.9;   /* tick labels, then the x label */
  double left_label = data->y_label ? label_h + fs * 0.5 : 0;

  Ranges r;
  compute_ranges (data, &r);
  gsize total = pl_plot_data_get_n_points (data, 0);

  double ay = top, ah = height - top - bottom;
  double yticks[MAX_TICKS], xticks[MAX_TICKS];
  int n_y = 0, n_x = 0;
  double ystep = 0, xstep = 0;
  if (r.has_data && ah > 0)
    {
      int max_y = CLAMP ((int) (ah / (fs * 3)), 2, MAX_TICKS);
      if (data->log_y)
        {
          pl_plot_log_ticks (from_axis (r.t0, TRUE), from_axis (r.t1, TRUE), max_y, yticks, &n_y);
          ystep = 0;
        }
      else
        ystep = pl_plot_nice_ticks (r.t0, r.t1, max_y, yticks, &n_y);
    }

  double ylab_w = 0;
  for (int i = 0; i < n_y; i++)
    {
      pl_plot_format_tick (yticks[i], ystep, buf, sizeof buf);
      ylab_w = MAX (ylab_w, text_width (cr, buf));
    }
  double ax = pad + left_label + (n_y > 0 ? ylab_w + fs * 0.6 : fs * 2);
  double aw = width - ax - pad - fs * 1.5;
  if (aw < 10 || ah < 10)
    {
      cairo_restore (cr);
      return;
    }

  l->ax = ax;
  l->ay = ay;
  l->aw = aw;
  l->ah = ah;
  l->x0 = r.has_data ? r.x0 : 0;
  l->x1 = r.has_data ? r.x1 : 1;
  l->t0 = r.has_data ? r.t0 : 0;
  l->t1 = r.has_data ? r.t1 : 1;
  l->valid = r.has_data;

  /* grid */
  cairo_set_line_width (cr, 1.0);
  if (r.has_data)
    {
      int max_x = CLAMP ((int) (aw / (fs * 5.5)), 2, MAX_TICKS);
      /* steps are integers: no ticks between them once the range spans a few */
      xstep = nice_ticks_impl (r.x0, r.x1, max_x, r.x1 - r.x0 >= 2 ? 1.0 : 0.0, xticks, &n_x);
      set_color (cr, fg, 0.10);
      for (int i = 0; i < n_y; i++)
        {
          double py = round (t_to_py (l, to_axis (yticks[i], data->log_y))) + 0.5;
          cairo_move_to (cr, ax, py);
          cairo_line_to (cr, ax + aw, py);
        }
      for (int i = 0; i < n_x; i++)
        {
          double px = round (x_to_px (l, xticks[i])) + 0.5;
          cairo_move_to (cr, px, ay);
          cairo_line_to (cr, px, ay + ah);
        }
      cairo_stroke (cr);
    }

  /* curves */
  if (r.has_data)
    {
      double dx = aw, dy = 0;
      cairo_user_to_device_distance (cr, &dx, &dy);
      int cols = MAX (1, (int) ceil (hypot (dx, dy)));
      gboolean smooth = data->smoothing > 0;

      cairo_save (cr);
      cairo_rectangle (cr, ax, ay, aw, ah);
      cairo_clip (cr);
      cairo_set_line_join (cr, CAIRO_LINE_JOIN_BEVEL);
      cairo_set_line_cap (cr, CAIRO_LINE_CAP_BUTT);
      for (guint i = 0; i < data->series->len; i++)
        {
          PlSeries *s = g_ptr_array_index (data->series, i);
          if (!s->visible || s->n == 0)
            continue;
          series_ensure_sorted (s);
          cairo_set_line_width (cr, smooth ? 1.0 : 1.5);
          set_color (cr, &s->color, 1.0);
          draw_curve (data, cr, l, cols, s->xs, s->ys, s->n, smooth ? 0.25 : 1.0);
          if (smooth)
            {
              const double *ema = series_ema (s, data->smoothing);
              cairo_set_line_width (cr, 2.0);
              set_color (cr, &s->color, 1.0);
              draw_curve (data, cr, l, cols, s->xs, ema, s->n, 1.0);
            }
        }
      cairo_restore (cr);
    }

  /* axes */
  set_color (cr, fg, 0.45);
  cairo_move_to (cr, round (ax) + 0.5, ay);
  cairo_line_to (cr, round (ax) + 0.5, ay + ah);
  cairo_line_to (cr, ax + aw, round (ay + ah) + 0.5);
  cairo_stroke (cr);

  /* tick labels */
  set_color (cr, fg, 0.75);
  for (int i = 0; i < n_y; i++)
    {
      double py = t_to_py (l, to_axis (yticks[i], data->log_y));
      pl_plot_format_tick (yticks[i], ystep, buf, sizeof buf);
      draw_text (cr, ax - fs * 0.5, py, 1.0, buf);
    }
  double xlab_y = ay + ah + fs * 0.3 + label_h / 2;
  for (int i = 0; i < n_x; i++)
    {
      double px = x_to_px (l, xticks[i]);
      pl_plot_format_tick (xticks[i], xstep, buf, sizeof buf);
      draw_text (cr, px, xlab_y, 0.5, buf);
    }

  /* axis labels */
  set_color (cr, fg, 0.85);
  if (data->x_label != NULL && r.has_data)
    draw_text (cr, ax + aw / 2, xlab_y + label_h + fs * 0.2, 0.5, data->x_label);
  if (data->y_label != NULL)
    {
      cairo_save (cr);
      cairo_translate (cr, pad + label_h / 2, ay + ah / 2);
      cairo_rotate (cr, -G_PI / 2);
      draw_text (cr, 0, 0, 0.5, data->y_label);
      cairo_restore (cr);
    }

  /* empty states */
  if (!r.has_data)
    {
      const char *msg = total == 0 ? "No data yet" : "All series hidden";
      set_font (cr, st, fs * 1.2, FALSE);
      set_color (cr, fg, 0.5);
      draw_text (cr, ax + aw / 2, ay + ah / 2, 0.5, msg);
      set_font (cr, st, fs, FALSE);
    }

  if (interactive && data->selecting)
    {
      double x0 = CLAMP (MIN (data->sel_x0, data->sel_x1), ax, ax + aw);
      double x1 = CLAMP (MAX (data->sel_x0, data->sel_x1), ax, ax + aw);
      double y0 = CLAMP (MIN (data->sel_y0, data->sel_y1), ay, ay + ah);
      double y1 = CLAMP (MAX (data->sel_y0, data->sel_y1), ay, ay + ah);
      cairo_rectangle (cr, x0, y0, x1 - x0, y1 - y0);
      cairo_set_source_rgba (cr, 0.21, 0.52, 0.89, 0.15);
      cairo_fill_preserve (cr);
      cairo_set_source_rgba (cr, 0.21, 0.52, 0.89, 0.7);
      cairo_stroke (cr);
    }

  if (interactive && data->hover && r.has_data)
    draw_hover (data, cr, l, width, height, st, fs);

  cairo_restore (cr);
}

void
pl_plot_data_draw (PlPlotData *data, cairo_t *cr, int width, int height,
                   const PlPlotStyle *style)
{
  g_return_if_fail (data != NULL && cr != NULL);
  PlPlotStyle fallback;
  if (style == NULL)
    {
      pl_plot_style_init (&fallback, FALSE);
      style = &fallback;
    }
  data->layout.valid = FALSE;
  if (width <= 0 || height <= 0)
    return;
  draw_impl (data, cr, width, height, style, &data->layout, TRUE);
}

/* ---- Export ----------------------------------------------------------------- */

static cairo_status_t
write_to_bytes (void *closure, const unsigned char *bytes, unsigned int length)
{
  g_byte_array_append (closure, bytes, length);
  return CAIRO_STATUS_SUCCESS;
}

typedef enum { FMT_PNG, FMT_SVG, FMT_PDF } ExportFormat;

gboolean
pl_plot_data_export (PlPlotData *data, const char *path, int width, int height,
                     const PlPlotStyle *style, GError **error)
{
  g_return_val_if_fail (data != NULL, FALSE);
  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  g_autofree char *lower = g_ascii_strdown (path, -1);
  ExportFormat fmt;
  if (g_str_has_suffix (lower, ".png"))
    fmt = FMT_PNG;
  else if (g_str_has_suffix (lower, ".svg"))
    fmt = FMT_SVG;
  else if (g_str_has_suffix (lower, ".pdf"))
    fmt = FMT_PDF;
  else
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "Cannot export plot to %s: unknown file type, expected a name "
                   "ending in .png, .svg or .pdf", path);
      return FALSE;
    }
  if (width < 1 || height < 1 || width > 16384 || height > 16384)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "Cannot export plot to %s: size %d x %d, expected 1 to 16384 "
                   "pixels on each side", path, width, height);
      return FALSE;
    }

  PlPlotStyle light;
  if (style == NULL)
    {
      pl_plot_style_init (&light, FALSE);
      style = &light;
    }

  g_autoptr (GByteArray) bytes = g_byte_array_new ();
  cairo_surface_t *surface;
  switch (fmt)
    {
    case FMT_PNG:
      surface = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, width, height);
      break;
    case FMT_SVG:
      surface = cairo_svg_surface_create_for_stream (write_to_bytes, bytes, width, height);
      break;
    case FMT_PDF:
    default:
      surface = cairo_pdf_surface_create_for_stream (write_to_bytes, bytes, width, height);
      break;
    }

  /* export lays out on its own, leaving the on-screen layout for interaction */
  Layout layout = { 0 };
  layout.legend = g_array_new (FALSE, FALSE, sizeof (LegendEntry));
  cairo_t *cr = cairo_create (surface);
  draw_impl (data, cr, width, height, style, &layout, FALSE);
  cairo_status_t status = cairo_status (cr);
  cairo_destroy (cr);
  g_array_unref (layout.legend);

  if (status == CAIRO_STATUS_SUCCESS && fmt == FMT_PNG)
    status = cairo_surface_write_to_png_stream (surface, write_to_bytes, bytes);
  cairo_surface_finish (surface);
  if (status == CAIRO_STATUS_SUCCESS)
    status = cairo_surface_status (surface);
  cairo_surface_destroy (surface);
  if (status != CAIRO_STATUS_SUCCESS)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "Cannot export plot to %s: Cairo failed: %s", path,
                   cairo_status_to_string (status));
      return FALSE;
    }

  g_autoptr (GError) ferr = NULL;
  if (!g_file_set_contents (path, (const char *) bytes->data, bytes->len, &ferr))
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_file_error (ferr->code),
                   "Cannot export plot to %s: %s", path, ferr->message);
      return FALSE;
    }
  return TRUE;
}
