/* paramlab-cli: the headless front end.
 *
 *   paramlab-cli run EXPERIMENT.ini [--db PATH] [--set k=v]... [--threads N] [--events]
 *   paramlab-cli resume RUN [--db PATH] [--threads N] [--events]
 *   paramlab-cli list | show RUN | metrics RUN [KEY...] | compare RUN RUN...
 *   paramlab-cli export RUN --out FILE.safetensors [--step N | --best]
 *   paramlab-cli datasets
 *
 * Exit codes: 0 success, 1 the run failed, 2 usage or configuration error. */
#include "pl-config.h"

#include <cblas.h>
#include <glib-unix.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "paramlab.h"
#include "pl-cli.h"

#define EXIT_RUN_FAILED 1
#define EXIT_USAGE 2

static const char *usage_text =
  "Usage:\n"
  "  paramlab-cli run EXPERIMENT.ini [--db PATH] [--set SECTION.KEY=VALUE]... "
  "[--threads N] [--events]\n"
  "  paramlab-cli resume RUN [--db PATH] [--threads N] [--events]\n"
  "  paramlab-cli list [--db PATH] [--format table|csv|json] [FILTER]\n"
  "  paramlab-cli show RUN [--db PATH] [--format table|json]\n"
  "  paramlab-cli metrics RUN [KEY...] [--db PATH] [--format table|csv|json]\n"
  "  paramlab-cli compare RUN RUN... [--db PATH] [--format table|csv|json]\n"
  "  paramlab-cli export RUN --out FILE.safetensors [--step N | --best] [--format fp32|int8|sparse] "
  "[--force] "
  "[--db PATH]\n"
  "  paramlab-cli evaluate FILE.safetensors [--db PATH]\n"
  "  paramlab-cli infer FILE.safetensors [--data val|train | --input FILE] [--batch N] "
  "[--repeat K] [--kernel c|avx2|vnni] [--predictions]\n"
  "  paramlab-cli datasets\n"
  "  paramlab-cli plugins [--format table|json]\n"
  "  paramlab-cli new-plugin --slot SLOT --name NAME DIR\n"
  "\n"
  "The run store is $PARAMLAB_DB, or $XDG_DATA_HOME/paramlab/runs.db; --db chooses "
  "another.\n";

int
pl_cli_usage_error (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  fprintf (stderr, "paramlab-cli: %s\n\n%s", msg, usage_text);
  return EXIT_USAGE;
}

int
pl_cli_error (int code, GError *error)
{
  fprintf (stderr, "paramlab-cli: %s\n", error->message);
  return code;
}

PlRunStore *
pl_cli_open_store (const char *db, GError **error)
{
  g_autofree char *path = db ? g_strdup (db) : pl_run_store_default_path ();
  return pl_run_store_open (path, error);
}

gboolean
pl_cli_parse_run_id (const char *text, gint64 *out)
{
  char *end = NULL;
  gint64 v = g_ascii_strtoll (text, &end, 10);
  if (!text[0] || *end || v <= 0)
    return FALSE;
  *out = v;
  return TRUE;
}

/* ---- run ------------------------------------------------------------------- */

typedef struct {
  PlRun *run;
  gboolean events;
  gboolean tty;
  gint64 t0;
  gint64 last_draw;
  GMainLoop *loop;
  GError *error;
  gboolean ok;
} RunContext;

static void
draw_progress (RunContext *ctx, gboolean final)
{
  PlRun *run = ctx->run;
  gint64 step = pl_run_get_step (run), total = pl_run_get_total_steps (run);
  double elapsed = (g_get_monotonic_time () - ctx->t0) / 1e6;
  double eta = step > 0 ? elapsed * (total - step) / step : 0;
  double frac = total > 0 ? (double) step / total : 1;
  FILE *out = ctx->events ? stderr : stdout;
  if (ctx->tty)
    {
      char bar[31];
      int filled = (int) (frac * 30);
      for (int i = 0; i < 30; i++)
        bar[i] = i < filled ? '#' : '-';
      bar[30] = 0;
      fprintf (out, "\r[%s] %3.0f%% epoch %d step %" G_GINT64_FORMAT "/%" G_GINT64_FORMAT
               " loss %.4f val/acc %.4f ETA %.0fs   ", bar, frac * 100,
               pl_run_get_epoch (run) + (final ? 0 : 1), step, total,
               pl_run_get_metric (run, "train/loss"), pl_run_get_metric (run, "val/acc"),
               eta);
      if (final)
        fputc ('\n', out);
    }
  fflush (out);
}

