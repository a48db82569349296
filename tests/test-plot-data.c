/* test-plot-data.c: the plot widget's model and renderer, without a display. */
#include "pl-plot-data.h"
#include "pl-test-util.h"

#include <fontconfig/fontconfig.h>
#include <gio/gio.h>
#include <string.h>

#define MILLION 1000000

/* ---- Decimation ---------------------------------------------------------- */

static void
fill_flat (double *xs, double *ys, gsize n)
{
  for (gsize i = 0; i < n; i++)
    {
      xs[i] = (double) i;
      ys[i] = 0.0;
    }
}

static int
column_of (double x, double x0, double x1, int width)
{
  int c = (int) ((x - x0) * ((double) width / (x1 - x0)));
  return MIN (c, width - 1);
}

static void
test_decimate_spike (void)
{
  gsize n = MILLION;
  double *xs = g_new (double, n), *ys = g_new (double, n);
  PlDecimated dec;
  pl_decimated_init (&dec);

  /* a single outlier anywhere, up or down, is the max (min) of its column */
  static const gsize where[] = { 0, 1, 654321, MILLION - 2, MILLION - 1 };
  static const double spike[] = { 1e6, -1e6 };
  static const int widths[] = { 1200, 333, 1 };
  for (guint w = 0; w < G_N_ELEMENTS (widths); w++)
    for (guint k = 0; k < G_N_ELEMENTS (where); k++)
      for (guint s = 0; s < G_N_ELEMENTS (spike); s++)
        {
          fill_flat (xs, ys, n);
          ys[where[k]] = spike[s];
          double x0 = 0, x1 = (double) (n - 1);
          pl_plot_decimate (xs, ys, n, x0, x1, widths[w], &dec);
          g_assert_cmpint (dec.n_cols, <=, widths[w]);
          g_assert_cmpuint (dec.n_points, ==, n);
          int col = column_of (xs[where[k]], x0, x1, widths[w]);
          gboolean seen = FALSE;
          for (int c = 0; c < dec.n_cols; c++)
            {
              const PlDecimatedColumn *dc = &dec.cols[c];
              double extreme = spike[s] > 0 ? dc->max : dc->min;
              if (dc->col == col)
                {
                  g_assert_cmpfloat (extreme, ==, spike[s]);
                  seen = TRUE;
                }
              else
                g_assert_cmpfloat (extreme, ==, 0.0);
            }
          g_assert_true (seen);
        }

  /* zoomed in so that the spike is just outside: it is the neighbour, not a column */
  fill_flat (xs, ys, n);
  ys[500000] = 1e6;
  pl_plot_decimate (xs, ys, n, 500001, 600000, 800, &dec);
  g_assert_true (dec.has_before);
  g_assert_cmpfloat (dec.before_x, ==, 500000);
  g_assert_cmpfloat (dec.before_y, ==, 1e6);
  g_assert_true (dec.has_after);
  g_assert_cmpfloat (dec.after_x, ==, 600001);
  for (int c = 0; c < dec.n_cols; c++)
    g_assert_cmpfloat (dec.cols[c].max, ==, 0.0);

  pl_decimated_clear (&dec);
  g_free (xs);
  g_free (ys);
}

static void
test_decimate_columns_bounded (void)
{
  gsize n = 10000;
  double *xs = g_new (double, n), *ys = g_new (double, n);
  for (gsize i = 0; i < n; i++)
    {
      xs[i] = i * 0.5;
      ys[i] = sin (i * 0.01);
    }
  PlDecimated dec;
  pl_decimated_init (&dec);
  static const int widths[] = { 1, 2, 7, 100, 1200, 4999, 20000 };
  static const double ranges[][2] = { { 0, 4999.5 }, { 100, 200 }, { -50, 10 }, { 4000, 9000 } };
  for (guint w = 0; w < G_N_ELEMENTS (widths); w++)
    for (guint r = 0; r < G_N_ELEMENTS (ranges); r++)
      {
        double x0 = ranges[r][0], x1 = ranges[r][1];
        pl_plot_decimate (xs, ys, n, x0, x1, widths[w], &dec);
        g_assert_cmpint (dec.n_cols, <=, widths[w]);
        gsize in_range = 0, counted = 0;
        for (gsize i = 0; i < n; i++)
          in_range += xs[i] >= x0 && xs[i] <= x1;
        g_assert_cmpuint (dec.n_points, ==, in_range);
        for (int c = 0; c < dec.n_cols; c++)
          {
            g_assert_cmpint (dec.cols[c].col, >=, 0);
            g_assert_cmpint (dec.cols[c].col, <, widths[w]);
            if (c > 0)
              g_assert_cmpint (dec.cols[c].col, >, dec.cols[c - 1].col);
            counted += dec.cols[c].count;
          }
        g_assert_cmpuint (counted, ==, in_range);
      }
  pl_decimated_clear (&dec);
  g_free (xs);
  g_free (ys);
}

