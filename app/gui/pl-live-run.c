/* pl-live-run.c: a run as a child process and its JSON-lines event stream. */
#include "pl-live-run.h"

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <errno.h>
#include <sys/resource.h>
#include <unistd.h>

#include "paramlab.h"

/* Longest log kept in memory; older lines are dropped from the front. */
#define MAX_LOG_BYTES (512 * 1024)

/* Longest the window spends on one burst of event lines before it lets the
 * main loop draw and handle input. */
#define READ_BUDGET_US 4000

/* Reading the child's output ranks below redrawing (GDK_PRIORITY_REDRAW) and
 * input: a run that writes fast cannot starve the window's frames. */
#define READ_PRIORITY G_PRIORITY_DEFAULT_IDLE

/* The nice value of training children (see lower_priority()). */
#define RUN_NICENESS 5

typedef struct {
  GArray *steps;    /* double */
  GArray *values;   /* double */
} Series;

struct _PlLiveRun {
  GObject parent_instance;

  char *name;
  char *experiment_text;
  gint64 parent_run;
  gint64 resume_id;         /* > 0: `paramlab-cli resume` of this stored run */
  char *tmp_path;

  PlLiveRunState state;
  gint64 id;
  char *dataset;
  char *architecture;
  char *error;
  gint64 step;
  gint64 start_step;
  gint64 total_steps;
  int epoch;
  int epochs;
  gint64 parameters;
  double started_at;
  double best_val_acc;
  double final_sparsity;
  guint64 n_events;

  /* Training time, pauses excluded: running_since is the monotonic start of the
   * current running stretch (0 while paused or not running). */
  gint64 running_us;
  gint64 running_since;

  GHashTable *series;       /* key -> Series */
  GPtrArray *keys;          /* in order of first appearance */
  GString *log;
  char *last_stderr;

  GSubprocess *proc;
  GDataInputStream *out;
  GDataInputStream *err;
  GOutputStream *in;
  GCancellable *cancellable;
  GQueue commands;          /* char *, waiting to be written to stdin */
  gboolean writing;
  gboolean out_done;
  gboolean err_done;
  gboolean exited;
  gboolean terminal_event;  /* "finished" or "failed" was read */
  gboolean stop_requested;
  gboolean killed;
  gboolean ended;
};

G_DEFINE_FINAL_TYPE (PlLiveRun, pl_live_run, G_TYPE_OBJECT)

enum {
  SIGNAL_STATE_CHANGED,
  SIGNAL_IDENTIFIED,
  SIGNAL_DATA_CHANGED,
  SIGNAL_LOG_LINE,
  SIGNAL_ENDED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];

/* Replaces *@dst with a copy of @src (NULL allowed). */
static void
set_str (char      **dst,
         const char *src)
{
  if (*dst == src)
    return;
  g_free (*dst);
  *dst = g_strdup (src);
}

static void
series_free (gpointer data)
{
  Series *s = data;
  g_array_unref (s->steps);
  g_array_unref (s->values);
  g_free (s);
}

static void
pl_live_run_dispose (GObject *object)
{
  PlLiveRun *self = PL_LIVE_RUN (object);
  if (self->cancellable)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->out);
  g_clear_object (&self->err);
  g_clear_object (&self->in);
  g_clear_object (&self->proc);
  G_OBJECT_CLASS (pl_live_run_parent_class)->dispose (object);
}

static void
pl_live_run_finalize (GObject *object)
{
  PlLiveRun *self = PL_LIVE_RUN (object);
  if (self->tmp_path)
    g_unlink (self->tmp_path);
  g_free (self->tmp_path);
  g_free (self->name);
  g_free (self->experiment_text);
  g_free (self->dataset);
  g_free (self->architecture);
  g_free (self->error);
  g_free (self->last_stderr);
  g_hash_table_unref (self->series);
  g_ptr_array_unref (self->keys);
  g_string_free (self->log, TRUE);
  g_queue_clear_full (&self->commands, g_free);
  G_OBJECT_CLASS (pl_live_run_parent_class)->finalize (object);
}

