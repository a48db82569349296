/* variance-adaptive: the article's per-parameter learning rates from gradient
 * statistics (section 2.2):
 *
 *   if var_grad < threshold: lr *= 0.9  else: lr *= 1.1
 *
 * For every element i of a trainable parameter, after each backward pass, the
 * running mean and variance of its gradient g move by exponential averaging
 * (West/Finch's incremental form; the first gradient sets m = g, v = 0):
 *
 *   d = g - m;   m += (1 - beta) d;   v = beta (v + (1 - beta) d^2)
 *
 * Every `interval` steps (once at least two gradients were seen) the element's
 * rate scale s_i (the optimizer's per-element multiplier of the schedule's rate)
 * becomes
 *
 *   s_i = clamp (s_i * (v_i < T ? shrink : grow), min-scale, max-scale)
 *
 * where T = threshold (threshold-mode absolute) or threshold * the median of the v_i
 * over trainable elements (threshold-mode median). With granularity tensor, v of a
 * tensor is the mean of its elements' v and all its elements share one scale.
 * Frozen parameters and pruned (masked) elements are left alone.
 *
 * At every rule application it logs lr/min, lr/median and lr/max (lr(t) * s_i over
 * trainable elements), lr/<param> (the median rate of each trainable tensor, to see
 * which layers the rule speeds up), lr/grad_var_median and lr/grown_fraction. The
 * statistics and a scratch buffer for the medians are allocated once, at run start
 * (or on the first adjust when called outside a run); adjust never allocates. */
#include <libpeas/peas.h>
#include <math.h>
#include <string.h>

#include "paramlab.h"

typedef enum {
  PLP_VARIANCE_ADAPTIVE_ELEMENT,
  PLP_VARIANCE_ADAPTIVE_TENSOR,
} PlpVarianceAdaptiveGranularity;

typedef enum {
  PLP_VARIANCE_ADAPTIVE_ABSOLUTE,
  PLP_VARIANCE_ADAPTIVE_MEDIAN,
} PlpVarianceAdaptiveThresholdMode;

static const GEnumValue granularity_values[] = {
  { PLP_VARIANCE_ADAPTIVE_ELEMENT, "PLP_VARIANCE_ADAPTIVE_ELEMENT", "element" },
  { PLP_VARIANCE_ADAPTIVE_TENSOR, "PLP_VARIANCE_ADAPTIVE_TENSOR", "tensor" },
  { 0, NULL, NULL },
};
static const GEnumValue threshold_mode_values[] = {
  { PLP_VARIANCE_ADAPTIVE_ABSOLUTE, "PLP_VARIANCE_ADAPTIVE_ABSOLUTE", "absolute" },
  { PLP_VARIANCE_ADAPTIVE_MEDIAN, "PLP_VARIANCE_ADAPTIVE_MEDIAN", "median" },
  { 0, NULL, NULL },
};

static GType granularity_type, threshold_mode_type;

#define PLP_TYPE_VARIANCE_ADAPTIVE (plp_variance_adaptive_get_type ())
G_DECLARE_FINAL_TYPE (PlpVarianceAdaptive, plp_variance_adaptive, PLP, VARIANCE_ADAPTIVE,
                      GObject)

struct _PlpVarianceAdaptive {
  GObject parent_instance;
  double beta;
  int interval;
  double threshold;
  PlpVarianceAdaptiveThresholdMode threshold_mode;
  double shrink, grow;
  double min_scale, max_scale;
  PlpVarianceAdaptiveGranularity granularity;

  /* state of the current model */
  PlModel *model;        /* not owned */
  size_t n;              /* floats in its parameter block */
  float *mean, *var;     /* [n], one allocation with scratch */
  float *scratch;        /* [n] for medians */
  float *tensor_var;     /* [n_params] */
  char **tensor_keys;    /* [n_params + 1] "lr/<name>", NULL-terminated */
  gint64 n_obs;          /* gradients folded in since the state was set up */
};

