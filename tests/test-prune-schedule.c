/* What pruning schedules and gradient criteria share (core/pl-prune-schedule.h,
 * core/pl-prune-stats-run.h): auto steps from the run length, the check against
 * the run with the option's file:line, the common options, pruning when the
 * target rises, and statistics tied to the run. A small schedule type defined
 * here stands in for the plugins. */
#include <math.h>
#include <string.h>

#include "paramlab.h"
#include "pl-test-util.h"

/* 1797 digits, 80% for training, batch 32: 45 steps per epoch */
#define EXP_TEXT                                                               \
  "[experiment]\nseed=7\n"                                                     \
  "[data]\ndataset=digits\nval-fraction=0.2\nnormalize=standard\n"             \
  "[model]\narchitecture=mlp\nhidden=32, 16\nactivation=relu\ndropout=0\n"     \
  "[train]\nepochs=2\nbatch-size=32\noptimizer=sgd\nlr=0.1\n"                  \
  "[prune]\nschedule=test\nend-step=70\n"

/* the 1-based line of "end-step=70" in EXP_TEXT */
#define END_STEP_LINE 19

static PlRun *
new_run (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PlExperiment) exp = pl_experiment_load_data (EXP_TEXT, -1, "x.ini", &error);
  g_assert_no_error (error);
  PlRun *run = pl_run_new (exp, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (pl_run_get_total_steps (run), ==, 90);
  return run;
}

/* ---- a schedule built on the helpers: target_at reads a table ---- */

#define TEST_TYPE_SCHEDULE (test_schedule_get_type ())
G_DECLARE_FINAL_TYPE (TestSchedule, test_schedule, TEST, SCHEDULE, GObject)

struct _TestSchedule {
  GObject parent_instance;
  PlPruneScheduleOptions options;
  int start_step;
  const double *targets;  /* target after step i, for i < n_targets; then the last */
  gsize n_targets;
};

enum { PROP_0, PROP_FINAL_SPARSITY, PROP_START_STEP, PROP_SCOPE };

static double
test_schedule_target_at (PlPruningSchedule *schedule, gint64 step, gint64 total_steps)
{
  TestSchedule *self = TEST_SCHEDULE (schedule);
  if (self->n_targets == 0)
    return 0.0;
  return self->targets[MIN ((gsize) MAX (step, 0), self->n_targets - 1)];
}

static void
test_schedule_iface_init (PlPruningScheduleInterface *iface)
{
  iface->update = pl_prune_schedule_update_to_target;
  iface->target_at = test_schedule_target_at;
}

G_DEFINE_FINAL_TYPE_WITH_CODE (TestSchedule, test_schedule, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (PL_TYPE_PRUNING_SCHEDULE,
                                                      test_schedule_iface_init))

static void
test_schedule_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  TestSchedule *self = TEST_SCHEDULE (object);
  if (pl_prune_schedule_options_get_property (&self->options, pspec, value))
    return;
  g_assert_cmpuint (id, ==, PROP_START_STEP);
  g_value_set_int (value, self->start_step);
}

static void
test_schedule_set_property (GObject *object, guint id, const GValue *value,
                            GParamSpec *pspec)
{
  TestSchedule *self = TEST_SCHEDULE (object);
  if (pl_prune_schedule_options_set_property (&self->options, pspec, value))
    return;
  g_assert_cmpuint (id, ==, PROP_START_STEP);
  self->start_step = g_value_get_int (value);
}

static void
test_schedule_class_init (TestScheduleClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->get_property = test_schedule_get_property;
  object_class->set_property = test_schedule_set_property;
  g_object_class_install_property (object_class, PROP_FINAL_SPARSITY,
    pl_prune_schedule_param_final_sparsity ("after the last prune"));
  g_object_class_install_property (object_class, PROP_START_STEP,
    pl_prune_schedule_param_step ("start-step", "Start step", "the first prune"));
  g_object_class_install_property (object_class, PROP_SCOPE,
                                   pl_prune_schedule_param_scope (NULL));
}

static void
test_schedule_init (TestSchedule *self)
{
  pl_prune_schedule_options_init (&self->options);
  self->start_step = -1;
}

/* ---- a criterion that ranks by |w| and counts how often it is asked ---- */

#define TEST_TYPE_CRITERION (test_criterion_get_type ())
G_DECLARE_FINAL_TYPE (TestCriterion, test_criterion, TEST, CRITERION, GObject)

