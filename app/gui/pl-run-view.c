/* pl-run-view.c: the live view of one run. */
#include "pl-run-view.h"

#include <glib/gi18n.h>
#include <math.h>
#include <string.h>

#include "pl-gui.h"

/* Lines kept in the log view; older ones are cut in blocks. */
#define MAX_LOG_LINES 4000

typedef struct {
  PlPlot *plot;       /* NULL: a key no plot shows */
  guint series;
  gsize consumed;     /* points of the live series already appended */
  GArray *hist_x;     /* double: a resumed run's stored points, before it restarted */
  GArray *hist_y;
} Binding;

struct _PlRunView {
  GtkWidget parent_instance;

  GSettings *settings;
  GtkStack *stack;
  GtkLabel *title;
  GtkLabel *subtitle;
  GtkWidget *status_pill;    /* icon and label */
  GtkImage *status_icon;
  GtkLabel *status;
  GtkButton *pause_button;
  GtkButton *stop_button;
  GtkButton *export_button;
  GtkButton *again_button;
  GtkButton *resume_button;
  GtkProgressBar *progress;
  GtkLabel *progress_label;
  GtkRevealer *error_revealer;
  GtkLabel *error_label;
  GtkScale *smoothing;
  PlPlot *plots[PL_RUN_VIEW_N_PLOTS];
  GtkListView *log_view;
  GtkStringList *log;        /* one item per line */

  PlRunItem *item;
  PlLiveRun *live;
  GHashTable *bindings;      /* key -> Binding */
  GString *pending_log;
  guint tick_id;
  gint64 last_update_us;
  guint clock_id;            /* 1 s timer for the ETA while a run is active */
  guint scroll_idle;
  gboolean follow_log;       /* keep the end of the log in view */
  gboolean history_trimmed;  /* a resumed run's history was cut at its start step */
  gboolean own_scroll;
};

G_DEFINE_FINAL_TYPE (PlRunView, pl_run_view, GTK_TYPE_WIDGET)

/* ---- which plot shows a key ------------------------------------------------- */

static PlRunViewPlot
plot_for_key (const char *key)
{
  const char *last = strrchr (key, '/');
  last = last ? last + 1 : key;
  if (g_str_has_prefix (last, "loss") || g_str_has_suffix (key, "loss"))
    return PL_RUN_VIEW_PLOT_LOSS;
  if (g_str_equal (last, "acc") || g_str_has_suffix (key, "/acc"))
    return PL_RUN_VIEW_PLOT_ACCURACY;
  if (g_str_equal (key, "lr") || g_str_has_prefix (key, "lr/"))
    return PL_RUN_VIEW_PLOT_LR;
  if (g_str_has_prefix (key, "sparsity/") || g_str_equal (key, "gate/active"))
    return PL_RUN_VIEW_PLOT_SPARSITY;
  return PL_RUN_VIEW_N_PLOTS;
}

/* The legend name of a key inside its plot. */
static char *
series_name (const char *key)
{
  if (g_str_has_suffix (key, "_epoch"))
    {
      g_autofree char *base = g_strndup (key, strlen (key) - strlen ("_epoch"));
      g_autofree char *name = series_name (base);
      return g_strdup_printf (C_("series", "%s, epoch mean"), name);
    }
  if (g_str_has_prefix (key, "train/"))
    return g_strdup (C_("series", "Training"));
  if (g_str_has_prefix (key, "val/"))
    return g_strdup (C_("series", "Validation"));
  if (g_str_equal (key, "sparsity/total"))
    return g_strdup (C_("series", "Total"));
  if (g_str_has_prefix (key, "sparsity/"))
    return g_strdup (key + strlen ("sparsity/"));
  if (g_str_equal (key, "lr"))
    return g_strdup (C_("series", "Learning rate"));
  return g_strdup (pl_gui_metric_title (key));
}

static void
binding_free (gpointer data)
{
  Binding *b = data;
  if (b->hist_x)
    g_array_unref (b->hist_x);
  if (b->hist_y)
    g_array_unref (b->hist_y);
  g_free (b);
}

static Binding *
get_binding (PlRunView  *self,
             const char *key)
{
  Binding *b = g_hash_table_lookup (self->bindings, key);
  if (b)
    return b;
  b = g_new0 (Binding, 1);
  PlRunViewPlot which = plot_for_key (key);
  if (which < PL_RUN_VIEW_N_PLOTS)
    {
      g_autofree char *name = series_name (key);
      b->plot = self->plots[which];
      b->series = pl_plot_add_series (b->plot, name, NULL);
    }
  g_hash_table_insert (self->bindings, g_strdup (key), b);
  return b;
}

static void
clear_plots (PlRunView *self)
{
  g_hash_table_remove_all (self->bindings);
  for (guint i = 0; i < PL_RUN_VIEW_N_PLOTS; i++)
    pl_plot_clear (self->plots[i]);
}

/* ---- header and progress ----------------------------------------------------- */

static void
set_status_label (PlRunView  *self,
                  const char *status)
{
  static const char *classes[] = { "dim-label", "accent", "success", "warning", "error", NULL };
  for (guint i = 0; classes[i]; i++)
    gtk_widget_remove_css_class (self->status_pill, classes[i]);
  gtk_widget_add_css_class (self->status_pill, pl_run_status_style_class (status));
  gtk_label_set_text (self->status, pl_run_status_label (status));
  gtk_image_set_from_icon_name (self->status_icon, pl_run_status_icon_name (status));
}

