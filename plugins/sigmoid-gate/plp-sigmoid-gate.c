/* sigmoid-gate: the article's dynamic sparsity gate, P(a_i) = sigmoid(W_g h_i + b_g),
 * one learned gate per hidden unit that multiplies the unit's output
 * (plp-sigmoid-gate-op.h has the maths).
 *
 * Gates start at sigmoid(init-bias) (w_g = 0, b_g = init-bias) when the run starts.
 *
 * Switching off. After every optimizer step the mean gate of each live unit over
 * the step's batch is folded into a running mean (decay `ema-decay`). Once
 * `warmup-steps` updates are done (and until `end-step`, after which the pressure
 * stops too), a unit whose running mean is under `threshold` is switched off for
 * good, lowest first, as long as more than `min-active` units of its layer are
 * on. A switched-off unit outputs exactly zero at train and eval time (the op's
 * hard mask), and the row of the layer's weight and bias that computes it, the
 * column of the next layer's weight that reads it and its own gate parameters
 * are masked to zero. So checkpoints carry switched-off units as zeros (no extra
 * tensor), and a run that starts from such a checkpoint (`[model] init-from`)
 * starts with those units off.
 *
 * Reports at run start, after every epoch, after a step that switched units off
 * and after the last step: gate/active (fraction of units
 * on), gate/active/hidden.{k} per layer, gate/mean (mean running gate of the live
 * units), gate/effective_params (parameters still connected to live units) and
 * gate/effective_fraction (that over the parameter count of the same model
 * without gates). */
#include <libpeas/peas.h>
#include <math.h>

#include "paramlab.h"
#include "plp-sigmoid-gate-op.h"

#define PLP_TYPE_SIGMOID_GATE (plp_sigmoid_gate_get_type ())
G_DECLARE_FINAL_TYPE (PlpSigmoidGate, plp_sigmoid_gate, PLP, SIGMOID_GATE, GObject)

struct _PlpSigmoidGate {
  GObject parent_instance;
  double pressure;
  double threshold;
  gint64 warmup_steps;
  gint64 end_step;
  int min_active;
  double ema_decay;
  double init_bias;

  PlModel *model;         /* the model the layers were declared in (not owned) */
  GPtrArray *layers;      /* PlpGateLayer*, owned, in layer order */
  GPtrArray *layer_keys;  /* "gate/active/hidden.{k}" per layer */
};

enum {
  PROP_0,
  PROP_PRESSURE,
  PROP_THRESHOLD,
  PROP_WARMUP_STEPS,
  PROP_END_STEP,
  PROP_MIN_ACTIVE,
  PROP_EMA_DECAY,
  PROP_INIT_BIAS,
  N_PROPS
};

