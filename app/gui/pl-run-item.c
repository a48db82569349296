/* pl-run-item.c: one row of the runs sidebar. */
#include "pl-run-item.h"

#include <glib/gi18n.h>
#include <math.h>
#include <string.h>

#include "pl-config.h"

struct _PlRunItem {
  GObject parent_instance;

  PlRunInfo *info;       /* NULL for a session run not yet in the store */
  PlLiveRun *live;       /* NULL for history */
  char *plugins;
  char *search_text;     /* casefolded, rebuilt on change */
  guint revision;
};

G_DEFINE_FINAL_TYPE (PlRunItem, pl_run_item, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_REVISION,
  N_PROPS
};
static GParamSpec *props[N_PROPS];

static void
pl_run_item_dispose (GObject *object)
{
  PlRunItem *self = PL_RUN_ITEM (object);
  if (self->live)
    g_signal_handlers_disconnect_by_data (self->live, self);
  g_clear_object (&self->live);
  G_OBJECT_CLASS (pl_run_item_parent_class)->dispose (object);
}

static void
pl_run_item_finalize (GObject *object)
{
  PlRunItem *self = PL_RUN_ITEM (object);
  g_clear_pointer (&self->info, pl_run_info_free);
  g_free (self->plugins);
  g_free (self->search_text);
  G_OBJECT_CLASS (pl_run_item_parent_class)->finalize (object);
}

static void
pl_run_item_get_property (GObject    *object,
                          guint       prop_id,
                          GValue     *value,
                          GParamSpec *pspec)
{
  PlRunItem *self = PL_RUN_ITEM (object);
  switch (prop_id)
    {
    case PROP_REVISION:
      g_value_set_uint (value, self->revision);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pl_run_item_class_init (PlRunItemClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->dispose = pl_run_item_dispose;
  object_class->finalize = pl_run_item_finalize;
  object_class->get_property = pl_run_item_get_property;

  /* Bumped whenever anything shown in the row changes. */
  props[PROP_REVISION] =
    g_param_spec_uint ("revision", NULL, NULL, 0, G_MAXUINT, 0,
                       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);
}

static void
pl_run_item_init (PlRunItem *self)
{
}

static void
changed (PlRunItem *self)
{
  g_clear_pointer (&self->search_text, g_free);
  self->revision++;
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_REVISION]);
}

PlRunItem *
pl_run_item_new_from_info (const PlRunInfo *info)
{
  g_return_val_if_fail (info != NULL, NULL);
  PlRunItem *self = g_object_new (PL_TYPE_RUN_ITEM, NULL);
  self->info = pl_run_info_copy (info);
  return self;
}

PlRunItem *
pl_run_item_new_from_live (PlLiveRun *live)
{
  g_return_val_if_fail (PL_IS_LIVE_RUN (live), NULL);
  PlRunItem *self = g_object_new (PL_TYPE_RUN_ITEM, NULL);
  pl_run_item_set_live (self, live);
  return self;
}

static gboolean
info_equal (const PlRunInfo *a,
            const PlRunInfo *b)
{
#define SAME_D(f) ((isnan (a->f) && isnan (b->f)) || a->f == b->f)
  if (!a || !b)
    return a == b;
  gboolean same_tags = g_strv_equal ((const char * const *) a->tags,
                                     (const char * const *) b->tags);
  return a->id == b->id && g_strcmp0 (a->name, b->name) == 0
         && g_strcmp0 (a->status, b->status) == 0 && same_tags
         && g_strcmp0 (a->dataset, b->dataset) == 0 && a->last_step == b->last_step
         && SAME_D (best_val_acc) && SAME_D (final_sparsity) && SAME_D (started_at);
#undef SAME_D
}

void
pl_run_item_update_info (PlRunItem       *self,
                         const PlRunInfo *info)
{
  g_return_if_fail (PL_IS_RUN_ITEM (self));
  if (info_equal (self->info, info))
    return;
  g_clear_pointer (&self->info, pl_run_info_free);
  self->info = info ? pl_run_info_copy (info) : NULL;
  changed (self);
}

static void
on_live_changed (PlLiveRun *live,
                 PlRunItem *self)
{
  changed (self);
}

