/* Models, the graph they replay, optimizers and schedules. */
#include <string.h>

#include "paramlab.h"
#include "pl-test-util.h"

/* ---- allocation counting ----------------------------------------------------
 * The test program interposes malloc and friends, so calls made from inside
 * libparamlab and OpenBLAS are counted too. Sanitizer builds replace malloc
 * themselves, so there the check is skipped. */
#if defined(__SANITIZE_ADDRESS__)
#define PL_COUNT_ALLOCS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PL_COUNT_ALLOCS 0
#endif
#endif
#ifndef PL_COUNT_ALLOCS
#define PL_COUNT_ALLOCS 1
#endif

#if PL_COUNT_ALLOCS
extern void *__libc_malloc (size_t);
extern void *__libc_calloc (size_t, size_t);
extern void *__libc_realloc (void *, size_t);
extern void *__libc_memalign (size_t, size_t);
extern void __libc_free (void *);
static volatile gint alloc_count;
void *malloc (size_t n) { g_atomic_int_inc (&alloc_count); return __libc_malloc (n); }
void *calloc (size_t a, size_t b) { g_atomic_int_inc (&alloc_count); return __libc_calloc (a, b); }
void *realloc (void *p, size_t n) { g_atomic_int_inc (&alloc_count); return __libc_realloc (p, n); }
void free (void *p) { if (p) g_atomic_int_inc (&alloc_count); __libc_free (p); }
int posix_memalign (void **p, size_t a, size_t n)
{
  g_atomic_int_inc (&alloc_count);
  *p = __libc_memalign (a, n);
  return *p ? 0 : 12;
}
void *aligned_alloc (size_t a, size_t n) { g_atomic_int_inc (&alloc_count); return __libc_memalign (a, n); }
void *memalign (size_t a, size_t n) { g_atomic_int_inc (&alloc_count); return __libc_memalign (a, n); }
#endif

static PlModelSpec
small_spec (int in, int classes, int batch)
{
  PlModelSpec s = { 0 };
  s.in_features = in;
  s.sample_shape[0] = in;
  s.sample_shape[1] = s.sample_shape[2] = 1;
  s.n_classes = classes;
  s.max_batch = batch;
  s.seed = 7;
  s.activation = PL_ACT_TANH;
  return s;
}

static void
fill_batch (PlModel *m, int n, int classes, guint64 seed)
{
  PlRng r;
  pl_rng_init (&r, seed);
  float *x = pl_model_get_input_buffer (m);
  int32_t *y = pl_model_get_label_buffer (m);
  int in = pl_model_get_spec (m)->in_features;
  for (int i = 0; i < n * in; i++)
    x[i] = (float) pl_rng_normal (&r);
  for (int i = 0; i < n; i++)
    y[i] = (int32_t) pl_rng_below (&r, classes);
}

/* Finite differences of the whole model's loss against every parameter: the graph
 * wiring (reshape aliases, residual adds, shared inputs) is right only if these
 * agree. Checks a sample of elements of every parameter. */
static void
check_model_gradients (PlModel *m, int batch)
{
  PlGraph *g = pl_model_get_graph (m);
  pl_model_zero_grads (m);
  pl_graph_forward (g, batch, TRUE);
  pl_graph_backward (g);
  size_t nf = pl_model_get_n_floats (m);
  float *analytic = g_memdup2 (pl_model_get_grads (m), nf * sizeof (float));
  double worst = 0;
  const char *worst_name = NULL;
  for (guint i = 0; i < pl_model_get_n_params (m); i++)
    {
      PlParam *p = pl_model_get_param (m, i);
      size_t step = MAX (p->numel / 7, 1);
      for (size_t j = 0; j < p->numel; j += step)
        {
          float keep = p->data[j];
          const float eps = g_getenv ("PL_FD_EPS") ? atof (g_getenv ("PL_FD_EPS")) : 3e-3f;
          p->data[j] = keep + eps;
          double lp = pl_graph_forward (g, batch, TRUE);
          p->data[j] = keep - eps;
          double lm = pl_graph_forward (g, batch, TRUE);
          p->data[j] = keep;
          double num = (lp - lm) / (2 * eps);
          double ana = analytic[p->offset + j];
          double err = fabs (num - ana) / (fabs (num) + fabs (ana) + 1e-2);
          if (err > worst)
            {
              worst = err;
              worst_name = p->name;
            }
          if (err > 0.05)
            g_error ("%s[%zu]: analytic %.6g vs numeric %.6g", p->name, j, ana, num);
        }
    }
  g_test_message ("worst relative gradient error %.3g at %s", worst,
                  worst_name ? worst_name : "-");
  g_free (analytic);
}