enum {
  PROP_0,
  PROP_BETA,
  PROP_INTERVAL,
  PROP_THRESHOLD,
  PROP_THRESHOLD_MODE,
  PROP_SHRINK,
  PROP_GROW,
  PROP_MIN_SCALE,
  PROP_MAX_SCALE,
  PROP_GRANULARITY,
  N_PROPS
};

#define PARAM_FLAGS (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS)

static void plp_variance_adaptive_policy_init (PlLrPolicyInterface *iface);
static void plp_variance_adaptive_addin_init (PlRunAddinInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (PlpVarianceAdaptive, plp_variance_adaptive, G_TYPE_OBJECT,
                                G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (PL_TYPE_LR_POLICY,
                                                               plp_variance_adaptive_policy_init)
                                G_IMPLEMENT_INTERFACE_DYNAMIC (PL_TYPE_RUN_ADDIN,
                                                               plp_variance_adaptive_addin_init))

/* ---- statistics ------------------------------------------------------------ */

static void
state_clear (PlpVarianceAdaptive *self)
{
  g_clear_pointer (&self->mean, g_free);
  g_clear_pointer (&self->tensor_var, g_free);
  g_clear_pointer (&self->tensor_keys, g_strfreev);
  self->var = self->scratch = NULL;
  self->model = NULL;
  self->n = 0;
  self->n_obs = 0;
}

/* (Re)allocates the statistics for @model; a no-op when they already belong to it. */
static void
state_ensure (PlpVarianceAdaptive *self, PlModel *model)
{
  size_t n = pl_model_get_n_floats (model);
  if (self->model == model && self->n == n && self->mean)
    return;
  state_clear (self);
  self->model = model;
  self->n = n;
  self->mean = g_new0 (float, 3 * MAX (n, 1));
  self->var = self->mean + n;
  self->scratch = self->var + n;
  guint np = pl_model_get_n_params (model);
  self->tensor_var = g_new0 (float, MAX (np, 1));
  self->tensor_keys = g_new0 (char *, np + 1);
  for (guint i = 0; i < np; i++)
    self->tensor_keys[i] = g_strconcat ("lr/", pl_model_get_param (model, i)->name, NULL);
}

static gboolean
trainable_at (const PlParam *p, size_t j)
{
  return !p->mask || p->mask[j] != 0.0f;
}

/* k-th smallest of x[0..n) (0-based), reordering x so that x[0..k) <= x[k] <=
 * x[k+1..n) (Wirth's selection); expected O(n), no allocation. */
static float
select_kth (float *x, size_t n, size_t k)
{
  gssize lo = 0, hi = (gssize) n - 1, kk = (gssize) k;
  while (lo < hi)
    {
      float pivot = x[kk];
      gssize i = lo, j = hi;
      do
        {
          while (x[i] < pivot)
            i++;
          while (pivot < x[j])
            j--;
          if (i <= j)
            {
              float t = x[i];
              x[i] = x[j];
              x[j] = t;
              i++;
              j--;
            }
        }
      while (i <= j);
      if (j < kk)
        lo = i;
      if (kk < i)
        hi = j;
    }
  return x[kk];
}

/* The median of x[0..n) (mean of the two middle values for even n); reorders x. */
static double
median (float *x, size_t n)
{
  if (n == 0)
    return NAN;
  size_t k = n / 2;
  float hi = select_kth (x, n, k);
  if (n % 2)
    return hi;
  /* after selection x[0..k) holds the k smallest; the largest of them is the other
   * middle value */
  float lo = x[0];
  for (size_t i = 1; i < k; i++)
    lo = MAX (lo, x[i]);
  return 0.5 * ((double) lo + (double) hi);
}

/* Folds this step's gradients of the trainable parameters into the running mean and
 * variance (the first gradient sets m = g, v = 0). */
static void
fold_gradients (PlpVarianceAdaptive *self, PlModel *m)
{
  const float b = (float) self->beta, a = 1.0f - b;
  gboolean first = self->n_obs == 0;
  for (guint i = 0; i < pl_model_get_n_params (m); i++)
    {
      PlParam *p = pl_model_get_param (m, i);
      if (p->frozen)
        continue;
      float *mean = self->mean + p->offset, *var = self->var + p->offset;
      const float *g = p->grad;
      if (first)
        {
          memcpy (mean, g, p->numel * sizeof (float));
          memset (var, 0, p->numel * sizeof (float));
          continue;
        }
      /* d = g - m; m += (1 - beta) d; v = beta (v + (1 - beta) d^2) */
      for (size_t j = 0; j < p->numel; j++)
        {
          float d = g[j] - mean[j];
          mean[j] += a * d;
          var[j] = b * (var[j] + a * d * d);
        }
    }
  self->n_obs++;
}

/* mean of v over the tensor's trainable elements; NAN when none */
static float
tensor_mean_var (PlpVarianceAdaptive *self, const PlParam *p)
{
  double sum = 0;
  size_t cnt = 0;
  for (size_t j = 0; j < p->numel; j++)
    if (trainable_at (p, j))
      {
        sum += self->var[p->offset + j];
        cnt++;
      }
  return cnt ? (float) (sum / (double) cnt) : NAN;
}

/* The threshold T of this interval and the median variance it may be based on. */
static double
threshold_now (PlpVarianceAdaptive *self, PlModel *m, double *var_median)
{
  size_t k = 0;
  for (guint i = 0; i < pl_model_get_n_params (m); i++)
    {
      PlParam *p = pl_model_get_param (m, i);
      if (p->frozen)
        continue;
      if (self->granularity == PLP_VARIANCE_ADAPTIVE_TENSOR)
        {
          self->tensor_var[i] = tensor_mean_var (self, p);
          if (!isnan (self->tensor_var[i]))
            self->scratch[k++] = self->tensor_var[i];
          continue;
        }
      for (size_t j = 0; j < p->numel; j++)
        if (trainable_at (p, j))
          self->scratch[k++] = self->var[p->offset + j];
    }
  *var_median = median (self->scratch, k);
  if (self->threshold_mode == PLP_VARIANCE_ADAPTIVE_MEDIAN)
    return self->threshold * *var_median;
  return self->threshold;
}

static float
rescale (PlpVarianceAdaptive *self, float s, double v, double t, gboolean *grown)
{
  /* s * (v < T ? shrink : grow), within [min-scale, max-scale] */
  *grown = !(v < t);
  double r = s * (*grown ? self->grow : self->shrink);
  return (float) CLAMP (r, self->min_scale, self->max_scale);
}

/* Applies the rule to @lr_scale; returns the fraction of trainable elements whose
 * factor was grow. */
static double
apply_rule (PlpVarianceAdaptive *self, PlModel *m, float *lr_scale, double t)
{
  size_t grown_n = 0, total = 0;
  for (guint i = 0; i < pl_model_get_n_params (m); i++)
    {
      PlParam *p = pl_model_get_param (m, i);
      if (p->frozen)
        continue;
      float *s = lr_scale + p->offset;
      gboolean grown;
      if (self->granularity == PLP_VARIANCE_ADAPTIVE_TENSOR)
        {
          if (isnan (self->tensor_var[i]))
            continue;
          float ns = rescale (self, s[0], self->tensor_var[i], t, &grown);
          for (size_t j = 0; j < p->numel; j++)
            {
              s[j] = ns;
              if (trainable_at (p, j))
                {
                  total++;
                  grown_n += grown;
                }
            }
          continue;
        }
      const float *v = self->var + p->offset;
      for (size_t j = 0; j < p->numel; j++)
        if (trainable_at (p, j))
          {
            s[j] = rescale (self, s[j], v[j], t, &grown);
            total++;
            grown_n += grown;
          }
    }
  return total ? (double) grown_n / (double) total : 0.0;
}

/* the scales of @p's trainable elements into scratch[at..]; returns their count */
static size_t
gather_scales (PlpVarianceAdaptive *self, const PlParam *p, const float *lr_scale, size_t at)
{
  size_t k = at;
  for (size_t j = 0; j < p->numel; j++)
    if (trainable_at (p, j))
      self->scratch[k++] = lr_scale[p->offset + j];
  return k - at;
}

/* lr/min, lr/median, lr/max of lr(t) * s over trainable elements, and lr/<param>,
 * the median rate of each trainable tensor */
static void
report (PlpVarianceAdaptive *self, PlRun *run, PlModel *m, const float *lr_scale)
{
  double lr = pl_run_get_lr (run);
  for (guint i = 0; i < pl_model_get_n_params (m); i++)
    {
      PlParam *p = pl_model_get_param (m, i);
      size_t k;
      if (!p->frozen && (k = gather_scales (self, p, lr_scale, 0)) > 0)
        pl_run_log_metric (run, self->tensor_keys[i], lr * median (self->scratch, k));
    }
  size_t k = 0;
  for (guint i = 0; i < pl_model_get_n_params (m); i++)
    {
      PlParam *p = pl_model_get_param (m, i);
      if (!p->frozen)
        k += gather_scales (self, p, lr_scale, k);
    }
  if (k == 0)
    return;
  float lo = INFINITY, hi = -INFINITY;
  for (size_t j = 0; j < k; j++)
    {
      lo = MIN (lo, self->scratch[j]);
      hi = MAX (hi, self->scratch[j]);
    }
  pl_run_log_metric (run, "lr/min", lr * lo);
  pl_run_log_metric (run, "lr/median", lr * median (self->scratch, k));
  pl_run_log_metric (run, "lr/max", lr * hi);
}

/* ---- PlLrPolicy ------------------------------------------------------------ */

/* After the backward pass of step @step: fold the gradients in and, at the end of
 * every interval, rescale @lr_scale and report. Never allocates once the state
 * exists. */
static void
variance_adaptive_adjust (PlLrPolicy *policy, PlRun *run, float *lr_scale, gint64 step)
{
  PlpVarianceAdaptive *self = PLP_VARIANCE_ADAPTIVE (policy);
  PlModel *m = pl_run_get_model (run);
  state_ensure (self, m);
  fold_gradients (self, m);
  /* a variance needs two gradients */
  if ((step + 1) % self->interval != 0 || self->n_obs < 2)
    return;
  double var_median;
  double t = threshold_now (self, m, &var_median);
  double grown = apply_rule (self, m, lr_scale, t);
  pl_run_log_metric (run, "lr/grad_var_median", var_median);
  pl_run_log_metric (run, "lr/grown_fraction", grown);
  report (self, run, m, lr_scale);
}

static void
plp_variance_adaptive_policy_init (PlLrPolicyInterface *iface)
{
  iface->adjust = variance_adaptive_adjust;
}

/* ---- PlRunAddin ------------------------------------------------------------ */

/* Fresh statistics for the run's model, and the starting spread (all scales 1) so
 * every metric key exists before the first step. */
static gboolean
variance_adaptive_run_start (PlRunAddin *addin, PlRun *run, GError **error)
{
  PlpVarianceAdaptive *self = PLP_VARIANCE_ADAPTIVE (addin);
  PlModel *m = pl_run_get_model (run);
  state_clear (self);
  state_ensure (self, m);
  if (pl_model_count_trainable (m) == 0)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_CONFIG,
                   "[lr-policy] plugin=variance-adaptive: the model has no trainable "
                   "parameter (all are frozen)");
      return FALSE;
    }
  report (self, run, m, pl_optimizer_get_lr_scale (pl_run_get_optimizer (run)));
  pl_run_log_metric (run, "lr/grad_var_median", 0.0);
  pl_run_log_metric (run, "lr/grown_fraction", 0.0);
  return TRUE;
}

