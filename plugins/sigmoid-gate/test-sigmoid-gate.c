/* The sigmoid-gate plugin: its op's maths (built in from plp-sigmoid-gate-op.c),
 * its hard mask and parameter accounting, and runs through the engine. */
#include <math.h>
#include <string.h>

#include "paramlab.h"
#include "pl-test-util.h"
#include "plp-sigmoid-gate-op.h"
#include "pl-state-test-util.h"

static PlPluginEngine *
engine (void)
{
  static PlPluginEngine *e;
  if (!e)
    e = pl_plugin_engine_new ();
  return e;
}

static void
fill_normal (PlRng *rng, float *x, size_t n, double std)
{
  for (size_t i = 0; i < n; i++)
    x[i] = (float) (std * pl_rng_normal (rng));
}

/* ---- the op's kernels ---------------------------------------------------------- */

/* L = sum(r * y) + penalty, in double from the float forward */
static double
op_objective (const float *h, const float *wg, const float *bg, const float *alive,
              const float *r, float pressure, int B, int W)
{
  float y[64];
  plp_gate_forward (y, NULL, h, wg, bg, alive, B, W);
  double s = 0;
  for (int i = 0; i < B * W; i++)
    s += (double) r[i] * y[i];
  return s + plp_gate_penalty (h, wg, bg, alive, pressure, B, W);
}

/* central differences of op_objective against plp_gate_backward, for h, w_g, b_g */
static void
test_op_gradcheck (void)
{
  static const struct {
    int B, W;
    float pressure;
    const char *alive;  /* '1' live, '0' switched off */
  } cases[] = {
    { 4, 6, 0.0f, "111111" },
    { 4, 6, 0.5f, "110111" },
    { 1, 5, 3.0f, "10101" },
    { 7, 3, 20.0f, "011" },
  };
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      int B = cases[c].B, W = cases[c].W, n = B * W;
      float pressure = cases[c].pressure;
      float h[64], wg[16], bg[16], alive[16], r[64];
      float dh[64] = { 0 }, dwg[16] = { 0 }, dbg[16] = { 0 };
      PlRng rng;
      pl_rng_init (&rng, 100 + c);
      fill_normal (&rng, h, n, 1.0);
      fill_normal (&rng, wg, W, 1.0);
      fill_normal (&rng, bg, W, 1.0);
      fill_normal (&rng, r, n, 1.0);
      for (int i = 0; i < W; i++)
        alive[i] = cases[c].alive[i] == '1';
      plp_gate_backward (dh, dwg, dbg, r, h, wg, bg, alive, pressure, B, W);

      struct { const char *name; float *x, *grad; int n; } vars[] = {
        { "h", h, dh, n }, { "w_g", wg, dwg, W }, { "b_g", bg, dbg, W },
      };
      const float eps = 1e-2f;
      for (guint v = 0; v < G_N_ELEMENTS (vars); v++)
        for (int i = 0; i < vars[v].n; i++)
          {
            float keep = vars[v].x[i];
            vars[v].x[i] = keep + eps;
            double up = op_objective (h, wg, bg, alive, r, pressure, B, W);
            vars[v].x[i] = keep - eps;
            double down = op_objective (h, wg, bg, alive, r, pressure, B, W);
            vars[v].x[i] = keep;
            double fd = (up - down) / (2 * eps), an = vars[v].grad[i];
            if (fabs (fd - an) > 2e-3 + 1e-2 * fabs (fd))
              g_error ("case %u: d%s[%d] = %.6g but finite differences give %.6g", c,
                       vars[v].name, i, an, fd);
          }
      /* a switched-off unit gets no gradient at all */
      for (int i = 0; i < W; i++)
        if (!alive[i])
          {
            g_assert_cmpfloat (dwg[i], ==, 0.0f);
            g_assert_cmpfloat (dbg[i], ==, 0.0f);
            for (int b = 0; b < B; b++)
              g_assert_cmpfloat (dh[b * W + i], ==, 0.0f);
          }
    }
}