static void
test_decimate_empty_and_single (void)
{
  double xs[] = { 1, 2, 3, 4 }, ys[] = { 10, 20, 30, 40 };
  PlDecimated dec;
  pl_decimated_init (&dec);

  /* no points in range: no columns, but the neighbours are known */
  pl_plot_decimate (xs, ys, 4, 2.2, 2.8, 100, &dec);
  g_assert_cmpint (dec.n_cols, ==, 0);
  g_assert_cmpuint (dec.n_points, ==, 0);
  g_assert_true (dec.has_before && dec.before_x == 2 && dec.before_y == 20);
  g_assert_true (dec.has_after && dec.after_x == 3 && dec.after_y == 30);

  /* nothing at all */
  struct { const double *xs, *ys; gsize n; double x0, x1; int w; } none[] = {
    { xs, ys, 0, 0, 10, 100 },        /* no points */
    { xs, ys, 4, 5, 9, 100 },         /* right of the data */
    { xs, ys, 4, -9, 0, 100 },        /* left of it */
    { xs, ys, 4, 3, 1, 100 },         /* inverted */
    { xs, ys, 4, 0, 10, 0 },          /* no width */
    { xs, ys, 4, NAN, 10, 100 },      /* not a number */
  };
  for (guint i = 0; i < G_N_ELEMENTS (none); i++)
    {
      pl_plot_decimate (none[i].xs, none[i].ys, none[i].n, none[i].x0, none[i].x1,
                        none[i].w, &dec);
      g_assert_cmpint (dec.n_cols, ==, 0);
    }

  /* a single point */
  double x1[] = { 7 }, y1[] = { -3.5 };
  pl_plot_decimate (x1, y1, 1, 0, 10, 50, &dec);
  g_assert_cmpint (dec.n_cols, ==, 1);
  g_assert_cmpint (dec.cols[0].col, ==, 35);
  g_assert_cmpfloat (dec.cols[0].min, ==, -3.5);
  g_assert_cmpfloat (dec.cols[0].max, ==, -3.5);
  g_assert_cmpfloat (dec.cols[0].first, ==, -3.5);
  g_assert_cmpfloat (dec.cols[0].last, ==, -3.5);
  g_assert_false (dec.has_before || dec.has_after);

  /* a zero-width range holding exactly the point */
  pl_plot_decimate (x1, y1, 1, 7, 7, 50, &dec);
  g_assert_cmpint (dec.n_cols, ==, 1);
  g_assert_cmpint (dec.cols[0].col, ==, 0);

  /* the right edge belongs to the last column */
  pl_plot_decimate (xs, ys, 4, 1, 4, 3, &dec);
  g_assert_cmpint (dec.n_cols, ==, 3);
  g_assert_cmpint (dec.cols[2].col, ==, 2);
  g_assert_cmpfloat (dec.cols[2].max, ==, 40);

  /* NaN and, for log axes, non-positive values are skipped */
  double xn[] = { 0, 1, 2, 3 }, yn[] = { NAN, -1, 0, 5 };
  pl_plot_decimate (xn, yn, 4, 0, 3, 1, &dec);
  g_assert_cmpint (dec.n_cols, ==, 1);
  g_assert_cmpfloat (dec.cols[0].min, ==, -1);
  g_assert_cmpuint (dec.n_points, ==, 3);
  pl_plot_decimate_full (xn, yn, 4, 0, 3, 1, TRUE, &dec);
  g_assert_cmpint (dec.n_cols, ==, 1);
  g_assert_cmpfloat (dec.cols[0].min, ==, 5);
  g_assert_cmpuint (dec.n_points, ==, 1);

  pl_decimated_clear (&dec);
}

static void
test_decimate_brute_force (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (20240611);
  PlDecimated dec;
  pl_decimated_init (&dec);

  for (int trial = 0; trial < 60; trial++)
    {
      gsize n = g_rand_int_range (rand, 1, 30000);
      double *xs = g_new (double, n), *ys = g_new (double, n);
      double x = g_rand_double_range (rand, -100, 100);
      gboolean log = trial % 4 == 3;
      for (gsize i = 0; i < n; i++)
        {
          /* repeated steps too */
          x += g_rand_int_range (rand, 0, 4) * g_rand_double (rand);
          xs[i] = x;
          ys[i] = g_rand_double_range (rand, -5, 5);
          switch (g_rand_int_range (rand, 0, 100))
            {
            case 0: case 1:
              ys[i] = NAN;
              break;
            case 2:
              ys[i] = INFINITY;
              break;
            case 3:
              ys[i] = -INFINITY;
              break;
            default:
              break;
            }
        }
      double a = g_rand_double_range (rand, xs[0] - 10, xs[n - 1]);
      double b = g_rand_double_range (rand, a, xs[n - 1] + 10);
      int width = g_rand_int_range (rand, 1, 2000);

      pl_plot_decimate_full (xs, ys, n, a, b, width, log, &dec);

      double *mn = g_new (double, width), *mx = g_new (double, width);
      double *first = g_new (double, width), *last = g_new (double, width);
      guint *count = g_new0 (guint, width);
      for (gsize i = 0; i < n; i++)
        {
          if (xs[i] < a || xs[i] > b || !isfinite (ys[i]) || (log && ys[i] <= 0))
            continue;
          int c = column_of (xs[i], a, b, width);
          if (count[c]++ == 0)
            mn[c] = mx[c] = first[c] = ys[i];
          mn[c] = MIN (mn[c], ys[i]);
          mx[c] = MAX (mx[c], ys[i]);
          last[c] = ys[i];
        }
      int k = 0;
      for (int c = 0; c < width; c++)
        {
          if (count[c] == 0)
            continue;
          g_assert_cmpint (k, <, dec.n_cols);
          const PlDecimatedColumn *d = &dec.cols[k++];
          g_assert_cmpint (d->col, ==, c);
          g_assert_cmpuint (d->count, ==, count[c]);
          g_assert_cmpfloat (d->min, ==, mn[c]);
          g_assert_cmpfloat (d->max, ==, mx[c]);
          g_assert_cmpfloat (d->first, ==, first[c]);
          g_assert_cmpfloat (d->last, ==, last[c]);
        }
      g_assert_cmpint (k, ==, dec.n_cols);

      g_free (mn);
      g_free (mx);
      g_free (first);
      g_free (last);
      g_free (count);
      g_free (xs);
      g_free (ys);
    }
  pl_decimated_clear (&dec);
}

/* ---- Ticks --------------------------------------------------------------- */