/* The gradient statistics of the run's model: mean, var (F32, the parameter
 * block), tensor_var (F32 [parameters]) and n_obs (I64 [1]). The rate scales
 * themselves are the optimizer's (core saves them). */
static gboolean
variance_adaptive_save_state (PlRunAddin *addin, PlRun *run, PlSafetensorsWriter *writer,
                              const char *prefix, GError **error)
{
  PlpVarianceAdaptive *self = PLP_VARIANCE_ADAPTIVE (addin);
  PlModel *m = pl_run_get_model (run);
  state_ensure (self, m);
  return pl_state_write_f32 (writer, prefix, "mean", self->mean, self->n, error)
         && pl_state_write_f32 (writer, prefix, "var", self->var, self->n, error)
         && pl_state_write_f32 (writer, prefix, "tensor_var", self->tensor_var,
                                pl_model_get_n_params (m), error)
         && pl_state_write_i64 (writer, prefix, "n_obs", &self->n_obs, 1, error);
}

static gboolean
variance_adaptive_load_state (PlRunAddin *addin, PlRun *run, const PlSafetensors *state,
                              const char *prefix, GError **error)
{
  PlpVarianceAdaptive *self = PLP_VARIANCE_ADAPTIVE (addin);
  PlModel *m = pl_run_get_model (run);
  state_ensure (self, m);
  return pl_state_read_f32 (state, prefix, "mean", self->mean, self->n, error)
         && pl_state_read_f32 (state, prefix, "var", self->var, self->n, error)
         && pl_state_read_f32 (state, prefix, "tensor_var", self->tensor_var,
                               pl_model_get_n_params (m), error)
         && pl_state_read_i64 (state, prefix, "n_obs", &self->n_obs, 1, error);
}