static void
pl_live_run_class_init (PlLiveRunClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->dispose = pl_live_run_dispose;
  object_class->finalize = pl_live_run_finalize;

  signals[SIGNAL_STATE_CHANGED] =
    g_signal_new ("state-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_IDENTIFIED] =
    g_signal_new ("identified", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 0);
  /* Progress or metric points changed: listeners mark themselves dirty and
   * redraw on their frame clock, never here. */
  signals[SIGNAL_DATA_CHANGED] =
    g_signal_new ("data-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_LOG_LINE] =
    g_signal_new ("log-line", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_ENDED] =
    g_signal_new ("ended", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
pl_live_run_init (PlLiveRun *self)
{
  self->series = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, series_free);
  self->keys = g_ptr_array_new ();
  self->log = g_string_new (NULL);
  self->started_at = NAN;
  self->best_val_acc = NAN;
  self->final_sparsity = NAN;
  g_queue_init (&self->commands);
}

PlLiveRun *
pl_live_run_new (const char *name,
                 const char *experiment_text,
                 gint64      parent_run)
{
  g_return_val_if_fail (experiment_text != NULL, NULL);
  PlLiveRun *self = g_object_new (PL_TYPE_LIVE_RUN, NULL);
  self->name = g_strdup (name ? name : "untitled");
  self->experiment_text = g_strdup (experiment_text);
  self->parent_run = parent_run;
  return self;
}

PlLiveRun *
pl_live_run_new_resume (const char *name,
                        gint64      run_id,
                        const char *experiment_text)
{
  g_return_val_if_fail (run_id > 0, NULL);
  PlLiveRun *self = pl_live_run_new (name, experiment_text ? experiment_text : "", 0);
  self->resume_id = run_id;
  self->id = run_id;
  return self;
}

/* ---- state ------------------------------------------------------------------ */

static void
set_state (PlLiveRun      *self,
           PlLiveRunState  state)
{
  if (self->state == state)
    return;
  gint64 now = g_get_monotonic_time ();
  gboolean was_running = self->state == PL_LIVE_RUN_RUNNING;
  gboolean is_running = state == PL_LIVE_RUN_RUNNING;
  if (was_running && !is_running && self->running_since)
    {
      self->running_us += now - self->running_since;
      self->running_since = 0;
    }
  else if (!was_running && is_running)
    self->running_since = now;
  self->state = state;
  g_signal_emit (self, signals[SIGNAL_STATE_CHANGED], 0);
}

/* Appends @line (no newline) to the log and tells listeners. */
static void
append_log (PlLiveRun  *self,
            const char *line)
{
  if (self->log->len > MAX_LOG_BYTES)
    {
      const char *cut = strchr (self->log->str + self->log->len / 2, '\n');
      if (cut)
        g_string_erase (self->log, 0, cut + 1 - self->log->str);
    }
  g_string_append (self->log, line);
  g_string_append_c (self->log, '\n');
  g_signal_emit (self, signals[SIGNAL_LOG_LINE], 0, line);
}

static void
add_point (PlLiveRun  *self,
           const char *key,
           double      step,
           double      value)
{
  Series *s = g_hash_table_lookup (self->series, key);
  if (!s)
    {
      s = g_new0 (Series, 1);
      s->steps = g_array_new (FALSE, FALSE, sizeof (double));
      s->values = g_array_new (FALSE, FALSE, sizeof (double));
      char *k = g_strdup (key);
      g_hash_table_insert (self->series, k, s);
      g_ptr_array_add (self->keys, k);
    }
  g_array_append_val (s->steps, step);
  g_array_append_val (s->values, value);

  if (g_str_equal (key, "val/acc") && isfinite (value)
      && (isnan (self->best_val_acc) || value > self->best_val_acc))
    self->best_val_acc = value;
  else if (g_str_equal (key, "sparsity/total"))
    self->final_sparsity = value;
}

/* Takes the position of @ev (step, epoch) where it has one. */
static void
read_position (PlLiveRun        *self,
               const PlStreamEvent *ev)
{
  if (ev->has_step)
    self->step = ev->step;
  if (ev->has_epoch)
    self->epoch = (int) ev->epoch;
}

static void
read_values (PlLiveRun        *self,
             const PlStreamEvent *ev)
{
  for (guint i = 0; i < ev->u.metrics.n_values; i++)
    add_point (self, ev->u.metrics.values[i].key, (double) self->step,
               ev->u.metrics.values[i].value);
}

/* Applies one event line from the child (decoded by pl_stream_event_parse). A line
 * that is not a JSON object with an "event" member goes to the log as it is. */
static void
handle_event_line (PlLiveRun  *self,
                   const char *line,
                   gsize       len)
{
  g_autoptr (PlStreamEvent) ev = pl_stream_event_parse (line, len);
  if (!ev)
    {
      if (len > 0)
        {
          g_autofree char *valid = g_utf8_make_valid (line, len);
          append_log (self, valid);
        }
      return;
    }
  self->n_events++;

  switch (ev->known ? (int) ev->kind : -1)
    {
    case PL_RUN_EVENT_STARTED:
      if (ev->has_run)
        self->id = ev->run;
      read_position (self, ev);
      self->start_step = self->step;
      if (ev->u.started.name)
        set_str (&self->name, ev->u.started.name);
      set_str (&self->dataset, ev->u.started.dataset);
      set_str (&self->architecture, ev->u.started.architecture);
      if (ev->u.started.has_epochs)
        self->epochs = (int) ev->u.started.epochs;
      if (ev->u.started.has_total_steps)
        self->total_steps = ev->u.started.total_steps;
      if (ev->u.started.has_parameters)
        self->parameters = ev->u.started.parameters;
      self->started_at = g_get_real_time () / 1e6;
      set_state (self, PL_LIVE_RUN_RUNNING);
      if (self->id > 0)
        g_signal_emit (self, signals[SIGNAL_IDENTIFIED], 0);
      break;
    case PL_RUN_EVENT_METRICS:
    case PL_RUN_EVENT_EPOCH:
      read_position (self, ev);
      read_values (self, ev);
      break;
    case PL_RUN_EVENT_CHECKPOINT:
      {
        read_position (self, ev);
        g_autofree char *msg = g_strdup_printf (_("Checkpoint (%s) written at step %lld: %s"),
                                                ev->u.checkpoint.kind ? ev->u.checkpoint.kind : "?",
                                                (long long) self->step,
                                                ev->u.checkpoint.path ? ev->u.checkpoint.path : "");
        append_log (self, msg);
        break;
      }
    case PL_RUN_EVENT_PAUSED:
      set_state (self, PL_LIVE_RUN_PAUSED);
      break;
    case PL_RUN_EVENT_RESUMED:
      set_state (self, PL_LIVE_RUN_RUNNING);
      break;
    case PL_RUN_EVENT_FINISHED:
      read_position (self, ev);
      self->terminal_event = TRUE;
      set_state (self, g_strcmp0 (ev->u.finished.status, "stopped") == 0 ? PL_LIVE_RUN_STOPPED
                                                                          : PL_LIVE_RUN_FINISHED);
      break;
    case PL_RUN_EVENT_FAILED:
      read_position (self, ev);
      self->terminal_event = TRUE;
      set_str (&self->error, ev->u.failed.error);
      if (!self->error)
        self->error = g_strdup (_("The run failed."));
      set_state (self, PL_LIVE_RUN_FAILED);
      break;
    case PL_RUN_EVENT_LOG:
      if (ev->u.log.message)
        append_log (self, ev->u.log.message);
      break;
    default:
      break;
    }
  g_signal_emit (self, signals[SIGNAL_DATA_CHANGED], 0);
}

/* ---- ending ----------------------------------------------------------------- */

static char *
exit_reason (PlLiveRun *self)
{
  GSubprocess *proc = self->proc;
  if (g_subprocess_get_if_signaled (proc))
    {
      int sig = g_subprocess_get_term_sig (proc);
      if (self->killed)
        return g_strdup_printf (_("The training process was killed (signal %d, %s)."),
                                sig, g_strsignal (sig));
      return g_strdup_printf (_("The training process crashed or was killed (signal %d, %s)."),
                              sig, g_strsignal (sig));
    }
  int status = g_subprocess_get_exit_status (proc);
  /* paramlab-cli exits with 2 when it refuses the experiment, or the resume */
  if (status == 2 && self->last_stderr && self->resume_id > 0)
    return g_strdup_printf (_("The run could not be resumed: %s"), self->last_stderr);
  if (status == 2 && self->last_stderr)
    return g_strdup_printf (_("The experiment was refused: %s"), self->last_stderr);
  if (self->last_stderr)
    return g_strdup_printf (_("The training process exited with status %d: %s"),
                            status, self->last_stderr);
  return g_strdup_printf (_("The training process exited with status %d without finishing the run."),
                          status);
}

static void
maybe_end (PlLiveRun *self)
{
  if (self->ended || !self->exited || !self->out_done || !self->err_done)
    return;
  self->ended = TRUE;

  if (!self->terminal_event)
    {
      gboolean clean = !g_subprocess_get_if_signaled (self->proc)
                       && g_subprocess_get_exit_status (self->proc) == 0;
      if (clean && self->stop_requested)
        set_state (self, PL_LIVE_RUN_STOPPED);
      else
        {
          g_free (self->error);
          self->error = exit_reason (self);
          set_state (self, PL_LIVE_RUN_FAILED);
        }
    }
  if (self->error)
    append_log (self, self->error);
  if (self->tmp_path)
    {
      g_unlink (self->tmp_path);
      g_clear_pointer (&self->tmp_path, g_free);
    }
  g_clear_object (&self->in);
  g_signal_emit (self, signals[SIGNAL_ENDED], 0);
}

static void
on_wait (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr (PlLiveRun) self = user_data;
  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  self->exited = TRUE;
  maybe_end (self);
}

static void read_next_out (PlLiveRun *self);
static void read_next_err (PlLiveRun *self);

/* TRUE when a whole line waits in @stream's buffer, so that a synchronous
 * read_line returns without touching the pipe. */
static gboolean
line_buffered (GDataInputStream *stream)
{
  gsize count = 0;
  const char *buf = g_buffered_input_stream_peek_buffer (G_BUFFERED_INPUT_STREAM (stream), &count);
  return count > 0 && memchr (buf, '\n', count) != NULL;
}

static void
on_out_line (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr (PlLiveRun) self = user_data;
  GDataInputStream *stream = G_DATA_INPUT_STREAM (source);
  gsize len = 0;
  g_autoptr (GError) error = NULL;
  char *line = g_data_input_stream_read_line_finish (stream, result, &len, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (!line)   /* the end of the stream, or an error */
    {
      if (error)
        append_log (self, error->message);
      self->out_done = TRUE;
      maybe_end (self);
      return;
    }
  /* Take the lines already buffered too, for at most a few milliseconds: one
   * main-loop dispatch per burst of events, not one per line. */
  gint64 deadline = g_get_monotonic_time () + READ_BUDGET_US;
  do
    {
      handle_event_line (self, line, len);
      g_free (line);
      line = NULL;
      if (g_get_monotonic_time () > deadline || !line_buffered (stream))
        break;
      line = g_data_input_stream_read_line (stream, &len, NULL, NULL);
    }
  while (line);
  read_next_out (self);
}

static void
on_err_line (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr (PlLiveRun) self = user_data;
  gsize len = 0;
  g_autoptr (GError) error = NULL;
  g_autofree char *line = g_data_input_stream_read_line_finish (G_DATA_INPUT_STREAM (source),
                                                                result, &len, &error);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (!line)
    {
      self->err_done = TRUE;
      maybe_end (self);
      return;
    }
  /* The CLI redraws a progress line on a terminal with '\r'; keep its last state. */
  char *text = strrchr (line, '\r');
  text = text ? text + 1 : line;
  if (!g_utf8_validate (text, -1, NULL))
    {
      char *valid = g_utf8_make_valid (text, -1);
      g_free (self->last_stderr);
      self->last_stderr = valid;
    }
  else if (*g_strstrip (text))
    set_str (&self->last_stderr, text);
  else
    {
      read_next_err (self);
      return;
    }
  append_log (self, self->last_stderr);
  read_next_err (self);
}

static void
read_next_out (PlLiveRun *self)
{
  g_data_input_stream_read_line_async (self->out, READ_PRIORITY, self->cancellable,
                                       on_out_line, g_object_ref (self));
}

static void
read_next_err (PlLiveRun *self)
{
  g_data_input_stream_read_line_async (self->err, READ_PRIORITY, self->cancellable,
                                       on_err_line, g_object_ref (self));
}

/* ---- commands on stdin --------------------------------------------------------- */

static void write_next_command (PlLiveRun *self);

static void
on_command_written (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr (PlLiveRun) self = user_data;
  g_autoptr (GError) error = NULL;
  self->writing = FALSE;
  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      /* The child has gone; its exit reports why. */
      g_queue_clear_full (&self->commands, g_free);
      return;
    }
  g_free (g_queue_pop_head (&self->commands));
  write_next_command (self);
}

static void
write_next_command (PlLiveRun *self)
{
  if (self->writing || !self->in || g_queue_is_empty (&self->commands))
    return;
  const char *cmd = g_queue_peek_head (&self->commands);
  self->writing = TRUE;
  g_output_stream_write_all_async (self->in, cmd, strlen (cmd), G_PRIORITY_DEFAULT,
                                   self->cancellable, on_command_written,
                                   g_object_ref (self));
}

static void
send_command (PlLiveRun  *self,
              const char *cmd)
{
  if (!self->in || self->ended)
    return;
  g_queue_push_tail (&self->commands, g_strconcat (cmd, "\n", NULL));
  write_next_command (self);
}

/* Runs in the child between fork and exec: training is background work, so it
 * yields the CPU to the desktop and to this window when they need it (an idle
 * machine trains at full speed all the same). */
static void
lower_priority (gpointer data)
{
  if (setpriority (PRIO_PROCESS, 0, RUN_NICENESS) != 0)
    {
      /* keep the default priority */
    }
}

/* ---- public --------------------------------------------------------------------- */

gboolean
pl_live_run_start (PlLiveRun   *self,
                   const char  *cli_path,
                   const char  *db_path,
                   int          threads,
                   GError     **error)
{
  g_return_val_if_fail (PL_IS_LIVE_RUN (self), FALSE);
  g_return_val_if_fail (self->state == PL_LIVE_RUN_QUEUED, FALSE);
  g_return_val_if_fail (cli_path != NULL, FALSE);

  g_autoptr (GError) local = NULL;
  /* a temporary file, written without the fsync of g_file_set_contents(); a
   * resume reads the experiment the store kept */
  gboolean ready = TRUE;
  int fd = self->resume_id > 0 ? -1
           : g_file_open_tmp ("paramlab-run-XXXXXX.ini", &self->tmp_path, &local);
  if (self->resume_id <= 0 && fd < 0)
    ready = FALSE;
  if (fd >= 0)
    {
      const char *p = self->experiment_text;
      gsize left = strlen (p);
      while (left > 0)
        {
          gssize n = write (fd, p, left);
          if (n < 0 && errno == EINTR)
            continue;
          if (n <= 0)
            {
              int saved = errno;
              g_set_error (&local, G_FILE_ERROR, g_file_error_from_errno (saved),
                           "%s: %s", self->tmp_path, g_strerror (saved));
              break;
            }
          p += n;
          left -= n;
        }
      close (fd);
      if (local)
        ready = FALSE;
    }

  if (ready)
    {
      g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
      g_ptr_array_add (argv, g_strdup (cli_path));
      if (self->resume_id > 0)
        {
          g_ptr_array_add (argv, g_strdup ("resume"));
          g_ptr_array_add (argv, g_strdup_printf ("%" G_GINT64_FORMAT, self->resume_id));
        }
      else
        {
          g_ptr_array_add (argv, g_strdup ("run"));
          g_ptr_array_add (argv, g_strdup (self->tmp_path));
        }
      g_ptr_array_add (argv, g_strdup ("--events"));
      if (db_path && *db_path)
        {
          g_ptr_array_add (argv, g_strdup ("--db"));
          g_ptr_array_add (argv, g_strdup (db_path));
        }
      if (threads > 0)
        {
          g_ptr_array_add (argv, g_strdup ("--threads"));
          g_ptr_array_add (argv, g_strdup_printf ("%d", threads));
        }
      g_ptr_array_add (argv, NULL);
      g_autoptr (GSubprocessLauncher) launcher =
        g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE
                                   | G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                   | G_SUBPROCESS_FLAGS_STDERR_PIPE);
      g_subprocess_launcher_set_child_setup (launcher, lower_priority, NULL, NULL);
      self->proc = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata,
                                                 &local);
    }

  if (!self->proc)
    {
      g_free (self->error);
      self->error = g_strdup_printf (_("Could not start %s: %s"), cli_path, local->message);
      append_log (self, self->error);
      set_state (self, PL_LIVE_RUN_FAILED);
      self->ended = TRUE;
      g_signal_emit (self, signals[SIGNAL_ENDED], 0);
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }

  self->cancellable = g_cancellable_new ();
  self->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (self->proc));
  self->err = g_data_input_stream_new (g_subprocess_get_stderr_pipe (self->proc));
  self->in = g_object_ref (g_subprocess_get_stdin_pipe (self->proc));
  g_data_input_stream_set_newline_type (self->out, G_DATA_STREAM_NEWLINE_TYPE_LF);
  g_data_input_stream_set_newline_type (self->err, G_DATA_STREAM_NEWLINE_TYPE_LF);
  g_buffered_input_stream_set_buffer_size (G_BUFFERED_INPUT_STREAM (self->out), 64 * 1024);

  set_state (self, PL_LIVE_RUN_STARTING);
  g_subprocess_wait_async (self->proc, NULL, on_wait, g_object_ref (self));
  read_next_out (self);
  read_next_err (self);
  return TRUE;
}