static void plp_sigmoid_gate_gate_iface_init (PlSparsityGateInterface *iface);
static void plp_sigmoid_gate_addin_iface_init (PlRunAddinInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (PlpSigmoidGate, plp_sigmoid_gate, G_TYPE_OBJECT,
                                G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (PL_TYPE_SPARSITY_GATE,
                                                               plp_sigmoid_gate_gate_iface_init)
                                G_IMPLEMENT_INTERFACE_DYNAMIC (PL_TYPE_RUN_ADDIN,
                                                               plp_sigmoid_gate_addin_iface_init))

/* ---- building ---------------------------------------------------------------- */

static PlpGateLayer *
find_layer (PlpSigmoidGate *self, int layer)
{
  for (guint i = 0; i < self->layers->len; i++)
    {
      PlpGateLayer *l = g_ptr_array_index (self->layers, i);
      if (l->layer == layer)
        return l;
    }
  return NULL;
}

static void
gate_declare_units (PlSparsityGate *gate, PlModel *model, int layer, int width)
{
  PlpSigmoidGate *self = PLP_SIGMOID_GATE (gate);
  /* a new model: forget the layers of the last one */
  if (model != self->model)
    {
      g_ptr_array_set_size (self->layers, 0);
      g_ptr_array_set_size (self->layer_keys, 0);
      self->model = model;
    }
  g_return_if_fail (find_layer (self, layer) == NULL);
  g_ptr_array_add (self->layers, plp_gate_layer_new (model, layer, width));
  g_ptr_array_add (self->layer_keys, g_strdup_printf ("gate/active/hidden.%d", layer));
}

static PlTensor *
gate_wrap_units (PlSparsityGate *gate, PlModel *model, PlGraph *graph, int layer, PlTensor *h)
{
  PlpSigmoidGate *self = PLP_SIGMOID_GATE (gate);
  PlpGateLayer *l = model == self->model ? find_layer (self, layer) : NULL;
  g_return_val_if_fail (l != NULL, h);
  l->pressure = (float) self->pressure;
  return plp_gate_layer_wrap (l, model, graph, h);
}

static void
plp_sigmoid_gate_gate_iface_init (PlSparsityGateInterface *iface)
{
  iface->declare_units = gate_declare_units;
  iface->wrap_units = gate_wrap_units;
}

/* ---- the run ----------------------------------------------------------------- */

static void
report (PlpSigmoidGate *self, PlRun *run)
{
  PlModel *m = self->model;
  int units = 0, alive = 0, live_sum_n = 0;
  double gate_sum = 0;
  for (guint k = 0; k < self->layers->len; k++)
    {
      PlpGateLayer *l = g_ptr_array_index (self->layers, k);
      int a = plp_gate_layer_count_alive (l);
      units += l->width;
      alive += a;
      pl_run_log_metric (run, g_ptr_array_index (self->layer_keys, k),
                         (double) a / l->width);
      for (int i = 0; i < l->width; i++)
        if (l->alive[i] != 0.0f)
          {
            /* before the first step: the gate of a zero input */
            gate_sum += l->running_set ? l->running[i]
                                       : 1.0 / (1.0 + exp (-(double) l->gate_b->data[i]));
            live_sum_n++;
          }
    }
  size_t dense = 0;
  for (guint i = 0; i < pl_model_get_n_params (m); i++)
    {
      PlParam *p = pl_model_get_param (m, i);
      if (p->kind != PL_PARAM_GATE)
        dense += p->numel;
    }
  size_t effective = plp_gate_count_effective (m, (PlpGateLayer *const *) self->layers->pdata,
                                               self->layers->len);
  pl_run_log_metric (run, "gate/active", units ? (double) alive / units : 0.0);
  pl_run_log_metric (run, "gate/mean", live_sum_n ? gate_sum / live_sum_n : 0.0);
  pl_run_log_metric (run, "gate/effective_params", (double) effective);
  pl_run_log_metric (run, "gate/effective_fraction", dense ? (double) effective / dense : 0.0);
}

static gboolean
gate_run_start (PlRunAddin *addin, PlRun *run, GError **error)
{
  PlpSigmoidGate *self = PLP_SIGMOID_GATE (addin);
  PlModel *m = pl_run_get_model (run);
  if (self->layers->len == 0 || m != self->model)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_CONFIG,
                   "[gate] plugin=sigmoid-gate: the %s model has no hidden layers that "
                   "take gates (gates wrap the hidden units of an mlp; use [model] "
                   "architecture = mlp with at least one hidden layer)",
                   pl_model_get_architecture (m));
      return FALSE;
    }
  const PlExperiment *exp = pl_run_get_experiment (run);
  for (guint k = 0; k < self->layers->len; k++)
    {
      PlpGateLayer *l = g_ptr_array_index (self->layers, k);
      l->pressure = (float) self->pressure;
      /* a checkpoint brings its own gates and its switched-off units */
      if (exp->model.init_from_path)
        plp_gate_layer_restore (l, m);
      else
        plp_gate_layer_reset (l, (float) self->init_bias);
    }
  report (self, run);
  return TRUE;
}

/* @step is the index of the step just made: step + 1 updates are done */
static void
gate_after_step (PlRunAddin *addin, PlRun *run, gint64 step)
{
  PlpSigmoidGate *self = PLP_SIGMOID_GATE (addin);
  gboolean ended = self->end_step >= 0 && step + 1 >= self->end_step;
  gboolean may_switch = step + 1 >= self->warmup_steps && !ended;
  gboolean changed = FALSE;
  for (guint k = 0; k < self->layers->len; k++)
    {
      PlpGateLayer *l = g_ptr_array_index (self->layers, k);
      if (ended)
        l->pressure = 0.0f;
      if (!plp_gate_layer_fold (l, self->ema_decay) || !may_switch)
        continue;
      /* the lowest running gate goes first, while it is under the threshold and
       * more than min-active units are on */
      for (int alive = plp_gate_layer_count_alive (l); alive > self->min_active; alive--)
        {
          int lowest = -1;
          for (int i = 0; i < l->width; i++)
            if (l->alive[i] != 0.0f && (lowest < 0 || l->running[i] < l->running[lowest]))
              lowest = i;
          if (l->running[lowest] >= self->threshold)
            break;
          plp_gate_layer_switch_off (l, self->model, lowest);
          changed = TRUE;
        }
    }
  /* live curves move when units go; the last step's values reach the last
   * metrics event (epoch_end reports after the epoch's events) */
  if (changed || step + 1 == pl_run_get_total_steps (run))
    report (self, run);
}