static void
test_mlp_names_and_groups (void)
{
  PlModelSpec s = small_spec (64, 10, 8);
  g_autoptr (GError) error = NULL;
  g_autoptr (PlModel) m = pl_model_new_mlp (&s, (int[]) { 32, 16 }, 2, &error);
  g_assert_no_error (error);
  const char *names[] = { "hidden.0.weight", "hidden.0.bias", "hidden.1.weight",
                          "hidden.1.bias", "head.weight", "head.bias" };
  int shapes[][2] = { { 32, 64 }, { 32, 0 }, { 16, 32 }, { 16, 0 }, { 10, 16 }, { 10, 0 } };
  g_assert_cmpuint (pl_model_get_n_params (m), ==, 6);
  for (guint i = 0; i < 6; i++)
    {
      PlParam *p = pl_model_get_param (m, i);
      g_assert_cmpstr (p->name, ==, names[i]);
      g_assert_cmpint (p->shape[0], ==, shapes[i][0]);
      if (shapes[i][1])
        g_assert_cmpint (p->shape[1], ==, shapes[i][1]);
      g_assert_cmpint (p->group, ==, i < 4 ? PL_GROUP_BASE : PL_GROUP_TASK);
      g_assert_cmpint (p->kind, ==, i % 2 ? PL_PARAM_BIAS : PL_PARAM_WEIGHT);
      /* one contiguous block */
      g_assert_true (p->data == pl_model_get_params (m) + p->offset);
    }
  g_assert_cmpuint (pl_model_count_trainable (m), ==,
                    32 * 64 + 32 + 16 * 32 + 16 + 10 * 16 + 10);
}

static void
test_mlp_gradients (void)
{
  PlModelSpec s = small_spec (6, 3, 5);
  g_autoptr (GError) error = NULL;
  g_autoptr (PlModel) m = pl_model_new_mlp (&s, (int[]) { 7, 5 }, 2, &error);
  g_assert_no_error (error);
  pl_model_init_default (m, 1);
  fill_batch (m, 4, 3, 2);   /* a partial batch: 4 of 5 rows */
  check_model_gradients (m, 4);
}

static void
test_cnn_gradients (void)
{
  PlModelSpec s = small_spec (1 * 6 * 6, 3, 3);
  s.sample_shape[0] = 1;
  s.sample_shape[1] = 6;
  s.sample_shape[2] = 6;
  g_autoptr (GError) error = NULL;
  g_autoptr (PlModel) m = pl_model_new_cnn (&s, (int[]) { 3, 4 }, 2, 3, &error);
  g_assert_no_error (error);
  pl_model_init_default (m, 1);
  fill_batch (m, 3, 3, 3);
  check_model_gradients (m, 3);
}

static void
test_attention_gradients (void)
{
  PlModelSpec s = small_spec (12, 3, 3);
  s.activation = PL_ACT_GELU;
  g_autoptr (GError) error = NULL;
  g_autoptr (PlModel) m = pl_model_new_attention (&s, 4, 8, 2, 2, &error);
  g_assert_no_error (error);
  pl_model_init_default (m, 1);
  g_assert_nonnull (pl_model_lookup_param (m, "layers.1.attn.q_proj.weight"));
  fill_batch (m, 3, 3, 4);
  check_model_gradients (m, 3);
}

static void
test_attention_bad_tokens (void)
{
  PlModelSpec s = small_spec (30, 2, 3);
  g_autoptr (GError) error = NULL;
  g_autoptr (PlModel) m = pl_model_new_attention (&s, 8, 8, 1, 2, &error);
  g_assert_null (m);
  g_assert_error (error, PL_ERROR, PL_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "tokens"));
  g_assert_nonnull (strstr (error->message, "30"));
}

/* A training step (forward, backward, optimizer) replays the graph without
 * touching the allocator. */
