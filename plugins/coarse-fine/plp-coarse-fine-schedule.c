/* coarse-fine: the article's two-stage pruning. Coarse: remove every weight with
 * |w| below a threshold (0.01). Fine: rank the rest by the configured criterion
 * (gradient sensitivity: taylor) and prune in equal steps to the final sparsity. */
#include <libpeas/peas.h>

#include "paramlab.h"

#define PLP_TYPE_COARSE_FINE_SCHEDULE (plp_coarse_fine_schedule_get_type ())
G_DECLARE_FINAL_TYPE (PlpCoarseFineSchedule, plp_coarse_fine_schedule, PLP,
                      COARSE_FINE_SCHEDULE, GObject)

struct _PlpCoarseFineSchedule {
  GObject parent_instance;
  PlPruneScheduleOptions options;
  double threshold;
  int coarse_step;
  int end_step;
  int n;
  double coarse_sparsity;  /* measured right after the coarse stage of the last run */
};

enum {
  PROP_0,
  PROP_FINAL_SPARSITY,
  PROP_SCOPE,
  PROP_THRESHOLD,
  PROP_COARSE_STEP,
  PROP_END_STEP,
  PROP_N,
  N_PROPS
};

static void plp_coarse_fine_schedule_iface_init (PlPruningScheduleInterface *iface);
static void plp_coarse_fine_schedule_addin_init (PlRunAddinInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (PlpCoarseFineSchedule, plp_coarse_fine_schedule, G_TYPE_OBJECT,
                                G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (PL_TYPE_PRUNING_SCHEDULE,
                                                               plp_coarse_fine_schedule_iface_init)
                                G_IMPLEMENT_INTERFACE_DYNAMIC (PL_TYPE_RUN_ADDIN,
                                                               plp_coarse_fine_schedule_addin_init))

/* The coarse step tc (coarse-step, or 25% of a run of @total steps; at least 1,
 * the first step the engine reports) and the end te (end-step, or 75%). Fails,
 * with @key naming the option at fault, unless tc < te <= total. */
static gboolean
coarse_fine_resolve (PlpCoarseFineSchedule *self, gint64 total, gint64 *tc, gint64 *te,
                     const char **key, GError **error)
{
  *tc = MAX (1, pl_prune_schedule_resolve_step (self->coarse_step, 0.25, total));
  *te = pl_prune_schedule_resolve_step (self->end_step, 0.75, total);
  if (!pl_prune_schedule_check_within_run ("coarse-fine", "end-step", *te, total, error))
    {
      *key = "end-step";
      return FALSE;
    }
  if (*te <= *tc)
    {
      *key = self->end_step >= 0 ? "end-step" : "coarse-step";
      g_set_error (error, PL_ERROR, PL_ERROR_CONFIG,
                   "coarse-fine: end-step %" G_GINT64_FORMAT " is not after coarse-step %"
                   G_GINT64_FORMAT " in a run of %" G_GINT64_FORMAT " steps; the fine stage "
                   "needs steps of its own: expected coarse-step < end-step", *te, *tc, total);
      return FALSE;
    }
  return TRUE;
}

/* After c = step + 1 updates: 0 before tc; from tc the sparsity s_c the coarse
 * stage left; then fine prunes i = 1..n at c_i = tc + floor(i (te - tc) / n) to
 * s_c + (s_f - s_c) i / n (never below s_c). s_c is the sparsity measured in the
 * last run (0 before any run, so a preview shows the fine stage from zero). */
static double
coarse_fine_target_at (PlPruningSchedule *schedule, gint64 step, gint64 total_steps)
{
  PlpCoarseFineSchedule *self = PLP_COARSE_FINE_SCHEDULE (schedule);
  gint64 tc, te;
  const char *key;
  if (!coarse_fine_resolve (self, total_steps, &tc, &te, &key, NULL))
    return 0.0;
  gint64 c = step + 1, n = self->n;
  if (c < tc)
    return 0.0;
  double s_c = self->coarse_sparsity, s_f = self->options.final_sparsity;
  if (s_c >= s_f)
    return s_c;
  /* largest i with floor(i D / n) <= c - tc, i.e. i D < (c - tc + 1) n */
  gint64 i = MIN (n, ((c - tc + 1) * n - 1) / (te - tc));
  return i == n ? s_f : s_c + (s_f - s_c) * (double) i / (double) n;
}

static gboolean
coarse_fine_update (PlPruningSchedule *schedule, PlPruner *pruner, gint64 step,
                    gint64 total_steps, GError **error)
{
  PlpCoarseFineSchedule *self = PLP_COARSE_FINE_SCHEDULE (schedule);
  gint64 tc, te;
  const char *key;
  if (!coarse_fine_resolve (self, total_steps, &tc, &te, &key, error))
    return FALSE;
  gint64 c = step + 1;
  if (c < tc)
    return TRUE;
  if (c == tc)
    {
      if (!pl_pruner_prune_by_magnitude (pruner, self->threshold, error))
        return FALSE;
      self->coarse_sparsity = pl_pruner_get_sparsity (pruner, NULL);
      return TRUE;
    }
  double target = coarse_fine_target_at (schedule, step, total_steps);
  if (target <= self->coarse_sparsity)
    return TRUE;
  return pl_prune_schedule_raise (pruner, target, self->options.scope, error);
}

static void
plp_coarse_fine_schedule_iface_init (PlPruningScheduleInterface *iface)
{
  iface->update = coarse_fine_update;
  iface->target_at = coarse_fine_target_at;
}

/* Checks the steps against the run's length, and that a criterion ranks the
 * fine stage, before the first step. */
static gboolean
coarse_fine_run_start (PlRunAddin *addin, PlRun *run, GError **error)
{
  PlpCoarseFineSchedule *self = PLP_COARSE_FINE_SCHEDULE (addin);
  PlExperiment *exp = pl_run_get_experiment (run);
  gint64 tc, te;
  const char *key = NULL;
  if (!coarse_fine_resolve (self, pl_run_get_total_steps (run), &tc, &te, &key, error))
    return pl_prune_schedule_fail_at_option (run, key, error);
  const char *criterion = pl_experiment_get_raw (exp, "prune", "criterion");
  if (!criterion || !criterion[0] || g_str_equal (criterion, "none"))
    {
      g_autofree char *where = pl_experiment_get_location (exp, "prune", "schedule");
      g_set_error (error, PL_ERROR, PL_ERROR_CONFIG,
                   "%s: [prune] schedule=coarse-fine ranks its fine stage by the chosen "
                   "criterion, and none is chosen: add criterion=taylor (gradient "
                   "sensitivity, the article's fine stage), or movement or magnitude", where);
      return FALSE;
    }
  self->coarse_sparsity = 0.0;
  return TRUE;
}

/* the sparsity the coarse stage left ("coarse_sparsity", F64 [1]) */
static gboolean
coarse_fine_save_state (PlRunAddin *addin, PlRun *run, PlSafetensorsWriter *writer,
                        const char *prefix, GError **error)
{
  PlpCoarseFineSchedule *self = PLP_COARSE_FINE_SCHEDULE (addin);
  return pl_state_write_f64 (writer, prefix, "coarse_sparsity", &self->coarse_sparsity, 1,
                             error);
}

static gboolean
coarse_fine_load_state (PlRunAddin *addin, PlRun *run, const PlSafetensors *state,
                        const char *prefix, GError **error)
{
  PlpCoarseFineSchedule *self = PLP_COARSE_FINE_SCHEDULE (addin);
  return pl_state_read_f64 (state, prefix, "coarse_sparsity", &self->coarse_sparsity, 1,
                            error);
}

static void
plp_coarse_fine_schedule_addin_init (PlRunAddinInterface *iface)
{
  iface->save_state = coarse_fine_save_state;
  iface->load_state = coarse_fine_load_state;
  iface->run_start = coarse_fine_run_start;
}

static void
plp_coarse_fine_schedule_get_property (GObject *object, guint id, GValue *value,
                                       GParamSpec *pspec)
{
  PlpCoarseFineSchedule *self = PLP_COARSE_FINE_SCHEDULE (object);
  if (pl_prune_schedule_options_get_property (&self->options, pspec, value))
    return;
  switch (id)
    {
    case PROP_THRESHOLD:
      g_value_set_double (value, self->threshold);
      break;
    case PROP_COARSE_STEP:
      g_value_set_int (value, self->coarse_step);
      break;
    case PROP_END_STEP:
      g_value_set_int (value, self->end_step);
      break;
    case PROP_N:
      g_value_set_int (value, self->n);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
plp_coarse_fine_schedule_set_property (GObject *object, guint id, const GValue *value,
                                       GParamSpec *pspec)
{
  PlpCoarseFineSchedule *self = PLP_COARSE_FINE_SCHEDULE (object);
  if (pl_prune_schedule_options_set_property (&self->options, pspec, value))
    return;
  switch (id)
    {
    case PROP_THRESHOLD:
      self->threshold = g_value_get_double (value);
      break;
    case PROP_COARSE_STEP:
      self->coarse_step = g_value_get_int (value);
      break;
    case PROP_END_STEP:
      self->end_step = g_value_get_int (value);
      break;
    case PROP_N:
      self->n = g_value_get_int (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
plp_coarse_fine_schedule_class_init (PlpCoarseFineScheduleClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS;
  object_class->get_property = plp_coarse_fine_schedule_get_property;
  object_class->set_property = plp_coarse_fine_schedule_set_property;
  g_object_class_install_property (object_class, PROP_FINAL_SPARSITY,
    pl_prune_schedule_param_final_sparsity ("Fraction of the prunable weights that are zero "
                                            "after the fine stage (if the coarse stage "
                                            "removed more, that stays)"));
  g_object_class_install_property (object_class, PROP_SCOPE,
    pl_prune_schedule_param_scope ("Fine stage: layer: every weight tensor gets the sparsity; "
                                   "global: one ranking over all prunable weights"));
  g_object_class_install_property (object_class, PROP_THRESHOLD,
    g_param_spec_double ("threshold", "Coarse threshold",
                         "Coarse stage: every weight with |w| below this goes",
                         0.0, 1e6, 0.01, flags));
  g_object_class_install_property (object_class, PROP_COARSE_STEP,
    pl_prune_schedule_param_step ("coarse-step", "Coarse step",
                                  "The coarse stage runs after this many optimizer steps (-1: "
                                  "at 25% of the run)"));
  g_object_class_install_property (object_class, PROP_END_STEP,
    pl_prune_schedule_param_step ("end-step", "End step",
                                  "The fine stage reaches the final sparsity at this step (-1: "
                                  "at 75% of the run)"));
  g_object_class_install_property (object_class, PROP_N,
    g_param_spec_int ("n", "Fine prunes",
                      "Number of equal fine-stage increments between coarse-step and end-step",
                      1, 100000, 10, flags));
}

static void
plp_coarse_fine_schedule_class_finalize (PlpCoarseFineScheduleClass *klass)
{
}

static void
plp_coarse_fine_schedule_init (PlpCoarseFineSchedule *self)
{
  pl_prune_schedule_options_init (&self->options);
  self->threshold = 0.01;
  self->coarse_step = -1;
  self->end_step = -1;
  self->n = 10;
}

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  plp_coarse_fine_schedule_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, PL_TYPE_PRUNING_SCHEDULE,
                                              PLP_TYPE_COARSE_FINE_SCHEDULE);
}