static gboolean
gate_epoch_end (PlRunAddin *addin, PlRun *run, int epoch, GError **error)
{
  report (PLP_SIGMOID_GATE (addin), run);
  return TRUE;
}

/* Per layer k: hidden.{k}.alive (F32 [W]), .running (F64 [W]), .batch_sum
 * (F32 [W]) and .misc (F64 [3]: running_set, batch_rows, pressure). */
static gboolean
gate_save_state (PlRunAddin *addin, PlRun *run, PlSafetensorsWriter *writer,
                 const char *prefix, GError **error)
{
  PlpSigmoidGate *self = PLP_SIGMOID_GATE (addin);
  for (guint k = 0; k < self->layers->len; k++)
    {
      PlpGateLayer *l = g_ptr_array_index (self->layers, k);
      g_autofree char *p = g_strdup_printf ("%shidden.%d.", prefix, l->layer);
      double misc[3] = { l->running_set, l->batch_rows, l->pressure };
      if (!pl_state_write_f32 (writer, p, "alive", l->alive, l->width, error)
          || !pl_state_write_f64 (writer, p, "running", l->running, l->width, error)
          || !pl_state_write_f32 (writer, p, "batch_sum", l->batch_sum, l->width, error)
          || !pl_state_write_f64 (writer, p, "misc", misc, 3, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
gate_load_state (PlRunAddin *addin, PlRun *run, const PlSafetensors *state,
                 const char *prefix, GError **error)
{
  PlpSigmoidGate *self = PLP_SIGMOID_GATE (addin);
  for (guint k = 0; k < self->layers->len; k++)
    {
      PlpGateLayer *l = g_ptr_array_index (self->layers, k);
      g_autofree char *p = g_strdup_printf ("%shidden.%d.", prefix, l->layer);
      double misc[3];
      if (!pl_state_read_f32 (state, p, "alive", l->alive, l->width, error)
          || !pl_state_read_f64 (state, p, "running", l->running, l->width, error)
          || !pl_state_read_f32 (state, p, "batch_sum", l->batch_sum, l->width, error)
          || !pl_state_read_f64 (state, p, "misc", misc, 3, error))
        return FALSE;
      l->running_set = misc[0] != 0;
      l->batch_rows = (int) misc[1];
      l->pressure = (float) misc[2];
    }
  return TRUE;
}

static void
plp_sigmoid_gate_addin_iface_init (PlRunAddinInterface *iface)
{
  iface->run_start = gate_run_start;
  iface->after_step = gate_after_step;
  iface->epoch_end = gate_epoch_end;
  iface->save_state = gate_save_state;
  iface->load_state = gate_load_state;
}

/* ---- GObject ----------------------------------------------------------------- */

static void
plp_sigmoid_gate_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  PlpSigmoidGate *self = PLP_SIGMOID_GATE (object);
  switch (id)
    {
    case PROP_PRESSURE:
      g_value_set_double (value, self->pressure);
      break;
    case PROP_THRESHOLD:
      g_value_set_double (value, self->threshold);
      break;
    case PROP_WARMUP_STEPS:
      g_value_set_int64 (value, self->warmup_steps);
      break;
    case PROP_END_STEP:
      g_value_set_int64 (value, self->end_step);
      break;
    case PROP_MIN_ACTIVE:
      g_value_set_int (value, self->min_active);
      break;
    case PROP_EMA_DECAY:
      g_value_set_double (value, self->ema_decay);
      break;
    case PROP_INIT_BIAS:
      g_value_set_double (value, self->init_bias);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
plp_sigmoid_gate_set_property (GObject *object, guint id, const GValue *value,
                               GParamSpec *pspec)
{
  PlpSigmoidGate *self = PLP_SIGMOID_GATE (object);
  switch (id)
    {
    case PROP_PRESSURE:
      self->pressure = g_value_get_double (value);
      break;
    case PROP_THRESHOLD:
      self->threshold = g_value_get_double (value);
      break;
    case PROP_WARMUP_STEPS:
      self->warmup_steps = g_value_get_int64 (value);
      break;
    case PROP_END_STEP:
      self->end_step = g_value_get_int64 (value);
      break;
    case PROP_MIN_ACTIVE:
      self->min_active = g_value_get_int (value);
      break;
    case PROP_EMA_DECAY:
      self->ema_decay = g_value_get_double (value);
      break;
    case PROP_INIT_BIAS:
      self->init_bias = g_value_get_double (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
plp_sigmoid_gate_finalize (GObject *object)
{
  PlpSigmoidGate *self = PLP_SIGMOID_GATE (object);
  g_ptr_array_unref (self->layers);
  g_ptr_array_unref (self->layer_keys);
  G_OBJECT_CLASS (plp_sigmoid_gate_parent_class)->finalize (object);
}

static void
plp_sigmoid_gate_class_init (PlpSigmoidGateClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->get_property = plp_sigmoid_gate_get_property;
  object_class->set_property = plp_sigmoid_gate_set_property;
  object_class->finalize = plp_sigmoid_gate_finalize;
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;
  g_object_class_install_property (object_class, PROP_PRESSURE,
    g_param_spec_double ("pressure", "Sparsity pressure",
                         "Weight of the L1 penalty on each layer's mean gate value, "
                         "pressure * mean(g), added to the loss's gradients",
                         0.0, 1000.0, 1.0, flags));
  g_object_class_install_property (object_class, PROP_THRESHOLD,
    g_param_spec_double ("threshold", "Threshold",
                         "A unit whose running mean gate falls under this is switched off "
                         "for good (its output is zero at train and eval time)",
                         0.0, 1.0, 0.7, flags));
  g_object_class_install_property (object_class, PROP_WARMUP_STEPS,
    g_param_spec_int64 ("warmup-steps", "Warmup steps",
                        "Optimizer steps before units may be switched off",
                        0, 100000000, 200, flags));
  g_object_class_install_property (object_class, PROP_END_STEP,
    g_param_spec_int64 ("end-step", "End step",
                        "After this many optimizer steps the pressure stops and no unit is "
                        "switched off any more: the rest of the run fine-tunes the live "
                        "units (-1: pressure and switching to the end)",
                        -1, 100000000, -1, flags));
  g_object_class_install_property (object_class, PROP_MIN_ACTIVE,
    g_param_spec_int ("min-active", "Minimum live units",
                      "Units per layer that stay on whatever their gate (those with the "
                      "highest running gate), so that no layer disconnects the network",
                      0, 1000000, 1, flags));
  g_object_class_install_property (object_class, PROP_EMA_DECAY,
    g_param_spec_double ("ema-decay", "Running-mean decay",
                         "Decay of the running mean of each unit's batch-mean gate "
                         "(0: the last batch only)",
                         0.0, 0.9999, 0.9, flags));
  g_object_class_install_property (object_class, PROP_INIT_BIAS,
    g_param_spec_double ("init-bias", "Initial gate bias",
                         "b_g at the start (w_g starts at 0): every gate starts at "
                         "sigmoid(init-bias)",
                         -20.0, 20.0, 2.0, flags));
}

static void
plp_sigmoid_gate_class_finalize (PlpSigmoidGateClass *klass)
{
}

static void
plp_sigmoid_gate_init (PlpSigmoidGate *self)
{
  self->pressure = 1.0;
  self->threshold = 0.7;
  self->warmup_steps = 200;
  self->end_step = -1;
  self->min_active = 1;
  self->ema_decay = 0.9;
  self->init_bias = 2.0;
  self->layers = g_ptr_array_new_with_free_func ((GDestroyNotify) plp_gate_layer_free);
  self->layer_keys = g_ptr_array_new_with_free_func (g_free);
}

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  plp_sigmoid_gate_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, PL_TYPE_SPARSITY_GATE,
                                              PLP_TYPE_SIGMOID_GATE);
}