static void
set_error (PlRunView  *self,
           const char *error)
{
  gtk_label_set_text (self->error_label, error ? error : "");
  gtk_revealer_set_reveal_child (self->error_revealer, error && *error);
}

static void
update_subtitle (PlRunView *self)
{
  g_autoptr (GString) s = g_string_new (NULL);
  const char *dataset = pl_run_item_get_dataset (self->item);
  const char *arch = pl_run_item_get_architecture (self->item);
  if (dataset && *dataset)
    g_string_append (s, dataset);
  if (arch && *arch)
    g_string_append_printf (s, "%s%s", s->len ? " · " : "", arch);
  const char *plugins = pl_run_item_get_plugins (self->item);
  if (plugins && *plugins)
    g_string_append_printf (s, "%s%s", s->len ? " · " : "", plugins);
  if (self->live && pl_live_run_get_parameters (self->live) > 0)
    {
      g_autofree char *n = g_strdup_printf (_("%'lld parameters"),
                                            (long long) pl_live_run_get_parameters (self->live));
      g_string_append_printf (s, "%s%s", s->len ? " · " : "", n);
    }
  gint64 id = pl_run_item_get_id (self->item);
  if (id > 0)
    {
      g_autofree char *n = g_strdup_printf (_("run %lld"), (long long) id);
      g_string_append_printf (s, "%s%s", s->len ? " · " : "", n);
    }
  gtk_label_set_text (self->subtitle, s->str);
}

static void
update_controls (PlRunView *self)
{
  gboolean active = self->live && pl_live_run_is_active (self->live);
  PlLiveRunState state = self->live ? pl_live_run_get_state (self->live) : PL_LIVE_RUN_FINISHED;
  gtk_widget_set_visible (GTK_WIDGET (self->pause_button), active);
  gtk_widget_set_visible (GTK_WIDGET (self->stop_button), active);
  gtk_widget_set_sensitive (GTK_WIDGET (self->pause_button),
                            state == PL_LIVE_RUN_RUNNING || state == PL_LIVE_RUN_PAUSED);
  if (state == PL_LIVE_RUN_PAUSED)
    {
      gtk_button_set_icon_name (self->pause_button, "media-playback-start-symbolic");
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->pause_button), _("Resume (Ctrl+P)"));
    }
  else
    {
      gtk_button_set_icon_name (self->pause_button, "media-playback-pause-symbolic");
      gtk_widget_set_tooltip_text (GTK_WIDGET (self->pause_button), _("Pause (Ctrl+P)"));
    }
  gint64 id = self->item ? pl_run_item_get_id (self->item) : 0;
  gtk_widget_set_visible (GTK_WIDGET (self->export_button), !active && id > 0);
  gtk_widget_set_visible (GTK_WIDGET (self->again_button), !active && id > 0);
  /* enabled by win.resume-run when the run has a training state to resume from */
  const char *status = self->item ? pl_run_item_get_status (self->item) : NULL;
  gtk_widget_set_visible (GTK_WIDGET (self->resume_button),
                          !active && id > 0 && pl_run_status_can_resume (status));
}

static void
update_progress (PlRunView *self)
{
  if (!self->item)
    return;
  const char *status = pl_run_item_get_status (self->item);
  set_status_label (self, status);
  gtk_label_set_text (self->title, pl_run_item_get_name (self->item));
  update_controls (self);

  g_autofree char *text = NULL;
  if (self->live)
    {
      PlLiveRun *live = self->live;
      gint64 step = pl_live_run_get_step (live), total = pl_live_run_get_total_steps (live);
      double progress = pl_live_run_get_progress (live);
      gtk_progress_bar_set_fraction (self->progress, progress);
      g_autofree char *elapsed = pl_gui_format_duration (pl_live_run_get_elapsed (live));
      switch (pl_live_run_get_state (live))
        {
        case PL_LIVE_RUN_QUEUED:
          text = g_strdup (_("Waiting for a free slot in the queue"));
          break;
        case PL_LIVE_RUN_STARTING:
          text = g_strdup (_("Loading the data and building the model…"));
          break;
        case PL_LIVE_RUN_RUNNING:
        case PL_LIVE_RUN_PAUSED:
          {
            double eta = pl_live_run_get_eta (live);
            g_autofree char *left = pl_gui_format_duration (eta);
            g_autofree char *where = g_strdup_printf (_("Step %lld of %lld · epoch %d of %d"),
                                                      (long long) step, (long long) total,
                                                      MIN (pl_live_run_get_epoch (live) + 1,
                                                           MAX (pl_live_run_get_epochs (live), 1)),
                                                      pl_live_run_get_epochs (live));
            if (pl_live_run_get_state (live) == PL_LIVE_RUN_PAUSED)
              text = g_strdup_printf (_("%s · paused"), where);
            else if (isnan (eta))
              text = g_strdup (where);
            else
              text = g_strdup_printf (_("%s · about %s left"), where, left);
          }
          break;
        case PL_LIVE_RUN_FINISHED:
          if (pl_live_run_is_resume (live))
            text = g_strdup_printf (_("Finished %lld steps, the last %lld of them resumed, in %s"),
                                    (long long) step,
                                    (long long) (step - pl_live_run_get_start_step (live)),
                                    elapsed);
          else
            text = g_strdup_printf (_("Finished %lld steps in %s"), (long long) step, elapsed);
          break;
        case PL_LIVE_RUN_STOPPED:
          text = g_strdup_printf (_("Stopped at step %lld of %lld after %s"),
                                  (long long) step, (long long) total, elapsed);
          break;
        case PL_LIVE_RUN_FAILED:
        default:
          if (pl_live_run_get_id (live) <= 0)
            text = g_strdup (_("The run did not start."));
          else
            text = g_strdup_printf (_("Failed at step %lld"), (long long) step);
          break;
        }
      set_error (self, pl_live_run_get_error (live));
    }
  else
    {
      g_autofree char *acc = pl_gui_format_percent (pl_run_item_get_best_val_acc (self->item));
      g_autofree char *sp = pl_gui_format_percent (pl_run_item_get_final_sparsity (self->item));
      g_autofree char *when = pl_gui_format_time (pl_run_item_get_started_at (self->item));
      gtk_progress_bar_set_fraction (self->progress,
                                     g_strcmp0 (status, "finished") == 0 ? 1.0 : 0.0);
      text = g_strdup_printf (_("Started %s · best validation accuracy %s · final sparsity %s"),
                              when, acc, sp);
    }
  gtk_label_set_text (self->progress_label, text);
}