/* backward adds into the gradients; forward's gate sums cover live units only */
static void
test_op_accumulates (void)
{
  float h[6] = { 1, -2, 0.5f, 3, 0, -1 }, wg[3] = { 0.3f, -1, 2 }, bg[3] = { 1, 0, -1 };
  float alive[3] = { 1, 1, 0 }, dy[6] = { 1, 1, 1, 1, 1, 1 };
  float dh1[6] = { 0 }, dwg1[3] = { 0 }, dbg1[3] = { 0 };
  float dh2[6] = { 0 }, dwg2[3] = { 0 }, dbg2[3] = { 0 };
  plp_gate_backward (dh1, dwg1, dbg1, dy, h, wg, bg, alive, 0.1f, 2, 3);
  plp_gate_backward (dh2, dwg2, dbg2, dy, h, wg, bg, alive, 0.1f, 2, 3);
  plp_gate_backward (dh2, dwg2, dbg2, dy, h, wg, bg, alive, 0.1f, 2, 3);
  for (int i = 0; i < 6; i++)
    pl_assert_close (dh2[i], 2 * dh1[i], 1e-7, 1e-6);
  for (int i = 0; i < 3; i++)
    pl_assert_close (dbg2[i], 2 * dbg1[i], 1e-7, 1e-6);
  float y[6], gsum[3];
  plp_gate_forward (y, gsum, h, wg, bg, alive, 2, 3);
  double g00 = 1 / (1 + exp (-(0.3 * 1 + 1))), g10 = 1 / (1 + exp (-(0.3 * 3 + 1)));
  pl_assert_close (y[0], g00 * 1, 1e-7, 1e-6);
  pl_assert_close (gsum[0], g00 + g10, 1e-7, 1e-6);
  g_assert_cmpfloat (gsum[2], ==, 0.0f);
  g_assert_cmpfloat (y[2], ==, 0.0f);
  g_assert_cmpfloat (y[5], ==, 0.0f);
}

/* ---- the op inside a model ------------------------------------------------------ */

typedef struct {
  GPtrArray *layers;   /* PlpGateLayer* */
  float pressure;
} TestGates;

static void
t_declare (PlModel *m, int layer, int width, gpointer ud)
{
  TestGates *t = ud;
  g_ptr_array_add (t->layers, plp_gate_layer_new (m, layer, width));
}

static PlTensor *
t_wrap (PlModel *m, PlGraph *g, int layer, PlTensor *h, gpointer ud)
{
  TestGates *t = ud;
  PlpGateLayer *l = g_ptr_array_index (t->layers, layer);
  l->pressure = t->pressure;
  return plp_gate_layer_wrap (l, m, g, h);
}

/* an MLP in -> hidden... -> classes with the test's gates on every hidden layer */
static PlModel *
gated_mlp (TestGates *t, const PlModelBuildHooks *hooks, int in, const int *hidden, int nh,
           int classes, int batch, PlActivation act)
{
  const PlModelBuildHooks *const list[] = { hooks };
  PlModelSpec spec = { .in_features = in, .sample_shape = { in, 1, 1 }, .n_classes = classes,
                       .max_batch = batch, .seed = 4, .activation = act,
                       .hooks = list, .n_hooks = 1 };
  g_autoptr (GError) error = NULL;
  PlModel *m = pl_model_new_mlp (&spec, hidden, nh, &error);
  g_assert_no_error (error);
  pl_model_init_default (m, 4);
  return m;
}

static double
model_objective (PlModel *m, TestGates *t, int batch)
{
  double loss = pl_graph_forward (pl_model_get_graph (m), batch, FALSE);
  for (guint k = 0; k < t->layers->len; k++)
    {
      PlpGateLayer *l = g_ptr_array_index (t->layers, k);
      loss += plp_gate_penalty (l->input->data, l->gate_w->data, l->gate_b->data, l->alive,
                                l->pressure, batch, l->width);
    }
  return loss;
}

/* the graph op reaches its parameters: d(loss + penalty) by finite differences for
 * the gates, the layers around them and the head, with one unit switched off */