/* Progress moves with every event; the row only shows whole percents. */
static void
on_live_data (PlLiveRun *live,
              PlRunItem *self)
{
  static const guint steps = 100;
  guint now = (guint) (pl_live_run_get_progress (live) * steps);
  if (GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (self), "pl-percent")) != now + 1)
    {
      g_object_set_data (G_OBJECT (self), "pl-percent", GUINT_TO_POINTER (now + 1));
      changed (self);
    }
}

void
pl_run_item_set_live (PlRunItem *self,
                      PlLiveRun *live)
{
  g_return_if_fail (PL_IS_RUN_ITEM (self));
  if (self->live == live)
    return;
  if (self->live)
    g_signal_handlers_disconnect_by_data (self->live, self);
  g_set_object (&self->live, live);
  if (live)
    {
      g_signal_connect (live, "state-changed", G_CALLBACK (on_live_changed), self);
      g_signal_connect (live, "identified", G_CALLBACK (on_live_changed), self);
      g_signal_connect (live, "data-changed", G_CALLBACK (on_live_data), self);
    }
  changed (self);
}

void
pl_run_item_set_plugins (PlRunItem  *self,
                         const char *plugins)
{
  g_return_if_fail (PL_IS_RUN_ITEM (self));
  if (g_strcmp0 (self->plugins, plugins) == 0)
    return;
  g_free (self->plugins);
  self->plugins = g_strdup (plugins);
  changed (self);
}

gint64
pl_run_item_get_id (PlRunItem *self)
{
  g_return_val_if_fail (PL_IS_RUN_ITEM (self), 0);
  if (self->info)
    return self->info->id;
  return self->live ? pl_live_run_get_id (self->live) : 0;
}

PlLiveRun *
pl_run_item_get_live (PlRunItem *self)
{
  g_return_val_if_fail (PL_IS_RUN_ITEM (self), NULL);
  return self->live;
}

/* The live run speaks while it runs, or when the store does not know the run. */
static gboolean
live_wins (PlRunItem *self)
{
  return self->live && (!self->info || pl_live_run_is_active (self->live));
}

const char *
pl_run_item_get_name (PlRunItem *self)
{
  g_return_val_if_fail (PL_IS_RUN_ITEM (self), NULL);
  if (self->info)
    return self->info->name;
  return pl_live_run_get_name (self->live);
}

const char *
pl_run_item_get_status (PlRunItem *self)
{
  g_return_val_if_fail (PL_IS_RUN_ITEM (self), NULL);
  if (live_wins (self))
    return pl_live_run_state_to_status (pl_live_run_get_state (self->live));
  /* A store row says "running" for a run whose child this window saw die before
   * the store was updated: trust the session. */
  if (self->live && !pl_live_run_is_active (self->live)
      && g_strcmp0 (self->info->status, "running") == 0)
    return pl_live_run_state_to_status (pl_live_run_get_state (self->live));
  return self->info->status;
}

const char *
pl_run_item_get_dataset (PlRunItem *self)
{
  g_return_val_if_fail (PL_IS_RUN_ITEM (self), NULL);
  if (self->info && self->info->dataset && *self->info->dataset)
    return self->info->dataset;
  return self->live ? pl_live_run_get_dataset (self->live) : NULL;
}

const char *
pl_run_item_get_architecture (PlRunItem *self)
{
  g_return_val_if_fail (PL_IS_RUN_ITEM (self), NULL);
  if (self->info && self->info->architecture && *self->info->architecture)
    return self->info->architecture;
  return self->live ? pl_live_run_get_architecture (self->live) : NULL;
}

const char *
pl_run_item_get_plugins (PlRunItem *self)
{
  g_return_val_if_fail (PL_IS_RUN_ITEM (self), NULL);
  return self->plugins;
}

const char * const *
pl_run_item_get_tags (PlRunItem *self)
{
  static const char * const none[] = { NULL };
  g_return_val_if_fail (PL_IS_RUN_ITEM (self), none);
  return self->info && self->info->tags ? (const char * const *) self->info->tags : none;
}

double
pl_run_item_get_best_val_acc (PlRunItem *self)
{
  g_return_val_if_fail (PL_IS_RUN_ITEM (self), NAN);
  if (live_wins (self) || (self->info && isnan (self->info->best_val_acc) && self->live))
    return pl_live_run_get_best_val_acc (self->live);
  return self->info->best_val_acc;
}