static gboolean
is_nice_step (double step)
{
  double e = floor (log10 (step) + 1e-9);
  double m = step / pow (10, e);
  return fabs (m - 1) < 1e-9 || fabs (m - 2) < 1e-9 || fabs (m - 5) < 1e-9;
}

static void
test_nice_ticks (void)
{
  static const double ranges[][2] = {
    { 0, 1 }, { 0, 100 }, { -3.7, 12.2 }, { 0.2, 0.3 }, { 1, 1.0000001 },
    { 0, 1e-7 }, { 2.3e-7, 3.1e-7 }, { 0.0001, 0.0003 }, { -1e9, 5e12 },
    { 0, 1e15 }, { 1e300, 1.5e300 }, { -5, -2 }, { -0.001, 0.001 }, { 10, 0 },
    { 12345, 12346 }, { 0, 999999 }, { 0.6931, 2.3026 }, { -1e-7, 0 },
    { 3, 3 }, { 0, 0 }, { -2.5, -2.5 }, { 1e-9, 1e-9 },
  };
  for (int max_ticks = 4; max_ticks <= 8; max_ticks++)
    for (guint r = 0; r < G_N_ELEMENTS (ranges); r++)
      {
        double lo = MIN (ranges[r][0], ranges[r][1]), hi = MAX (ranges[r][0], ranges[r][1]);
        double ticks[8];
        int n = -1;
        double step = pl_plot_nice_ticks (ranges[r][0], ranges[r][1], max_ticks, ticks, &n);
        if (g_test_verbose ())
          g_test_message ("[%g, %g] max %d: %d ticks, step %g", lo, hi, max_ticks, n, step);
        g_assert_cmpint (n, <=, max_ticks);
        g_assert_cmpfloat (step, >, 0);
        g_assert_true (is_nice_step (step));
        if (max_ticks >= 6)
          g_assert_cmpint (n, >=, 2);
        if (lo == hi)
          {
            /* widened around the value, which stays inside */
            double d = lo == 0 ? 1 : fabs (lo) * 0.1;
            lo -= d;
            hi += d;
            g_assert_cmpfloat (ticks[0], <=, ranges[r][0]);
            g_assert_cmpfloat (ticks[n - 1], >=, ranges[r][0]);
          }
        double eps = step * 1e-6;
        for (int i = 0; i < n; i++)
          {
            /* inside the range, multiples of the step, increasing by it */
            g_assert_cmpfloat (ticks[i], >=, lo - eps);
            g_assert_cmpfloat (ticks[i], <=, hi + eps);
            double k = ticks[i] / step;
            g_assert_cmpfloat (fabs (k - round (k)), <, 1e-6);
            if (i > 0)
              pl_assert_close (ticks[i] - ticks[i - 1], step, 0, 1e-6);
          }
        /* covering the range: no gap of a whole step at either end */
        if (n > 0)
          {
            g_assert_cmpfloat (ticks[0] - lo, <, step + eps);
            g_assert_cmpfloat (hi - ticks[n - 1], <, step + eps);
          }
      }

  /* the densest nice step that fits: [0, 1] with 8 ticks is 0, 0.2, ..., 1 */
  double t[8];
  int n;
  g_assert_cmpfloat (pl_plot_nice_ticks (0, 1, 8, t, &n), ==, 0.2);
  g_assert_cmpint (n, ==, 6);
  g_assert_cmpfloat (t[3], ==, 0.6);
  g_assert_cmpfloat (pl_plot_nice_ticks (0, 100, 8, t, &n), ==, 20);
  g_assert_cmpint (n, ==, 6);
  /* zero is exactly zero, not -1e-17 */
  pl_plot_nice_ticks (-0.3, 0.3, 8, t, &n);
  gboolean has_zero = FALSE;
  for (int i = 0; i < n; i++)
    has_zero |= t[i] == 0.0;
  g_assert_true (has_zero);

  g_assert_cmpfloat (pl_plot_nice_ticks (NAN, 1, 8, t, &n), ==, 0);
  g_assert_cmpint (n, ==, 0);
  g_assert_cmpfloat (pl_plot_nice_ticks (0, INFINITY, 8, t, &n), ==, 0);
  g_assert_cmpint (n, ==, 0);
}

static void
test_log_ticks (void)
{
  static const struct {
    double lo, hi;
    int n;
    double expect[8];
  } cases[] = {
    /* more decades than ticks: every 2nd, at even exponents */
    { 1e-5, 1e3, 4, { 1e-4, 1e-2, 1, 1e2 } },
    /* three decades: 1, 2, 5 would be 10 ticks, so decades only */
    { 1, 1000, 4, { 1, 10, 100, 1000 } },
    /* two decades: with 2 and 5 */
    { 0.01, 1, 7, { 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1 } },
    { 0.15, 3, 4, { 0.2, 0.5, 1, 2 } },
    /* inside a decade: linear nice ticks */
    { 0.3, 0.8, 6, { 0.3, 0.4, 0.5, 0.6, 0.7, 0.8 } },
    /* nearly four decades: decades only */
    { 1.5e-6, 9e-3, 3, { 1e-5, 1e-4, 1e-3 } },
  };
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      double t[8];
      int n = -1;
      g_assert_true (pl_plot_log_ticks (cases[c].lo, cases[c].hi, 8, t, &n));
      g_assert_cmpint (n, ==, cases[c].n);
      for (int i = 0; i < n; i++)
        pl_assert_close (t[i], cases[c].expect[i], 0, 1e-12);
    }

  /* any range: positive, increasing, inside, at most max_ticks, decades exact */
  static const double ranges[][2] = {
    { 1e-300, 1e300 }, { 1e-7, 1 }, { 2, 3 }, { 0.5, 50000 }, { 1, 1 }, { 7e3, 2e6 },
  };
  for (guint r = 0; r < G_N_ELEMENTS (ranges); r++)
    {
      double t[8];
      int n = -1;
      double lo = ranges[r][0], hi = ranges[r][1];
      g_assert_true (pl_plot_log_ticks (lo, hi, 8, t, &n));
      g_assert_cmpint (n, >=, 1);
      g_assert_cmpint (n, <=, 8);
      if (lo == hi)
        {
          /* half a decade either side of the value */
          lo /= sqrt (10);
          hi *= sqrt (10);
          g_assert_cmpint (n, >=, 2);
        }
      for (int i = 0; i < n; i++)
        {
          g_assert_cmpfloat (t[i], >, 0);
          g_assert_cmpfloat (t[i], >=, lo * (1 - 1e-9));
          g_assert_cmpfloat (t[i], <=, hi * (1 + 1e-9));
          if (i > 0)
            g_assert_cmpfloat (t[i], >, t[i - 1]);
        }
    }
  double t[8];
  int n;
  g_assert_true (pl_plot_log_ticks (1e-300, 1e300, 8, t, &n));
  for (int i = 0; i < n; i++)
    pl_assert_close (log10 (t[i]), round (log10 (t[i])), 1e-9, 0);

  g_assert_false (pl_plot_log_ticks (0, 10, 8, t, &n));
  g_assert_cmpint (n, ==, 0);
  g_assert_false (pl_plot_log_ticks (-1, 10, 8, t, &n));
  g_assert_false (pl_plot_log_ticks (1, NAN, 8, t, &n));
}

