/* bench-window.c: how the window holds up while runs train. Not a test: it
 * prints figures.
 *
 *   launch to first frame   from main() to the first frame the window painted
 *                           (goal < 500 ms)
 *   main-loop stall         the longest time the main loop was busy between two
 *                           wake-ups of a 2 ms heartbeat while two runs train
 *                           side by side and the live view draws (goal < 50 ms)
 *
 * The CPU figure is the process's (all threads, from exec), the wall figure is
 * from main(); PARAMLAB_DEBUG_STARTUP=1 prints where the time goes (from exec).
 *
 * Run under a display, e.g.
 *   xvfb-run -a -s "-screen 0 1400x900x24" build/tests/bench-window [EPOCHS]
 * with GSETTINGS_SCHEMA_DIR and PARAMLAB_CLI as tests/meson.build sets them
 * (it sets them itself for the build tree when they are missing). */
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "pl-application.h"
#include "pl-config.h"
#include "pl-gui.h"
#include "pl-test-util.h"
#include "pl-window-private.h"

static gint64 t_start;

static int
cmp_i64 (gconstpointer a,
         gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? -1 : x > y;
}
static gint64 t_first_frame;
static gint64 cpu_first_frame;   /* ns of CPU the process used until then */

static void
on_after_paint (GdkFrameClock *clock,
                gpointer       data)
{
  if (!t_first_frame)
    {
      t_first_frame = g_get_monotonic_time ();
      struct timespec ts;
      clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
      cpu_first_frame = ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
    }
}

typedef struct {
  gint64 last;
  gint64 last_wait_ns;
  GArray *gaps;   /* gint64 us: wall time beyond the period */
  GArray *own;    /* gint64 us: the same without the time spent waiting for a CPU */
  GArray *cpu;    /* gint64 us: CPU time the main thread used between two beats */
  gint64 last_cpu_ns;
} Heartbeat;

static gint64
thread_cpu_ns (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * G_GINT64_CONSTANT (1000000000) + ts.tv_nsec;
}

#define BEAT_US 2000

/* Nanoseconds this thread has waited on a run queue (ready, but another
 * process had the CPU): the second field of /proc/thread-self/schedstat. */
static gint64
run_queue_wait_ns (void)
{
  g_autofree char *text = NULL;
  if (!g_file_get_contents ("/proc/thread-self/schedstat", &text, NULL, NULL))
    return 0;
  char *end = NULL;
  g_ascii_strtoll (text, &end, 10);
  return g_ascii_strtoll (end, NULL, 10);
}

static gboolean
beat (gpointer data)
{
  Heartbeat *h = data;
  gint64 now = g_get_monotonic_time ();
  gint64 wait = run_queue_wait_ns ();
  gint64 cpu = thread_cpu_ns ();
  if (h->last)
    {
      gint64 used = (cpu - h->last_cpu_ns) / 1000;
      g_array_append_val (h->cpu, used);
      if (used > 50000 && g_getenv ("BENCH_VERBOSE"))
        g_printerr ("  %.2f s: the window worked %.1f ms in one go\n",
                    (now - t_start) / 1e6, used / 1000.0);
      gint64 stall = MAX (now - h->last - BEAT_US, 0);
      gint64 own = MAX (stall - (wait - h->last_wait_ns) / 1000, 0);
      g_array_append_val (h->gaps, stall);
      g_array_append_val (h->own, own);
    }
  h->last = g_get_monotonic_time ();
  h->last_wait_ns = wait;
  h->last_cpu_ns = thread_cpu_ns ();
  return G_SOURCE_CONTINUE;
}

static void
print_stalls (const char *what,
              GArray     *a)
{
  g_array_sort (a, cmp_i64);
  guint n = a->len;
  gint64 max = n ? g_array_index (a, gint64, n - 1) : 0;
  gint64 p99 = n ? g_array_index (a, gint64, (guint) (n * 0.99)) : 0;
  gint64 p50 = n ? g_array_index (a, gint64, n / 2) : 0;
  printf ("  %-40s max %7.1f ms   p99 %6.2f ms   median %5.2f ms   (%u heartbeats)\n", what,
          max / 1000.0, p99 / 1000.0, p50 / 1000.0, n);
}