static void
test_no_allocation_in_step (void)
{
#if PL_COUNT_ALLOCS
  /* valgrind replaces malloc itself (through its preload), so nothing is counted */
  if (g_getenv ("LD_PRELOAD") && strstr (g_getenv ("LD_PRELOAD"), "vgpreload"))
    {
      g_test_skip ("malloc is valgrind's here; see the plain and sanitizer runs");
      return;
    }
  const char *archs[] = { "mlp", "cnn", "attention" };
  for (int a = 0; a < 3; a++)
    {
      PlModelSpec s = small_spec (64, 10, 16);
      s.sample_shape[0] = 1;
      s.sample_shape[1] = 8;
      s.sample_shape[2] = 8;
      s.dropout = 0.1f;
      g_autoptr (GError) error = NULL;
      g_autoptr (PlModel) m = NULL;
      if (a == 0)
        m = pl_model_new_mlp (&s, (int[]) { 32, 16 }, 2, &error);
      else if (a == 1)
        m = pl_model_new_cnn (&s, (int[]) { 4, 8 }, 2, 3, &error);
      else
        m = pl_model_new_attention (&s, 8, 16, 2, 2, &error);
      g_assert_no_error (error);
      pl_model_init_default (m, 1);
      PlOptimizerConfig oc = { .algorithm = PL_OPTIMIZER_ADAMW, .lr = 1e-3, .beta1 = 0.9,
                               .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.01 };
      g_autoptr (PlOptimizer) opt = pl_optimizer_new (&oc, m, &error);
      g_assert_no_error (error);
      PlGraph *g = pl_model_get_graph (m);
      fill_batch (m, 16, 10, 5);
      for (int warm = 0; warm < 2; warm++)
        {
          pl_model_zero_grads (m);
          pl_graph_forward (g, 16, TRUE);
          pl_graph_backward (g);
          pl_optimizer_step (opt, 1e-3);
        }
      /* the counter sees allocations made inside the library's allocator calls */
      gint probe = g_atomic_int_get (&alloc_count);
      g_free (g_malloc (32));
      g_assert_cmpint (g_atomic_int_get (&alloc_count), >=, probe + 2);
      gint before = g_atomic_int_get (&alloc_count);
      for (int step = 0; step < 5; step++)
        {
          pl_model_zero_grads (m);
          pl_graph_forward (g, step % 2 ? 16 : 9, TRUE);
          pl_graph_backward (g);
          pl_optimizer_step (opt, 1e-3);
        }
      gint after = g_atomic_int_get (&alloc_count);
      if (after != before)
        g_error ("%s: %d allocator calls during 5 training steps", archs[a],
                 after - before);
    }
#else
  g_test_skip ("the sanitizer owns malloc");
#endif
}

/* The graph overwrites an activation gradient in its first writer instead of
 * clearing it (PL_GRAD_SET) unless another input of that node shares it. A graph
 * with every such case: a tensor added to itself, a tensor read by two nodes
 * (residual), self-attention with q = k = v, a reshape sharing its source's
 * gradient, and attention whose inputs are distinct; checked against finite
 * differences, at a full and a partial batch, and a second backward without
 * clearing must add exactly the same gradients again. */
