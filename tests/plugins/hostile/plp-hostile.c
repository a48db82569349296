/* hostile: a test-only init plugin that fails or crashes on request (issue 6).
 *
 * Option fail-in names a hook that reports an error ("init", "run-start",
 * "epoch-end", "export", or "after-step" through pl_run_fail_soon); crash-in
 * names one that raises SIGSEGV ("init", "run-start", "after-step",
 * "epoch-end"). Otherwise it is the default initialization. Never installed. */
#include <libpeas/peas.h>
#include <signal.h>

#include "paramlab.h"

#define PLP_TYPE_HOSTILE (plp_hostile_get_type ())
G_DECLARE_FINAL_TYPE (PlpHostile, plp_hostile, PLP, HOSTILE, GObject)

struct _PlpHostile {
  GObject parent_instance;
  char *fail_in;
  char *crash_in;
};

enum { PROP_0, PROP_FAIL_IN, PROP_CRASH_IN, N_PROPS };

static void plp_hostile_init_iface (PlInitStrategyInterface *iface);
static void plp_hostile_addin_iface (PlRunAddinInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (PlpHostile, plp_hostile, G_TYPE_OBJECT, G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (PL_TYPE_INIT_STRATEGY,
                                                               plp_hostile_init_iface)
                                G_IMPLEMENT_INTERFACE_DYNAMIC (PL_TYPE_RUN_ADDIN,
                                                               plp_hostile_addin_iface))

/* TRUE (with error set) when asked to fail in @hook; crashes when asked to. */
static gboolean
misbehave (PlpHostile *self, const char *hook, GError **error)
{
  if (g_strcmp0 (self->crash_in, hook) == 0)
    raise (SIGSEGV);
  if (g_strcmp0 (self->fail_in, hook) == 0)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_PLUGIN, "hostile: asked to fail in %s", hook);
      return TRUE;
    }
  return FALSE;
}

static gboolean
hostile_init_model (PlInitStrategy *strategy, PlModel *model, guint64 seed, GError **error)
{
  if (misbehave (PLP_HOSTILE (strategy), "init", error))
    return FALSE;
  pl_model_init_default (model, seed);
  return TRUE;
}

static gboolean
hostile_run_start (PlRunAddin *addin, PlRun *run, GError **error)
{
  return !misbehave (PLP_HOSTILE (addin), "run-start", error);
}

static void
hostile_after_step (PlRunAddin *addin, PlRun *run, gint64 step)
{
  g_autoptr (GError) error = NULL;
  if (step >= 2 && misbehave (PLP_HOSTILE (addin), "after-step", &error))
    pl_run_fail_soon (run, error->message);
}

static gboolean
hostile_epoch_end (PlRunAddin *addin, PlRun *run, int epoch, GError **error)
{
  return !misbehave (PLP_HOSTILE (addin), "epoch-end", error);
}

static gboolean
hostile_export (PlRunAddin *addin, PlRun *run, PlSafetensorsWriter *writer, GError **error)
{
  return !misbehave (PLP_HOSTILE (addin), "export", error);
}

static void
plp_hostile_init_iface (PlInitStrategyInterface *iface)
{
  iface->init_model = hostile_init_model;
}

static void
plp_hostile_addin_iface (PlRunAddinInterface *iface)
{
  iface->run_start = hostile_run_start;
  iface->after_step = hostile_after_step;
  iface->epoch_end = hostile_epoch_end;
  iface->export = hostile_export;
}

static void
plp_hostile_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  PlpHostile *self = PLP_HOSTILE (object);
  switch (id)
    {
    case PROP_FAIL_IN:
      g_value_set_string (value, self->fail_in);
      break;
    case PROP_CRASH_IN:
      g_value_set_string (value, self->crash_in);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
plp_hostile_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  PlpHostile *self = PLP_HOSTILE (object);
  switch (id)
    {
    case PROP_FAIL_IN:
      g_free (self->fail_in);
      self->fail_in = g_value_dup_string (value);
      break;
    case PROP_CRASH_IN:
      g_free (self->crash_in);
      self->crash_in = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
plp_hostile_finalize (GObject *object)
{
  PlpHostile *self = PLP_HOSTILE (object);
  g_free (self->fail_in);
  g_free (self->crash_in);
  G_OBJECT_CLASS (plp_hostile_parent_class)->finalize (object);
}

static void
plp_hostile_class_init (PlpHostileClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->get_property = plp_hostile_get_property;
  object_class->set_property = plp_hostile_set_property;
  object_class->finalize = plp_hostile_finalize;
  g_object_class_install_property (object_class, PROP_FAIL_IN,
    g_param_spec_string ("fail-in", "Fail in", "The hook that reports an error", "",
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (object_class, PROP_CRASH_IN,
    g_param_spec_string ("crash-in", "Crash in", "The hook that raises SIGSEGV", "",
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
}

static void
plp_hostile_class_finalize (PlpHostileClass *klass)
{
}

static void
plp_hostile_init (PlpHostile *self)
{
  self->fail_in = g_strdup ("");
  self->crash_in = g_strdup ("");
}

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  plp_hostile_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, PL_TYPE_INIT_STRATEGY, PLP_TYPE_HOSTILE);
}