static void
on_event (PlRun *run, PlRunEventKind kind, const char *json, gpointer user_data)
{
  RunContext *ctx = user_data;
  if (ctx->events)
    {
      fputs (json, stdout);
      fputc ('\n', stdout);
      fflush (stdout);
    }
  FILE *out = ctx->events ? stderr : stdout;
  switch (kind)
    {
    case PL_RUN_EVENT_STARTED:
      fprintf (out, "run %" G_GINT64_FORMAT ": %s, %s on %s, %" G_GINT64_FORMAT " steps\n",
               pl_run_get_id (run), pl_run_get_experiment (run)->experiment.name,
               pl_model_get_architecture (pl_run_get_model (run)),
               pl_experiment_get_raw (pl_run_get_experiment (run), "data", "dataset"),
               pl_run_get_total_steps (run));
      break;
    case PL_RUN_EVENT_EPOCH:
      if (ctx->tty)
        draw_progress (ctx, FALSE);
      else
        fprintf (out, "epoch %d step %" G_GINT64_FORMAT "/%" G_GINT64_FORMAT
                 " train/loss %.4f train/acc %.4f val/loss %.4f val/acc %.4f\n",
                 pl_run_get_epoch (run) + 1, pl_run_get_step (run),
                 pl_run_get_total_steps (run), pl_run_get_metric (run, "train/loss"),
                 pl_run_get_metric (run, "train/acc"), pl_run_get_metric (run, "val/loss"),
                 pl_run_get_metric (run, "val/acc"));
      break;
    case PL_RUN_EVENT_METRICS:
      if (ctx->tty && g_get_monotonic_time () - ctx->last_draw > 100000)
        {
          ctx->last_draw = g_get_monotonic_time ();
          draw_progress (ctx, FALSE);
        }
      break;
    case PL_RUN_EVENT_PAUSED:
      fprintf (out, "%spaused\n", ctx->tty ? "\n" : "");
      break;
    case PL_RUN_EVENT_RESUMED:
      fprintf (out, "resumed\n");
      break;
    default:
      break;
    }
  fflush (out);
}

static gboolean
quit_loop (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_REMOVE;
}

static gpointer
train_thread (gpointer data)
{
  RunContext *ctx = data;
  ctx->ok = pl_run_execute (ctx->run, &ctx->error);
  /* through the loop's context: a quit before g_main_loop_run() would be lost */
  g_idle_add (quit_loop, ctx->loop);
  return NULL;
}

static gboolean
on_signal (gpointer data)
{
  RunContext *ctx = data;
  pl_run_stop (ctx->run);
  return G_SOURCE_CONTINUE;
}

/* pause, resume and stop arrive as lines on stdin (from the window) */
static gboolean
on_stdin (GIOChannel *ch, GIOCondition cond, gpointer data)
{
  RunContext *ctx = data;
  g_autofree char *line = NULL;
  gsize len = 0;
  GIOStatus st = g_io_channel_read_line (ch, &line, &len, NULL, NULL);
  if (st == G_IO_STATUS_EOF || st == G_IO_STATUS_ERROR)
    return G_SOURCE_REMOVE;
  if (!line)
    return G_SOURCE_CONTINUE;
  g_strstrip (line);
  if (g_str_equal (line, "pause"))
    pl_run_pause (ctx->run);
  else if (g_str_equal (line, "resume"))
    pl_run_resume (ctx->run);
  else if (g_str_equal (line, "stop"))
    pl_run_stop (ctx->run);
  else if (line[0])
    fprintf (stderr, "paramlab-cli: ignoring unknown command on stdin: \"%s\" (expected "
             "pause, resume or stop)\n", line);
  return G_SOURCE_CONTINUE;
}

/* Trains @run on a thread while the main loop takes signals (stop) and, with
 * @events, pause/resume/stop lines on stdin; prints the outcome. Returns the exit
 * code. */
static int
run_to_end (PlRun *run, gboolean events)
{
  RunContext ctx = { 0 };
  ctx.run = run;
  ctx.events = events;
  ctx.tty = isatty (events ? STDERR_FILENO : STDOUT_FILENO);
  ctx.t0 = g_get_monotonic_time ();
  ctx.loop = g_main_loop_new (NULL, FALSE);
  pl_run_set_event_func (run, on_event, &ctx);

  guint sig_int = g_unix_signal_add (SIGINT, on_signal, &ctx);
  guint sig_term = g_unix_signal_add (SIGTERM, on_signal, &ctx);
  guint stdin_watch = 0;
  GIOChannel *in = NULL;
  if (events)
    {
      in = g_io_channel_unix_new (STDIN_FILENO);
      stdin_watch = g_io_add_watch (in, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdin, &ctx);
    }
  GThread *thread = g_thread_new ("training", train_thread, &ctx);
  g_main_loop_run (ctx.loop);
  g_thread_join (thread);
  g_source_remove (sig_int);
  g_source_remove (sig_term);
  if (stdin_watch)
    g_source_remove (stdin_watch);
  if (in)
    g_io_channel_unref (in);
  g_main_loop_unref (ctx.loop);

  if (!ctx.ok)
    {
      if (ctx.tty)
        fputc ('\n', events ? stderr : stdout);
      fprintf (stderr, "paramlab-cli: run %" G_GINT64_FORMAT " failed: %s\n",
               pl_run_get_id (run), ctx.error->message);
      g_error_free (ctx.error);
      return EXIT_RUN_FAILED;
    }
  if (ctx.tty)
    draw_progress (&ctx, TRUE);
  FILE *out = events ? stderr : stdout;
  fprintf (out, "run %" G_GINT64_FORMAT " %s: val/acc %.4f (best %.4f), train/loss %.4f\n",
           pl_run_get_id (run), pl_run_get_status (run), pl_run_get_metric (run, "val/acc"),
           pl_run_get_best_val_acc (run), pl_run_get_metric (run, "train/loss"));
  return 0;
}