static void
test_graph_first_writer (void)
{
  enum { B = 3, T = 4, D = 4, IN = T * 2 };
  PlModelSpec s = small_spec (IN, 3, B);
  g_autoptr (PlModel) m = pl_model_new ("test", &s);
  pl_model_add_param (m, "embed.weight", PL_PARAM_WEIGHT, PL_GROUP_BASE, PL_LAYER_DENSE, 2,
                      (int[]) { D, 2 });
  pl_model_add_param (m, "embed.bias", PL_PARAM_BIAS, PL_GROUP_BASE, PL_LAYER_DENSE, 1,
                      (int[]) { D });
  pl_model_add_param (m, "q.weight", PL_PARAM_WEIGHT, PL_GROUP_BASE, PL_LAYER_DENSE, 2,
                      (int[]) { D, D });
  pl_model_add_param (m, "ln.weight", PL_PARAM_NORM, PL_GROUP_BASE, PL_LAYER_NORM, 1,
                      (int[]) { D });
  pl_model_add_param (m, "ln.bias", PL_PARAM_NORM, PL_GROUP_BASE, PL_LAYER_NORM, 1,
                      (int[]) { D });
  pl_model_add_param (m, "head.weight", PL_PARAM_WEIGHT, PL_GROUP_TASK, PL_LAYER_DENSE, 2,
                      (int[]) { 3, D });
  pl_model_add_param (m, "head.bias", PL_PARAM_BIAS, PL_GROUP_TASK, PL_LAYER_DENSE, 1,
                      (int[]) { 3 });
  g_autoptr (GError) error = NULL;
  g_assert_true (pl_model_finalize_params (m, &error));
  pl_model_init_default (m, 5);
  PlGraph *g = pl_graph_new (B, 1);
  PlTensor *p[7];
  for (guint i = 0; i < 7; i++)
    p[i] = pl_model_param_tensor (m, g, pl_model_get_param (m, i));
  PlTensor *input = pl_graph_input (g, "input", 1, (int[]) { IN });
  PlTensor *x = pl_graph_reshape (g, input, 2, (int[]) { T, 2 });
  PlTensor *h = pl_graph_linear (g, x, p[0], p[1]);            /* [B, T, D] */
  PlTensor *a = pl_graph_activation (g, h, PL_ACT_GELU);
  PlTensor *twice = pl_graph_add (g, a, a);                    /* shared inside one node */
  PlTensor *self = pl_graph_attention (g, twice, twice, twice, 2);  /* q = k = v */
  PlTensor *q = pl_graph_linear (g, h, p[2], NULL);            /* h read three times */
  PlTensor *att = pl_graph_attention (g, q, a, h, 2);
  PlTensor *r = pl_graph_add (g, att, self);
  PlTensor *flat = pl_graph_reshape (g, r, 1, (int[]) { T * D });
  PlTensor *back = pl_graph_reshape (g, flat, 2, (int[]) { T, D });
  PlTensor *n = pl_graph_layernorm (g, back, p[3], p[4], 1e-5f);
  PlTensor *r2 = pl_graph_add (g, n, h);
  PlTensor *mean = pl_graph_mean_tokens (g, r2);
  PlTensor *logits = pl_graph_linear (g, mean, p[5], p[6]);
  g_assert_true (pl_model_finish_graph (m, g, input, logits, &error));
  g_assert_no_error (error);
  for (int batch = B; batch >= B - 1; batch--)
    {
      fill_batch (m, batch, 3, 11 + batch);
      check_model_gradients (m, batch);
      /* accumulation: a second backward adds the same again */
      size_t nf = pl_model_get_n_floats (m);
      pl_model_zero_grads (m);
      pl_graph_forward (g, batch, TRUE);
      pl_graph_backward (g);
      float *once = g_memdup2 (pl_model_get_grads (m), nf * sizeof (float));
      pl_graph_forward (g, batch, TRUE);
      pl_graph_backward (g);
      const float *grads = pl_model_get_grads (m);
      for (size_t i = 0; i < nf; i++)
        pl_assert_close (grads[i], 2.0 * once[i], 1e-6, 1e-5);
      g_free (once);
    }
}

/* y = x + x * x / 2 elementwise, dy/dx = 1 + x: a custom transform of a
 * parameter, adding (PlCustomOp.backward) or overwriting (set_backward) */
static void
square_forward (const PlTensor *in, PlTensor *out, int batch, gboolean training,
                gpointer user_data)
{
  size_t n = pl_tensor_numel (in, batch);
  for (size_t i = 0; i < n; i++)
    out->data[i] = in->data[i] + in->data[i] * in->data[i] * 0.5f;
}

static void
square_backward (PlTensor *in, const PlTensor *out, int batch, gpointer user_data)
{
  if (!in->grad)
    return;
  size_t n = pl_tensor_numel (in, batch);
  for (size_t i = 0; i < n; i++)
    in->grad[i] += out->grad[i] * (1.0f + in->data[i]);
}

static void
square_backward_set (PlTensor *in, const PlTensor *out, int batch, gpointer user_data)
{
  if (!in->grad)
    return;
  size_t n = pl_tensor_numel (in, batch);
  for (size_t i = 0; i < n; i++)
    in->grad[i] = 0.0f + out->grad[i] * (1.0f + in->data[i]);
}

static const PlCustomOp square_op = { "square", square_forward, square_backward };

/* An MLP whose fc1.weight goes through a custom transform alone (its only
 * writer), fc2.weight through one and also straight into a second linear
 * (shared: two writers), and whose input goes through one too (batched, no
 * gradient). @set: the transforms are built with pl_graph_custom_with_set (). */