void
pl_live_run_pause (PlLiveRun *self)
{
  g_return_if_fail (PL_IS_LIVE_RUN (self));
  if (self->state == PL_LIVE_RUN_RUNNING)
    send_command (self, "pause");
}

void
pl_live_run_resume (PlLiveRun *self)
{
  g_return_if_fail (PL_IS_LIVE_RUN (self));
  if (self->state == PL_LIVE_RUN_PAUSED)
    send_command (self, "resume");
}

void
pl_live_run_stop (PlLiveRun *self)
{
  g_return_if_fail (PL_IS_LIVE_RUN (self));
  if (self->state == PL_LIVE_RUN_QUEUED)
    {
      self->ended = TRUE;
      set_state (self, PL_LIVE_RUN_STOPPED);
      append_log (self, _("Removed from the queue before it started."));
      g_signal_emit (self, signals[SIGNAL_ENDED], 0);
      return;
    }
  if (!pl_live_run_is_active (self))
    return;
  self->stop_requested = TRUE;
  send_command (self, "stop");
}

void
pl_live_run_force_exit (PlLiveRun *self)
{
  g_return_if_fail (PL_IS_LIVE_RUN (self));
  if (self->proc && !self->exited)
    {
      self->killed = TRUE;
      g_subprocess_force_exit (self->proc);
    }
}