static void
test_model_gradcheck (void)
{
  TestGates t = { g_ptr_array_new_with_free_func ((GDestroyNotify) plp_gate_layer_free), 0.7f };
  PlModelBuildHooks hooks = { t_declare, t_wrap, NULL, NULL, &t };
  const int hidden[] = { 4, 3 }, B = 6;
  g_autoptr (PlModel) m = gated_mlp (&t, &hooks, 5, hidden, 2, 3, B, PL_ACT_TANH);
  g_assert_cmpuint (t.layers->len, ==, 2);
  PlRng rng;
  pl_rng_init (&rng, 77);
  for (guint k = 0; k < t.layers->len; k++)
    {
      PlpGateLayer *l = g_ptr_array_index (t.layers, k);
      fill_normal (&rng, l->gate_w->data, l->width, 1.0);
      fill_normal (&rng, l->gate_b->data, l->width, 1.0);
    }
  plp_gate_layer_switch_off (g_ptr_array_index (t.layers, 0), m, 2);
  fill_normal (&rng, pl_model_get_input_buffer (m), (size_t) B * 5, 1.0);
  int32_t *y = pl_model_get_label_buffer (m);
  for (int b = 0; b < B; b++)
    y[b] = b % 3;

  pl_model_zero_grads (m);
  pl_graph_forward (pl_model_get_graph (m), B, TRUE);
  pl_graph_backward (pl_model_get_graph (m));
  const char *names[] = { "hidden.0.weight", "hidden.0.bias", "hidden.0.gate.weight",
                          "hidden.0.gate.bias", "hidden.1.weight", "hidden.1.gate.weight",
                          "hidden.1.gate.bias", "head.weight" };
  const float eps = 1e-2f;
  int checked = 0;
  for (guint k = 0; k < G_N_ELEMENTS (names); k++)
    {
      PlParam *p = pl_model_lookup_param (m, names[k]);
      g_assert_nonnull (p);
      for (size_t j = 0; j < p->numel; j++)
        {
          float keep = p->data[j];
          p->data[j] = keep + eps;
          double up = model_objective (m, &t, B);
          p->data[j] = keep - eps;
          double down = model_objective (m, &t, B);
          p->data[j] = keep;
          double fd = (up - down) / (2 * eps), an = p->grad[j];
          if (fabs (fd - an) > 1e-3 + 1e-2 * fabs (fd))
            g_error ("d%s[%zu] = %.6g but finite differences give %.6g", names[k], j, an, fd);
          checked++;
        }
    }
  g_assert_cmpint (checked, ==, 59);
  g_ptr_array_unref (t.layers);
}

/* rows and columns of dead units, counted by hand:
 *   10 -> 8 (units 1 and 5 off) -> 6 (unit 0 off) -> 3 */
static void
test_effective_params (void)
{
  TestGates t = { g_ptr_array_new_with_free_func ((GDestroyNotify) plp_gate_layer_free), 0 };
  PlModelBuildHooks hooks = { t_declare, t_wrap, NULL, NULL, &t };
  const int hidden[] = { 8, 6 };
  g_autoptr (PlModel) m = gated_mlp (&t, &hooks, 10, hidden, 2, 3, 4, PL_ACT_SIGMOID);
  PlpGateLayer *l0 = g_ptr_array_index (t.layers, 0), *l1 = g_ptr_array_index (t.layers, 1);
  PlpGateLayer *const *layers = (PlpGateLayer *const *) t.layers->pdata;
  g_assert_true (l0->in_w == pl_model_lookup_param (m, "hidden.0.weight"));
  g_assert_true (l0->in_b == pl_model_lookup_param (m, "hidden.0.bias"));
  g_assert_true (l0->out_w == pl_model_lookup_param (m, "hidden.1.weight"));
  g_assert_true (l1->out_w == pl_model_lookup_param (m, "head.weight"));

  size_t all = 8 * 10 + 8 + 2 * 8 + 6 * 8 + 6 + 2 * 6 + 3 * 6 + 3;
  g_assert_cmpuint (plp_gate_count_effective (m, layers, 2), ==, all);

  /* the function of the model before, from the parameters alone */
  PlRng rng;
  pl_rng_init (&rng, 5);
  fill_normal (&rng, pl_model_get_input_buffer (m), 4 * 10, 1.0);
  plp_gate_layer_switch_off (l0, m, 1);
  plp_gate_layer_switch_off (l0, m, 5);
  plp_gate_layer_switch_off (l1, m, 0);
  size_t a0 = 6, a1 = 5;
  size_t expect = a0 * 10 + a0 + 2 * a0 + a1 * a0 + a1 + 2 * a1 + 3 * a1 + 3;
  g_assert_cmpuint (plp_gate_count_effective (m, layers, 2), ==, expect);
  /* the masks say the same */
  g_assert_cmpuint (pl_model_count_effective (m), ==, expect);
  g_assert_cmpint (plp_gate_layer_count_alive (l0), ==, 6);

  /* a pruning mask on a live weight counts too */
  pl_model_ensure_mask (m, l0->in_w)[0] = 0.0f;
  g_assert_cmpuint (plp_gate_count_effective (m, layers, 2), ==, expect - 1);
  pl_model_ensure_mask (m, l0->in_w)[0] = 1.0f;

  /* the zeros alone switch the units off: with the hard mask lifted (sigmoid
   * units output sigmoid(0) * sigmoid(0) = 0.25 there) the logits are the same */
  PlGraph *g = pl_model_get_graph (m);
  PlTensor *logits = pl_model_get_logits (m);
  pl_graph_forward (g, 4, FALSE);
  float before[12];
  memcpy (before, logits->data, sizeof before);
  l0->alive[1] = l0->alive[5] = l1->alive[0] = 1.0f;
  pl_graph_forward (g, 4, FALSE);
  for (int i = 0; i < 12; i++)
    pl_assert_close (logits->data[i], before[i], 1e-6, 1e-6);
  g_ptr_array_unref (t.layers);
}

