#include "pl-plugin-selection.h"

#include <string.h>

#include "pl-engine.h"
#include "pl-error.h"
#include "pl-lr-policy.h"
#include "pl-pruner.h"
#include "pl-pruning-criterion.h"
#include "pl-pruning-schedule.h"
#include "pl-quantizer.h"
#include "pl-run-addin.h"
#include "pl-run-state.h"
#include "pl-sparsity-gate.h"

typedef struct {
  const char *slot;
  char *id;
  GObject *plugin;
  char *version;
} Choice;

struct _PlPluginSelection {
  PlPluginEngine *engine;
  GArray *choices;               /* Choice */
  PlModelBuildHooks gate_hooks;
  PlModelBuildHooks quant_hooks;
  const PlModelBuildHooks *hooks[2];
  guint n_hooks;
  PlPruner *pruner;
};

static void
choice_clear (gpointer data)
{
  Choice *c = data;
  g_free (c->id);
  g_free (c->version);
  g_clear_object (&c->plugin);
}

void
pl_plugin_selection_free (PlPluginSelection *sel)
{
  if (!sel)
    return;
  g_array_unref (sel->choices);
  g_clear_object (&sel->engine);
  pl_pruner_free (sel->pruner);
  g_free (sel);
}

GObject *
pl_plugin_selection_get (PlPluginSelection *sel, const char *slot)
{
  for (guint i = 0; sel && i < sel->choices->len; i++)
    {
      Choice *c = &g_array_index (sel->choices, Choice, i);
      if (g_str_equal (c->slot, slot))
        return c->plugin;
    }
  return NULL;
}

const char *
pl_plugin_selection_get_id (PlPluginSelection *sel, const char *slot)
{
  for (guint i = 0; sel && i < sel->choices->len; i++)
    {
      Choice *c = &g_array_index (sel->choices, Choice, i);
      if (g_str_equal (c->slot, slot))
        return c->id;
    }
  return NULL;
}

/* section, key that names the plugin, slot */
static const struct {
  const char *section;
  const char *key;
  const char *slot;
} slot_keys[] = {
  { "dataset", "plugin", PL_SLOT_DATASET },
  { "arch", "plugin", PL_SLOT_ARCH },
  { "init", "plugin", PL_SLOT_INIT },
  { "gate", "plugin", PL_SLOT_GATE },
  { "prune", "criterion", PL_SLOT_PRUNE_CRITERION },
  { "prune", "schedule", PL_SLOT_PRUNE_SCHEDULE },
  { "quant", "plugin", PL_SLOT_QUANT },
  { "lr-policy", "plugin", PL_SLOT_LR_POLICY },
};

static gboolean
is_selector_key (const char *section, const char *key)
{
  for (guint i = 0; i < G_N_ELEMENTS (slot_keys); i++)
    if (g_str_equal (slot_keys[i].section, section) && g_str_equal (slot_keys[i].key, key))
      return TRUE;
  return FALSE;
}

static gboolean
has_option (GObject *plugin, const char *name)
{
  GParamSpec *p = g_object_class_find_property (G_OBJECT_GET_CLASS (plugin), name);
  if (!p)
    return FALSE;
  g_autoptr (GPtrArray) opts = pl_plugin_list_options (plugin);
  return g_ptr_array_find (opts, p, NULL);
}

/* ---- build hooks ----------------------------------------------------------- */

static void
gate_declare (PlModel *m, int layer, int width, gpointer ud)
{
  pl_sparsity_gate_declare_units (ud, m, layer, width);
}

static PlTensor *
gate_wrap (PlModel *m, PlGraph *g, int layer, PlTensor *h, gpointer ud)
{
  return pl_sparsity_gate_wrap_units (ud, m, g, layer, h);
}

static PlTensor *
quant_weight (PlModel *m, PlGraph *g, PlParam *p, PlTensor *w, gpointer ud)
{
  return pl_quantizer_wrap_weight (ud, m, g, p, w);
}

static PlTensor *
quant_input (PlModel *m, PlGraph *g, PlParam *p, PlTensor *x, gpointer ud)
{
  return pl_quantizer_wrap_input (ud, m, g, p, x);
}

const PlModelBuildHooks *const *
pl_plugin_selection_get_build_hooks (PlPluginSelection *sel, guint *n_hooks)
{
  *n_hooks = sel ? sel->n_hooks : 0;
  return sel ? sel->hooks : NULL;
}