PlLiveRunState
pl_live_run_get_state (PlLiveRun *self)
{
  g_return_val_if_fail (PL_IS_LIVE_RUN (self), PL_LIVE_RUN_FAILED);
  return self->state;
}

gboolean
pl_live_run_is_active (PlLiveRun *self)
{
  g_return_val_if_fail (PL_IS_LIVE_RUN (self), FALSE);
  return self->state <= PL_LIVE_RUN_PAUSED && !self->ended;
}

gint64 pl_live_run_get_id (PlLiveRun *self) { return self->id; }
gint64 pl_live_run_get_parent_run (PlLiveRun *self) { return self->parent_run; }
gboolean pl_live_run_is_resume (PlLiveRun *self) { return self->resume_id > 0; }
gint64 pl_live_run_get_start_step (PlLiveRun *self) { return self->start_step; }
const char *pl_live_run_get_name (PlLiveRun *self) { return self->name; }
const char *pl_live_run_get_dataset (PlLiveRun *self) { return self->dataset; }
const char *pl_live_run_get_architecture (PlLiveRun *self) { return self->architecture; }
const char *pl_live_run_get_experiment_text (PlLiveRun *self) { return self->experiment_text; }
const char *pl_live_run_get_error (PlLiveRun *self) { return self->error; }
gint64 pl_live_run_get_step (PlLiveRun *self) { return self->step; }
gint64 pl_live_run_get_total_steps (PlLiveRun *self) { return self->total_steps; }
int pl_live_run_get_epoch (PlLiveRun *self) { return self->epoch; }
int pl_live_run_get_epochs (PlLiveRun *self) { return self->epochs; }
gint64 pl_live_run_get_parameters (PlLiveRun *self) { return self->parameters; }
double pl_live_run_get_started_at (PlLiveRun *self) { return self->started_at; }
double pl_live_run_get_best_val_acc (PlLiveRun *self) { return self->best_val_acc; }
double pl_live_run_get_final_sparsity (PlLiveRun *self) { return self->final_sparsity; }
guint64 pl_live_run_get_n_events (PlLiveRun *self) { return self->n_events; }
const char *pl_live_run_get_log (PlLiveRun *self) { return self->log->str; }