static int
cmd_run (int argc, char **argv)
{
  g_autofree char *db = NULL;
  g_auto (GStrv) sets = NULL;
  int threads = 0;
  gboolean events = FALSE;
  GOptionEntry entries[] = {
    { "db", 0, 0, G_OPTION_ARG_FILENAME, &db, "Run store database", "PATH" },
    { "set", 0, 0, G_OPTION_ARG_STRING_ARRAY, &sets, "Override a key", "SECTION.KEY=VALUE" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "OpenBLAS threads", "N" },
    { "events", 0, 0, G_OPTION_ARG_NONE, &events, "JSON-lines events on stdout", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) oc = g_option_context_new ("EXPERIMENT.ini");
  g_option_context_add_main_entries (oc, entries, NULL);
  g_option_context_set_help_enabled (oc, TRUE);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (oc, &argc, &argv, &error))
    return pl_cli_usage_error ("run: %s", error->message);
  if (argc != 2)
    return pl_cli_usage_error ("run: expected one experiment file, got %d", argc - 1);
  if (threads < 0 || threads > 256)
    return pl_cli_usage_error ("run: --threads must be between 1 and 256, got %d", threads);

  g_autoptr (PlExperiment) exp = pl_experiment_load_file (argv[1], &error);
  if (!exp)
    return pl_cli_error (EXIT_USAGE, error);
  for (int i = 0; sets && sets[i]; i++)
    if (!pl_experiment_set (exp, sets[i], &error))
      return pl_cli_error (EXIT_USAGE, error);

  g_autoptr (PlRunStore) store = pl_cli_open_store (db, &error);
  if (!store)
    return pl_cli_error (EXIT_USAGE, error);
  if (threads > 0)
    openblas_set_num_threads (threads);

  g_autoptr (PlPluginEngine) plugins = pl_plugin_engine_new ();
  g_autoptr (PlPluginSelection) sel = pl_plugin_selection_new (plugins, exp, &error);
  if (!sel)
    return pl_cli_error (EXIT_USAGE, error);
  g_autoptr (PlRun) run = pl_run_new_with_plugins (exp, store, sel, &error);
  if (!run)
    {
      int code = g_error_matches (error, PL_ERROR, PL_ERROR_STORE) ? EXIT_RUN_FAILED
                                                                  : EXIT_USAGE;
      return pl_cli_error (code, error);
    }

  return run_to_end (run, events);
}

/* ---- resume ---------------------------------------------------------------- */

/* paramlab-cli resume RUN: continues a stopped, interrupted or failed run from
 * its training-state checkpoint, in the same run id (docs/reliability.md). */