static PlModel *
custom_param_model (gboolean set)
{
  enum { B = 4, IN = 5, H = 6, C = 3 };
  PlModelSpec s = small_spec (IN, C, B);
  PlModel *m = pl_model_new ("test", &s);
  pl_model_add_param (m, "fc1.weight", PL_PARAM_WEIGHT, PL_GROUP_BASE, PL_LAYER_DENSE, 2,
                      (int[]) { H, IN });
  pl_model_add_param (m, "fc1.bias", PL_PARAM_BIAS, PL_GROUP_BASE, PL_LAYER_DENSE, 1,
                      (int[]) { H });
  pl_model_add_param (m, "fc2.weight", PL_PARAM_WEIGHT, PL_GROUP_TASK, PL_LAYER_DENSE, 2,
                      (int[]) { C, H });
  pl_model_add_param (m, "fc2.bias", PL_PARAM_BIAS, PL_GROUP_TASK, PL_LAYER_DENSE, 1,
                      (int[]) { C });
  g_autoptr (GError) error = NULL;
  g_assert_true (pl_model_finalize_params (m, &error));
  pl_model_init_default (m, 5);
  PlGraph *g = pl_graph_new (B, 1);
  PlTensor *p[4];
  for (guint i = 0; i < 4; i++)
    p[i] = pl_model_param_tensor (m, g, pl_model_get_param (m, i));
  PlTensor *input = pl_graph_input (g, "input", 1, (int[]) { IN });
#define CUSTOM(x) (set ? pl_graph_custom_with_set (g, (x), &square_op, square_backward_set, NULL) \
                       : pl_graph_custom (g, (x), &square_op, NULL))
  PlTensor *x = CUSTOM (input);
  PlTensor *h = pl_graph_activation (g, pl_graph_linear (g, x, CUSTOM (p[0]), p[1]),
                                     PL_ACT_TANH);
  PlTensor *l1 = pl_graph_linear (g, h, CUSTOM (p[2]), p[3]);
  PlTensor *l2 = pl_graph_linear (g, h, p[2], NULL);
#undef CUSTOM
  g_assert_true (pl_model_finish_graph (m, g, input, pl_graph_add (g, l1, l2), &error));
  g_assert_no_error (error);
  return m;
}

/* A custom transform of a parameter overwrites that parameter's gradient only
 * where it is its single writer; pl_model_zero_grads () then skips it. Checked
 * against finite differences and bit for bit against the adding build, over
 * gradients left dirty (NaN) before the zeroing, at a full and a partial batch. */
static void
test_graph_custom_param_set (void)
{
  g_autoptr (PlModel) add = custom_param_model (FALSE);
  g_autoptr (PlModel) set = custom_param_model (TRUE);
  PlGraph *ga = pl_model_get_graph (add), *gs = pl_model_get_graph (set);
  for (guint i = 0; i < pl_model_get_n_params (set); i++)
    {
      g_assert_false (pl_graph_param_grad_is_set (ga, pl_model_get_param (add, i)->grad));
      g_assert_true (pl_graph_param_grad_is_set (gs, pl_model_get_param (set, i)->grad)
                     == (i == 0));
    }
  size_t nf = pl_model_get_n_floats (set);
  g_assert_cmpuint (nf, ==, pl_model_get_n_floats (add));
  for (int batch = 4; batch >= 3; batch--)
    {
      fill_batch (set, batch, 3, 21 + batch);
      fill_batch (add, batch, 3, 21 + batch);
      check_model_gradients (set, batch);
      float *gr = pl_model_get_grads (set);
      for (size_t i = 0; i < nf; i++)
        gr[i] = NAN;
      pl_model_zero_grads (set);
      g_assert_true (isnan (pl_model_get_param (set, 0)->grad[0]));  /* skipped */
      g_assert_cmpfloat (pl_model_get_param (set, 1)->grad[0], ==, 0.0f);
      pl_graph_forward (gs, batch, TRUE);
      pl_graph_backward (gs);
      pl_model_zero_grads (add);
      pl_graph_forward (ga, batch, TRUE);
      pl_graph_backward (ga);
      g_assert_cmpmem (gr, nf * sizeof (float), pl_model_get_grads (add), nf * sizeof (float));
    }
}