GPid
pl_live_run_get_pid (PlLiveRun *self)
{
  g_return_val_if_fail (PL_IS_LIVE_RUN (self), 0);
  if (!self->proc || self->exited)
    return 0;
  const char *id = g_subprocess_get_identifier (self->proc);
  return id ? (GPid) g_ascii_strtoll (id, NULL, 10) : 0;
}

double
pl_live_run_get_progress (PlLiveRun *self)
{
  g_return_val_if_fail (PL_IS_LIVE_RUN (self), 0);
  if (self->state == PL_LIVE_RUN_FINISHED)
    return 1.0;
  if (self->total_steps <= 0)
    return 0.0;
  return CLAMP ((double) self->step / (double) self->total_steps, 0.0, 1.0);
}

double
pl_live_run_get_elapsed (PlLiveRun *self)
{
  g_return_val_if_fail (PL_IS_LIVE_RUN (self), 0);
  gint64 us = self->running_us;
  if (self->running_since)
    us += g_get_monotonic_time () - self->running_since;
  return us / 1e6;
}

double
pl_live_run_get_eta (PlLiveRun *self)
{
  g_return_val_if_fail (PL_IS_LIVE_RUN (self), NAN);
  if (!pl_live_run_is_active (self) || self->step <= 0 || self->total_steps <= 0)
    return NAN;
  /* pace so far: elapsed / steps trained seconds per step, for the steps still
   * to go (a resumed run started at start_step) */
  gint64 trained = self->step - self->start_step;
  if (trained <= 0)
    return NAN;
  double elapsed = pl_live_run_get_elapsed (self);
  return elapsed * (double) (self->total_steps - self->step) / (double) trained;
}