/* a checkpoint carries dead units as zeros; loading it restores them */
static void
test_checkpoint_restores_dead_units (void)
{
  TestGates t = { g_ptr_array_new_with_free_func ((GDestroyNotify) plp_gate_layer_free), 0 };
  TestGates u = { g_ptr_array_new_with_free_func ((GDestroyNotify) plp_gate_layer_free), 0 };
  PlModelBuildHooks ht = { t_declare, t_wrap, NULL, NULL, &t };
  PlModelBuildHooks hu = { t_declare, t_wrap, NULL, NULL, &u };
  const int hidden[] = { 7, 5 };
  g_autoptr (PlModel) a = gated_mlp (&t, &ht, 6, hidden, 2, 4, 2, PL_ACT_RELU);
  g_autoptr (PlModel) b = gated_mlp (&u, &hu, 6, hidden, 2, 4, 2, PL_ACT_RELU);
  for (guint k = 0; k < 2; k++)
    plp_gate_layer_reset (g_ptr_array_index (t.layers, k), 2.0f);
  plp_gate_layer_switch_off (g_ptr_array_index (t.layers, 0), a, 3);
  plp_gate_layer_switch_off (g_ptr_array_index (t.layers, 1), a, 0);
  plp_gate_layer_switch_off (g_ptr_array_index (t.layers, 1), a, 4);
  g_autofree char *path = g_build_filename (pl_test_tmpdir (), "gated.safetensors", NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (pl_model_save_safetensors (a, path, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (pl_model_load_safetensors (b, path, FALSE, &error));
  g_assert_no_error (error);
  PlpGateLayer *b0 = g_ptr_array_index (u.layers, 0), *b1 = g_ptr_array_index (u.layers, 1);
  g_assert_cmpint (plp_gate_layer_restore (b0, b), ==, 1);
  g_assert_cmpint (plp_gate_layer_restore (b1, b), ==, 2);
  g_assert_cmpfloat (b0->alive[3], ==, 0.0f);
  g_assert_cmpfloat (b1->alive[0], ==, 0.0f);
  g_assert_cmpfloat (b1->alive[4], ==, 0.0f);
  g_assert_cmpint (plp_gate_layer_count_alive (b1), ==, 3);
  g_ptr_array_unref (t.layers);
  g_ptr_array_unref (u.layers);
}

/* ---- the plugin ----------------------------------------------------------------- */

static void
test_listed (void)
{
  const PlPluginDesc *d = pl_plugin_engine_lookup (engine (), PL_SLOT_GATE, "sigmoid-gate");
  g_assert_nonnull (d);
  g_assert_true (d->loaded);
  g_assert_null (d->error);
}

static void
test_bad_options (void)
{
  static const struct {
    const char *key, *value, *expect;
  } cases[] = {
    { "pressure", "-1", "between 0 and 1000" },
    { "threshold", "1.5", "between 0 and 1" },
    { "warmup-steps", "-3", "warmup-steps" },
    { "warmup-steps", "ten", "integer" },
    { "ema-decay", "1", "ema-decay" },
    { "init-bias", "big", "init-bias" },
    { "presure", "1", "pressure" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GObject) p = pl_plugin_engine_create (engine (), PL_SLOT_GATE, "sigmoid-gate",
                                                       &error);
      g_assert_no_error (error);
      g_assert_false (pl_plugin_set_option (p, "sigmoid-gate", cases[i].key, cases[i].value,
                                            "g.ini:7", &error));
      g_assert_error (error, PL_ERROR, PL_ERROR_CONFIG);
      g_assert_nonnull (strstr (error->message, "g.ini:7"));
      g_assert_nonnull (strstr (error->message, "sigmoid-gate"));
      if (!strstr (error->message, cases[i].expect))
        g_error ("%s=%s: \"%s\" does not say %s", cases[i].key, cases[i].value,
                 error->message, cases[i].expect);
    }
}

/* ---- runs through the engine on digits ----------------------------------------- */

typedef struct {
  PlExperiment *exp;
  PlPluginSelection *sel;
  PlRun *run;
  char *last_metrics;        /* the last metrics event, JSON */
} GateRun;

static void
gate_run_free (GateRun *r)
{
  pl_run_free (r->run);
  pl_plugin_selection_free (r->sel);
  pl_experiment_unref (r->exp);
  g_free (r->last_metrics);
  g_free (r);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GateRun, gate_run_free)

static void
on_event (PlRun *run, PlRunEventKind kind, const char *json, gpointer user_data)
{
  GateRun *r = user_data;
  if (kind == PL_RUN_EVENT_METRICS)
    {
      g_free (r->last_metrics);
      r->last_metrics = g_strdup (json);
    }
}

/* digits, MLP 64 -> 64 -> 32 -> 10, with the gate and @gate_options (lines);
 * @more: extra sections. Built, not executed. */
static GateRun *
gate_run_new (int epochs, const char *gate_options, const char *more, PlRunStore *store,
              GError **error)
{
  g_autoptr (GateRun) r = g_new0 (GateRun, 1);
  g_autofree char *text = g_strdup_printf (
    "[experiment]\nseed=3\n[data]\ndataset=digits\n[model]\nhidden=64, 32\n"
    "[train]\nepochs=%d\nlr=0.003\n%s\n[gate]\nplugin=sigmoid-gate\n%s\n", epochs,
    more ? more : "", gate_options);
  r->exp = pl_experiment_load_data (text, -1, "gate.ini", error);
  if (!r->exp)
    return NULL;
  r->sel = pl_plugin_selection_new (engine (), r->exp, error);
  if (!r->sel)
    return NULL;
  r->run = pl_run_new_with_plugins (r->exp, store, r->sel, error);
  if (!r->run)
    return NULL;
  pl_run_set_event_func (r->run, on_event, r);
  return g_steal_pointer (&r);
}

static GateRun *
gate_run_execute (int epochs, const char *gate_options, const char *more)
{
  g_autoptr (GError) error = NULL;
  GateRun *r = gate_run_new (epochs, gate_options, more, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (pl_run_execute (r->run, &error));
  g_assert_no_error (error);
  return r;
}

/* units of hidden layer @k whose weight row is masked out */
static int
dead_units (PlModel *m, int k, gboolean *dead)
{
  g_autofree char *name = g_strdup_printf ("hidden.%d.weight", k);
  PlParam *w = pl_model_lookup_param (m, name);
  int n = 0, cols = w->shape[1];
  for (int i = 0; i < w->shape[0]; i++)
    {
      gboolean all = w->mask != NULL;
      for (int c = 0; all && c < cols; c++)
        all = w->mask[(size_t) i * cols + c] == 0.0f;
      if (dead)
        dead[i] = all;
      n += all;
    }
  return n;
}

/* the pressure pushes the gates down; with no pressure they stay up */
static void
test_pressure_drives_gates_down (void)
{
  static const struct {
    const char *options;
    double max_mean, min_mean;
    gboolean some_off;
  } cases[] = {
    /* no switching at all: only the gate values move */
    { "pressure=0\nwarmup-steps=100000\n", 1.0, 0.85, FALSE },
    { "pressure=3\nwarmup-steps=100000\n", 0.8, 0.0, FALSE },
    /* switching: units go under pressure, none without */
    { "pressure=0\nwarmup-steps=20\n", 1.0, 0.85, FALSE },
    { "pressure=3\nwarmup-steps=20\n", 1.0, 0.0, TRUE },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GateRun) r = gate_run_execute (3, cases[i].options, NULL);
      double mean = pl_run_get_metric (r->run, "gate/mean");
      double active = pl_run_get_metric (r->run, "gate/active");
      if (g_test_verbose ())
        g_printerr ("case %u: gate/mean %g, gate/active %g\n", i, mean, active);
      if (mean > cases[i].max_mean || mean < cases[i].min_mean)
        g_error ("case %u: gate/mean %g outside [%g, %g]", i, mean, cases[i].min_mean,
                 cases[i].max_mean);
      if (cases[i].some_off)
        g_assert_cmpfloat (active, <, 0.9);
      else
        g_assert_cmpfloat (active, ==, 1.0);
      PlModel *m = pl_run_get_model (r->run);
      int off = dead_units (m, 0, NULL) + dead_units (m, 1, NULL);
      pl_assert_close (active, 1.0 - off / 96.0, 1e-9, 0);
    }
}

/* metrics every epoch (in the store and the event stream); effective parameters
 * by hand from the dead units; the
 * dead units output zero at eval whatever their parameters; the checkpoint has
 * them as zeros; the task is still learned */
static void
test_run_on_digits (void)
{
  g_autofree char *dir = g_build_filename (pl_test_tmpdir (), "gate-ckpt", NULL);
  g_autofree char *db = g_build_filename (pl_test_tmpdir (), "gate-runs.db", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (PlRunStore) store = pl_run_store_open (db, &error);
  g_assert_no_error (error);
  g_autoptr (GateRun) r = gate_run_new (6, "pressure=2\nwarmup-steps=40\n", NULL, store,
                                        &error);
  g_assert_no_error (error);
  pl_run_set_checkpoint_dir (r->run, dir);
  g_assert_true (pl_run_execute (r->run, &error));
  g_assert_no_error (error);

  /* a point at the start and at every evaluation (epoch end) */
  gint64 id = pl_run_get_id (r->run);
  g_autoptr (PlSeries) acc = pl_run_store_get_metric (store, id, "val/acc", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (acc->steps->len, ==, 6);
  static const char *keys[] = { "gate/active", "gate/mean", "gate/effective_params",
                                "gate/effective_fraction", "gate/active/hidden.1" };
  for (guint k = 0; k < G_N_ELEMENTS (keys); k++)
    {
      g_autoptr (PlSeries) s = pl_run_store_get_metric (store, id, keys[k], &error);
      g_assert_no_error (error);
      g_assert_cmpint (g_array_index (s->steps, gint64, 0), ==, 0);
      for (guint e = 0; e < acc->steps->len; e++)
        {
          gint64 want = g_array_index (acc->steps, gint64, e);
          gboolean found = FALSE;
          for (guint j = 0; j < s->steps->len && !found; j++)
            found = g_array_index (s->steps, gint64, j) == want;
          if (!found)
            g_error ("%s has no point at the end of epoch %u (step %" G_GINT64_FORMAT ")",
                     keys[k], e + 1, want);
        }
    }
  /* the live stream carries the final values too */
  g_assert_nonnull (r->last_metrics);
  g_assert_nonnull (strstr (r->last_metrics, "\"gate/active\""));
  g_assert_nonnull (strstr (r->last_metrics, "\"gate/effective_params\""));

  PlModel *m = pl_run_get_model (r->run);
  gboolean dead0[64], dead1[32];
  int d0 = dead_units (m, 0, dead0), d1 = dead_units (m, 1, dead1);
  g_assert_cmpint (d0 + d1, >, 5);
  g_assert_cmpint (d0, <, 64);
  g_assert_cmpint (d1, <, 32);
  size_t a0 = 64 - d0, a1 = 32 - d1;
  size_t effective = a0 * 64 + a0 + 2 * a0 + a1 * a0 + a1 + 2 * a1 + 10 * a1 + 10;
  size_t dense = 64 * 64 + 64 + 32 * 64 + 32 + 10 * 32 + 10;
  pl_assert_close (pl_run_get_metric (r->run, "gate/effective_params"), effective, 0, 0);
  pl_assert_close (pl_run_get_metric (r->run, "gate/effective_fraction"),
                   (double) effective / dense, 1e-12, 0);
  pl_assert_close (pl_run_get_metric (r->run, "gate/active"), (a0 + a1) / 96.0, 1e-12, 0);
  g_assert_cmpfloat (pl_run_get_metric (r->run, "val/acc"), >, 0.88);

  /* eval: scribble over every parameter of the dead units, logits do not move */
  const PlRunData *data = pl_run_get_data (r->run);
  PlGraph *g = pl_model_get_graph (m);
  int B = MIN (pl_graph_get_max_batch (g), 16);
  memcpy (pl_model_get_input_buffer (m), data->val->x, sizeof (float) * B * 64);
  pl_graph_forward (g, B, FALSE);
  g_autofree float *before = g_memdup2 (pl_model_get_logits (m)->data, sizeof (float) * B * 10);
  PlParam *w0 = pl_model_lookup_param (m, "hidden.0.weight");
  PlParam *b0 = pl_model_lookup_param (m, "hidden.0.bias");
  PlParam *gw0 = pl_model_lookup_param (m, "hidden.0.gate.weight");
  PlParam *gb0 = pl_model_lookup_param (m, "hidden.0.gate.bias");
  PlParam *w1 = pl_model_lookup_param (m, "hidden.1.weight");
  PlParam *head = pl_model_lookup_param (m, "head.weight");
  for (int i = 0; i < 64; i++)
    if (dead0[i])
      {
        for (int c = 0; c < 64; c++)
          w0->data[i * 64 + c] = 0.5f;
        b0->data[i] = 3.0f;
        gw0->data[i] = 1.0f;
        gb0->data[i] = 4.0f;
        for (int r_ = 0; r_ < 32; r_++)
          w1->data[r_ * 64 + i] = 0.7f;
      }
  for (int i = 0; i < 32; i++)
    if (dead1[i])
      for (int r_ = 0; r_ < 10; r_++)
        head->data[r_ * 32 + i] = -2.0f;
  pl_graph_forward (g, B, FALSE);
  g_assert_cmpmem (pl_model_get_logits (m)->data, sizeof (float) * B * 10, before,
                   sizeof (float) * B * 10);
  /* and the same scribble on a live unit does move them */
  int live = 0;
  while (dead0[live])
    live++;
  b0->data[live] += 3.0f;
  for (int r_ = 0; r_ < 32; r_++)
    w1->data[r_ * 64 + live] += 0.7f;
  pl_graph_forward (g, B, FALSE);
  g_assert_true (memcmp (pl_model_get_logits (m)->data, before, sizeof (float) * B * 10) != 0);

  /* the checkpoint: rows, columns and gates of dead units are zero */
  g_autofree char *path = g_build_filename (dir, "last.safetensors", NULL);
  g_autoptr (PlSafetensors) st = pl_safetensors_load (path, &error);
  g_assert_no_error (error);
  g_autofree float *cw0 = g_new (float, 64 * 64);
  g_autofree float *cw1 = g_new (float, 32 * 64);
  g_autofree float *cgb0 = g_new (float, 64);
  g_assert_true (pl_safetensors_read_f32 (pl_safetensors_lookup (st, "hidden.0.weight"), cw0,
                                          64 * 64, &error));
  g_assert_true (pl_safetensors_read_f32 (pl_safetensors_lookup (st, "hidden.1.weight"), cw1,
                                          32 * 64, &error));
  g_assert_true (pl_safetensors_read_f32 (pl_safetensors_lookup (st, "hidden.0.gate.bias"),
                                          cgb0, 64, &error));
  for (int i = 0; i < 64; i++)
    {
      double row = 0, col = 0;
      for (int c = 0; c < 64; c++)
        row += fabs (cw0[i * 64 + c]);
      for (int r_ = 0; r_ < 32; r_++)
        col += fabs (cw1[r_ * 64 + i]);
      if (dead0[i])
        {
          g_assert_cmpfloat (row + col + fabs (cgb0[i]), ==, 0.0);
        }
      else
        {
          g_assert_cmpfloat (row, >, 0.0);
          g_assert_cmpfloat (cgb0[i], !=, 0.0f);
        }
    }

  /* a run from that checkpoint starts with the same units off */
  g_autofree char *more = g_strdup_printf ("max-steps=1\n[model]\ninit-from=%s\n", path);
  g_autoptr (GateRun) again = gate_run_execute (1, "warmup-steps=1000\n", more);
  PlModel *m2 = pl_run_get_model (again->run);
  gboolean dead0b[64];
  g_assert_cmpint (dead_units (m2, 0, dead0b), ==, d0);
  g_assert_cmpmem (dead0b, sizeof dead0b, dead0, sizeof dead0);
  g_assert_cmpint (dead_units (m2, 1, NULL), ==, d1);
  pl_assert_close (pl_run_get_metric (again->run, "gate/active"), (a0 + a1) / 96.0, 1e-12, 0);
}

/* "under the threshold" is the running mean of the batch-mean gate, checked after
 * each step once warmup-steps updates are done, lowest first, down to min-active */
static void
test_threshold_warmup_min_active (void)
{
  static const struct {
    const char *options, *train;
    double active;
  } cases[] = {
    /* every gate (< 1) is under threshold 1: all go at the 10th update ... */
    { "threshold=1\nmin-active=0\nwarmup-steps=10\n", "max-steps=10\n", 0.0 },
    /* ... not before */
    { "threshold=1\nmin-active=0\nwarmup-steps=10\n", "max-steps=9\n", 1.0 },
    /* min-active units of each layer stay */
    { "threshold=1\nmin-active=4\nwarmup-steps=1\n", "max-steps=3\n", 8.0 / 96 },
    /* a gate is never under 0: nothing goes, whatever the pressure */
    { "threshold=0\npressure=50\nwarmup-steps=0\n", "", 1.0 },
    /* after end-step nothing goes any more */
    { "threshold=1\nmin-active=0\nwarmup-steps=10\nend-step=10\n", "", 1.0 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GateRun) r = gate_run_execute (2, cases[i].options, cases[i].train);
      double active = pl_run_get_metric (r->run, "gate/active");
      if (fabs (active - cases[i].active) > 1e-9)
        g_error ("case %u: gate/active %g, expected %g", i, active, cases[i].active);
    }
}

/* a model without gated layers is an error, not a silent no-op */
static void
test_needs_hidden_layers (void)
{
  const char *text = "[experiment]\nseed=1\n[data]\ndataset=digits\nnormalize=minmax\n"
                     "[model]\narchitecture=cnn\nchannels=4\n[train]\nepochs=1\n"
                     "[gate]\nplugin=sigmoid-gate\n";
  g_autoptr (GError) error = NULL;
  g_autoptr (PlExperiment) exp = pl_experiment_load_data (text, -1, "cnn-gate.ini", &error);
  g_assert_no_error (error);
  g_autoptr (PlPluginSelection) sel = pl_plugin_selection_new (engine (), exp, &error);
  g_assert_no_error (error);
  g_autoptr (PlRun) run = pl_run_new_with_plugins (exp, NULL, sel, &error);
  g_assert_no_error (error);
  g_assert_false (pl_run_execute (run, &error));
  g_assert_error (error, PL_ERROR, PL_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "sigmoid-gate"));
  g_assert_nonnull (strstr (error->message, "cnn"));
  g_assert_nonnull (strstr (error->message, "mlp"));
  g_assert_cmpstr (pl_run_get_status (run), ==, "failed");
}

/* The training state for resume: the running gates, the units switched off
 * and the pressure survive save_state / load_state exactly
 * (tests/pl-state-test-util.h). */
static void
test_state_round_trip (void)
{
  pl_test_state_round_trip (engine (),
    "[experiment]\nseed=5\n[data]\ndataset=digits\n[model]\nhidden=16, 8\n"
    "[train]\nepochs=1\nmax-steps=30\nbatch-size=32\nlr=1e-2\n"
    "[gate]\nplugin=sigmoid-gate\npressure=2\nthreshold=0.7\nwarmup-steps=10\n",
    PL_SLOT_GATE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  pl_test_tmpdir ();
  g_test_add_func ("/plugins/sigmoid-gate/op/gradcheck", test_op_gradcheck);
  g_test_add_func ("/plugins/sigmoid-gate/op/accumulates", test_op_accumulates);
  g_test_add_func ("/plugins/sigmoid-gate/op/model-gradcheck", test_model_gradcheck);
  g_test_add_func ("/plugins/sigmoid-gate/effective-params", test_effective_params);
  g_test_add_func ("/plugins/sigmoid-gate/checkpoint-restores", test_checkpoint_restores_dead_units);
  g_test_add_func ("/plugins/sigmoid-gate/listed", test_listed);
  g_test_add_func ("/plugins/sigmoid-gate/bad-options", test_bad_options);
  g_test_add_func ("/plugins/sigmoid-gate/pressure", test_pressure_drives_gates_down);
  g_test_add_func ("/plugins/sigmoid-gate/run-on-digits", test_run_on_digits);
  g_test_add_func ("/plugins/sigmoid-gate/threshold", test_threshold_warmup_min_active);
  g_test_add_func ("/plugins/sigmoid-gate/needs-hidden-layers", test_needs_hidden_layers);
  g_test_add_func ("/plugins/sigmoid-gate/state-round-trip", test_state_round_trip);
  return g_test_run ();
}
