/* pl-run-addin.h: hook points of a run, for plugins.
 *
 * A plugin object of any slot may also implement PlRunAddin to act during the run.
 * The engine calls these on the training thread, in this order (docs/plugins.md):
 * run_start once; then per step before_forward, [forward, backward],
 * after_backward, [optimizer step], after_step; epoch_end after each evaluation;
 * export when a checkpoint is exported. Every vfunc is optional. */
#pragma once

#include <glib-object.h>

#include "pl-engine.h"
#include "pl-safetensors.h"

G_BEGIN_DECLS

#define PL_TYPE_RUN_ADDIN (pl_run_addin_get_type ())
G_DECLARE_INTERFACE (PlRunAddin, pl_run_addin, PL, RUN_ADDIN, GObject)

struct _PlRunAddinInterface
{
  GTypeInterface parent_iface;

  gboolean (*run_start)      (PlRunAddin *self, PlRun *run, GError **error);
  void     (*before_forward) (PlRunAddin *self, PlRun *run, gint64 step);
  void     (*after_backward) (PlRunAddin *self, PlRun *run, gint64 step);
  void     (*after_step)     (PlRunAddin *self, PlRun *run, gint64 step);
  gboolean (*epoch_end)      (PlRunAddin *self, PlRun *run, int epoch, GError **error);
  /* add tensors or metadata to an exported checkpoint */
  gboolean (*export)         (PlRunAddin *self, PlRun *run, PlSafetensorsWriter *writer,
                              GError **error);
  /* State that changes during training (statistics, observers, switched-off
   * units), as tensors named @prefix + name in a training-state checkpoint
   * (pl-run-state.h). load_state runs after run_start when a run resumes and
   * must leave the plugin as it was when save_state ran. Plugins whose state is
   * all in the model's parameters and masks leave both NULL. */
  gboolean (*save_state)     (PlRunAddin *self, PlRun *run, PlSafetensorsWriter *writer,
                              const char *prefix, GError **error);
  gboolean (*load_state)     (PlRunAddin *self, PlRun *run, const PlSafetensors *state,
                              const char *prefix, GError **error);
};

/* Installs @self's vfuncs as hooks of @run (the run keeps a reference). */
void pl_run_addin_attach (PlRunAddin *self, PlRun *run);
/* The same, with @name (e.g. "init plugin xavier"; NULL: the type name) leading
 * the message of a hook's error, so that a failed run says which plugin failed. */
void pl_run_addin_attach_named (PlRunAddin *self, PlRun *run, const char *name);

/* The vfuncs, or TRUE doing nothing when the plugin has none. */
gboolean pl_run_addin_save_state (PlRunAddin *self, PlRun *run, PlSafetensorsWriter *writer,
                                  const char *prefix, GError **error);
gboolean pl_run_addin_load_state (PlRunAddin *self, PlRun *run, const PlSafetensors *state,
                                  const char *prefix, GError **error);

G_END_DECLS