static void
test_sgd_momentum_matches_formula (void)
{
  PlModelSpec s = small_spec (2, 2, 1);
  g_autoptr (GError) error = NULL;
  g_autoptr (PlModel) m = pl_model_new_mlp (&s, NULL, 0, &error);
  g_assert_no_error (error);
  PlParam *w = pl_model_lookup_param (m, "head.weight");
  for (int nesterov = 0; nesterov < 2; nesterov++)
    {
      PlOptimizerConfig oc = { .algorithm = PL_OPTIMIZER_SGD, .lr = 0.1, .momentum = 0.9,
                               .nesterov = nesterov, .weight_decay = 0.01 };
      g_autoptr (PlOptimizer) opt = pl_optimizer_new (&oc, m, &error);
      g_assert_no_error (error);
      double p = 1.0, buf = 0;
      w->data[0] = 1.0f;
      for (int t = 0; t < 5; t++)
        {
          double grad = 0.5 + t;
          w->grad[0] = (float) grad;
          pl_optimizer_step (opt, 0.1);
          double d = grad + 0.01 * p;
          buf = t == 0 ? d : 0.9 * buf + d;
          p -= 0.1 * (nesterov ? d + 0.9 * buf : buf);
          pl_assert_close (w->data[0], p, 1e-5, 1e-5);
        }
    }
}

static void
test_adam_matches_formula (void)
{
  PlModelSpec s = small_spec (2, 2, 1);
  g_autoptr (GError) error = NULL;
  g_autoptr (PlModel) m = pl_model_new_mlp (&s, NULL, 0, &error);
  PlParam *w = pl_model_lookup_param (m, "head.weight");
  for (int decoupled = 0; decoupled < 2; decoupled++)
    {
      PlOptimizerConfig oc = { .algorithm = decoupled ? PL_OPTIMIZER_ADAMW : PL_OPTIMIZER_ADAM,
                               .lr = 0.01, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8,
                               .weight_decay = 0.1 };
      g_autoptr (PlOptimizer) opt = pl_optimizer_new (&oc, m, &error);
      g_assert_no_error (error);
      double p = 0.5, mm = 0, vv = 0;
      w->data[0] = 0.5f;
      for (int t = 1; t <= 6; t++)
        {
          double grad = t % 2 ? 0.3 : -0.7;
          w->grad[0] = (float) grad;
          pl_optimizer_step (opt, 0.01);
          if (decoupled)
            p *= 1 - 0.01 * 0.1;
          else
            grad += 0.1 * p;
          mm = 0.9 * mm + 0.1 * grad;
          vv = 0.999 * vv + 0.001 * grad * grad;
          double denom = sqrt (vv) / sqrt (1 - pow (0.999, t)) + 1e-8;
          p -= 0.01 / (1 - pow (0.9, t)) * mm / denom;
          pl_assert_close (w->data[0], p, 1e-6, 1e-5);
        }
    }
}

static void
test_frozen_and_masked (void)
{
  PlModelSpec s = small_spec (4, 3, 2);
  g_autoptr (GError) error = NULL;
  g_autoptr (PlModel) m = pl_model_new_mlp (&s, (int[]) { 5 }, 1, &error);
  pl_model_init_default (m, 3);
  pl_model_freeze_group (m, PL_GROUP_BASE, TRUE);
  PlParam *hw = pl_model_lookup_param (m, "hidden.0.weight");
  PlParam *head = pl_model_lookup_param (m, "head.weight");
  float *mask = pl_model_ensure_mask (m, head);
  mask[0] = mask[3] = 0.0f;
  pl_model_apply_masks (m);
  float *before = g_memdup2 (hw->data, hw->numel * sizeof (float));
  PlOptimizerConfig oc = { .algorithm = PL_OPTIMIZER_SGD, .lr = 0.5, .momentum = 0.9 };
  g_autoptr (PlOptimizer) opt = pl_optimizer_new (&oc, m, &error);
  fill_batch (m, 2, 3, 9);
  for (int t = 0; t < 10; t++)
    {
      pl_model_zero_grads (m);
      pl_graph_forward (pl_model_get_graph (m), 2, TRUE);
      pl_graph_backward (pl_model_get_graph (m));
      pl_optimizer_step (opt, 0.5);
    }
  g_assert_cmpmem (before, hw->numel * sizeof (float), hw->data, hw->numel * sizeof (float));
  g_assert_cmpfloat (head->data[0], ==, 0.0f);
  g_assert_cmpfloat (head->data[3], ==, 0.0f);
  g_assert_cmpfloat (head->data[1], !=, 0.0f);
  g_assert_cmpuint (pl_model_count_trainable (m), ==, head->numel - 2 + 3);
  g_free (before);
}