struct _TestCriterion {
  GObject parent_instance;
  guint n_scored;   /* score calls: one per tensor per prune */
};

static gboolean
test_criterion_score (PlPruningCriterion *criterion, PlRun *run, PlParam *param,
                      float *scores, GError **error)
{
  TEST_CRITERION (criterion)->n_scored++;
  for (size_t j = 0; j < param->numel; j++)
    scores[j] = fabsf (param->data[j]);
  return TRUE;
}

static void
test_criterion_iface_init (PlPruningCriterionInterface *iface)
{
  iface->score = test_criterion_score;
}

G_DEFINE_FINAL_TYPE_WITH_CODE (TestCriterion, test_criterion, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (PL_TYPE_PRUNING_CRITERION,
                                                      test_criterion_iface_init))

static void
test_criterion_class_init (TestCriterionClass *klass)
{
}

static void
test_criterion_init (TestCriterion *self)
{
}

/* ---- tests ---- */

static void
test_resolve_step (void)
{
  static const struct {
    int step;
    double fraction;
    gint64 total, expect;
  } cases[] = {
    { -1, 0.5, 100, 50 },
    { -1, 0.5, 135, 68 },    /* 67.5: halves round away from zero */
    { -1, 0.75, 90, 68 },
    { -1, 0.1, 200, 20 },
    { -1, 0.25, 1, 0 },
    { -1, 0.5, 1, 1 },
    { -1, 0.1, 0, 0 },
    { 0, 0.5, 100, 0 },      /* a given step wins, whatever the run */
    { 37, 0.1, 10, 37 },
    { PL_PRUNE_MAX_STEP, 0.75, 90, PL_PRUNE_MAX_STEP },
  };
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      gint64 t = pl_prune_schedule_resolve_step (cases[c].step, cases[c].fraction,
                                                 cases[c].total);
      if (t != cases[c].expect)
        g_error ("case %u: step %" G_GINT64_FORMAT ", expected %" G_GINT64_FORMAT, c, t,
                 cases[c].expect);
    }
}

static void
test_check_within_run (void)
{
  static const struct {
    const char *who, *key;
    gint64 step, total;
    const char *expect;   /* NULL: within the run */
  } cases[] = {
    { "one-shot", "start-step", 0, 90, NULL },
    { "one-shot", "start-step", 90, 90, NULL },   /* the last step itself */
    { "one-shot", "start-step", 1000, 90,
      "one-shot: start-step 1000 is after the run's last step (90); expected at most 90" },
    { "iterative", "end-step", 91, 90,
      "iterative: end-step 91 is after the run's last step (90); expected at most 90" },
    { "x", "end-step", 1, 0,
      "x: end-step 1 is after the run's last step (0); expected at most 0" },
  };
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autoptr (GError) error = NULL;
      gboolean ok = pl_prune_schedule_check_within_run (cases[c].who, cases[c].key,
                                                        cases[c].step, cases[c].total,
                                                        &error);
      if (!cases[c].expect)
        {
          g_assert_no_error (error);
          g_assert_true (ok);
          continue;
        }
      g_assert_false (ok);
      g_assert_error (error, PL_ERROR, PL_ERROR_CONFIG);
      g_assert_cmpstr (error->message, ==, cases[c].expect);
    }
  /* no GError asked for: still the verdict */
  g_assert_false (pl_prune_schedule_check_within_run ("a", "b", 2, 1, NULL));
}

/* The message gets where the option stands in the experiment: its file:line,
 * or the file alone for an option left at its default. */
static void
test_fail_at_option (void)
{
  g_autoptr (PlRun) run = new_run ();
  static const struct {
    const char *key;
    const char *expect;
  } cases[] = {
    { "end-step", "x.ini:" G_STRINGIFY (END_STEP_LINE) ": [prune] end-step: test: bad" },
    { "start-step", "x.ini: [prune] start-step: test: bad" },
  };
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autoptr (GError) error = g_error_new (PL_ERROR, PL_ERROR_CONFIG, "test: bad");
      g_assert_false (pl_prune_schedule_fail_at_option (run, cases[c].key, &error));
      g_assert_error (error, PL_ERROR, PL_ERROR_CONFIG);
      g_assert_cmpstr (error->message, ==, cases[c].expect);
    }
  /* with no error to prefix (a caller that passed NULL down): still FALSE */
  g_assert_false (pl_prune_schedule_fail_at_option (run, "end-step", NULL));
}