static void
test_format_tick (void)
{
  static const struct {
    double value, step;
    const char *expect;
  } cases[] = {
    { 0, 0.1, "0" },
    { -0.0, 1, "0" },
    { -3e-17, 0.1, "0" },            /* rounding noise at zero */
    { 0.25, 0.05, "0.25" },
    { 0.4, 0.2, "0.4" },
    { -0.5, 0.5, "-0.5" },
    { 1, 0.5, "1" },
    { 100, 20, "100" },
    { 0.001, 0.001, "0.001" },
    { 0.0005, 0.0005, "0.0005" },
    { 1e-5, 1e-5, "1e-05" },
    { 1.5e-5, 5e-6, "1.5e-05" },
    { 2e-7, 1e-7, "2e-07" },
    { 1.00000002, 2e-8, "1.00000002" },
    { 999, 1, "999" },
    { 1000, 500, "1k" },
    { 2500, 500, "2.5k" },
    { 12000, 2000, "12k" },
    { 100000, 50000, "100k" },
    { 1200000, 100000, "1.2M" },
    { 1250000, 50000, "1.25M" },
    { 3e9, 1e9, "3G" },
    { 4e12, 1e12, "4T" },
    { 1e20, 1e20, "1e+20" },
    { -2500, 500, "-2.5k" },
    { 12345, 1, "12345" },           /* 12.345k would be longer */
    { 5000, 0, "5k" },               /* log axis: the value alone */
    { 0.001, 0, "0.001" },
    { 1e-5, 0, "1e-05" },
    { 2e-5, -1, "2e-05" },
    { 100, 0, "100" },
    { 1e6, 0, "1M" },
    { NAN, 1, "nan" },
    { INFINITY, 1, "inf" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      char buf[64];
      pl_plot_format_tick (cases[i].value, cases[i].step, buf, sizeof buf);
      if (g_strcmp0 (buf, cases[i].expect) != 0)
        g_error ("format_tick (%g, %g) = \"%s\", expected \"%s\"",
                 cases[i].value, cases[i].step, buf, cases[i].expect);
    }
  /* a short buffer truncates, never overflows */
  char small[4];
  pl_plot_format_tick (1.00000002, 2e-8, small, sizeof small);
  g_assert_cmpstr (small, ==, "1.0");
}

/* ---- Smoothing ----------------------------------------------------------- */

static void
test_ema (void)
{
  /* w = 0.5: m = 0.5, 1.25, 2.125; debiased by 1 - 0.5^k = 0.5, 0.75, 0.875 */
  double ys[] = { 1, 2, 3 }, out[3];
  pl_plot_ema (ys, 3, 0.5, out);
  pl_assert_close (out[0], 1.0, 1e-15, 0);
  pl_assert_close (out[1], 1.25 / 0.75, 1e-15, 0);
  pl_assert_close (out[2], 2.125 / 0.875, 1e-15, 0);

  /* w = 0.9 by hand: m1 = 0.1*4 = 0.4 -> 4; m2 = 0.36 + 0.8 = 1.16 -> 1.16/0.19 */
  double y2[] = { 4, 8 }, o2[2];
  pl_plot_ema (y2, 2, 0.9, o2);
  pl_assert_close (o2[0], 4.0, 1e-14, 0);
  pl_assert_close (o2[1], 1.16 / 0.19, 1e-12, 0);

  /* a NaN is passed through and does not count */
  double yn[] = { 1, NAN, 3 }, on[3];
  pl_plot_ema (yn, 3, 0.5, on);
  pl_assert_close (on[0], 1.0, 1e-15, 0);
  g_assert_true (isnan (on[1]));
  pl_assert_close (on[2], 1.75 / 0.75, 1e-15, 0);

  /* debiasing: a constant stays the constant from the first point on */
  double yc[1000], oc[1000];
  for (int i = 0; i < 1000; i++)
    yc[i] = 5.0;
  pl_plot_ema (yc, 1000, 0.999, oc);
  for (int i = 0; i < 1000; i++)
    pl_assert_close (oc[i], 5.0, 1e-9, 0);

  /* weight 0 copies; in place works */
  double yi[] = { 3, -1, 7 };
  pl_plot_ema (yi, 3, 0.0, yi);
  g_assert_cmpfloat (yi[0], ==, 3);
  g_assert_cmpfloat (yi[1], ==, -1);
  g_assert_cmpfloat (yi[2], ==, 7);

  /* the smoothing knob clamps to [0, 0.999] */
  g_autoptr (PlPlotData) data = pl_plot_data_new (NULL);
  pl_plot_data_set_smoothing (data, 1.5);
  g_assert_cmpfloat (pl_plot_data_get_smoothing (data), ==, 0.999);
  pl_plot_data_set_smoothing (data, -1);
  g_assert_cmpfloat (pl_plot_data_get_smoothing (data), ==, 0.0);
}

/* ---- The model ----------------------------------------------------------- */

static void
test_series_order (void)
{
  g_autoptr (PlPlotData) data = pl_plot_data_new ("loss");
  guint a = pl_plot_data_add_series (data, "train", NULL);
  guint b = pl_plot_data_add_series (data, "val", NULL);
  g_assert_cmpuint (a, >, 0);
  g_assert_cmpuint (b, !=, a);

  /* out-of-order steps come back sorted; equal steps keep arrival order */
  static const double in_x[] = { 0, 1, 2, 5, 3, 4, 4, 10, -1, 4 };
  static const double in_y[] = { 0, 10, 20, 50, 30, 40, 41, 100, -10, 42 };
  static const double out_y[] = { -10, 0, 10, 20, 30, 40, 41, 42, 50, 100 };
  for (guint i = 0; i < G_N_ELEMENTS (in_x); i++)
    pl_plot_data_append (data, a, in_x[i], in_y[i]);
  g_assert_cmpuint (pl_plot_data_get_n_points (data, a), ==, G_N_ELEMENTS (in_x));
  double prev = -INFINITY;
  for (guint i = 0; i < G_N_ELEMENTS (out_y); i++)
    {
      double x, y;
      g_assert_true (pl_plot_data_get_point (data, a, i, &x, &y));
      g_assert_cmpfloat (x, >=, prev);
      g_assert_cmpfloat (y, ==, out_y[i]);
      prev = x;
    }
  g_assert_false (pl_plot_data_get_point (data, a, G_N_ELEMENTS (in_x), NULL, NULL));

  /* sorted again, appends go on at the end */
  pl_plot_data_append (data, a, 11, 110);
  double x, y;
  g_assert_true (pl_plot_data_get_point (data, a, G_N_ELEMENTS (in_x), &x, &y));
  g_assert_cmpfloat (x, ==, 11);

  /* wholesale replacement, any order */
  double hx[] = { 3, 1, 2 }, hy[] = { 30, 10, 20 };
  pl_plot_data_set_points (data, b, hx, hy, 3);
  g_assert_cmpuint (pl_plot_data_get_n_points (data, b), ==, 3);
  for (int i = 0; i < 3; i++)
    {
      g_assert_true (pl_plot_data_get_point (data, b, i, &x, &y));
      g_assert_cmpfloat (x, ==, i + 1);
      g_assert_cmpfloat (y, ==, (i + 1) * 10);
    }
  g_assert_cmpuint (pl_plot_data_get_n_points (data, 0), ==, G_N_ELEMENTS (in_x) + 1 + 3);

  g_assert_true (pl_plot_data_get_series_visible (data, b));
  pl_plot_data_set_series_visible (data, b, FALSE);
  g_assert_false (pl_plot_data_get_series_visible (data, b));

  g_assert_true (pl_plot_data_remove_series (data, a));
  g_assert_false (pl_plot_data_remove_series (data, a));
  g_assert_cmpuint (pl_plot_data_get_n_series (data), ==, 1);
  g_assert_cmpuint (pl_plot_data_get_series_id (data, 0), ==, b);
  pl_plot_data_clear (data);
  g_assert_cmpuint (pl_plot_data_get_n_series (data), ==, 0);
  g_assert_cmpuint (pl_plot_data_get_n_points (data, 0), ==, 0);

  /* a million live appends: amortized O(1) */
  guint c = pl_plot_data_add_series (data, "fast", NULL);
  gint64 t0 = g_get_monotonic_time ();
  for (int i = 0; i < MILLION; i++)
    pl_plot_data_append (data, c, i, 1.0 / (i + 1));
  gint64 us = g_get_monotonic_time () - t0;
  g_assert_cmpuint (pl_plot_data_get_n_points (data, c), ==, MILLION);
  g_assert_cmpint (us, <, 2 * G_USEC_PER_SEC);
}

static void
test_view (void)
{
  g_autoptr (PlPlotData) data = pl_plot_data_new ("acc");
  double x0, x1, y0, y1;
  g_assert_false (pl_plot_data_get_view (data, &x0, &x1, &y0, &y1));

  guint s = pl_plot_data_add_series (data, "run", NULL);
  for (int i = 0; i <= 100; i++)
    pl_plot_data_append (data, s, i * 10, i <= 50 ? i : 100 - i);
  pl_plot_data_append (data, s, 1010, NAN);

  /* automatic: all steps, values padded by 5 % */
  g_assert_true (pl_plot_data_get_view (data, &x0, &x1, &y0, &y1));
  g_assert_cmpfloat (x0, ==, 0);
  g_assert_cmpfloat (x1, ==, 1010);
  pl_assert_close (y0, -2.5, 1e-12, 0);
  pl_assert_close (y1, 52.5, 1e-12, 0);

  /* zoomed in x: y follows the points inside */
  pl_plot_data_set_view_x (data, 0, 100);
  g_assert_true (pl_plot_data_is_zoomed (data));
  g_assert_true (pl_plot_data_get_view (data, &x0, &x1, &y0, &y1));
  g_assert_cmpfloat (x1, ==, 100);
  pl_assert_close (y0, -0.5, 1e-12, 0);
  pl_assert_close (y1, 10.5, 1e-12, 0);

  pl_plot_data_set_view_y (data, -1, 1);
  g_assert_true (pl_plot_data_get_view (data, NULL, NULL, &y0, &y1));
  g_assert_cmpfloat (y0, ==, -1);
  g_assert_cmpfloat (y1, ==, 1);
  pl_plot_data_set_view_y (data, 5, 5);  /* ignored */
  g_assert_true (pl_plot_data_get_view (data, NULL, NULL, &y0, &y1));
  g_assert_cmpfloat (y0, ==, -1);

  pl_plot_data_reset_view (data);
  g_assert_false (pl_plot_data_is_zoomed (data));

  /* limits: a flat fraction at 0 shows 0..1, not -1..1; padding stops at 1 */
  {
    g_autoptr (PlPlotData) frac = pl_plot_data_new ("sparsity");
    guint f = pl_plot_data_add_series (frac, "total", NULL);
    pl_plot_data_set_y_limits (frac, 0, 1);
    for (int i = 0; i < 10; i++)
      pl_plot_data_append (frac, f, i, 0.0);
    g_assert_true (pl_plot_data_get_view (frac, NULL, NULL, &y0, &y1));
    g_assert_cmpfloat (y0, ==, 0);
    g_assert_cmpfloat (y1, ==, 1);
    pl_plot_data_append (frac, f, 10, 1.0);
    pl_plot_data_append (frac, f, 11, 0.5);
    g_assert_true (pl_plot_data_get_view (frac, NULL, NULL, &y0, &y1));
    g_assert_cmpfloat (y0, ==, 0);
    g_assert_cmpfloat (y1, ==, 1);
    pl_plot_data_set_y_limits (frac, 1, 1);  /* removed */
    g_assert_true (pl_plot_data_get_view (frac, NULL, NULL, &y0, &y1));
    pl_assert_close (y0, -0.05, 1e-12, 0);
  }

  /* log y: non-positive values do not count; padding is in decades */
  pl_plot_data_set_log_y (data, TRUE);
  g_assert_true (pl_plot_data_get_view (data, NULL, NULL, &y0, &y1));
  g_assert_cmpfloat (y0, >, 0);
  pl_assert_close (log10 (y0), 0 - 0.05 * log10 (50), 1e-12, 0);
  pl_assert_close (log10 (y1), log10 (50) * 1.05, 1e-12, 0);

  /* hidden series do not count; all hidden means no view */
  pl_plot_data_set_series_visible (data, s, FALSE);
  g_assert_false (pl_plot_data_get_view (data, NULL, NULL, NULL, NULL));

  /* a single point gets a range around it */
  pl_plot_data_set_log_y (data, FALSE);
  guint one = pl_plot_data_add_series (data, "one", NULL);
  pl_plot_data_append (data, one, 7, 0.5);
  g_assert_true (pl_plot_data_get_view (data, &x0, &x1, &y0, &y1));
  g_assert_cmpfloat (x0, <, 7);
  g_assert_cmpfloat (x1, >, 7);
  g_assert_cmpfloat (y0, <, 0.5);
  g_assert_cmpfloat (y1, >, 0.5);
}

static void
test_palette (void)
{
  PlPlotColor a, b;
  /* the same run has the same colour; neighbouring runs differ */
  for (gint64 id = -20; id < 40; id++)
    {
      pl_plot_run_color (id, &a);
      pl_plot_run_color (id, &b);
      g_assert_true (memcmp (&a, &b, sizeof a) == 0);
      pl_plot_run_color (id + 1, &b);
      g_assert_false (memcmp (&a, &b, sizeof a) == 0);
      g_assert_cmpfloat (a.alpha, ==, 1.0);
    }
  pl_plot_run_color (3, &a);
  pl_plot_run_color (3 + PL_PLOT_PALETTE_SIZE, &b);
  g_assert_true (memcmp (&a, &b, sizeof a) == 0);
  pl_plot_run_color (G_MAXINT64, &a);
  pl_plot_run_color (G_MININT64, &b);
}

/* ---- Drawing and export ------------------------------------------------- */

static PlPlotData *
make_demo_plot (void)
{
  PlPlotData *data = pl_plot_data_new ("train/loss");
  pl_plot_data_set_y_label (data, "loss");
  g_autoptr (GRand) rand = g_rand_new_with_seed (7);
  for (int r = 0; r < 3; r++)
    {
      char name[32];
      g_snprintf (name, sizeof name, "run %d", r + 1);
      PlPlotColor c;
      pl_plot_run_color (r + 1, &c);
      guint id = pl_plot_data_add_series (data, name, &c);
      for (int i = 0; i <= 20000; i += 10)
        {
          double base = 2.3 * exp (-i / (3000.0 + 1500 * r)) + 0.05 * (r + 1);
          pl_plot_data_append (data, id, i, base * (1 + 0.25 * g_rand_double_range (rand, -1, 1)));
        }
    }
  pl_plot_data_set_smoothing (data, 0.9);
  return data;
}

static void
check_prefix (const char *path, const char *magic, gsize len)
{
  g_autofree char *contents = NULL;
  gsize size = 0;
  g_assert_true (g_file_get_contents (path, &contents, &size, NULL));
  g_assert_cmpuint (size, >, len);
  g_assert_true (memcmp (contents, magic, len) == 0);
}

static void
test_export (void)
{
  g_autoptr (PlPlotData) data = make_demo_plot ();
  g_autoptr (GError) error = NULL;
  const char *dir = pl_test_tmpdir ();

  g_autofree char *png = g_build_filename (dir, "plot.png", NULL);
  g_assert_true (pl_plot_data_export (data, png, 900, 420, NULL, &error));
  g_assert_no_error (error);
  check_prefix (png, "\x89PNG\r\n\x1a\n", 8);

  g_autofree char *svg = g_build_filename (dir, "plot.svg", NULL);
  g_assert_true (pl_plot_data_export (data, svg, 900, 420, NULL, &error));
  g_assert_no_error (error);
  g_autofree char *svg_text = NULL;
  g_assert_true (g_file_get_contents (svg, &svg_text, NULL, NULL));
  g_assert_true (g_str_has_prefix (svg_text, "<?xml"));
  g_assert_nonnull (strstr (svg_text, "<svg"));

  g_autofree char *pdf = g_build_filename (dir, "Plot.PDF", NULL);
  PlPlotStyle dark;
  pl_plot_style_init (&dark, TRUE);
  g_assert_true (pl_plot_data_export (data, pdf, 600, 300, &dark, &error));
  g_assert_no_error (error);
  check_prefix (pdf, "%PDF", 4);

  /* the exported PNG has the asked size and is not blank */
  cairo_surface_t *img = cairo_image_surface_create_from_png (png);
  g_assert_cmpint (cairo_surface_status (img), ==, CAIRO_STATUS_SUCCESS);
  g_assert_cmpint (cairo_image_surface_get_width (img), ==, 900);
  g_assert_cmpint (cairo_image_surface_get_height (img), ==, 420);
  cairo_surface_destroy (img);

  if (g_getenv ("PARAMLAB_PLOT_PNG"))
    {
      /* for a look by eye: a hover read-out and a dark variant too */
      pl_plot_data_export (data, g_getenv ("PARAMLAB_PLOT_PNG"), 900, 420, NULL, NULL);
    }

  /* errors name the path and say what was expected */
  static const struct {
    const char *name;
    int w, h;
    GIOErrorEnum code;
    const char *says;
  } bad[] = {
    { "plot.jpg", 100, 100, G_IO_ERROR_INVALID_ARGUMENT, ".png, .svg or .pdf" },
    { "plot", 100, 100, G_IO_ERROR_INVALID_ARGUMENT, ".png, .svg or .pdf" },
    { "zero-wide.png", 0, 100, G_IO_ERROR_INVALID_ARGUMENT, "1 to 16384" },
    { "too-tall.svg", 100, 100000, G_IO_ERROR_INVALID_ARGUMENT, "1 to 16384" },
    { "no-such-dir/plot.png", 100, 100, G_IO_ERROR_NOT_FOUND, "no-such-dir" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autofree char *path = g_build_filename (dir, bad[i].name, NULL);
      g_autoptr (GError) err = NULL;
      g_assert_false (pl_plot_data_export (data, path, bad[i].w, bad[i].h, NULL, &err));
      g_assert_error (err, G_IO_ERROR, bad[i].code);
      g_assert_nonnull (strstr (err->message, path));
      g_assert_nonnull (strstr (err->message, bad[i].says));
      g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
    }
}

/* Is the pixel at (x, y) tinted by the palette's first colour (blue), even
 * partly covered by an antialiased line? Grid, axes, text and page are grey. */
static gboolean
pixel_is_blue (cairo_surface_t *s, int x, int y)
{
  unsigned char *p = cairo_image_surface_get_data (s) + y * cairo_image_surface_get_stride (s);
  guint32 v = ((guint32 *) p)[x];
  int r = (v >> 16) & 0xff, b = v & 0xff;
  return b - r > 40;
}

static void
test_draw_million (void)
{
  g_autoptr (PlPlotData) data = pl_plot_data_new ("spike");
  PlPlotColor color;
  pl_plot_palette_color (0, &color);
  guint id = pl_plot_data_add_series (data, "flat", &color);
  double *xs = g_new (double, MILLION), *ys = g_new (double, MILLION);
  fill_flat (xs, ys, MILLION);
  ys[654321] = 1e6;
  pl_plot_data_set_points (data, id, xs, ys, MILLION);
  g_free (xs);
  g_free (ys);

  int w = 1200, h = 400;
  cairo_surface_t *surface = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, w, h);
  cairo_t *cr = cairo_create (surface);
  PlPlotStyle style;
  pl_plot_style_init (&style, FALSE);
  pl_plot_data_draw (data, cr, w, h, &style);
  g_assert_cmpint (cairo_status (cr), ==, CAIRO_STATUS_SUCCESS);
  cairo_surface_flush (surface);

  /* the topmost pixel of the series' colour is the spike, at its step */
  int top_x = -1, top_y = -1;
  for (int y = 0; y < h && top_y < 0; y++)
    for (int x = 0; x < w; x++)
      if (pl_plot_data_in_plot_area (data, x, y) && pixel_is_blue (surface, x, y))
        {
          top_x = x;
          top_y = y;
          break;
        }
  g_assert_cmpint (top_y, >=, 0);
  double vx, vy, x0, x1, y0, y1;
  g_assert_true (pl_plot_data_pixel_to_value (data, top_x, top_y, &vx, &vy));
  g_assert_true (pl_plot_data_get_view (data, &x0, &x1, &y0, &y1));
  pl_assert_close (vx, 654321, (x1 - x0) / 300, 0);
  pl_assert_close (vy, 1e6, (y1 - y0) / 50, 0);

  /* the legend entry toggles the series: find it by hit-testing the top rows */
  guint hit = 0;
  for (int y = 0; y < 60 && !hit; y++)
    for (int x = 0; x < w && !hit; x++)
      hit = pl_plot_data_legend_hit (data, x, y);
  g_assert_cmpuint (hit, ==, id);
  g_assert_cmpuint (pl_plot_data_legend_hit (data, w / 2, h / 2), ==, 0);

  /* zoom x around the middle of the plot: half the span, centred there */
  double cx = -1, cy = -1;
  for (int x = 0; x < w && cx < 0; x++)
    if (pl_plot_data_in_plot_area (data, x, h / 2))
      cx = x + 200;
  cy = h / 2;
  double ax;
  g_assert_true (pl_plot_data_pixel_to_value (data, cx, cy, &ax, NULL));
  pl_plot_data_zoom (data, FALSE, 0.5, cx, cy);
  double z0, z1;
  g_assert_true (pl_plot_data_get_view (data, &z0, &z1, NULL, NULL));
  pl_assert_close (z1 - z0, (x1 - x0) / 2, 1e-6, 1e-9);
  pl_assert_close ((ax - z0) / (z1 - z0), (ax - x0) / (x1 - x0), 1e-9, 0);

  /* a dragged rectangle zooms both axes; a tiny one does nothing */
  pl_plot_data_draw (data, cr, w, h, &style);
  g_assert_false (pl_plot_data_zoom_rect (data, cx, cy, cx + 2, cy + 50));
  g_assert_true (pl_plot_data_zoom_rect (data, cx, cy - 50, cx + 100, cy + 50));
  double r0, r1, ry0, ry1;
  g_assert_true (pl_plot_data_get_view (data, &r0, &r1, &ry0, &ry1));
  g_assert_cmpfloat (r1 - r0, <, (z1 - z0) / 5);
  g_assert_cmpfloat (ry1 - ry0, <, (y1 - y0) / 2);

  /* hover, selection, log and smoothing all draw over a million points */
  pl_plot_data_reset_view (data);
  pl_plot_data_set_hover (data, cx, cy);
  pl_plot_data_set_selection (data, cx, cy, cx + 40, cy + 40);
  pl_plot_data_set_smoothing (data, 0.6);
  pl_plot_data_set_log_y (data, TRUE);
  pl_plot_data_draw (data, cr, w, h, &style);
  g_assert_cmpint (cairo_status (cr), ==, CAIRO_STATUS_SUCCESS);

  /* empty: no plot area to interact with */
  pl_plot_data_clear (data);
  pl_plot_data_draw (data, cr, w, h, &style);
  g_assert_false (pl_plot_data_in_plot_area (data, w / 2, h / 2));
  g_assert_false (pl_plot_data_pixel_to_value (data, w / 2, h / 2, NULL, NULL));
  pl_plot_data_zoom (data, FALSE, 0.5, w / 2, h / 2);
  g_assert_false (pl_plot_data_is_zoomed (data));

  cairo_destroy (cr);
  cairo_surface_destroy (surface);
}

static void
test_draw_states (void)
{
  /* empty, all hidden, one point, constant, NaN only, tiny sizes: no crash, and
   * the cairo context stays usable */
  cairo_surface_t *surface = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, 300, 200);
  cairo_t *cr = cairo_create (surface);
  g_autoptr (PlPlotData) data = pl_plot_data_new (NULL);
  static const int sizes[][2] = { { 300, 200 }, { 20, 10 }, { 1, 1 }, { 0, 0 } };

  for (int state = 0; state < 6; state++)
    {
      pl_plot_data_clear (data);
      guint id = pl_plot_data_add_series (data, "s\xff bad utf8", NULL);
      switch (state)
        {
        case 1:
          pl_plot_data_append (data, id, 3, 1);
          pl_plot_data_set_series_visible (data, id, FALSE);
          break;
        case 2:
          pl_plot_data_append (data, id, 3, 1);
          break;
        case 3:
          for (int i = 0; i < 100; i++)
            pl_plot_data_append (data, id, i, 0.25);
          break;
        case 4:
          pl_plot_data_append (data, id, 1, NAN);
          pl_plot_data_append (data, id, 2, INFINITY);
          break;
        case 5:
          for (int i = 0; i < 100; i++)
            pl_plot_data_append (data, id, i, i - 50);
          pl_plot_data_set_log_y (data, TRUE);
          break;
        default:
          break;
        }
      for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
        {
          pl_plot_data_set_hover (data, 150, 100);
          pl_plot_data_draw (data, cr, sizes[s][0], sizes[s][1], NULL);
          g_assert_cmpint (cairo_status (cr), ==, CAIRO_STATUS_SUCCESS);
        }
      g_assert_true (g_utf8_validate (pl_plot_data_get_series_name (data, id), -1, NULL));
    }
  cairo_destroy (cr);
  cairo_surface_destroy (surface);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ui/plot/decimate/spike", test_decimate_spike);
  g_test_add_func ("/ui/plot/decimate/columns-bounded", test_decimate_columns_bounded);
  g_test_add_func ("/ui/plot/decimate/empty-and-single", test_decimate_empty_and_single);
  g_test_add_func ("/ui/plot/decimate/brute-force", test_decimate_brute_force);
  g_test_add_func ("/ui/plot/ticks/nice", test_nice_ticks);
  g_test_add_func ("/ui/plot/ticks/log", test_log_ticks);
  g_test_add_func ("/ui/plot/ticks/format", test_format_tick);
  g_test_add_func ("/ui/plot/ema", test_ema);
  g_test_add_func ("/ui/plot/data/order", test_series_order);
  g_test_add_func ("/ui/plot/data/view", test_view);
  g_test_add_func ("/ui/plot/palette", test_palette);
  g_test_add_func ("/ui/plot/export", test_export);
  g_test_add_func ("/ui/plot/draw/million", test_draw_million);
  g_test_add_func ("/ui/plot/draw/states", test_draw_states);
  int status = g_test_run ();
  /* drop Cairo's font caches so that LeakSanitizer sees only our memory */
  cairo_debug_reset_static_data ();
  FcFini ();
  return status;
}