static void
test_schedules (void)
{
  PlSchedule s = { .kind = PL_SCHEDULE_STEP, .base_lr = 1.0, .step_size = 2, .gamma = 0.1,
                   .steps_per_epoch = 10 };
  pl_assert_close (pl_schedule_lr (&s, 0), 1.0, 1e-12, 0);
  pl_assert_close (pl_schedule_lr (&s, 19), 1.0, 1e-12, 0);
  pl_assert_close (pl_schedule_lr (&s, 20), 0.1, 1e-12, 0);
  pl_assert_close (pl_schedule_lr (&s, 45), 0.01, 1e-12, 0);
  PlSchedule c = { .kind = PL_SCHEDULE_COSINE, .base_lr = 1.0, .total_steps = 100 };
  pl_assert_close (pl_schedule_lr (&c, 0), 1.0, 1e-12, 0);
  pl_assert_close (pl_schedule_lr (&c, 50), 0.5, 1e-12, 0);
  pl_assert_close (pl_schedule_lr (&c, 100), 0.0, 1e-12, 0);
  PlSchedule w = { .kind = PL_SCHEDULE_CONSTANT, .base_lr = 0.4, .warmup_steps = 4 };
  pl_assert_close (pl_schedule_lr (&w, 0), 0.1, 1e-12, 0);
  pl_assert_close (pl_schedule_lr (&w, 3), 0.4, 1e-12, 0);
  pl_assert_close (pl_schedule_lr (&w, 10), 0.4, 1e-12, 0);
}

static void
test_binary_metrics (void)
{
  /* scores and labels with a known ROC-AUC (scikit-learn: 0.75) and AP */
  float scores[] = { 0.1f, 0.4f, 0.35f, 0.8f };
  int32_t labels[] = { 0, 0, 1, 1 };
  uint32_t scratch[4];
  PlBinaryMetrics bm;
  pl_metrics_binary (scores, labels, 4, scratch, &bm);
  pl_assert_close (bm.roc_auc, 0.75, 1e-12, 0);
  pl_assert_close (bm.pr_auc, 0.8333333333, 1e-9, 0);
  pl_assert_close (bm.precision, 1.0, 1e-12, 0);
  pl_assert_close (bm.recall, 0.5, 1e-12, 0);
  pl_assert_close (bm.f1, 2.0 / 3.0, 1e-12, 0);
  /* ties count one half */
  float tied[] = { 0.5f, 0.5f };
  int32_t tl[] = { 0, 1 };
  pl_metrics_binary (tied, tl, 2, scratch, &bm);
  pl_assert_close (bm.roc_auc, 0.5, 1e-12, 0);
  pl_assert_close (pl_metrics_recall_at_precision (scores, labels, 4, scratch, 1.0), 0.5,
                   1e-12, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/core/model/mlp/names", test_mlp_names_and_groups);
  g_test_add_func ("/core/model/mlp/gradients", test_mlp_gradients);
  g_test_add_func ("/core/model/cnn/gradients", test_cnn_gradients);
  g_test_add_func ("/core/model/attention/gradients", test_attention_gradients);
  g_test_add_func ("/core/model/attention/bad-tokens", test_attention_bad_tokens);
  g_test_add_func ("/core/model/no-allocation-in-step", test_no_allocation_in_step);
  g_test_add_func ("/core/model/graph/first-writer", test_graph_first_writer);
  g_test_add_func ("/core/model/graph/custom-param-set", test_graph_custom_param_set);
  g_test_add_func ("/core/optim/sgd", test_sgd_momentum_matches_formula);
  g_test_add_func ("/core/optim/adam", test_adam_matches_formula);
  g_test_add_func ("/core/optim/frozen-and-masked", test_frozen_and_masked);
  g_test_add_func ("/core/optim/schedules", test_schedules);
  g_test_add_func ("/core/metrics/binary", test_binary_metrics);
  return g_test_run ();
}