PlPluginSelection *
pl_plugin_selection_new (PlPluginEngine *engine, const PlExperiment *exp, GError **error)
{
  g_autoptr (PlPluginSelection) sel = g_new0 (PlPluginSelection, 1);
  sel->engine = g_object_ref (engine);
  sel->choices = g_array_new (FALSE, TRUE, sizeof (Choice));
  g_array_set_clear_func (sel->choices, choice_clear);

  for (guint i = 0; i < G_N_ELEMENTS (slot_keys); i++)
    {
      const char *id = pl_experiment_get_raw (exp, slot_keys[i].section, slot_keys[i].key);
      if (!id || !id[0] || g_str_equal (id, "none"))
        continue;
      g_autofree char *where = pl_experiment_get_location (exp, slot_keys[i].section,
                                                          slot_keys[i].key);
      GError *err = NULL;
      GObject *plugin = pl_plugin_engine_create (engine, slot_keys[i].slot, id, &err);
      if (!plugin)
        {
          g_set_error (error, PL_ERROR, PL_ERROR_CONFIG, "%s: [%s] %s: %s", where,
                       slot_keys[i].section, slot_keys[i].key, err->message);
          g_error_free (err);
          return NULL;
        }
      const PlPluginDesc *d = pl_plugin_engine_lookup (engine, slot_keys[i].slot, id);
      Choice c = { slot_keys[i].slot, g_strdup (id), plugin, g_strdup (d->version) };
      g_array_append_val (sel->choices, c);
    }

  /* options: every other key of a slot section goes to the plugin(s) of that
   * section that have it */
  const char * const *sections = pl_experiment_get_slot_sections ();
  for (int s = 0; sections[s]; s++)
    {
      g_auto (GStrv) keys = pl_experiment_get_slot_keys (exp, sections[s]);
      for (int k = 0; keys && keys[k]; k++)
        {
          if (is_selector_key (sections[s], keys[k]))
            continue;
          const char *value = pl_experiment_get_raw (exp, sections[s], keys[k]);
          g_autofree char *where = pl_experiment_get_location (exp, sections[s], keys[k]);
          g_autofree char *at = g_strdup_printf ("%s: [%s] %s", where, sections[s], keys[k]);
          gboolean taken = FALSE;
          GObject *first = NULL;
          const char *first_id = NULL;
          for (guint i = 0; i < G_N_ELEMENTS (slot_keys); i++)
            {
              if (!g_str_equal (slot_keys[i].section, sections[s]))
                continue;
              GObject *plugin = pl_plugin_selection_get (sel, slot_keys[i].slot);
              if (!plugin)
                continue;
              const char *pid = pl_plugin_selection_get_id (sel, slot_keys[i].slot);
              if (!first)
                first = plugin, first_id = pid;
              if (!has_option (plugin, keys[k]))
                continue;
              if (!pl_plugin_set_option (plugin, pid, keys[k], value, at, error))
                return NULL;
              taken = TRUE;
            }
          if (!taken)
            {
              if (!first)
                {
                  g_autofree char *selectors = NULL;
                  g_set_error (error, PL_ERROR, PL_ERROR_CONFIG,
                               "%s: no plugin is chosen in [%s]; name one with %s=ID",
                               at, sections[s],
                               g_str_equal (sections[s], "prune") ? "criterion=ID or schedule"
                                                                  : "plugin");
                  return NULL;
                }
              /* reports the unknown option with the first plugin's list */
              if (!pl_plugin_set_option (first, first_id, keys[k], value, at, error))
                return NULL;
            }
        }
    }

  GObject *gate = pl_plugin_selection_get (sel, PL_SLOT_GATE);
  if (gate)
    {
      sel->gate_hooks = (PlModelBuildHooks) { gate_declare, gate_wrap, NULL, NULL, gate };
      sel->hooks[sel->n_hooks++] = &sel->gate_hooks;
    }
  GObject *quant = pl_plugin_selection_get (sel, PL_SLOT_QUANT);
  if (quant)
    {
      sel->quant_hooks = (PlModelBuildHooks) { NULL, NULL, quant_weight, quant_input, quant };
      sel->hooks[sel->n_hooks++] = &sel->quant_hooks;
    }
  if (pl_plugin_selection_get (sel, PL_SLOT_PRUNE_CRITERION)
      && !pl_plugin_selection_get (sel, PL_SLOT_PRUNE_SCHEDULE))
    {
      g_autofree char *where = pl_experiment_get_location (exp, "prune", "criterion");
      g_set_error (error, PL_ERROR, PL_ERROR_CONFIG,
                   "%s: [prune] a criterion needs a schedule (schedule=one-shot, iterative, "
                   "agp or coarse-fine)", where);
      return NULL;
    }
  return g_steal_pointer (&sel);
}