/* The shared properties as the CLI and the window show them. */
static void
test_params (void)
{
  g_autoptr (GObject) s = g_object_new (TEST_TYPE_SCHEDULE, NULL);
  GObjectClass *klass = G_OBJECT_GET_CLASS (s);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY;

  GParamSpec *fs = g_object_class_find_property (klass, "final-sparsity");
  g_assert_true (G_IS_PARAM_SPEC_DOUBLE (fs));
  g_assert_cmpfloat (G_PARAM_SPEC_DOUBLE (fs)->minimum, ==, 0.0);
  g_assert_cmpfloat (G_PARAM_SPEC_DOUBLE (fs)->maximum, ==, 0.99);
  g_assert_cmpfloat (G_PARAM_SPEC_DOUBLE (fs)->default_value, ==, 0.5);
  g_assert_cmpstr (g_param_spec_get_nick (fs), ==, "Final sparsity");
  g_assert_cmpstr (g_param_spec_get_blurb (fs), ==, "after the last prune");
  g_assert_cmpuint (fs->flags & flags, ==, flags);

  GParamSpec *sc = g_object_class_find_property (klass, "scope");
  g_assert_true (G_IS_PARAM_SPEC_ENUM (sc));
  g_assert_true (sc->value_type == PL_TYPE_PRUNE_SCOPE);
  g_assert_cmpint (G_PARAM_SPEC_ENUM (sc)->default_value, ==, PL_PRUNE_SCOPE_LAYER);
  g_assert_cmpstr (g_param_spec_get_blurb (sc), ==,
                   "layer: every weight tensor gets the sparsity; global: one ranking over "
                   "all prunable weights");
  g_autofree char *allowed = pl_plugin_describe_option (sc);
  g_assert_cmpstr (allowed, ==, "one of layer, global");
  g_autoptr (GParamSpec) own = g_param_spec_ref_sink (pl_prune_schedule_param_scope ("mine"));
  g_assert_cmpstr (g_param_spec_get_blurb (own), ==, "mine");

  GParamSpec *st = g_object_class_find_property (klass, "start-step");
  g_assert_true (G_IS_PARAM_SPEC_INT (st));
  g_assert_cmpint (G_PARAM_SPEC_INT (st)->minimum, ==, -1);
  g_assert_cmpint (G_PARAM_SPEC_INT (st)->maximum, ==, 100000000);
  g_assert_cmpint (G_PARAM_SPEC_INT (st)->default_value, ==, -1);
  g_assert_cmpuint (st->flags & flags, ==, flags);

  g_autofree char *json = pl_plugin_options_to_json (s);
  g_assert_cmpstr (json, ==, "{\"final-sparsity\":0.5,\"start-step\":-1,\"scope\":\"layer\"}");
}

/* final-sparsity and scope go to the options struct; other properties to the
 * schedule's own code. */
static void
test_options_properties (void)
{
  g_autoptr (GObject) o = g_object_new (TEST_TYPE_SCHEDULE, NULL);
  TestSchedule *s = TEST_SCHEDULE (o);
  g_assert_cmpfloat (s->options.final_sparsity, ==, 0.5);
  g_assert_cmpint (s->options.scope, ==, PL_PRUNE_SCOPE_LAYER);
  g_object_set (o, "final-sparsity", 0.8, "scope", PL_PRUNE_SCOPE_GLOBAL, "start-step", 12,
                NULL);
  g_assert_cmpfloat (s->options.final_sparsity, ==, 0.8);
  g_assert_cmpint (s->options.scope, ==, PL_PRUNE_SCOPE_GLOBAL);
  g_assert_cmpint (s->start_step, ==, 12);
  double fs;
  PlPruneScope scope;
  int start;
  g_object_get (o, "final-sparsity", &fs, "scope", &scope, "start-step", &start, NULL);
  g_assert_cmpfloat (fs, ==, 0.8);
  g_assert_cmpint (scope, ==, PL_PRUNE_SCOPE_GLOBAL);
  g_assert_cmpint (start, ==, 12);
  /* a property that is not a common one is left alone */
  GParamSpec *st = g_object_class_find_property (G_OBJECT_GET_CLASS (o), "start-step");
  GValue v = G_VALUE_INIT;
  g_value_init (&v, G_TYPE_INT);
  g_assert_false (pl_prune_schedule_options_get_property (&s->options, st, &v));
  g_assert_cmpint (g_value_get_int (&v), ==, 0);
  g_value_set_int (&v, 5);
  g_assert_false (pl_prune_schedule_options_set_property (&s->options, st, &v));
  g_assert_cmpfloat (s->options.final_sparsity, ==, 0.8);
  g_value_unset (&v);
}