double
pl_run_item_get_final_sparsity (PlRunItem *self)
{
  g_return_val_if_fail (PL_IS_RUN_ITEM (self), NAN);
  if (live_wins (self) || (self->info && isnan (self->info->final_sparsity) && self->live))
    return pl_live_run_get_final_sparsity (self->live);
  return self->info->final_sparsity;
}

double
pl_run_item_get_started_at (PlRunItem *self)
{
  g_return_val_if_fail (PL_IS_RUN_ITEM (self), NAN);
  if (self->info && !isnan (self->info->started_at))
    return self->info->started_at;
  if (self->info)
    return self->info->created_at;
  return pl_live_run_get_started_at (self->live);
}

double
pl_run_item_get_progress (PlRunItem *self)
{
  g_return_val_if_fail (PL_IS_RUN_ITEM (self), 0);
  return self->live ? pl_live_run_get_progress (self->live) : 1.0;
}

gboolean
pl_run_item_is_active (PlRunItem *self)
{
  g_return_val_if_fail (PL_IS_RUN_ITEM (self), FALSE);
  return self->live && pl_live_run_is_active (self->live);
}

gboolean
pl_run_item_matches (PlRunItem  *self,
                     const char *casefolded_query)
{
  g_return_val_if_fail (PL_IS_RUN_ITEM (self), FALSE);
  if (!casefolded_query || !*casefolded_query)
    return TRUE;
  if (!self->search_text)
    {
      g_autoptr (GString) text = g_string_new (NULL);
      const char *status = pl_run_item_get_status (self);
      g_string_append_printf (text, "%s\n%s\n%s\n%s\n%s\n%s\n#%" G_GINT64_FORMAT "\n",
                              pl_run_item_get_name (self) ?: "",
                              status ?: "", status ? pl_run_status_label (status) : "",
                              pl_run_item_get_dataset (self) ?: "",
                              pl_run_item_get_architecture (self) ?: "",
                              self->plugins ?: "", pl_run_item_get_id (self));
      for (const char * const *t = pl_run_item_get_tags (self); *t; t++)
        g_string_append_printf (text, "%s\n", *t);
      self->search_text = g_utf8_casefold (text->str, -1);
    }
  g_auto (GStrv) words = g_strsplit_set (casefolded_query, " \t", -1);
  for (guint i = 0; words[i]; i++)
    if (*words[i] && !strstr (self->search_text, words[i]))
      return FALSE;
  return TRUE;
}

static const struct {
  const char *status;
  const char *label;   /* context "run status" */
  const char *icon;
  const char *style;
} statuses[] = {
  { "queued", NC_("run status", "Queued"), "appointment-soon-symbolic", "dim-label" },
  { "running", NC_("run status", "Running"), "media-playback-start-symbolic", "accent" },
  { "paused", NC_("run status", "Paused"), "media-playback-pause-symbolic", "warning" },
  { "finished", NC_("run status", "Finished"), "emblem-ok-symbolic", "success" },
  { "stopped", NC_("run status", "Stopped"), "media-playback-stop-symbolic", "warning" },
  { "failed", NC_("run status", "Failed"), "dialog-error-symbolic", "error" },
  /* its process died while it trained (store reconcile); it can resume */
  { "interrupted", NC_("run status", "Interrupted"), "action-unavailable-symbolic", "warning" },
  /* its loss or a parameter became NaN or Inf */
  { "diverged", NC_("run status", "Diverged"), "dialog-warning-symbolic", "error" },
};

static int
status_index (const char *status)
{
  for (guint i = 0; i < G_N_ELEMENTS (statuses); i++)
    if (g_strcmp0 (statuses[i].status, status) == 0)
      return i;
  return -1;
}

const char *
pl_run_status_label (const char *status)
{
  int i = status_index (status);
  return i >= 0 ? g_dpgettext2 (GETTEXT_PACKAGE, "run status", statuses[i].label) : status;
}

gboolean
pl_run_status_can_resume (const char *status)
{
  return g_strcmp0 (status, "stopped") == 0 || g_strcmp0 (status, "interrupted") == 0
         || g_strcmp0 (status, "failed") == 0;
}

const char *
pl_run_status_icon_name (const char *status)
{
  int i = status_index (status);
  return i >= 0 ? statuses[i].icon : "emblem-documents-symbolic";
}

const char *
pl_run_status_style_class (const char *status)
{
  int i = status_index (status);
  return i >= 0 ? statuses[i].style : "dim-label";
}