/* ---- run hooks ------------------------------------------------------------- */

static void
prune_after_step (PlRun *run, gint64 step, gpointer ud)
{
  PlPluginSelection *sel = ud;
  GObject *sched = pl_plugin_selection_get (sel, PL_SLOT_PRUNE_SCHEDULE);
  g_autoptr (GError) error = NULL;
  if (!pl_pruning_schedule_update (PL_PRUNING_SCHEDULE (sched), sel->pruner, step,
                                   pl_run_get_total_steps (run), &error))
    pl_run_fail_soon (run, error->message);
}

static gboolean
prune_run_start (PlRun *run, gpointer ud, GError **error)
{
  PlPluginSelection *sel = ud;
  pl_pruner_report (sel->pruner);
  return TRUE;
}

/* the pruner's target (the largest sparsity pruned to) for a training state */
static gboolean
prune_save_state (PlRun *run, PlSafetensorsWriter *w, const char *prefix, gpointer ud,
                  GError **error)
{
  PlPluginSelection *sel = ud;
  double target = pl_pruner_get_target (sel->pruner);
  return pl_state_write_f64 (w, prefix, "target", &target, 1, error);
}

static gboolean
prune_load_state (PlRun *run, const PlSafetensors *st, const char *prefix, gpointer ud,
                  GError **error)
{
  PlPluginSelection *sel = ud;
  double target;
  if (!pl_state_read_f64 (st, prefix, "target", &target, 1, error))
    return FALSE;
  pl_pruner_set_target (sel->pruner, target);
  return TRUE;
}

static void
lr_after_backward (PlRun *run, gint64 step, gpointer ud)
{
  PlPluginSelection *sel = ud;
  GObject *pol = pl_plugin_selection_get (sel, PL_SLOT_LR_POLICY);
  pl_lr_policy_adjust (PL_LR_POLICY (pol), run,
                       pl_optimizer_get_lr_scale (pl_run_get_optimizer (run)), step);
}

gboolean
pl_plugin_selection_attach (PlPluginSelection *sel, PlRun *run, GError **error)
{
  GObject *sched = pl_plugin_selection_get (sel, PL_SLOT_PRUNE_SCHEDULE);
  if (sched)
    {
      GObject *crit = pl_plugin_selection_get (sel, PL_SLOT_PRUNE_CRITERION);
      sel->pruner = pl_pruner_new (run, crit ? PL_PRUNING_CRITERION (crit) : NULL);
      PlRunHooks h = { .name = "pruning", .run_start = prune_run_start,
                       .after_step = prune_after_step, .save_state = prune_save_state,
                       .load_state = prune_load_state };
      pl_run_add_hooks (run, &h, sel, NULL);
    }
  if (pl_plugin_selection_get (sel, PL_SLOT_LR_POLICY))
    {
      PlRunHooks h = { .name = "lr-policy", .after_backward = lr_after_backward };
      pl_run_add_hooks (run, &h, sel, NULL);
    }
  for (guint i = 0; i < sel->choices->len; i++)
    {
      Choice *c = &g_array_index (sel->choices, Choice, i);
      if (PL_IS_RUN_ADDIN (c->plugin))
        {
          g_autofree char *name = g_strdup_printf ("%s plugin %s", c->slot, c->id);
          pl_run_addin_attach_named (PL_RUN_ADDIN (c->plugin), run, name);
        }
      PlRunStore *store = pl_run_get_store (run);
      /* a resumed run recorded its plugins when it first started */
      if (store && pl_run_get_resume_step (run) < 0)
        {
          g_autofree char *opts = pl_plugin_options_to_json (c->plugin);
          if (!pl_run_store_add_plugin (store, pl_run_get_id (run), c->slot, c->id, c->version,
                                        opts, error))
            return FALSE;
        }
    }
  return TRUE;
}