/* Prunes only when the target rises above what was pruned so far; a falling
 * target prunes nothing and unprunes nothing, and does not even ask the
 * criterion (a gradient criterion starts its statistics over after a ranking). */
static void
test_raise (void)
{
  static const struct {
    double target;
    double expect;   /* sparsity of all prunable weights after the call */
    gboolean ranks;  /* the criterion is asked */
  } steps[] = {
    { 0.0, 0.0, FALSE },
    { 0.3, 0.3, TRUE },
    { 0.3, 0.3, FALSE },
    { 0.2, 0.3, FALSE },
    { 0.5, 0.5, TRUE },
    { 0.0, 0.5, FALSE },
  };
  g_autoptr (PlRun) run = new_run ();
  g_autoptr (TestCriterion) crit = g_object_new (TEST_TYPE_CRITERION, NULL);
  g_autoptr (PlPruner) pruner = pl_pruner_new (run, PL_PRUNING_CRITERION (crit));
  for (guint c = 0; c < G_N_ELEMENTS (steps); c++)
    {
      g_autoptr (GError) error = NULL;
      guint before = crit->n_scored;
      g_assert_true (pl_prune_schedule_raise (pruner, steps[c].target, PL_PRUNE_SCOPE_LAYER,
                                              &error));
      g_assert_no_error (error);
      /* three weight tensors: hidden.0, hidden.1, head */
      g_assert_cmpuint (crit->n_scored - before, ==, steps[c].ranks ? 3 : 0);
      pl_assert_close (pl_pruner_get_sparsity (pruner, NULL), steps[c].expect, 1e-3, 0);
      pl_assert_close (pl_model_weight_sparsity (pl_run_get_model (run)), steps[c].expect,
                       1e-3, 0);
      g_assert_cmpfloat (pl_pruner_get_target (pruner), ==, steps[c].expect);
    }
}

/* Spread of the per-tensor sparsity of the prunable weights. */
static double
sparsity_spread (PlPruner *pruner, PlModel *m)
{
  double lo = 1.0, hi = 0.0;
  for (guint i = 0; i < pl_model_get_n_params (m); i++)
    {
      PlParam *p = pl_model_get_param (m, i);
      if (p->kind != PL_PARAM_WEIGHT)
        continue;
      double s = pl_pruner_get_sparsity (pruner, p);
      lo = MIN (lo, s);
      hi = MAX (hi, s);
    }
  return hi - lo;
}

/* The update vfunc follows target_at, over the scope the schedule's property
 * names: per layer every tensor gets the target, globally only the total does. */
static void
test_update_to_target (void)
{
  static const double targets[] = { 0.0, 0.0, 0.4, 0.4, 0.2, 0.6 };
  static const PlPruneScope scopes[] = { PL_PRUNE_SCOPE_LAYER, PL_PRUNE_SCOPE_GLOBAL };
  double spread[2];
  for (guint sc = 0; sc < G_N_ELEMENTS (scopes); sc++)
    {
      g_autoptr (PlRun) run = new_run ();
      g_autoptr (PlPruner) pruner = pl_pruner_new (run, NULL);
      g_autoptr (GObject) o = g_object_new (TEST_TYPE_SCHEDULE, "scope", scopes[sc], NULL);
      TestSchedule *s = TEST_SCHEDULE (o);
      s->targets = targets;
      s->n_targets = G_N_ELEMENTS (targets);
      for (gint64 step = 0; step < 8; step++)
        {
          g_autoptr (GError) error = NULL;
          g_assert_true (pl_pruning_schedule_update (PL_PRUNING_SCHEDULE (o), pruner, step, 90,
                                                     &error));
          g_assert_no_error (error);
          /* the highest target so far */
          double expect = step < 2 ? 0.0 : step < 5 ? 0.4 : 0.6;
          pl_assert_close (pl_pruner_get_sparsity (pruner, NULL), expect, 1e-3, 0);
        }
      spread[sc] = sparsity_spread (pruner, pl_run_get_model (run));
    }
  g_assert_cmpfloat (spread[0], <, 0.01);
  g_assert_cmpfloat (spread[1], >, 0.05);
}

