#include "pl-run-addin.h"

G_DEFINE_INTERFACE (PlRunAddin, pl_run_addin, G_TYPE_OBJECT)

static void
pl_run_addin_default_init (PlRunAddinInterface *iface)
{
}

#define IFACE(ud) PL_RUN_ADDIN_GET_IFACE (ud)

static gboolean
hook_run_start (PlRun *run, gpointer ud, GError **error)
{
  return IFACE (ud)->run_start (ud, run, error);
}

static void
hook_before_forward (PlRun *run, gint64 step, gpointer ud)
{
  IFACE (ud)->before_forward (ud, run, step);
}

static void
hook_after_backward (PlRun *run, gint64 step, gpointer ud)
{
  IFACE (ud)->after_backward (ud, run, step);
}

static void
hook_after_step (PlRun *run, gint64 step, gpointer ud)
{
  IFACE (ud)->after_step (ud, run, step);
}

static gboolean
hook_epoch_end (PlRun *run, int epoch, gpointer ud, GError **error)
{
  return IFACE (ud)->epoch_end (ud, run, epoch, error);
}

static gboolean
hook_export (PlRun *run, PlSafetensorsWriter *w, gpointer ud, GError **error)
{
  return IFACE (ud)->export (ud, run, w, error);
}

static gboolean
hook_save_state (PlRun *run, PlSafetensorsWriter *w, const char *prefix, gpointer ud,
                 GError **error)
{
  return IFACE (ud)->save_state (ud, run, w, prefix, error);
}

static gboolean
hook_load_state (PlRun *run, const PlSafetensors *st, const char *prefix, gpointer ud,
                 GError **error)
{
  return IFACE (ud)->load_state (ud, run, st, prefix, error);
}

gboolean
pl_run_addin_save_state (PlRunAddin *self, PlRun *run, PlSafetensorsWriter *writer,
                         const char *prefix, GError **error)
{
  g_return_val_if_fail (PL_IS_RUN_ADDIN (self), FALSE);
  g_return_val_if_fail (writer != NULL, FALSE);
  PlRunAddinInterface *iface = PL_RUN_ADDIN_GET_IFACE (self);
  return !iface->save_state || iface->save_state (self, run, writer, prefix, error);
}

gboolean
pl_run_addin_load_state (PlRunAddin *self, PlRun *run, const PlSafetensors *state,
                         const char *prefix, GError **error)
{
  g_return_val_if_fail (PL_IS_RUN_ADDIN (self), FALSE);
  g_return_val_if_fail (state != NULL, FALSE);
  PlRunAddinInterface *iface = PL_RUN_ADDIN_GET_IFACE (self);
  return !iface->load_state || iface->load_state (self, run, state, prefix, error);
}

void
pl_run_addin_attach (PlRunAddin *self, PlRun *run)
{
  pl_run_addin_attach_named (self, run, NULL);
}

void
pl_run_addin_attach_named (PlRunAddin *self, PlRun *run, const char *name)
{
  g_return_if_fail (PL_IS_RUN_ADDIN (self));
  PlRunAddinInterface *iface = PL_RUN_ADDIN_GET_IFACE (self);
  PlRunHooks hooks = {
    /* interned: hook names live as long as the process (a few per plugin id) */
    .name = name ? g_intern_string (name) : G_OBJECT_TYPE_NAME (self),
    .run_start = iface->run_start ? hook_run_start : NULL,
    .before_forward = iface->before_forward ? hook_before_forward : NULL,
    .after_backward = iface->after_backward ? hook_after_backward : NULL,
    .after_step = iface->after_step ? hook_after_step : NULL,
    .epoch_end = iface->epoch_end ? hook_epoch_end : NULL,
    .export = iface->export ? hook_export : NULL,
    .save_state = iface->save_state ? hook_save_state : NULL,
    .load_state = iface->load_state ? hook_load_state : NULL,
  };
  pl_run_add_hooks (run, &hooks, g_object_ref (self), g_object_unref);
}
