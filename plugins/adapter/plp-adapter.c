/* adapter: the article's few-shot transfer (section 3.1, "基础参数冻结+任务层微调":
 * freeze the base parameters, fine-tune the task layer).
 *
 * The model is a pretrained MLP's base with a new task layer on top:
 *
 *   h_0 = x;  h_{k+1} = act (hidden.k (h_k))          k < n = len([model] hidden)
 *   adapter-width = 0:  logits = head (h_n)
 *   adapter-width = A:  logits = head (act (adapter.0 (h_n))),  adapter.0 [A, H_n]
 *
 * with PyTorch names and layouts as the built-in MLP (hidden.k.weight [H_k, H_k-1]),
 * so the base comes straight from an MLP checkpoint. hidden.* are group base and,
 * with freeze-base, frozen (the optimizer never touches them); adapter.0.* and head.*
 * are group task. Weights and layer inputs go through the build hooks
 * (pl_model_weight_tensor, pl_model_input_tensor), so quantizers apply to every
 * layer; gates apply to the base's hidden layers as in the MLP (their parameters
 * are group base and are taken from the checkpoint when it has them).
 *
 * [model] init-from is loaded by load_init_from, after the init plugin: every base
 * parameter must be in the file with the same shape; the file's head.* and
 * adapter.* are ignored, whatever their shape, and the task layer keeps its fresh
 * initialization. With freeze-base and no init-from the build fails (a frozen
 * random base is rarely what is meant).
 *
 * As a PlRunAddin it logs params/trainable and params/frozen at run start. */
#include <libpeas/peas.h>
#include <string.h>

#include "paramlab.h"

#define PLP_TYPE_ADAPTER (plp_adapter_get_type ())
G_DECLARE_FINAL_TYPE (PlpAdapter, plp_adapter, PLP, ADAPTER, GObject)

struct _PlpAdapter {
  GObject parent_instance;
  int adapter_width;
  gboolean freeze_base;
};

enum { PROP_0, PROP_ADAPTER_WIDTH, PROP_FREEZE_BASE, N_PROPS };

#define PARAM_FLAGS (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS)