static guint frames;

static void
count_frame (GdkFrameClock *clock,
             gpointer       data)
{
  frames++;
}

/* the thread's CPU time at each frame's end, for the frames after a switch */
static void
frame_cpu (GdkFrameClock *clock,
           GArray        *cpu)
{
  struct timespec t;
  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &t);
  gint64 ns = t.tv_sec * (gint64) 1000000000 + t.tv_nsec;
  g_array_append_val (cpu, ns);
}

int
main (int    argc,
      char **argv)
{
  t_start = g_get_monotonic_time ();
  pl_gui_trace ("main");
  const char *epochs = argc > 1 ? argv[1] : "100";
  char *tmp = pl_test_tmpdir ();
  g_autofree char *db = g_build_filename (tmp, "runs.db", NULL);
  g_setenv ("PARAMLAB_DB", db, TRUE);
  g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);
  if (!g_getenv ("GSETTINGS_SCHEMA_DIR"))
    g_setenv ("GSETTINGS_SCHEMA_DIR", PL_BUILD_DIR "/data", TRUE);
  if (!g_getenv ("PARAMLAB_CLI"))
    g_setenv ("PARAMLAB_CLI", PL_BUILD_DIR "/app/cli/paramlab-cli", TRUE);
  g_setenv ("NO_AT_BRIDGE", "1", TRUE);
  pl_gui_init_i18n ();

  PlApplication *app = pl_application_new (G_APPLICATION_NON_UNIQUE);
  if (!g_application_register (G_APPLICATION (app), NULL, NULL))
    return 1;
  g_application_hold (G_APPLICATION (app));
  g_application_activate (G_APPLICATION (app));
  PlWindow *win = PL_WINDOW (gtk_application_get_active_window (GTK_APPLICATION (app)));
  gtk_widget_realize (GTK_WIDGET (win));
  GdkFrameClock *clock = gtk_widget_get_frame_clock (GTK_WIDGET (win));
  g_signal_connect (clock, "after-paint", G_CALLBACK (on_after_paint), NULL);
  while (!t_first_frame && g_get_monotonic_time () - t_start < 10 * G_USEC_PER_SEC)
    g_main_context_iteration (NULL, TRUE);
  printf ("launch to first frame: %.1f ms (goal < 500 ms), %.1f ms of it on the CPU\n",
          (t_first_frame - t_start) / 1000.0, cpu_first_frame / 1e6);
  /* GL on Xvfb is Mesa's llvmpipe: its shaders cost ~150 ms of the first frame */
  printf ("renderer: %s (PARAMLAB_DEBUG_STARTUP=1 prints the milestones)\n",
          G_OBJECT_TYPE_NAME (gtk_native_get_renderer (GTK_NATIVE (win))));

  if (g_str_equal (epochs, "startup"))
    return 0;
  if (g_str_equal (epochs, "pages"))
    {
      /* the plugin list (a child process started after the first frame) is
       * in by the time a user clicks: the Plugins figure is the page's */
      PlPluginCatalog *catalog = _pl_window_get_catalog (win);
      while (pl_plugin_catalog_is_loading (catalog)
             && g_get_monotonic_time () - t_start < 20 * G_USEC_PER_SEC)
        g_main_context_iteration (NULL, TRUE);
      /* how long the first frame of each page takes, and the longest of the
       * frames in the 300 ms after it (work a page defers) */
      const char *pages[] = { "run", "compare", "plugins", "editor", "run", "editor", "run" };
      for (guint i = 0; i < G_N_ELEMENTS (pages); i++)
        {
          struct timespec a, b;
          clock_gettime (CLOCK_THREAD_CPUTIME_ID, &a);
          gint64 w0 = g_get_monotonic_time ();
          guint before = frames;
          g_signal_connect (clock, "after-paint", G_CALLBACK (count_frame), NULL);
          _pl_window_set_page (win, pages[i]);
          while (frames == before)
            g_main_context_iteration (NULL, TRUE);
          clock_gettime (CLOCK_THREAD_CPUTIME_ID, &b);
          g_signal_handlers_disconnect_by_func (clock, count_frame, NULL);
          double first_wall = (g_get_monotonic_time () - w0) / 1000.0;
          g_autoptr (GArray) cpu = g_array_new (FALSE, FALSE, sizeof (gint64));
          gint64 b_ns = b.tv_sec * (gint64) 1000000000 + b.tv_nsec;
          g_array_append_val (cpu, b_ns);
          gulong id = g_signal_connect (clock, "after-paint", G_CALLBACK (frame_cpu), cpu);
          gint64 w1 = g_get_monotonic_time ();
          while (g_get_monotonic_time () - w1 < 300 * 1000)
            if (!g_main_context_iteration (NULL, FALSE))
              g_usleep (1000);
          g_signal_handler_disconnect (clock, id);
          double later = 0;
          for (guint f = 1; f < cpu->len; f++)
            later = MAX (later, (g_array_index (cpu, gint64, f) - g_array_index (cpu, gint64, f - 1)) / 1e6);
          printf ("switch to %-8s first frame after %.1f ms, %.1f ms CPU; next %u frames: max %.1f ms CPU\n",
                  pages[i], first_wall,
                  ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e6,
                  cpu->len - 1, later);
        }
      return 0;
    }

  /* two runs at once, the live view of the second one on screen */
  GSettings *settings = pl_application_get_settings (app);
  g_settings_set_int (settings, "max-concurrent-runs", 2);
  PlExperimentEditor *editor = _pl_window_get_editor (win);
  pl_experiment_editor_set_value (editor, "train", "epochs", epochs);
  PlRunManager *manager = pl_application_get_run_manager (app);
  Heartbeat h = { 0, 0, g_array_new (FALSE, FALSE, sizeof (gint64)),
                  g_array_new (FALSE, FALSE, sizeof (gint64)),
                  g_array_new (FALSE, FALSE, sizeof (gint64)), 0 };
  g_signal_connect (clock, "after-paint", G_CALLBACK (count_frame), NULL);
  guint beat_id = g_timeout_add_full (G_PRIORITY_HIGH, BEAT_US / 1000, beat, &h, NULL);
  gint64 t0 = g_get_monotonic_time ();
  g_action_group_activate_action (G_ACTION_GROUP (win), "run", NULL);
  g_action_group_activate_action (G_ACTION_GROUP (win), "run", NULL);
  guint64 max_events = 0;
  while (pl_run_manager_get_n_active (manager) > 0)
    g_main_context_iteration (NULL, TRUE);
  double seconds = (g_get_monotonic_time () - t0) / 1e6;
  g_source_remove (beat_id);
  GListModel *runs = pl_run_manager_get_runs (manager);
  for (guint i = 0; i < g_list_model_get_n_items (runs); i++)
    {
      g_autoptr (PlLiveRun) run = g_list_model_get_item (runs, i);
      max_events += pl_live_run_get_n_events (run);
      if (pl_live_run_get_state (run) != PL_LIVE_RUN_FINISHED)
        fprintf (stderr, "run %u did not finish: %s\n", i, pl_live_run_get_error (run));
    }

  printf ("two runs of %s epochs: %.1f s, %" G_GUINT64_FORMAT " events read, %u frames drawn "
          "(%.0f fps)\n", epochs, seconds, max_events, frames, frames / seconds);
  printf ("main-loop stall while they train (goal: max < 50 ms):\n");
  print_stalls ("wall clock", h.gaps);
  print_stalls ("minus waiting for a CPU", h.own);
  print_stalls ("CPU time the window spent between beats", h.cpu);
  g_autofree char *load = NULL;
  if (g_file_get_contents ("/proc/loadavg", &load, NULL, NULL))
    printf ("load average during the run: %s", load);

  g_array_unref (h.gaps);
  g_array_unref (h.own);
  g_array_unref (h.cpu);
  gtk_window_destroy (GTK_WINDOW (win));
  g_application_release (G_APPLICATION (app));
  g_object_unref (app);
  return 0;
}