/* ---- live updates on the frame clock ----------------------------------------- */

/* Keeps the end of the log in view: runs after a layout has measured the new
 * lines (the adjustment's "changed"), outside the frame. */
static gboolean
scroll_log_to_end (gpointer data)
{
  PlRunView *self = data;
  self->scroll_idle = 0;
  GtkAdjustment *adj = gtk_scrollable_get_vadjustment (GTK_SCROLLABLE (self->log_view));
  self->own_scroll = TRUE;
  gtk_adjustment_set_value (adj, gtk_adjustment_get_upper (adj) - gtk_adjustment_get_page_size (adj));
  self->own_scroll = FALSE;
  return G_SOURCE_REMOVE;
}

static void
follow_later (PlRunView *self)
{
  if (self->follow_log && !self->scroll_idle)
    self->scroll_idle = g_idle_add_full (G_PRIORITY_DEFAULT_IDLE, scroll_log_to_end, self, NULL);
}

/* The log grew or was measured again. */
static void
on_log_changed (GtkAdjustment *adj,
                PlRunView     *self)
{
  follow_later (self);
}

static gboolean
log_at_end (PlRunView *self)
{
  GtkAdjustment *adj = gtk_scrollable_get_vadjustment (GTK_SCROLLABLE (self->log_view));
  return gtk_adjustment_get_value (adj) + gtk_adjustment_get_page_size (adj)
         >= gtk_adjustment_get_upper (adj) - 4;
}

/* Back at the end (by the reader's hand): follow new lines again. */
static void
on_log_value (GtkAdjustment *adj,
              PlRunView     *self)
{
  if (!self->own_scroll && log_at_end (self))
    self->follow_log = TRUE;
}

/* The reader scrolls up with the wheel or touchpad: stop following. */
static gboolean
on_log_wheel (GtkEventControllerScroll *ctrl,
              double                    dx,
              double                    dy,
              PlRunView                *self)
{
  if (dy < 0)
    self->follow_log = FALSE;
  return FALSE;
}

/* The reader drags the scrollbar or the list: follow only if they leave it at
 * the end. */
static void
on_log_drag_begin (GtkGestureDrag *gesture,
                   double          x,
                   double          y,
                   PlRunView      *self)
{
  self->follow_log = FALSE;
}

static void
on_log_drag_end (GtkGestureDrag *gesture,
                 double          x,
                 double          y,
                 PlRunView      *self)
{
  self->follow_log = log_at_end (self);
}

/* Appends @text (lines ending in '\n') to the log, keeping at most
 * MAX_LOG_LINES lines. */
static void
append_log_text (PlRunView  *self,
                 const char *text)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  guint n_new = g_strv_length (lines);
  if (n_new > 0 && !*lines[n_new - 1])
    {
      g_free (lines[n_new - 1]);
      lines[--n_new] = NULL;
    }
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->log));
  guint cut = n + n_new > MAX_LOG_LINES ? MIN (n, n + n_new - MAX_LOG_LINES / 2) : 0;
  gtk_string_list_splice (self->log, n, 0, (const char * const *) lines);
  if (cut)
    gtk_string_list_splice (self->log, 0, cut, NULL);
}

static void
flush_log (PlRunView *self)
{
  if (!self->pending_log->len)
    return;
  append_log_text (self, self->pending_log->str);
  g_string_truncate (self->pending_log, 0);
  follow_later (self);
}

/* A resumed run shows its stored curve up to the step it restarted at, then
 * what it trains now: stored points after that step (an interrupted attempt's
 * last partial epoch) are replaced, as the store replaces them. */
static void
trim_history (PlRunView *self)
{
  /* until its "started" event the child has not said where it resumes (and
   * if it is refused, it never does: the stored curve stays as it is) */
  if (self->history_trimmed || isnan (pl_live_run_get_started_at (self->live)))
    return;
  self->history_trimmed = TRUE;
  double start = (double) pl_live_run_get_start_step (self->live);
  GHashTableIter iter;
  Binding *b;
  g_hash_table_iter_init (&iter, self->bindings);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &b))
    {
      if (!b->plot || !b->hist_x)
        continue;
      guint keep = 0;
      while (keep < b->hist_x->len && g_array_index (b->hist_x, double, keep) <= start)
        keep++;
      pl_plot_set_points (b->plot, b->series, (const double *) b->hist_x->data,
                          (const double *) b->hist_y->data, keep);
      b->consumed = 0;   /* the live points follow */
    }
}