static void plp_adapter_arch_init (PlArchitectureInterface *iface);
static void plp_adapter_addin_init (PlRunAddinInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (PlpAdapter, plp_adapter, G_TYPE_OBJECT, G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (PL_TYPE_ARCHITECTURE,
                                                               plp_adapter_arch_init)
                                G_IMPLEMENT_INTERFACE_DYNAMIC (PL_TYPE_RUN_ADDIN,
                                                               plp_adapter_addin_init))

static void
declare_linear (PlModel *m, const char *prefix, int out, int in, PlParamGroup group)
{
  g_autofree char *w = g_strdup_printf ("%s.weight", prefix);
  g_autofree char *b = g_strdup_printf ("%s.bias", prefix);
  pl_model_add_param (m, w, PL_PARAM_WEIGHT, group, PL_LAYER_DENSE, 2, (int[]) { out, in });
  pl_model_add_param (m, b, PL_PARAM_BIAS, group, PL_LAYER_DENSE, 1, (int[]) { out });
}

/* y = x W^T + b for the weight at index *pi and the bias after it, through the
 * build hooks */
static PlTensor *
linear (PlModel *m, PlGraph *g, guint *pi, PlTensor *x)
{
  PlParam *wp = pl_model_get_param (m, (*pi)++);
  PlTensor *w = pl_model_weight_tensor (m, g, wp);
  PlTensor *b = pl_model_param_tensor (m, g, pl_model_get_param (m, (*pi)++));
  return pl_graph_linear (g, pl_model_input_tensor (m, g, wp, x), w, b);
}

/* ---- PlArchitecture -------------------------------------------------------- */

/* The base hidden.k layers of [model] hidden, the optional adapter.0 layer and a
 * head for spec's classes, through the build hooks; default-initialized, the base
 * frozen with freeze-base. The pretrained values arrive in load_init_from. */
static PlModel *
adapter_build (PlArchitecture *arch, const PlExperiment *exp, const PlDataset *like,
               const PlModelSpec *spec, GError **error)
{
  PlpAdapter *self = PLP_ADAPTER (arch);
  int n_hidden = (int) exp->model.n_hidden;
  if (n_hidden < 1)
    {
      g_autofree char *where = pl_experiment_get_location (exp, "model", "hidden");
      g_set_error (error, PL_ERROR, PL_ERROR_CONFIG,
                   "%s: [arch] plugin=adapter: the base needs at least one hidden layer; set "
                   "[model] hidden to the pretrained MLP's widths", where);
      return NULL;
    }
  if (self->freeze_base && !exp->model.init_from_path)
    {
      g_autofree char *where = pl_experiment_get_location (exp, "arch", "plugin");
      g_set_error (error, PL_ERROR, PL_ERROR_CONFIG,
                   "%s: [arch] plugin=adapter: freeze-base = true needs a pretrained base in "
                   "[model] init-from (run the pretraining experiment, `paramlab-cli export "
                   "RUN --out base.safetensors`, then --set model.init-from=base.safetensors), "
                   "or set freeze-base = false to train the base too", where);
      return NULL;
    }
  if (spec->in_features <= 0 || spec->n_classes < 1 || spec->max_batch <= 0)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_SHAPE,
                   "[arch] plugin=adapter: needs input features, classes and a batch (got "
                   "%d features, %d classes, batch %d)", spec->in_features, spec->n_classes,
                   spec->max_batch);
      return NULL;
    }

  g_autoptr (PlModel) m = pl_model_new ("adapter", spec);
  /* index of each layer's weight: gates may declare parameters between layers */
  g_autofree guint *first = g_new (guint, n_hidden + 2);
  int in = spec->in_features;
  for (int k = 0; k < n_hidden; k++)
    {
      int width = exp->model.hidden[k];
      if (width <= 0)
        {
          g_autofree char *where = pl_experiment_get_location (exp, "model", "hidden");
          g_set_error (error, PL_ERROR, PL_ERROR_SHAPE,
                       "%s: [model] hidden: layer %d has width %d; widths must be positive",
                       where, k, width);
          return NULL;
        }
      first[k] = pl_model_get_n_params (m);
      g_autofree char *prefix = g_strdup_printf ("hidden.%d", k);
      declare_linear (m, prefix, width, in, PL_GROUP_BASE);
      pl_model_declare_units (m, k, width);
      in = width;
    }
  first[n_hidden] = pl_model_get_n_params (m);
  if (self->adapter_width > 0)
    {
      declare_linear (m, "adapter.0", self->adapter_width, in, PL_GROUP_TASK);
      in = self->adapter_width;
    }
  first[n_hidden + 1] = pl_model_get_n_params (m);
  declare_linear (m, "head", spec->n_classes, in, PL_GROUP_TASK);
  if (!pl_model_finalize_params (m, error))
    return NULL;

  PlGraph *g = pl_graph_new (spec->max_batch, spec->seed);
  PlTensor *input = pl_graph_input (g, "input", 1, (int[]) { spec->in_features });
  PlTensor *x = input;
  guint pi;
  for (int k = 0; k < n_hidden; k++)
    {
      pi = first[k];
      x = linear (m, g, &pi, x);
      x = pl_graph_activation (g, x, spec->activation);
      x = pl_model_wrap_units (m, g, k, x);
      if (spec->dropout > 0)
        x = pl_graph_dropout (g, x, spec->dropout);
    }
  if (self->adapter_width > 0)
    {
      pi = first[n_hidden];
      x = linear (m, g, &pi, x);
      x = pl_graph_activation (g, x, spec->activation);
      if (spec->dropout > 0)
        x = pl_graph_dropout (g, x, spec->dropout);
    }
  pi = first[n_hidden + 1];
  PlTensor *logits = linear (m, g, &pi, x);
  if (!pl_model_finish_graph (m, g, input, logits, error))
    return NULL;

  /* the engine leaves initialization to an arch plugin without an init plugin */
  pl_model_init_default (m, spec->seed);
  if (self->freeze_base)
    pl_model_freeze_group (m, PL_GROUP_BASE, TRUE);
  return g_steal_pointer (&m);
}

static PlLoadRule
base_rule (const PlParam *p, gpointer user_data)
{
  if (g_str_has_prefix (p->name, "head.") || g_str_has_prefix (p->name, "adapter."))
    return PL_LOAD_SKIP;
  /* gates are not part of a plain MLP checkpoint */
  if (p->group != PL_GROUP_BASE || p->kind == PL_PARAM_GATE)
    return PL_LOAD_IF_MATCHING;
  return PL_LOAD_REQUIRED;
}

