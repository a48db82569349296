/* bench-plot.c: how long the plot takes to redraw 1,000,000 points.
 *
 * Not a test. Draws a 1,000,000-point loss curve (noisy exponential decay with
 * spikes) into a 1200x400 Cairo image surface 50 times and prints the median
 * milliseconds per redraw: raw, with EMA smoothing (raw faint + smoothed), on a
 * log axis, and zoomed into the middle tenth. The frame budget is 16 ms. */
#include "pl-plot-data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define N_POINTS 1000000
#define WIDTH 1200
#define HEIGHT 400
#define REPEATS 50

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

/* Median, min and max ms of REPEATS redraws of @data. */
static double
bench (PlPlotData *data, cairo_t *cr, const PlPlotStyle *style, const char *what)
{
  double ms[REPEATS];
  for (int r = 0; r < REPEATS; r++)
    {
      gint64 t0 = g_get_monotonic_time ();
      pl_plot_data_draw (data, cr, WIDTH, HEIGHT, style);
      cairo_surface_flush (cairo_get_target (cr));
      ms[r] = (g_get_monotonic_time () - t0) / 1000.0;
    }
  qsort (ms, REPEATS, sizeof (double), cmp_double);
  double median = (ms[REPEATS / 2 - 1] + ms[REPEATS / 2]) / 2;
  printf ("bench-plot: %-28s median %6.2f ms per redraw (min %.2f, max %.2f)\n",
          what, median, ms[0], ms[REPEATS - 1]);
  return median;
}

int
main (int argc, char **argv)
{
  g_autoptr (PlPlotData) data = pl_plot_data_new ("train/loss");
  pl_plot_data_set_y_label (data, "loss");
  guint id = pl_plot_data_add_series (data, "run 1", NULL);

  GRand *rand = g_rand_new_with_seed (1);
  double *xs = g_new (double, N_POINTS), *ys = g_new (double, N_POINTS);
  for (int i = 0; i < N_POINTS; i++)
    {
      xs[i] = i;
      ys[i] = 2.3 * exp (-i / 150000.0) + 0.05 + 0.1 * g_rand_double (rand);
      if (g_rand_int_range (rand, 0, 100000) == 0)
        ys[i] *= 4;  /* a few spikes */
    }
  g_rand_free (rand);

  gint64 t0 = g_get_monotonic_time ();
  for (int i = 0; i < N_POINTS; i++)
    pl_plot_data_append (data, id, xs[i], ys[i]);
  printf ("bench-plot: %d live appends took %.2f ms\n", N_POINTS,
          (g_get_monotonic_time () - t0) / 1000.0);
  g_free (xs);
  g_free (ys);

  cairo_surface_t *surface = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, WIDTH, HEIGHT);
  cairo_t *cr = cairo_create (surface);
  PlPlotStyle style;
  pl_plot_style_init (&style, FALSE);

  printf ("bench-plot: %d points, %dx%d image surface, %d redraws each\n",
          N_POINTS, WIDTH, HEIGHT, REPEATS);
  double raw = bench (data, cr, &style, "raw");

  t0 = g_get_monotonic_time ();
  pl_plot_data_set_smoothing (data, 0.9);
  pl_plot_data_draw (data, cr, WIDTH, HEIGHT, &style);
  printf ("bench-plot: first smoothed draw (computes the EMA) %.2f ms\n",
          (g_get_monotonic_time () - t0) / 1000.0);
  bench (data, cr, &style, "smoothed 0.9");

  pl_plot_data_set_log_y (data, TRUE);
  bench (data, cr, &style, "smoothed 0.9, log y");

  pl_plot_data_set_log_y (data, FALSE);
  pl_plot_data_set_smoothing (data, 0.0);
  pl_plot_data_set_view_x (data, 450000, 550000);
  bench (data, cr, &style, "raw, zoomed to 100k steps");

  pl_plot_data_reset_view (data);
  pl_plot_data_set_hover (data, WIDTH / 2, HEIGHT / 2);
  bench (data, cr, &style, "raw, with hover read-out");

  if (argc > 1)
    cairo_surface_write_to_png (surface, argv[1]);
  cairo_destroy (cr);
  cairo_surface_destroy (surface);
  return raw < 16.0 ? 0 : 1;
}