/* Appends the points that arrived since the last update to the plots. */
static void
pull_live_points (PlRunView *self)
{
  PlLiveRun *live = self->live;
  if (pl_live_run_is_resume (live))
    trim_history (self);
  for (guint i = 0; i < pl_live_run_get_n_keys (live); i++)
    {
      const char *key = pl_live_run_get_key (live, i);
      Binding *b = get_binding (self, key);
      const double *steps, *values;
      gsize n = pl_live_run_get_series (live, key, &steps, &values);
      if (b->plot)
        for (gsize k = b->consumed; k < n; k++)
          pl_plot_append (b->plot, b->series, steps[k], values[k]);
      b->consumed = n;
    }
}

static void
update_now (PlRunView *self)
{
  self->last_update_us = g_get_monotonic_time ();
  if (self->live)
    pull_live_points (self);
  flush_log (self);
  update_progress (self);
}

static gboolean
on_tick (GtkWidget     *widget,
         GdkFrameClock *clock,
         gpointer       user_data)
{
  PlRunView *self = PL_RUN_VIEW (widget);
  int rate = self->settings ? g_settings_get_int (self->settings, "plot-refresh-rate") : 30;
  gint64 interval = G_USEC_PER_SEC / MAX (rate, 1);
  if (g_get_monotonic_time () - self->last_update_us < interval)
    return G_SOURCE_CONTINUE;
  self->tick_id = 0;
  update_now (self);
  return G_SOURCE_REMOVE;
}

/* Something changed: update on a coming frame, at most refresh-rate times a
 * second. Unmapped (another page shown), the update happens when it maps. */
static void
schedule_update (PlRunView *self)
{
  if (self->tick_id)
    return;
  self->tick_id = gtk_widget_add_tick_callback (GTK_WIDGET (self), on_tick, NULL, NULL);
}

static void
on_live_data (PlLiveRun *live,
              PlRunView *self)
{
  schedule_update (self);
}

static void
on_live_log (PlLiveRun  *live,
             const char *line,
             PlRunView  *self)
{
  g_string_append (self->pending_log, line);
  g_string_append_c (self->pending_log, '\n');
  schedule_update (self);
}

static gboolean
on_clock (gpointer data)
{
  PlRunView *self = data;
  if (!self->live || !pl_live_run_is_active (self->live))
    {
      self->clock_id = 0;
      return G_SOURCE_REMOVE;
    }
  schedule_update (self);
  return G_SOURCE_CONTINUE;
}

static void
on_live_state (PlLiveRun *live,
               PlRunView *self)
{
  update_subtitle (self);
  update_now (self);
  if (pl_live_run_is_active (live) && !self->clock_id)
    self->clock_id = g_timeout_add_seconds (1, on_clock, self);
}

/* ---- showing a run -------------------------------------------------------------- */

static void
unbind (PlRunView *self)
{
  if (self->live)
    g_signal_handlers_disconnect_by_data (self->live, self);
  if (self->item)
    g_signal_handlers_disconnect_by_data (self->item, self);
  g_clear_object (&self->live);
  g_clear_object (&self->item);
  if (self->tick_id)
    gtk_widget_remove_tick_callback (GTK_WIDGET (self), self->tick_id);
  self->tick_id = 0;
  g_clear_handle_id (&self->clock_id, g_source_remove);
  g_clear_handle_id (&self->scroll_idle, g_source_remove);
  self->follow_log = TRUE;
  self->history_trimmed = FALSE;
  g_string_truncate (self->pending_log, 0);
  gtk_string_list_splice (self->log, 0, g_list_model_get_n_items (G_LIST_MODEL (self->log)), NULL);
  clear_plots (self);
  set_error (self, NULL);
}

static void
load_history (PlRunView  *self,
              PlRunStore *store)
{
  gint64 id = pl_run_item_get_id (self->item);
  if (!store || id <= 0)
    return;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) keys = pl_run_store_get_metric_keys (store, id, &error);
  for (guint i = 0; keys && keys[i]; i++)
    {
      if (plot_for_key (keys[i]) == PL_RUN_VIEW_N_PLOTS)
        continue;
      g_autoptr (PlSeries) series = pl_run_store_get_metric (store, id, keys[i], &error);
      if (!series)
        break;
      guint n = series->steps->len;
      g_autofree double *xs = g_new (double, MAX (n, 1));
      for (guint k = 0; k < n; k++)
        xs[k] = (double) g_array_index (series->steps, gint64, k);
      Binding *b = get_binding (self, keys[i]);
      pl_plot_set_points (b->plot, b->series, xs, (const double *) series->values->data, n);
      if (self->live)
        {
          b->hist_x = g_array_sized_new (FALSE, FALSE, sizeof (double), n);
          b->hist_y = g_array_sized_new (FALSE, FALSE, sizeof (double), n);
          g_array_append_vals (b->hist_x, xs, n);
          g_array_append_vals (b->hist_y, series->values->data, n);
        }
    }

  g_autoptr (GString) log = g_string_new (NULL);
  g_autoptr (GPtrArray) events = pl_run_store_get_events (store, id, &error);
  for (guint i = 0; events && i < events->len; i++)
    {
      PlRunEvent *ev = g_ptr_array_index (events, i);
      if (g_str_equal (ev->kind, "metrics"))
        continue;
      g_autofree char *when = pl_gui_format_time (ev->time);
      g_string_append_printf (log, "%s  %s%s%s\n", when, ev->kind,
                              ev->payload_json ? "  " : "",
                              ev->payload_json ? ev->payload_json : "");
    }
  g_autoptr (PlRunInfo) info = pl_run_store_get_run (store, id, NULL);
  if (info && info->error)
    {
      g_string_append_printf (log, "%s\n", info->error);
      set_error (self, info->error);
    }
  if (error)
    g_string_append_printf (log, _("Could not read the run's history: %s\n"), error->message);
  append_log_text (self, log->str);
}