guint
pl_live_run_get_n_keys (PlLiveRun *self)
{
  return self->keys->len;
}

const char *
pl_live_run_get_key (PlLiveRun *self,
                     guint      index)
{
  return index < self->keys->len ? g_ptr_array_index (self->keys, index) : NULL;
}

gsize
pl_live_run_get_series (PlLiveRun     *self,
                        const char    *key,
                        const double **steps,
                        const double **values)
{
  g_return_val_if_fail (PL_IS_LIVE_RUN (self), 0);
  Series *s = g_hash_table_lookup (self->series, key);
  if (!s)
    {
      if (steps)
        *steps = NULL;
      if (values)
        *values = NULL;
      return 0;
    }
  if (steps)
    *steps = (const double *) s->steps->data;
  if (values)
    *values = (const double *) s->values->data;
  return s->steps->len;
}

const char *
pl_live_run_state_to_status (PlLiveRunState state)
{
  switch (state)
    {
    case PL_LIVE_RUN_QUEUED:
      return "queued";
    case PL_LIVE_RUN_STARTING:
    case PL_LIVE_RUN_RUNNING:
      return "running";
    case PL_LIVE_RUN_PAUSED:
      return "paused";
    case PL_LIVE_RUN_FINISHED:
      return "finished";
    case PL_LIVE_RUN_STOPPED:
      return "stopped";
    case PL_LIVE_RUN_FAILED:
    default:
      return "failed";
    }
}