static int
cmd_resume (int argc, char **argv)
{
  g_autofree char *db = NULL;
  int threads = 0;
  gboolean events = FALSE;
  GOptionEntry entries[] = {
    { "db", 0, 0, G_OPTION_ARG_FILENAME, &db, "Run store database", "PATH" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "OpenBLAS threads", "N" },
    { "events", 0, 0, G_OPTION_ARG_NONE, &events, "JSON-lines events on stdout", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) oc = g_option_context_new ("RUN");
  g_option_context_add_main_entries (oc, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (oc, &argc, &argv, &error))
    return pl_cli_usage_error ("resume: %s", error->message);
  gint64 id;
  if (argc != 2)
    return pl_cli_usage_error ("resume: expected one run id, got %d", argc - 1);
  if (!pl_cli_parse_run_id (argv[1], &id))
    return pl_cli_usage_error ("resume: \"%s\" is not a run id (a positive integer)", argv[1]);
  if (threads < 0 || threads > 256)
    return pl_cli_usage_error ("resume: --threads must be between 1 and 256, got %d",
                               threads);

  g_autoptr (PlRunStore) store = pl_cli_open_store (db, &error);
  if (!store)
    return pl_cli_error (EXIT_USAGE, error);
  g_autoptr (PlRunInfo) info = pl_run_store_get_run (store, id, &error);
  if (!info)
    return pl_cli_error (EXIT_USAGE, error);
  const char *st = info->status;
  if (!g_str_equal (st, "stopped") && !g_str_equal (st, "interrupted")
      && !g_str_equal (st, "failed"))
    {
      fprintf (stderr, "paramlab-cli: resume: run %" G_GINT64_FORMAT " is %s; only a stopped, "
               "interrupted or failed run can be resumed%s\n", id, st,
               g_str_equal (st, "finished") ? " (it already trained to the end)"
               : g_str_equal (st, "running") ? " (it is still training, or its process died "
                                               "and was not yet marked interrupted)"
               : "");
      return EXIT_USAGE;
    }
  if (info->deleted)
    {
      fprintf (stderr, "paramlab-cli: resume: run %" G_GINT64_FORMAT " is deleted; undelete "
               "it first\n", id);
      return EXIT_USAGE;
    }
  g_autofree char *exp_name = g_strdup_printf ("run %" G_GINT64_FORMAT " (stored experiment)",
                                               id);
  g_autoptr (PlExperiment) exp = pl_experiment_load_data (info->experiment, -1, exp_name,
                                                          &error);
  if (!exp)
    {
      g_prefix_error (&error, "resume: the experiment stored with run %" G_GINT64_FORMAT ": ",
                      id);
      return pl_cli_error (EXIT_USAGE, error);
    }
  if (threads > 0)
    openblas_set_num_threads (threads);
  g_autoptr (PlPluginEngine) plugins = pl_plugin_engine_new ();
  g_autoptr (PlPluginSelection) sel = pl_plugin_selection_new (plugins, exp, &error);
  if (!sel)
    return pl_cli_error (EXIT_USAGE, error);
  g_autoptr (PlRun) run = pl_run_new_resumed (exp, store, sel, id, NULL, &error);
  if (!run)
    {
      g_prefix_error (&error, "resume: run %" G_GINT64_FORMAT ": ", id);
      return pl_cli_error (EXIT_USAGE, error);
    }
  FILE *out = events ? stderr : stdout;
  fprintf (out, "run %" G_GINT64_FORMAT ": resuming at step %" G_GINT64_FORMAT "/%"
           G_GINT64_FORMAT "\n", id, pl_run_get_resume_step (run), pl_run_get_total_steps (run));
  return run_to_end (run, events);
}

/* ---- datasets -------------------------------------------------------------- */

static int
cmd_datasets (int argc, char **argv)
{
  const char * const *names = pl_dataset_builtin_names ();
  printf ("%-16s %s\n", "NAME", "DESCRIPTION");
  for (int i = 0; names[i]; i++)
    printf ("%-16s %s\n", names[i], pl_dataset_builtin_description (names[i]));
  printf ("%-16s %s\n", "csv", "your own CSV file: [data] train=FILE.csv (label column last "
          "unless [data] label-column is set)");
  printf ("%-16s %s\n", "npy", "NumPy files: [data] train=FILE.npy or FILE.npz");
  printf ("\nBundled data lives in %s/datasets (see its README.md for sources and "
          "licences).\n", pl_data_dir ());
  return 0;
}

typedef struct {
  const char *name;
  int (*func) (int argc, char **argv);
} Command;

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  /* numbers in files and events always use '.' */
  setlocale (LC_NUMERIC, "C");
  /* past a file size limit (ulimit -f) a write fails with EFBIG, reported with the
   * file's name like a full disk, instead of SIGXFSZ killing the process */
  signal (SIGXFSZ, SIG_IGN);
  static const Command commands[] = {
    { "run", cmd_run },
    { "resume", cmd_resume },
    { "list", pl_cli_cmd_list },
    { "show", pl_cli_cmd_show },
    { "metrics", pl_cli_cmd_metrics },
    { "compare", pl_cli_cmd_compare },
    { "export", pl_cli_cmd_export },
    { "datasets", cmd_datasets },
    { "plugins", pl_cli_cmd_plugins },
    { "evaluate", pl_cli_cmd_evaluate },
    { "new-plugin", pl_cli_cmd_new_plugin },
    { "infer", pl_cli_cmd_infer },
  };
  if (argc < 2)
    return pl_cli_usage_error ("no command given");
  if (g_str_equal (argv[1], "--help") || g_str_equal (argv[1], "-h")
      || g_str_equal (argv[1], "help"))
    {
      fputs (usage_text, stdout);
      return 0;
    }
  if (g_str_equal (argv[1], "--version"))
    {
      printf ("paramlab-cli %s\n", PL_VERSION);
      return 0;
    }
  for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
    if (g_str_equal (argv[1], commands[i].name))
      return commands[i].func (argc - 1, argv + 1);
  return pl_cli_usage_error ("unknown command \"%s\"", argv[1]);
}