static void
on_item_changed (PlRunItem  *item,
                 GParamSpec *pspec,
                 PlRunView  *self)
{
  update_subtitle (self);
  update_progress (self);
}

void
pl_run_view_show (PlRunView  *self,
                  PlRunItem  *item,
                  PlRunStore *store)
{
  g_return_if_fail (PL_IS_RUN_VIEW (self));
  if (item && item == self->item && (!pl_run_item_get_live (item)
                                     || pl_run_item_get_live (item) == self->live))
    return;
  unbind (self);
  if (!item)
    {
      gtk_stack_set_visible_child_name (self->stack, "empty");
      return;
    }
  self->item = g_object_ref (item);
  g_signal_connect (item, "notify::revision", G_CALLBACK (on_item_changed), self);
  PlLiveRun *live = pl_run_item_get_live (item);
  if (live)
    {
      self->live = g_object_ref (live);
      /* a resumed run continues a stored curve */
      if (pl_live_run_is_resume (live))
        load_history (self, store);
      g_signal_connect (live, "data-changed", G_CALLBACK (on_live_data), self);
      g_signal_connect (live, "log-line", G_CALLBACK (on_live_log), self);
      g_signal_connect (live, "state-changed", G_CALLBACK (on_live_state), self);
      g_string_append (self->pending_log, pl_live_run_get_log (live));
      if (pl_live_run_is_active (live))
        self->clock_id = g_timeout_add_seconds (1, on_clock, self);
    }
  else
    load_history (self, store);
  update_subtitle (self);
  update_now (self);
  gtk_stack_set_visible_child_name (self->stack, "run");
}

PlRunItem *
pl_run_view_get_item (PlRunView *self)
{
  g_return_val_if_fail (PL_IS_RUN_VIEW (self), NULL);
  return self->item;
}

void
pl_run_view_toggle_pause (PlRunView *self)
{
  g_return_if_fail (PL_IS_RUN_VIEW (self));
  if (!self->live)
    return;
  if (pl_live_run_get_state (self->live) == PL_LIVE_RUN_PAUSED)
    pl_live_run_resume (self->live);
  else
    pl_live_run_pause (self->live);
}

void
pl_run_view_stop (PlRunView *self)
{
  g_return_if_fail (PL_IS_RUN_VIEW (self));
  if (self->live)
    pl_live_run_stop (self->live);
}

PlPlot *
pl_run_view_get_plot (PlRunView     *self,
                      PlRunViewPlot  which)
{
  g_return_val_if_fail (PL_IS_RUN_VIEW (self), NULL);
  g_return_val_if_fail (which < PL_RUN_VIEW_N_PLOTS, NULL);
  return self->plots[which];
}

const char *
pl_run_view_get_status_text (PlRunView *self)
{
  g_return_val_if_fail (PL_IS_RUN_VIEW (self), NULL);
  return gtk_label_get_text (self->status);
}

const char *
pl_run_view_get_status_icon (PlRunView *self)
{
  g_return_val_if_fail (PL_IS_RUN_VIEW (self), NULL);
  return gtk_image_get_icon_name (self->status_icon);
}

GtkWidget *
pl_run_view_get_resume_button (PlRunView *self)
{
  g_return_val_if_fail (PL_IS_RUN_VIEW (self), NULL);
  return GTK_WIDGET (self->resume_button);
}

const char *
pl_run_view_get_progress_text (PlRunView *self)
{
  g_return_val_if_fail (PL_IS_RUN_VIEW (self), NULL);
  return gtk_label_get_text (self->progress_label);
}

char *
pl_run_view_get_log_text (PlRunView *self)
{
  g_return_val_if_fail (PL_IS_RUN_VIEW (self), NULL);
  GString *text = g_string_new (NULL);
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->log));
  for (guint i = 0; i < n; i++)
    g_string_append_printf (text, "%s\n", gtk_string_list_get_string (self->log, i));
  return g_string_free (text, FALSE);
}

/* ---- construction --------------------------------------------------------------- */

static void
on_pause_clicked (GtkButton *button,
                  PlRunView *self)
{
  pl_run_view_toggle_pause (self);
}

static void
on_stop_clicked (GtkButton *button,
                 PlRunView *self)
{
  pl_run_view_stop (self);
}

static void
on_smoothing_changed (GtkRange  *range,
                      PlRunView *self)
{
  /* noisy curves only: the learning rate and the sparsity follow schedules */
  double w = gtk_range_get_value (range);
  pl_plot_set_smoothing (self->plots[PL_RUN_VIEW_PLOT_LOSS], w);
  pl_plot_set_smoothing (self->plots[PL_RUN_VIEW_PLOT_ACCURACY], w);
}

