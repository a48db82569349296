/* pl-plugin-selection.h: the plugins an experiment chose, configured from its slot
 * sections, and their wiring into a run.
 *
 *   [dataset]  plugin=ID  options...
 *   [arch]     plugin=ID  options...
 *   [init]     plugin=ID  options...
 *   [gate]     plugin=ID  options...
 *   [prune]    criterion=ID schedule=ID  options of either
 *   [quant]    plugin=ID  options...
 *   [lr-policy] plugin=ID options...
 *
 * A bad plugin id or option is a PL_ERROR_CONFIG error naming the file line, the
 * plugin, the option and what is allowed. */
#pragma once

#include <glib-object.h>

#include "pl-dataset.h"
#include "pl-experiment.h"
#include "pl-model.h"
#include "pl-plugin-engine.h"

G_BEGIN_DECLS

typedef struct _PlRun PlRun;
typedef struct _PlPluginSelection PlPluginSelection;

/* (transfer full) */
PlPluginSelection *pl_plugin_selection_new  (PlPluginEngine *engine,
                                             const PlExperiment *exp, GError **error);
void               pl_plugin_selection_free (PlPluginSelection *sel);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PlPluginSelection, pl_plugin_selection_free)

/* The plugin chosen for @slot (a PL_SLOT_* name), or NULL. (transfer none) */
GObject   *pl_plugin_selection_get     (PlPluginSelection *sel, const char *slot);
const char *pl_plugin_selection_get_id (PlPluginSelection *sel, const char *slot);

/* Build hooks of the gate and quantizer plugins, for PlModelSpec. (transfer none) */
const PlModelBuildHooks *const *pl_plugin_selection_get_build_hooks (PlPluginSelection *sel,
                                                                     guint *n_hooks);

/* Installs the hooks of the chosen plugins into @run (pruning schedule, lr policy,
 * every PlRunAddin) and records the choices with their options in the run's store.
 * Called by pl_run_new_with_plugins(). */
gboolean   pl_plugin_selection_attach  (PlPluginSelection *sel, PlRun *run, GError **error);

G_END_DECLS