/* "64, 32": the widths of the hidden.k.weight tensors of @path, or NULL */
static char *
file_widths (const char *path)
{
  g_autoptr (PlSafetensors) st = pl_safetensors_load (path, NULL);
  if (!st)
    return NULL;
  GString *s = g_string_new (NULL);
  for (int k = 0;; k++)
    {
      g_autofree char *name = g_strdup_printf ("hidden.%d.weight", k);
      const PlTensorInfo *t = pl_safetensors_lookup (st, name);
      if (!t || t->ndim != 2)
        break;
      g_string_append_printf (s, "%s%" G_GINT64_FORMAT, k ? ", " : "", t->shape[0]);
    }
  if (s->len == 0)
    {
      g_string_free (s, TRUE);
      return NULL;
    }
  return g_string_free (s, FALSE);
}

/* The base from @path; the head (and any adapter) of the file are not used. */
static gboolean
adapter_load_init_from (PlArchitecture *arch, PlModel *model, const char *path,
                        GError **error)
{
  static const char *const ignore[] = { "head.*", "adapter.*", NULL };
  GError *err = NULL;
  if (pl_model_load_safetensors_with_rules (model, path, base_rule, NULL, ignore, NULL, &err))
    return TRUE;
  g_autofree char *widths = NULL;
  if (err->domain == PL_ERROR && (err->code == PL_ERROR_SHAPE || err->code == PL_ERROR_NOT_FOUND)
      && (widths = file_widths (path)))
    {
      g_set_error (error, err->domain, err->code,
                   "%s; the checkpoint's base has hidden = %s: set [model] hidden = %s",
                   err->message, widths, widths);
      g_error_free (err);
      return FALSE;
    }
  g_propagate_error (error, err);
  return FALSE;
}

static void
plp_adapter_arch_init (PlArchitectureInterface *iface)
{
  iface->build = adapter_build;
  iface->load_init_from = adapter_load_init_from;
}

/* ---- PlRunAddin ------------------------------------------------------------ */

/* params/trainable (not frozen, not masked) and params/frozen, once */
static gboolean
adapter_run_start (PlRunAddin *addin, PlRun *run, GError **error)
{
  PlModel *m = pl_run_get_model (run);
  size_t frozen = 0;
  for (guint i = 0; i < pl_model_get_n_params (m); i++)
    {
      PlParam *p = pl_model_get_param (m, i);
      if (p->frozen)
        frozen += p->numel;
    }
  pl_run_log_metric (run, "params/trainable", (double) pl_model_count_trainable (m));
  pl_run_log_metric (run, "params/frozen", (double) frozen);
  return TRUE;
}

static void
plp_adapter_addin_init (PlRunAddinInterface *iface)
{
  iface->run_start = adapter_run_start;
}

/* ---- GObject --------------------------------------------------------------- */

static void
plp_adapter_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  PlpAdapter *self = PLP_ADAPTER (object);
  switch (id)
    {
    case PROP_ADAPTER_WIDTH: g_value_set_int (value, self->adapter_width); break;
    case PROP_FREEZE_BASE: g_value_set_boolean (value, self->freeze_base); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
plp_adapter_set_property (GObject *object, guint id, const GValue *value, GParamSpec *pspec)
{
  PlpAdapter *self = PLP_ADAPTER (object);
  switch (id)
    {
    case PROP_ADAPTER_WIDTH: self->adapter_width = g_value_get_int (value); break;
    case PROP_FREEZE_BASE: self->freeze_base = g_value_get_boolean (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
plp_adapter_class_init (PlpAdapterClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->get_property = plp_adapter_get_property;
  object_class->set_property = plp_adapter_set_property;
  g_object_class_install_property (object_class, PROP_ADAPTER_WIDTH,
    g_param_spec_int ("adapter-width", "Adapter width",
                      "Units of the trainable bottleneck layer adapter.0 between the base "
                      "and the new head; 0: only a new head on the base's features",
                      0, 65536, 0, PARAM_FLAGS));
  g_object_class_install_property (object_class, PROP_FREEZE_BASE,
    g_param_spec_boolean ("freeze-base", "Freeze base",
                          "Keep the pretrained hidden layers fixed (only the task layer "
                          "trains); false fine-tunes them too", TRUE, PARAM_FLAGS));
}

static void
plp_adapter_class_finalize (PlpAdapterClass *klass)
{
}

static void
plp_adapter_init (PlpAdapter *self)
{
  self->adapter_width = 0;
  self->freeze_base = TRUE;
}

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  plp_adapter_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, PL_TYPE_ARCHITECTURE, PLP_TYPE_ADAPTER);
}