static void
log_line_setup (GtkSignalListItemFactory *factory,
                GtkListItem              *item,
                gpointer                  data)
{
  GtkWidget *label = gtk_label_new (NULL);
  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_wrap_mode (GTK_LABEL (label), PANGO_WRAP_WORD_CHAR);
  gtk_widget_add_css_class (label, "monospace");
  gtk_list_item_set_child (item, label);
  gtk_list_item_set_activatable (item, FALSE);
}

static void
log_line_bind (GtkSignalListItemFactory *factory,
               GtkListItem              *item,
               gpointer                  data)
{
  GtkStringObject *line = gtk_list_item_get_item (item);
  gtk_label_set_text (GTK_LABEL (gtk_list_item_get_child (item)), gtk_string_object_get_string (line));
}

static void
pl_run_view_map (GtkWidget *widget)
{
  GTK_WIDGET_CLASS (pl_run_view_parent_class)->map (widget);
  schedule_update (PL_RUN_VIEW (widget));
}

static void
pl_run_view_dispose (GObject *object)
{
  PlRunView *self = PL_RUN_VIEW (object);
  unbind (self);
  g_clear_object (&self->settings);
  GtkWidget *child;
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self))))
    gtk_widget_unparent (child);
  G_OBJECT_CLASS (pl_run_view_parent_class)->dispose (object);
}

static void
pl_run_view_finalize (GObject *object)
{
  PlRunView *self = PL_RUN_VIEW (object);
  g_hash_table_unref (self->bindings);
  g_string_free (self->pending_log, TRUE);
  g_object_unref (self->log);
  G_OBJECT_CLASS (pl_run_view_parent_class)->finalize (object);
}

static void
pl_run_view_class_init (PlRunViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  object_class->dispose = pl_run_view_dispose;
  object_class->finalize = pl_run_view_finalize;
  widget_class->map = pl_run_view_map;
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "runview");
}

static GtkWidget *
icon_button (const char *icon,
             const char *tooltip)
{
  GtkWidget *b = gtk_button_new_from_icon_name (icon);
  gtk_widget_set_tooltip_text (b, tooltip);
  gtk_widget_set_valign (b, GTK_ALIGN_CENTER);
  return b;
}

static GtkWidget *
build_empty (void)
{
  GtkWidget *page = adw_status_page_new ();
  adw_status_page_set_icon_name (ADW_STATUS_PAGE (page), "media-playback-start-symbolic");
  adw_status_page_set_title (ADW_STATUS_PAGE (page), _("No Run Selected"));
  adw_status_page_set_description (ADW_STATUS_PAGE (page),
                                   _("Press Run (Ctrl+R) to train the experiment, or pick a run "
                                     "in the list to see its curves."));
  GtkWidget *button = gtk_button_new_with_mnemonic (_("_Run Experiment"));
  gtk_widget_add_css_class (button, "pill");
  gtk_widget_add_css_class (button, "suggested-action");
  gtk_widget_set_halign (button, GTK_ALIGN_CENTER);
  gtk_actionable_set_action_name (GTK_ACTIONABLE (button), "win.run");
  adw_status_page_set_child (ADW_STATUS_PAGE (page), button);
  return page;
}