static void
plp_variance_adaptive_addin_init (PlRunAddinInterface *iface)
{
  iface->save_state = variance_adaptive_save_state;
  iface->load_state = variance_adaptive_load_state;
  iface->run_start = variance_adaptive_run_start;
}

/* ---- GObject --------------------------------------------------------------- */

static void
plp_variance_adaptive_get_property (GObject *object, guint id, GValue *value,
                                    GParamSpec *pspec)
{
  PlpVarianceAdaptive *self = PLP_VARIANCE_ADAPTIVE (object);
  switch (id)
    {
    case PROP_BETA: g_value_set_double (value, self->beta); break;
    case PROP_INTERVAL: g_value_set_int (value, self->interval); break;
    case PROP_THRESHOLD: g_value_set_double (value, self->threshold); break;
    case PROP_THRESHOLD_MODE: g_value_set_enum (value, self->threshold_mode); break;
    case PROP_SHRINK: g_value_set_double (value, self->shrink); break;
    case PROP_GROW: g_value_set_double (value, self->grow); break;
    case PROP_MIN_SCALE: g_value_set_double (value, self->min_scale); break;
    case PROP_MAX_SCALE: g_value_set_double (value, self->max_scale); break;
    case PROP_GRANULARITY: g_value_set_enum (value, self->granularity); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
plp_variance_adaptive_set_property (GObject *object, guint id, const GValue *value,
                                    GParamSpec *pspec)
{
  PlpVarianceAdaptive *self = PLP_VARIANCE_ADAPTIVE (object);
  switch (id)
    {
    case PROP_BETA: self->beta = g_value_get_double (value); break;
    case PROP_INTERVAL: self->interval = g_value_get_int (value); break;
    case PROP_THRESHOLD: self->threshold = g_value_get_double (value); break;
    case PROP_THRESHOLD_MODE: self->threshold_mode = g_value_get_enum (value); break;
    case PROP_SHRINK: self->shrink = g_value_get_double (value); break;
    case PROP_GROW: self->grow = g_value_get_double (value); break;
    case PROP_MIN_SCALE: self->min_scale = g_value_get_double (value); break;
    case PROP_MAX_SCALE: self->max_scale = g_value_get_double (value); break;
    case PROP_GRANULARITY: self->granularity = g_value_get_enum (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
plp_variance_adaptive_finalize (GObject *object)
{
  state_clear (PLP_VARIANCE_ADAPTIVE (object));
  G_OBJECT_CLASS (plp_variance_adaptive_parent_class)->finalize (object);
}

static void
plp_variance_adaptive_class_init (PlpVarianceAdaptiveClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->get_property = plp_variance_adaptive_get_property;
  object_class->set_property = plp_variance_adaptive_set_property;
  object_class->finalize = plp_variance_adaptive_finalize;
  g_object_class_install_property (object_class, PROP_BETA,
    g_param_spec_double ("beta", "Beta",
                         "Decay of the running mean and variance of each gradient element "
                         "(EMA: m += (1 - beta)(g - m))", 0.0, 0.9999, 0.9, PARAM_FLAGS));
  g_object_class_install_property (object_class, PROP_INTERVAL,
    g_param_spec_int ("interval", "Interval",
                      "Apply the rule (and report lr/min, lr/median, lr/max) every this "
                      "many steps", 1, 1000000, 10, PARAM_FLAGS));
  g_object_class_install_property (object_class, PROP_THRESHOLD,
    g_param_spec_double ("threshold", "Threshold",
                         "Variance under which a rate shrinks (at or over it, it grows); "
                         "with threshold-mode=median a multiple of the median variance",
                         0.0, 1e30, 1e-6, PARAM_FLAGS));
  g_object_class_install_property (object_class, PROP_THRESHOLD_MODE,
    g_param_spec_enum ("threshold-mode", "Threshold mode",
                       "absolute: compare each variance with threshold; median: with "
                       "threshold times the median variance of the trainable elements (or "
                       "tensors) at that interval", threshold_mode_type,
                       PLP_VARIANCE_ADAPTIVE_ABSOLUTE, PARAM_FLAGS));
  g_object_class_install_property (object_class, PROP_SHRINK,
    g_param_spec_double ("shrink", "Shrink",
                         "Factor for rates whose gradient variance is under the threshold "
                         "(the article's 0.9)", 1e-3, 1.0, 0.9, PARAM_FLAGS));
  g_object_class_install_property (object_class, PROP_GROW,
    g_param_spec_double ("grow", "Grow",
                         "Factor for rates whose gradient variance is at or over the "
                         "threshold (the article's 1.1)", 1.0, 1000.0, 1.1, PARAM_FLAGS));
  g_object_class_install_property (object_class, PROP_MIN_SCALE,
    g_param_spec_double ("min-scale", "Minimum scale",
                         "Lower bound of each rate's multiplier of the schedule's rate",
                         1e-6, 1.0, 0.1, PARAM_FLAGS));
  g_object_class_install_property (object_class, PROP_MAX_SCALE,
    g_param_spec_double ("max-scale", "Maximum scale",
                         "Upper bound of each rate's multiplier of the schedule's rate",
                         1.0, 1e6, 10.0, PARAM_FLAGS));
  g_object_class_install_property (object_class, PROP_GRANULARITY,
    g_param_spec_enum ("granularity", "Granularity",
                       "element: one rate per parameter element; tensor: one rate per "
                       "parameter tensor, from the mean variance of its elements",
                       granularity_type, PLP_VARIANCE_ADAPTIVE_ELEMENT, PARAM_FLAGS));
}

static void
plp_variance_adaptive_class_finalize (PlpVarianceAdaptiveClass *klass)
{
}

static void
plp_variance_adaptive_init (PlpVarianceAdaptive *self)
{
  self->beta = 0.9;
  self->interval = 10;
  self->threshold = 1e-6;
  self->threshold_mode = PLP_VARIANCE_ADAPTIVE_ABSOLUTE;
  self->shrink = 0.9;
  self->grow = 1.1;
  self->min_scale = 0.1;
  self->max_scale = 10.0;
  self->granularity = PLP_VARIANCE_ADAPTIVE_ELEMENT;
}

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  GTypeModule *tm = G_TYPE_MODULE (module);
  granularity_type = g_type_module_register_enum (tm, "PlpVarianceAdaptiveGranularity",
                                                  granularity_values);
  threshold_mode_type = g_type_module_register_enum (tm, "PlpVarianceAdaptiveThresholdMode",
                                                     threshold_mode_values);
  plp_variance_adaptive_register_type (tm);
  peas_object_module_register_extension_type (module, PL_TYPE_LR_POLICY,
                                              PLP_TYPE_VARIANCE_ADAPTIVE);
}