/* Statistics started for a run gather that run's steps and score from them. */
static void
test_stats_for_run (void)
{
  g_autoptr (PlRun) run = new_run ();
  PlModel *m = pl_run_get_model (run);
  PlParam *p = pl_model_lookup_param (m, "head.weight");
  g_autoptr (PlPruneStats) stats = NULL;
  pl_prune_stats_start_for_run (&stats, run, PL_PRUNE_STAT_TAYLOR, 0.0, FALSE);
  g_assert_nonnull (stats);
  g_assert_true (pl_prune_stats_get_model (stats) == m);
  for (size_t j = 0; j < p->numel; j++)
    {
      p->data[j] = j % 2 ? -0.5f : 2.0f;
      p->grad[j] = 0.25f;
    }
  pl_prune_stats_accumulate_for_run (stats, run);
  pl_prune_stats_accumulate_for_run (stats, run);
  g_assert_cmpint (pl_prune_stats_get_n_steps (stats), ==, 2);
  g_autofree float *scores = g_new (float, p->numel);
  g_autoptr (GError) error = NULL;
  g_assert_true (pl_prune_stats_score_for_run (stats, run, "taylor", p, scores, &error));
  g_assert_no_error (error);
  /* S = 2 |w g| */
  for (size_t j = 0; j < p->numel; j++)
    g_assert_cmpfloat (scores[j], ==, j % 2 ? 0.25f : 1.0f);
  /* starting again drops what was gathered */
  pl_prune_stats_start_for_run (&stats, run, PL_PRUNE_STAT_MOVEMENT, 0.0, TRUE);
  g_assert_nonnull (stats);
  g_assert_cmpint (pl_prune_stats_get_n_steps (stats), ==, 0);
}

/* Statistics that are missing or belong to another run's model: the criterion's
 * name and the tensor in a PL_ERROR_PLUGIN, and no accumulation. */
static void
test_stats_not_of_run (void)
{
  g_autoptr (PlRun) run = new_run ();
  g_autoptr (PlRun) other = new_run ();
  PlParam *p = pl_model_lookup_param (pl_run_get_model (run), "hidden.0.weight");
  g_autofree float *scores = g_new (float, p->numel);
  g_autoptr (PlPruneStats) stats = NULL;
  pl_prune_stats_start_for_run (&stats, other, PL_PRUNE_STAT_MOVEMENT, 0.0, FALSE);
  PlPruneStats *cases[] = { NULL, stats };
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autoptr (GError) error = NULL;
      pl_prune_stats_accumulate_for_run (cases[c], run);
      g_assert_false (pl_prune_stats_score_for_run (cases[c], run, "movement", p, scores,
                                                    &error));
      g_assert_error (error, PL_ERROR, PL_ERROR_PLUGIN);
      g_assert_cmpstr (error->message, ==,
                       "movement: no gradient statistics for tensor hidden.0.weight: the "
                       "criterion gathers them during a run it is attached to");
    }
  g_assert_cmpint (pl_prune_stats_get_n_steps (stats), ==, 0);
  /* the run they belong to does gather */
  pl_prune_stats_accumulate_for_run (stats, other);
  g_assert_cmpint (pl_prune_stats_get_n_steps (stats), ==, 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  pl_test_tmpdir ();
  g_test_add_func ("/core/prune-schedule/resolve-step", test_resolve_step);
  g_test_add_func ("/core/prune-schedule/check-within-run", test_check_within_run);
  g_test_add_func ("/core/prune-schedule/fail-at-option", test_fail_at_option);
  g_test_add_func ("/core/prune-schedule/params", test_params);
  g_test_add_func ("/core/prune-schedule/options-properties", test_options_properties);
  g_test_add_func ("/core/prune-schedule/raise", test_raise);
  g_test_add_func ("/core/prune-schedule/update-to-target", test_update_to_target);
  g_test_add_func ("/core/prune-stats-run/for-run", test_stats_for_run);
  g_test_add_func ("/core/prune-stats-run/not-of-run", test_stats_not_of_run);
  return g_test_run ();
}