static void
pl_run_view_init (PlRunView *self)
{
  self->bindings = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, binding_free);
  self->pending_log = g_string_new (NULL);

  self->stack = GTK_STACK (gtk_stack_new ());
  gtk_widget_set_parent (GTK_WIDGET (self->stack), GTK_WIDGET (self));
  gtk_stack_add_named (self->stack, build_empty (), "empty");

  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 12);
  gtk_widget_set_margin_start (box, 18);
  gtk_widget_set_margin_end (box, 18);
  gtk_widget_set_margin_top (box, 12);
  gtk_widget_set_margin_bottom (box, 12);

  /* title, status, controls */
  GtkWidget *header = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  GtkWidget *titles = gtk_box_new (GTK_ORIENTATION_VERTICAL, 2);
  gtk_widget_set_hexpand (titles, TRUE);
  GtkWidget *title_row = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 10);
  self->title = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_ellipsize (self->title, PANGO_ELLIPSIZE_END);
  gtk_label_set_xalign (self->title, 0);
  gtk_widget_add_css_class (GTK_WIDGET (self->title), "title-2");
  self->status_pill = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 4);
  gtk_widget_add_css_class (self->status_pill, "status-pill");
  gtk_widget_set_valign (self->status_pill, GTK_ALIGN_CENTER);
  self->status_icon = GTK_IMAGE (gtk_image_new ());
  gtk_image_set_pixel_size (self->status_icon, 12);
  self->status = GTK_LABEL (gtk_label_new (NULL));
  gtk_box_append (GTK_BOX (self->status_pill), GTK_WIDGET (self->status_icon));
  gtk_box_append (GTK_BOX (self->status_pill), GTK_WIDGET (self->status));
  gtk_box_append (GTK_BOX (title_row), GTK_WIDGET (self->title));
  gtk_box_append (GTK_BOX (title_row), self->status_pill);
  self->subtitle = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_xalign (self->subtitle, 0);
  gtk_label_set_ellipsize (self->subtitle, PANGO_ELLIPSIZE_END);
  gtk_widget_add_css_class (GTK_WIDGET (self->subtitle), "dim-label");
  gtk_box_append (GTK_BOX (titles), title_row);
  gtk_box_append (GTK_BOX (titles), GTK_WIDGET (self->subtitle));
  gtk_box_append (GTK_BOX (header), titles);

  self->again_button = GTK_BUTTON (gtk_button_new_with_mnemonic (_("Run _Again")));
  gtk_widget_set_valign (GTK_WIDGET (self->again_button), GTK_ALIGN_CENTER);
  gtk_actionable_set_action_name (GTK_ACTIONABLE (self->again_button), "win.run-again");
  self->resume_button = GTK_BUTTON (gtk_button_new_with_mnemonic (_("_Resume Training")));
  gtk_widget_set_valign (GTK_WIDGET (self->resume_button), GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (GTK_WIDGET (self->resume_button), "suggested-action");
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->resume_button),
                               _("Continue training from the run's last saved state"));
  gtk_actionable_set_action_name (GTK_ACTIONABLE (self->resume_button), "win.resume-run");
  self->export_button = GTK_BUTTON (gtk_button_new_with_mnemonic (_("_Export…")));
  gtk_widget_set_valign (GTK_WIDGET (self->export_button), GTK_ALIGN_CENTER);
  gtk_actionable_set_action_name (GTK_ACTIONABLE (self->export_button), "win.export");
  self->pause_button = GTK_BUTTON (icon_button ("media-playback-pause-symbolic", _("Pause (Ctrl+P)")));
  gtk_widget_add_css_class (GTK_WIDGET (self->pause_button), "circular");
  self->stop_button = GTK_BUTTON (icon_button ("media-playback-stop-symbolic", _("Stop (Ctrl+.)")));
  gtk_widget_add_css_class (GTK_WIDGET (self->stop_button), "circular");
  gtk_widget_add_css_class (GTK_WIDGET (self->stop_button), "destructive-action");
  g_signal_connect (self->pause_button, "clicked", G_CALLBACK (on_pause_clicked), self);
  g_signal_connect (self->stop_button, "clicked", G_CALLBACK (on_stop_clicked), self);
  gtk_box_append (GTK_BOX (header), GTK_WIDGET (self->resume_button));
  gtk_box_append (GTK_BOX (header), GTK_WIDGET (self->again_button));
  gtk_box_append (GTK_BOX (header), GTK_WIDGET (self->export_button));
  gtk_box_append (GTK_BOX (header), GTK_WIDGET (self->pause_button));
  gtk_box_append (GTK_BOX (header), GTK_WIDGET (self->stop_button));
  gtk_box_append (GTK_BOX (box), header);

  /* progress */
  GtkWidget *progress_box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  self->progress = GTK_PROGRESS_BAR (gtk_progress_bar_new ());
  self->progress_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_xalign (self->progress_label, 0);
  gtk_label_set_ellipsize (self->progress_label, PANGO_ELLIPSIZE_END);
  gtk_widget_add_css_class (GTK_WIDGET (self->progress_label), "caption");
  gtk_widget_add_css_class (GTK_WIDGET (self->progress_label), "numeric");
  gtk_box_append (GTK_BOX (progress_box), GTK_WIDGET (self->progress));
  gtk_box_append (GTK_BOX (progress_box), GTK_WIDGET (self->progress_label));
  gtk_box_append (GTK_BOX (box), progress_box);

  /* why it failed */
  self->error_revealer = GTK_REVEALER (gtk_revealer_new ());
  self->error_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_wrap (self->error_label, TRUE);
  gtk_label_set_xalign (self->error_label, 0);
  gtk_label_set_selectable (self->error_label, TRUE);
  gtk_widget_add_css_class (GTK_WIDGET (self->error_label), "error-box");
  gtk_revealer_set_child (self->error_revealer, GTK_WIDGET (self->error_label));
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (self->error_revealer));

  /* plots over the log */
  GtkWidget *grid = gtk_grid_new ();
  gtk_grid_set_row_spacing (GTK_GRID (grid), 12);
  gtk_grid_set_column_spacing (GTK_GRID (grid), 12);
  gtk_grid_set_row_homogeneous (GTK_GRID (grid), TRUE);
  gtk_grid_set_column_homogeneous (GTK_GRID (grid), TRUE);
  static const char *titles_text[PL_RUN_VIEW_N_PLOTS] = {
    N_("Loss"), N_("Accuracy"), N_("Learning rate"), N_("Sparsity")
  };
  for (guint i = 0; i < PL_RUN_VIEW_N_PLOTS; i++)
    {
      self->plots[i] = PL_PLOT (pl_plot_new (_(titles_text[i])));
      gtk_widget_set_hexpand (GTK_WIDGET (self->plots[i]), TRUE);
      gtk_widget_set_vexpand (GTK_WIDGET (self->plots[i]), TRUE);
      gtk_widget_add_css_class (GTK_WIDGET (self->plots[i]), "card");
      gtk_grid_attach (GTK_GRID (grid), GTK_WIDGET (self->plots[i]), i % 2, i / 2, 1, 1);
    }
  pl_plot_data_set_y_limits (pl_plot_get_data (self->plots[PL_RUN_VIEW_PLOT_ACCURACY]), 0, 1);
  pl_plot_data_set_y_limits (pl_plot_get_data (self->plots[PL_RUN_VIEW_PLOT_SPARSITY]), 0, 1);

  GtkWidget *log_box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  GtkWidget *log_header = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  GtkWidget *log_title = gtk_label_new (_("Log"));
  gtk_widget_add_css_class (log_title, "heading");
  gtk_label_set_xalign (GTK_LABEL (log_title), 0);
  gtk_widget_set_hexpand (log_title, TRUE);
  gtk_box_append (GTK_BOX (log_header), log_title);
  GtkWidget *smooth_label = gtk_label_new (_("Smoothing"));
  gtk_widget_add_css_class (smooth_label, "dim-label");
  gtk_box_append (GTK_BOX (log_header), smooth_label);
  self->smoothing = GTK_SCALE (gtk_scale_new_with_range (GTK_ORIENTATION_HORIZONTAL, 0, 0.99, 0.01));
  gtk_widget_set_size_request (GTK_WIDGET (self->smoothing), 160, -1);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->smoothing),
                               _("Weight of the moving average drawn over the raw curves"));
  g_signal_connect (self->smoothing, "value-changed", G_CALLBACK (on_smoothing_changed), self);
  gtk_box_append (GTK_BOX (log_header), GTK_WIDGET (self->smoothing));
  gtk_box_append (GTK_BOX (log_box), log_header);

  self->log = gtk_string_list_new (NULL);
  GtkListItemFactory *factory = gtk_signal_list_item_factory_new ();
  g_signal_connect (factory, "setup", G_CALLBACK (log_line_setup), NULL);
  g_signal_connect (factory, "bind", G_CALLBACK (log_line_bind), NULL);
  GtkNoSelection *model = gtk_no_selection_new (G_LIST_MODEL (g_object_ref (self->log)));
  self->log_view = GTK_LIST_VIEW (gtk_list_view_new (GTK_SELECTION_MODEL (model), factory));
  gtk_widget_add_css_class (GTK_WIDGET (self->log_view), "log");
  self->follow_log = TRUE;
  GtkWidget *scroller = gtk_scrolled_window_new ();
  gtk_scrolled_window_set_min_content_height (GTK_SCROLLED_WINDOW (scroller), 90);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scroller), GTK_WIDGET (self->log_view));
  GtkAdjustment *log_adj = gtk_scrolled_window_get_vadjustment (GTK_SCROLLED_WINDOW (scroller));
  g_signal_connect (log_adj, "changed", G_CALLBACK (on_log_changed), self);
  g_signal_connect (log_adj, "value-changed", G_CALLBACK (on_log_value), self);
  GtkEventController *wheel = gtk_event_controller_scroll_new (GTK_EVENT_CONTROLLER_SCROLL_VERTICAL);
  gtk_event_controller_set_propagation_phase (wheel, GTK_PHASE_CAPTURE);
  g_signal_connect (wheel, "scroll", G_CALLBACK (on_log_wheel), self);
  gtk_widget_add_controller (scroller, wheel);
  GtkGesture *drag = gtk_gesture_drag_new ();
  gtk_event_controller_set_propagation_phase (GTK_EVENT_CONTROLLER (drag), GTK_PHASE_CAPTURE);
  g_signal_connect (drag, "drag-begin", G_CALLBACK (on_log_drag_begin), self);
  g_signal_connect (drag, "drag-end", G_CALLBACK (on_log_drag_end), self);
  gtk_widget_add_controller (scroller, GTK_EVENT_CONTROLLER (drag));
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scroller), GTK_POLICY_NEVER,
                                  GTK_POLICY_AUTOMATIC);
  gtk_widget_set_vexpand (scroller, TRUE);
  gtk_widget_add_css_class (scroller, "card");
  gtk_widget_set_overflow (scroller, GTK_OVERFLOW_HIDDEN);
  gtk_box_append (GTK_BOX (log_box), scroller);

  GtkWidget *paned = gtk_paned_new (GTK_ORIENTATION_VERTICAL);
  gtk_paned_set_start_child (GTK_PANED (paned), grid);
  gtk_paned_set_end_child (GTK_PANED (paned), log_box);
  gtk_paned_set_resize_end_child (GTK_PANED (paned), FALSE);
  gtk_paned_set_shrink_end_child (GTK_PANED (paned), FALSE);
  gtk_paned_set_shrink_start_child (GTK_PANED (paned), FALSE);
  gtk_widget_set_vexpand (paned, TRUE);
  gtk_box_append (GTK_BOX (box), paned);

  gtk_stack_add_named (self->stack, box, "run");
  gtk_stack_set_visible_child_name (self->stack, "empty");
}

static void
on_settings_smoothing (PlRunView *self)
{
  gtk_range_set_value (GTK_RANGE (self->smoothing),
                       g_settings_get_double (self->settings, "plot-smoothing"));
}

GtkWidget *
pl_run_view_new (GSettings *settings)
{
  PlRunView *self = g_object_new (PL_TYPE_RUN_VIEW, NULL);
  if (settings)
    {
      self->settings = g_object_ref (settings);
      g_settings_bind (settings, "plot-smoothing",
                       gtk_range_get_adjustment (GTK_RANGE (self->smoothing)), "value",
                       G_SETTINGS_BIND_DEFAULT);
      on_settings_smoothing (self);
      on_smoothing_changed (GTK_RANGE (self->smoothing), self);
    }
  return GTK_WIDGET (self);
}
