/* bench-run-store: throughput of the run store (not a test; run by hand).
 *
 *   bench-run-store [LOG_POINTS [RUNS [POINTS_PER_RUN]]]
 *
 * 1. logs LOG_POINTS (2,000,000) points through pl_run_store_log_metric () and
 *    prints the logging rate (the training loop's cost), the rate up to the
 *    end of pl_run_store_flush () (what the writer thread sustains) and the CPU
 *    time both threads used meanwhile (points per CPU second: a figure that a
 *    machine shared with other jobs disturbs less than the wall clock);
 * 2. fills a second store with RUNS (10,000) runs of POINTS_PER_RUN (1,000)
 *    val/acc points, writes their summaries, then reopens it and times list_runs
 *    and get_metrics_for_runs for 100 runs (first call and median of 7).
 * The stores live in a temporary directory that is removed at the end. */
#include "paramlab.h"

#include <glib/gstdio.h>
#include <stdlib.h>
#include <time.h>

static double
seconds (void)
{
  return g_get_monotonic_time () / 1e6;
}

/* CPU time of the whole process (every thread), in seconds */
static double
cpu_seconds (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
check (gboolean ok, GError *error)
{
  if (!ok)
    g_error ("%s", error ? error->message : "failed");
}

static int
compare_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

typedef struct {
  double first;
  double median;
} Timing;

#define N_REPEATS 7

static void
remove_store (const char *path)
{
  const char *suffixes[] = { "", "-wal", "-shm" };
  for (guint i = 0; i < G_N_ELEMENTS (suffixes); i++)
    {
      g_autofree char *p = g_strconcat (path, suffixes[i], NULL);
      g_remove (p);
    }
}

int
main (int argc, char **argv)
{
  gint64 log_points = argc > 1 ? g_ascii_strtoll (argv[1], NULL, 10) : 2000000;
  gint64 n_runs = argc > 2 ? g_ascii_strtoll (argv[2], NULL, 10) : 10000;
  gint64 per_run = argc > 3 ? g_ascii_strtoll (argv[3], NULL, 10) : 1000;
  GError *error = NULL;

  g_autofree char *dir = g_dir_make_tmp ("paramlab-bench-XXXXXX", &error);
  check (dir != NULL, error);
  g_autofree char *log_path = g_build_filename (dir, "log.db", NULL);
  g_autofree char *big_path = g_build_filename (dir, "big.db", NULL);

  /* 1. the logging path */
  {
    static const char *keys[] = { "train/loss", "train/acc", "lr", "sparsity/total" };
    PlRunStore *store = pl_run_store_open (log_path, &error);
    check (store != NULL, error);
    gint64 run = pl_run_store_create_run (store, "bench", 1, "", "bench", "mlp", &error);
    check (run > 0, error);
    double c0 = cpu_seconds ();
    double t0 = seconds ();
    for (gint64 i = 0; i < log_points; i++)
      pl_run_store_log_metric (store, run, keys[i & 3], i >> 2, 1.0 / (i + 1));
    double t1 = seconds ();
    check (pl_run_store_flush (store, &error), error);
    double t2 = seconds ();
    double c2 = cpu_seconds ();
    g_print ("log_metric: %" G_GINT64_FORMAT " points in %.3f s = %.2f M points/s logged\n",
             log_points, t1 - t0, log_points / (t1 - t0) / 1e6);
    g_print ("log_metric + flush: %.3f s = %.2f M points/s committed by the writer\n",
             t2 - t0, log_points / (t2 - t0) / 1e6);
    g_print ("CPU time of both threads: %.3f s = %.2f M points per CPU second\n",
             c2 - c0, log_points / (c2 - c0) / 1e6);
    check (pl_run_store_close (store, &error), error);
    g_object_unref (store);
  }

  /* 2. a store of n_runs runs */
  {
    PlRunStore *store = pl_run_store_open (big_path, &error);
    check (store != NULL, error);
    double t0 = seconds ();
    gint64 *ids = g_new (gint64, n_runs);
    for (gint64 r = 0; r < n_runs; r++)
      {
        g_autofree char *name = g_strdup_printf ("run %" G_GINT64_FORMAT, r);
        ids[r] = pl_run_store_create_run (store, name, r, "[experiment]\nname = bench\n",
                                          r % 2 ? "digits" : "breast-cancer", "mlp", &error);
        check (ids[r] > 0, error);
        for (gint64 s = 0; s < per_run; s++)
          pl_run_store_log_metric (store, ids[r], "val/acc", s, (double) s / per_run);
      }
    check (pl_run_store_flush (store, &error), error);
    double t1 = seconds ();
    for (gint64 r = 0; r < n_runs; r++)
      {
        check (pl_run_store_set_status (store, ids[r], "finished", NULL, &error), error);
        check (pl_run_store_update_summary (store, ids[r], &error), error);
      }
    double t2 = seconds ();
    check (pl_run_store_close (store, &error), error);
    g_object_unref (store);
    GStatBuf st;
    g_stat (big_path, &st);
    g_print ("filled %" G_GINT64_FORMAT " runs x %" G_GINT64_FORMAT
             " points in %.1f s, summaries in %.1f s; database %.0f MB\n",
             n_runs, per_run, t1 - t0, t2 - t1, st.st_size / 1e6);

    /* a fresh store: SQLite's page cache starts empty, the OS cache is warm */
    store = pl_run_store_open (big_path, &error);
    check (store != NULL, error);
    gint64 pick[100];
    guint n_pick = MIN (100, n_runs);
    for (guint i = 0; i < n_pick; i++)
      pick[i] = ids[(gint64) i * n_runs / n_pick];

    const char *names[] = { "list_runs (all)", "list_runs (filter 'digits')",
                            "get_metrics_for_runs (100 runs)" };
    for (int q = 0; q < 3; q++)
      {
        double times[N_REPEATS];
        guint n_result = 0;
        for (int k = 0; k < N_REPEATS; k++)
          {
            double a = seconds ();
            GPtrArray *result;
            if (q < 2)
              result = pl_run_store_list_runs (store, q == 0 ? NULL : "digits", FALSE, &error);
            else
              result = pl_run_store_get_metrics_for_runs (store, pick, n_pick, "val/acc", &error);
            check (result != NULL, error);
            times[k] = seconds () - a;
            n_result = result->len;
            g_ptr_array_unref (result);
          }
        double first = times[0];
        qsort (times, N_REPEATS, sizeof (double), compare_double);
        g_print ("%s: %u results, first %.1f ms, median %.1f ms\n", names[q], n_result,
                 first * 1e3, times[N_REPEATS / 2] * 1e3);
      }
    check (pl_run_store_close (store, &error), error);
    g_object_unref (store);
    g_free (ids);
  }

  remove_store (log_path);
  remove_store (big_path);
  g_rmdir (dir);
  return 0;
}
