/* test-ops.c: the kernels of pl-ops.h.
 *
 * Every op runs over a small table of shapes through two generic checks:
 * - forward: the kernel's output against a naive double-precision reference
 *   written here (plain loops, no BLAS);
 * - gradcheck: each input's gradient against central finite differences of the
 *   projection loss L = sum_i r_i y_i, with the gradient buffers starting non-zero
 *   (a backward must add), a second backward call (must add again), each gradient
 *   alone with the others NULL (must match), and a bitwise-repeatable forward.
 * Then the cases a user relies on by name: huge logits, dropout's scale, bad
 * embedding ids, masks, the exact GELU, and the checker's own ability to fail. */
#include "paramlab.h"
#include "pl-test-util.h"

#include <string.h>
#include <cblas.h>
#undef I /* complex.h's, through cblas.h; I (c, i) below is an input */

#define MAX_IN 4
#define FD_EPS 1e-3
#define FD_ATOL 1e-3
#define FD_RTOL 1e-2
#define FWD_ATOL 1e-5
#define FWD_RTOL 1e-4
#define DROPOUT_SEED 99

typedef enum {
  FILL_UNIFORM,   /* U(-1, 1) */
  FILL_NORMAL,    /* N(0, 1.5^2) */
  FILL_AWAY_ZERO, /* |x| in [0.05, 1.05): no kink within the FD step */
  FILL_DISTINCT,  /* a shuffled ramp with steps of 0.01: no ties within the FD step */
  FILL_NEAR_ONE,  /* U(0.5, 1.5) */
} Fill;

/* the dimensions an op may use; each op reads its own */
typedef struct {
  int N, C, H, W, K, KH, KW, stride, pad;
  int IN, OUT, S, T, heads, Dh, V, D, A, B, k, s;
  size_t n;
  float p;
  gboolean no_bias;  /* linear, conv: b = NULL; layernorm: gamma = beta = NULL */
  gboolean masked;   /* attention: a key padding mask */
} Dims;

typedef struct {
  Dims d;
  char *label;
  int n_in;
  const char *name[MAX_IN];
  float *in[MAX_IN];
  size_t len[MAX_IN];
  gboolean no_grad[MAX_IN]; /* an input without a gradient (mse target) */
  float *y;
  size_t ny;
  float *scratch[3];
  int32_t *ints;            /* labels, ids, argmax */
  guint8 *mask;
} Case;

typedef struct {
  const char *name;
  void (*setup)     (Case *c, PlRng *rng);
  void (*forward)   (Case *c);
  /* adds into grad[i] from dy; grad[i] may be NULL */
  void (*backward)  (Case *c, const float *dy, float **grad);
  void (*reference) (const Case *c, double *y);
  const Dims *shapes;
  int n_shapes;
} OpSpec;

/* ---- case plumbing ------------------------------------------------------------- */

static float *
random_floats (size_t n, Fill fill, PlRng *rng)
{
  float *x = g_new (float, MAX (n, 1));
  for (size_t i = 0; i < n; i++)
    switch (fill)
      {
      case FILL_UNIFORM: x[i] = (float) (2.0 * pl_rng_uniform (rng) - 1.0); break;
      case FILL_NORMAL: x[i] = (float) (1.5 * pl_rng_normal (rng)); break;
      case FILL_AWAY_ZERO:
        x[i] = (float) ((0.05 + pl_rng_uniform (rng)) * (pl_rng_uniform (rng) < 0.5 ? -1 : 1));
        break;
      case FILL_DISTINCT: x[i] = (float) (0.01 * (double) i - 0.005 * (double) n); break;
      case FILL_NEAR_ONE: x[i] = (float) (0.5 + pl_rng_uniform (rng)); break;
      default: g_assert_not_reached ();
      }
  if (fill == FILL_DISTINCT)
    for (size_t i = n; i > 1; i--)
      {
        size_t j = pl_rng_below (rng, i);
        float t = x[i - 1];
        x[i - 1] = x[j];
        x[j] = t;
      }
  return x;
}

static void
add_input (Case *c, const char *name, size_t len, Fill fill, PlRng *rng)
{
  g_assert_cmpint (c->n_in, <, MAX_IN);
  c->name[c->n_in] = name;
  c->in[c->n_in] = random_floats (len, fill, rng);
  c->len[c->n_in] = len;
  c->n_in++;
}

static void
set_output (Case *c, size_t ny)
{
  c->ny = ny;
  c->y = g_new0 (float, MAX (ny, 1));
}

static Case *
case_new (const OpSpec *op, const Dims *d, PlRng *rng)
{
  Case *c = g_new0 (Case, 1);
  c->d = *d;
  op->setup (c, rng);
  return c;
}

static void
case_free (Case *c)
{
  for (int i = 0; i < c->n_in; i++)
    g_free (c->in[i]);
  for (int i = 0; i < 3; i++)
    g_free (c->scratch[i]);
  g_free (c->y);
  g_free (c->ints);
  g_free (c->mask);
  g_free (c->label);
  g_free (c);
}

static double
projection_loss (const Case *c, const double *r)
{
  double l = 0.0;
  for (size_t i = 0; i < c->ny; i++)
    l += r[i] * c->y[i];
  return l;
}

/* Checks every gradient of @c. Returns TRUE when all match; otherwise FALSE with a
 * message naming the case, the tensor, the worst element and both values. */
static gboolean
gradcheck (const OpSpec *op, Case *c, PlRng *rng, GString *msg)
{
  gboolean ok = TRUE;
  double *r = g_new (double, c->ny);
  float *r_f = g_new (float, c->ny);
  float *g0[MAX_IN] = { 0 }, *grad[MAX_IN] = { 0 }, *solo[MAX_IN] = { 0 };

  op->forward (c);
  float *y0 = g_memdup2 (c->y, c->ny * sizeof (float));
  for (size_t i = 0; i < c->ny; i++)
    {
      r_f[i] = (float) pl_rng_normal (rng);
      r[i] = r_f[i];
    }

  for (int i = 0; i < c->n_in; i++)
    if (!c->no_grad[i])
      {
        g0[i] = random_floats (c->len[i], FILL_UNIFORM, rng);
        grad[i] = g_memdup2 (g0[i], MAX (c->len[i], 1) * sizeof (float));
      }
  op->backward (c, r_f, grad);

  for (int i = 0; i < c->n_in && ok; i++)
    {
      if (c->no_grad[i])
        continue;
      size_t len = c->len[i];
      double *analytic = g_new (double, MAX (len, 1));
      for (size_t j = 0; j < len; j++)
        analytic[j] = (double) grad[i][j] - g0[i][j];

      /* the same gradient alone, into zeros, the others NULL (after a forward at
       * the unperturbed point: the previous input's differences moved it) */
      float *only[MAX_IN] = { 0 };
      op->forward (c);
      solo[i] = g_new0 (float, MAX (len, 1));
      only[i] = solo[i];
      op->backward (c, r_f, only);
      for (size_t j = 0; j < len && ok; j++)
        if (!(fabs (solo[i][j] - analytic[j]) <= 1e-5 + 1e-5 * fabs (analytic[j])))
          {
            g_string_append_printf (msg, "%s %s: d%s[%zu] computed alone is %.7g but %.7g "
                                    "with the other gradients", op->name, c->label,
                                    c->name[i], j, solo[i][j], analytic[j]);
            ok = FALSE;
          }

      /* central differences */
      size_t worst = 0;
      double worst_ratio = -1.0, worst_num = 0.0;
      for (size_t j = 0; j < len; j++)
        {
          float v = c->in[i][j];
          c->in[i][j] = (float) (v + FD_EPS);
          op->forward (c);
          double lp = projection_loss (c, r);
          c->in[i][j] = (float) (v - FD_EPS);
          op->forward (c);
          double lm = projection_loss (c, r);
          c->in[i][j] = v;
          double num = (lp - lm) / (2 * FD_EPS);
          double ratio = fabs (analytic[j] - num) / (FD_ATOL + FD_RTOL * fabs (num));
          if (!(ratio <= worst_ratio))
            {
              worst_ratio = ratio;
              worst = j;
              worst_num = num;
            }
        }
      if (ok && !(worst_ratio <= 1.0))
        {
          g_string_append_printf (msg, "%s %s: d%s[%zu] = %.7g but finite differences "
                                  "give %.7g (worst of %zu, tolerance %g abs + %g rel)",
                                  op->name, c->label, c->name[i], worst, analytic[worst],
                                  worst_num, len, FD_ATOL, FD_RTOL);
          ok = FALSE;
        }
      g_free (analytic);
    }

  /* a second backward adds the same amount again */
  if (ok)
    {
      float *before[MAX_IN] = { 0 };
      for (int i = 0; i < c->n_in; i++)
        if (grad[i])
          before[i] = g_memdup2 (grad[i], MAX (c->len[i], 1) * sizeof (float));
      op->forward (c);
      op->backward (c, r_f, grad);
      for (int i = 0; i < c->n_in; i++)
        {
          for (size_t j = 0; grad[i] && j < c->len[i] && ok; j++)
            {
              double once = (double) before[i][j] - g0[i][j];
              double twice = (double) grad[i][j] - g0[i][j];
              if (!(fabs (twice - 2 * once) <= 1e-5 + 1e-5 * fabs (once)))
                {
                  g_string_append_printf (msg, "%s %s: a second backward moved d%s[%zu] "
                                          "by %.7g, the first by %.7g (must add)",
                                          op->name, c->label, c->name[i], j,
                                          twice - once, once);
                  ok = FALSE;
                }
            }
          g_free (before[i]);
        }
    }

  op->forward (c);
  if (ok && memcmp (y0, c->y, c->ny * sizeof (float)) != 0)
    {
      g_string_append_printf (msg, "%s %s: the same forward gave different bits",
                              op->name, c->label);
      ok = FALSE;
    }

  for (int i = 0; i < MAX_IN; i++)
    {
      g_free (g0[i]);
      g_free (grad[i]);
      g_free (solo[i]);
    }
  g_free (y0);
  g_free (r);
  g_free (r_f);
  return ok;
}

static void
test_gradcheck (gconstpointer data)
{
  const OpSpec *op = data;
  PlRng rng;
  pl_rng_init_stream (&rng, 1, op->name);
  for (int s = 0; s < op->n_shapes; s++)
    {
      Case *c = case_new (op, &op->shapes[s], &rng);
      g_autoptr (GString) msg = g_string_new (NULL);
      if (!gradcheck (op, c, &rng, msg))
        g_test_fail_printf ("%s", msg->str);
      case_free (c);
    }
}

static void
test_forward (gconstpointer data)
{
  const OpSpec *op = data;
  PlRng rng;
  pl_rng_init_stream (&rng, 2, op->name);
  for (int s = 0; s < op->n_shapes; s++)
    {
      Case *c = case_new (op, &op->shapes[s], &rng);
      double *ref = g_new0 (double, MAX (c->ny, 1));
      op->forward (c);
      op->reference (c, ref);
      size_t worst = 0;
      double worst_ratio = -1.0;
      for (size_t i = 0; i < c->ny; i++)
        {
          double ratio = fabs (c->y[i] - ref[i]) / (FWD_ATOL + FWD_RTOL * fabs (ref[i]));
          if (!(ratio <= worst_ratio))
            {
              worst_ratio = ratio;
              worst = i;
            }
        }
      if (c->ny > 0 && !(worst_ratio <= 1.0))
        g_test_fail_printf ("%s %s: y[%zu] = %.7g, the naive reference gives %.7g "
                            "(worst of %zu)", op->name, c->label, worst, c->y[worst],
                            ref[worst], c->ny);
      g_free (ref);
      case_free (c);
    }
}

#define I(c, i) ((c)->in[i])
#define G(g, i) ((g)[i])

/* ---- linear ------------------------------------------------------------------------ */

static void
linear_setup (Case *c, PlRng *rng)
{
  const Dims *d = &c->d;
  c->label = g_strdup_printf ("N=%d IN=%d OUT=%d%s", d->N, d->IN, d->OUT,
                              d->no_bias ? " no bias" : "");
  add_input (c, "x", (size_t) d->N * d->IN, FILL_UNIFORM, rng);
  add_input (c, "w", (size_t) d->OUT * d->IN, FILL_UNIFORM, rng);
  if (!d->no_bias)
    add_input (c, "b", d->OUT, FILL_UNIFORM, rng);
  set_output (c, (size_t) d->N * d->OUT);
}

static void
linear_forward (Case *c)
{
  pl_linear_forward (c->y, I (c, 0), I (c, 1), c->n_in > 2 ? I (c, 2) : NULL, c->d.N,
                     c->d.IN, c->d.OUT);
}

static void
linear_backward (Case *c, const float *dy, float **g)
{
  pl_linear_backward (G (g, 0), G (g, 1), c->n_in > 2 ? G (g, 2) : NULL, dy, I (c, 0),
                      I (c, 1), c->d.N, c->d.IN, c->d.OUT);
}

static void
linear_reference (const Case *c, double *y)
{
  const Dims *d = &c->d;
  for (int n = 0; n < d->N; n++)
    for (int o = 0; o < d->OUT; o++)
      {
        double acc = c->n_in > 2 ? I (c, 2)[o] : 0.0;
        for (int i = 0; i < d->IN; i++)
          acc += (double) I (c, 0)[n * d->IN + i] * I (c, 1)[o * d->IN + i];
        y[n * d->OUT + o] = acc;
      }
}

static const Dims linear_shapes[] = {
  { .N = 3, .IN = 5, .OUT = 4 },
  { .N = 1, .IN = 7, .OUT = 2 },
  { .N = 4, .IN = 3, .OUT = 6, .no_bias = TRUE },
  { .N = 2, .IN = 1, .OUT = 1 },
};

/* ---- bias add ---------------------------------------------------------------------- */

static void
bias_setup (Case *c, PlRng *rng)
{
  const Dims *d = &c->d;
  c->label = g_strdup_printf ("N=%d C=%d S=%d", d->N, d->C, d->S);
  add_input (c, "x", (size_t) d->N * d->C * d->S, FILL_UNIFORM, rng);
  add_input (c, "b", d->C, FILL_UNIFORM, rng);
  set_output (c, (size_t) d->N * d->C * d->S);
}

static void
bias_forward (Case *c)
{
  pl_bias_add_forward (c->y, I (c, 0), I (c, 1), c->d.N, c->d.C, c->d.S);
}

static void
bias_backward (Case *c, const float *dy, float **g)
{
  pl_bias_add_backward (G (g, 0), G (g, 1), dy, c->d.N, c->d.C, c->d.S);
}

static void
bias_reference (const Case *c, double *y)
{
  const Dims *d = &c->d;
  for (int n = 0; n < d->N; n++)
    for (int ch = 0; ch < d->C; ch++)
      for (int s = 0; s < d->S; s++)
        {
          size_t i = ((size_t) n * d->C + ch) * d->S + s;
          y[i] = (double) I (c, 0)[i] + I (c, 1)[ch];
        }
}

static const Dims bias_shapes[] = {
  { .N = 3, .C = 4, .S = 1 },
  { .N = 2, .C = 3, .S = 5 },
};

/* ---- activations ------------------------------------------------------------------- */

typedef enum { ACT_RELU, ACT_GELU, ACT_TANH, ACT_SIGMOID } Act;

static void
act_setup (Case *c, PlRng *rng)
{
  c->label = g_strdup_printf ("n=%zu", c->d.n);
  add_input (c, "x", c->d.n, c->d.k == ACT_RELU ? FILL_AWAY_ZERO : FILL_NORMAL, rng);
  set_output (c, c->d.n);
}

static void
act_forward (Case *c)
{
  switch ((Act) c->d.k)
    {
    case ACT_RELU: pl_relu_forward (c->y, I (c, 0), c->d.n); break;
    case ACT_GELU: pl_gelu_forward (c->y, I (c, 0), c->d.n); break;
    case ACT_TANH: pl_tanh_forward (c->y, I (c, 0), c->d.n); break;
    case ACT_SIGMOID: pl_sigmoid_forward (c->y, I (c, 0), c->d.n); break;
    default: g_assert_not_reached ();
    }
}

static void
act_backward (Case *c, const float *dy, float **g)
{
  switch ((Act) c->d.k)
    {
    case ACT_RELU: pl_relu_backward (G (g, 0), dy, I (c, 0), c->y, c->d.n); break;
    case ACT_GELU: pl_gelu_backward (G (g, 0), dy, I (c, 0), c->y, c->d.n); break;
    case ACT_TANH: pl_tanh_backward (G (g, 0), dy, I (c, 0), c->y, c->d.n); break;
    case ACT_SIGMOID: pl_sigmoid_backward (G (g, 0), dy, I (c, 0), c->y, c->d.n); break;
    default: g_assert_not_reached ();
    }
}

static void
act_reference (const Case *c, double *y)
{
  for (size_t i = 0; i < c->d.n; i++)
    {
      double x = I (c, 0)[i];
      switch ((Act) c->d.k)
        {
        case ACT_RELU: y[i] = x > 0 ? x : 0; break;
        case ACT_GELU: y[i] = 0.5 * x * (1.0 + erf (x / sqrt (2.0))); break;
        case ACT_TANH: y[i] = tanh (x); break;
        case ACT_SIGMOID: y[i] = 1.0 / (1.0 + exp (-x)); break;
        default: g_assert_not_reached ();
        }
    }
}

static const Dims relu_shapes[] = { { .n = 37, .k = ACT_RELU }, { .n = 1, .k = ACT_RELU } };
static const Dims gelu_shapes[] = { { .n = 37, .k = ACT_GELU }, { .n = 1, .k = ACT_GELU } };
static const Dims tanh_shapes[] = { { .n = 37, .k = ACT_TANH }, { .n = 1, .k = ACT_TANH } };
static const Dims sigmoid_shapes[] = { { .n = 37, .k = ACT_SIGMOID },
                                       { .n = 1, .k = ACT_SIGMOID } };

/* ---- softmax cross-entropy and mse ---------------------------------------------------- */

static void
xent_setup (Case *c, PlRng *rng)
{
  const Dims *d = &c->d;
  c->label = g_strdup_printf ("N=%d C=%d", d->N, d->C);
  add_input (c, "logits", (size_t) d->N * d->C, FILL_NORMAL, rng);
  c->ints = g_new (int32_t, d->N);
  for (int n = 0; n < d->N; n++)
    c->ints[n] = (int32_t) pl_rng_below (rng, d->C);
  c->scratch[0] = g_new (float, (size_t) d->N * d->C);
  set_output (c, 1);
}

static void
xent_forward (Case *c)
{
  c->y[0] = pl_softmax_xent_forward (c->scratch[0], I (c, 0), c->ints, c->d.N, c->d.C);
}

static void
xent_backward (Case *c, const float *dy, float **g)
{
  pl_softmax_xent_backward (G (g, 0), c->scratch[0], c->ints, c->d.N, c->d.C, dy[0]);
}

static void
xent_reference (const Case *c, double *y)
{
  const Dims *d = &c->d;
  double loss = 0.0;
  for (int n = 0; n < d->N; n++)
    {
      const float *x = I (c, 0) + (size_t) n * d->C;
      double s = 0.0;
      for (int j = 0; j < d->C; j++)
        s += exp (x[j]);
      loss += log (s) - x[c->ints[n]];
    }
  y[0] = loss / d->N;
}

static const Dims xent_shapes[] = {
  { .N = 4, .C = 5 },
  { .N = 1, .C = 3 },
  { .N = 6, .C = 2 },
};

static void
mse_setup (Case *c, PlRng *rng)
{
  c->label = g_strdup_printf ("n=%zu", c->d.n);
  add_input (c, "pred", c->d.n, FILL_NORMAL, rng);
  add_input (c, "target", c->d.n, FILL_NORMAL, rng);
  c->no_grad[1] = TRUE;
  set_output (c, 1);
}

static void
mse_forward (Case *c)
{
  c->y[0] = pl_mse_forward (I (c, 0), I (c, 1), c->d.n);
}

static void
mse_backward (Case *c, const float *dy, float **g)
{
  pl_mse_backward (G (g, 0), I (c, 0), I (c, 1), c->d.n, dy[0]);
}

static void
mse_reference (const Case *c, double *y)
{
  double acc = 0.0;
  for (size_t i = 0; i < c->d.n; i++)
    acc += ((double) I (c, 0)[i] - I (c, 1)[i]) * ((double) I (c, 0)[i] - I (c, 1)[i]);
  y[0] = acc / c->d.n;
}

static const Dims mse_shapes[] = { { .n = 13 }, { .n = 1 } };

/* ---- layernorm --------------------------------------------------------------------------- */

#define LN_EPS 1e-5f

static void
ln_setup (Case *c, PlRng *rng)
{
  const Dims *d = &c->d;
  c->label = g_strdup_printf ("N=%d C=%d%s", d->N, d->C, d->no_bias ? " no affine" : "");
  add_input (c, "x", (size_t) d->N * d->C, FILL_NORMAL, rng);
  if (!d->no_bias)
    {
      add_input (c, "gamma", d->C, FILL_NEAR_ONE, rng);
      add_input (c, "beta", d->C, FILL_UNIFORM, rng);
    }
  c->scratch[0] = g_new (float, d->N);
  c->scratch[1] = g_new (float, d->N);
  set_output (c, (size_t) d->N * d->C);
}

static void
ln_forward (Case *c)
{
  gboolean affine = c->n_in > 1;
  pl_layernorm_forward (c->y, c->scratch[0], c->scratch[1], I (c, 0),
                        affine ? I (c, 1) : NULL, affine ? I (c, 2) : NULL, c->d.N, c->d.C,
                        LN_EPS);
}

static void
ln_backward (Case *c, const float *dy, float **g)
{
  gboolean affine = c->n_in > 1;
  pl_layernorm_backward (G (g, 0), affine ? G (g, 1) : NULL, affine ? G (g, 2) : NULL, dy,
                         I (c, 0), c->scratch[0], c->scratch[1], affine ? I (c, 1) : NULL,
                         c->d.N, c->d.C);
}

static void
ln_reference (const Case *c, double *y)
{
  const Dims *d = &c->d;
  for (int n = 0; n < d->N; n++)
    {
      const float *x = I (c, 0) + (size_t) n * d->C;
      double mu = 0.0, var = 0.0;
      for (int j = 0; j < d->C; j++)
        mu += x[j];
      mu /= d->C;
      for (int j = 0; j < d->C; j++)
        var += (x[j] - mu) * (x[j] - mu);
      var /= d->C;
      for (int j = 0; j < d->C; j++)
        {
          double xhat = (x[j] - mu) / sqrt (var + LN_EPS);
          y[n * d->C + j] = c->n_in > 1 ? xhat * I (c, 1)[j] + I (c, 2)[j] : xhat;
        }
    }
}

static const Dims ln_shapes[] = {
  { .N = 3, .C = 6 },
  { .N = 2, .C = 2 },
  { .N = 4, .C = 5, .no_bias = TRUE },
};

/* ---- embedding --------------------------------------------------------------------------- */

static void
emb_setup (Case *c, PlRng *rng)
{
  const Dims *d = &c->d;
  c->label = g_strdup_printf ("N=%d V=%d D=%d", d->N, d->V, d->D);
  add_input (c, "table", (size_t) d->V * d->D, FILL_UNIFORM, rng);
  c->ints = g_new (int32_t, d->N);
  for (int i = 0; i < d->N; i++)
    c->ints[i] = (int32_t) pl_rng_below (rng, d->V);
  set_output (c, (size_t) d->N * d->D);
}

static void
emb_forward (Case *c)
{
  g_assert_true (pl_embedding_forward (c->y, c->ints, I (c, 0), c->d.N, c->d.V, c->d.D));
}

static void
emb_backward (Case *c, const float *dy, float **g)
{
  pl_embedding_backward (G (g, 0), dy, c->ints, c->d.N, c->d.D);
}

static void
emb_reference (const Case *c, double *y)
{
  for (int i = 0; i < c->d.N; i++)
    for (int j = 0; j < c->d.D; j++)
      y[i * c->d.D + j] = I (c, 0)[c->ints[i] * c->d.D + j];
}

/* N > V: ids repeat, so the backward must accumulate rows */
static const Dims emb_shapes[] = {
  { .N = 7, .V = 4, .D = 3 },
  { .N = 1, .V = 1, .D = 5 },
};

/* ---- dropout --------------------------------------------------------------------------- */

static void
drop_setup (Case *c, PlRng *rng)
{
  c->label = g_strdup_printf ("n=%zu p=%g", c->d.n, c->d.p);
  add_input (c, "x", c->d.n, FILL_UNIFORM, rng);
  c->scratch[0] = g_new (float, c->d.n);
  set_output (c, c->d.n);
}

/* the same seed every call, so finite differences see one mask */
static void
drop_forward (Case *c)
{
  PlRng r;
  pl_rng_init (&r, DROPOUT_SEED);
  pl_dropout_forward (c->y, c->scratch[0], I (c, 0), c->d.n, c->d.p, &r);
}

static void
drop_backward (Case *c, const float *dy, float **g)
{
  pl_dropout_backward (G (g, 0), dy, c->scratch[0], c->d.n);
}

static void
drop_reference (const Case *c, double *y)
{
  PlRng r;
  pl_rng_init (&r, DROPOUT_SEED);
  for (size_t i = 0; i < c->d.n; i++)
    {
      gboolean drop = c->d.p > 0 && pl_rng_uniform (&r) < c->d.p;
      y[i] = drop ? 0.0 : I (c, 0)[i] / (1.0 - c->d.p);
    }
}

static const Dims drop_shapes[] = {
  { .n = 50, .p = 0.3f },
  { .n = 20, .p = 0.0f },
  { .n = 10, .p = 1.0f },
};

/* ---- conv2d ------------------------------------------------------------------------------- */

static void
conv_setup (Case *c, PlRng *rng)
{
  const Dims *d = &c->d;
  int oh = pl_conv2d_out_size (d->H, d->KH, d->stride, d->pad);
  int ow = pl_conv2d_out_size (d->W, d->KW, d->stride, d->pad);
  c->label = g_strdup_printf ("N=%d C=%d H=%d W=%d K=%d KH=%d KW=%d stride=%d pad=%d%s",
                              d->N, d->C, d->H, d->W, d->K, d->KH, d->KW, d->stride,
                              d->pad, d->no_bias ? " no bias" : "");
  add_input (c, "x", (size_t) d->N * d->C * d->H * d->W, FILL_UNIFORM, rng);
  add_input (c, "w", (size_t) d->K * d->C * d->KH * d->KW, FILL_UNIFORM, rng);
  if (!d->no_bias)
    add_input (c, "b", d->K, FILL_UNIFORM, rng);
  /* exactly the documented scratch sizes, so the sanitizer catches overruns */
  size_t col = (size_t) d->C * d->KH * d->KW * oh * ow;
  c->scratch[0] = g_new (float, col);
  c->scratch[1] = g_new (float, col);
  set_output (c, (size_t) d->N * d->K * oh * ow);
}

static void
conv_forward (Case *c)
{
  const Dims *d = &c->d;
  pl_conv2d_forward (c->y, c->scratch[0], I (c, 0), I (c, 1),
                     c->n_in > 2 ? I (c, 2) : NULL, d->N, d->C, d->H, d->W, d->K, d->KH,
                     d->KW, d->stride, d->pad);
}

static void
conv_backward (Case *c, const float *dy, float **g)
{
  const Dims *d = &c->d;
  /* scratch only where the documentation says it is needed */
  pl_conv2d_backward (G (g, 0), G (g, 1), c->n_in > 2 ? G (g, 2) : NULL,
                      G (g, 1) ? c->scratch[0] : NULL, G (g, 0) ? c->scratch[1] : NULL,
                      dy, I (c, 0), I (c, 1), d->N, d->C, d->H, d->W, d->K, d->KH, d->KW,
                      d->stride, d->pad);
}

static void
conv_reference (const Case *c, double *y)
{
  const Dims *d = &c->d;
  int OH = (d->H + 2 * d->pad - d->KH) / d->stride + 1;
  int OW = (d->W + 2 * d->pad - d->KW) / d->stride + 1;
  const float *x = I (c, 0), *w = I (c, 1);
  for (int n = 0; n < d->N; n++)
    for (int k = 0; k < d->K; k++)
      for (int oh = 0; oh < OH; oh++)
        for (int ow = 0; ow < OW; ow++)
          {
            double acc = c->n_in > 2 ? I (c, 2)[k] : 0.0;
            for (int ch = 0; ch < d->C; ch++)
              for (int i = 0; i < d->KH; i++)
                for (int j = 0; j < d->KW; j++)
                  {
                    int ih = oh * d->stride - d->pad + i, iw = ow * d->stride - d->pad + j;
                    if (ih < 0 || ih >= d->H || iw < 0 || iw >= d->W)
                      continue;
                    acc += (double) x[((n * d->C + ch) * d->H + ih) * d->W + iw]
                           * w[((k * d->C + ch) * d->KH + i) * d->KW + j];
                  }
            y[((n * d->K + k) * OH + oh) * OW + ow] = acc;
          }
}

static const Dims conv_shapes[] = {
  { .N = 2, .C = 3, .H = 5, .W = 6, .K = 4, .KH = 3, .KW = 2, .stride = 1, .pad = 0 },
  { .N = 2, .C = 2, .H = 7, .W = 7, .K = 3, .KH = 3, .KW = 3, .stride = 2, .pad = 1 },
  { .N = 1, .C = 1, .H = 4, .W = 4, .K = 2, .KH = 1, .KW = 1, .stride = 1, .pad = 0 },
  { .N = 1, .C = 3, .H = 6, .W = 5, .K = 2, .KH = 3, .KW = 3, .stride = 2, .pad = 0,
    .no_bias = TRUE },
  { .N = 2, .C = 2, .H = 3, .W = 3, .K = 2, .KH = 3, .KW = 3, .stride = 1, .pad = 1 },
  { .N = 1, .C = 2, .H = 5, .W = 4, .K = 3, .KH = 2, .KW = 3, .stride = 3, .pad = 1 },
};

/* ---- pooling ------------------------------------------------------------------------------ */

static int
pool_out (int in, int k, int s)
{
  return (in - k) / s + 1;
}

static void
pool_setup (Case *c, PlRng *rng)
{
  const Dims *d = &c->d;
  int oh = pool_out (d->H, d->k, d->s), ow = pool_out (d->W, d->k, d->s);
  c->label = g_strdup_printf ("N=%d C=%d H=%d W=%d k=%d s=%d", d->N, d->C, d->H, d->W,
                              d->k, d->s);
  add_input (c, "x", (size_t) d->N * d->C * d->H * d->W, FILL_DISTINCT, rng);
  c->ints = g_new (int32_t, (size_t) d->N * d->C * oh * ow);
  set_output (c, (size_t) d->N * d->C * oh * ow);
}

static void
maxpool_forward (Case *c)
{
  const Dims *d = &c->d;
  pl_maxpool2d_forward (c->y, c->ints, I (c, 0), d->N, d->C, d->H, d->W, d->k, d->s);
}

static void
maxpool_backward (Case *c, const float *dy, float **g)
{
  const Dims *d = &c->d;
  pl_maxpool2d_backward (G (g, 0), dy, c->ints, d->N, d->C, pool_out (d->H, d->k, d->s),
                         pool_out (d->W, d->k, d->s));
}

static void
avgpool_forward (Case *c)
{
  const Dims *d = &c->d;
  pl_avgpool2d_forward (c->y, I (c, 0), d->N, d->C, d->H, d->W, d->k, d->s);
}

static void
avgpool_backward (Case *c, const float *dy, float **g)
{
  const Dims *d = &c->d;
  pl_avgpool2d_backward (G (g, 0), dy, d->N, d->C, d->H, d->W, d->k, d->s);
}

static void
pool_reference (const Case *c, double *y, gboolean is_max)
{
  const Dims *d = &c->d;
  int OH = pool_out (d->H, d->k, d->s), OW = pool_out (d->W, d->k, d->s);
  for (int p = 0; p < d->N * d->C; p++)
    for (int oh = 0; oh < OH; oh++)
      for (int ow = 0; ow < OW; ow++)
        {
          double acc = is_max ? -INFINITY : 0.0;
          for (int i = 0; i < d->k; i++)
            for (int j = 0; j < d->k; j++)
              {
                double v = I (c, 0)[(p * d->H + oh * d->s + i) * d->W + ow * d->s + j];
                acc = is_max ? MAX (acc, v) : acc + v;
              }
          y[(p * OH + oh) * OW + ow] = is_max ? acc : acc / (d->k * d->k);
        }
}

static void
maxpool_reference (const Case *c, double *y)
{
  pool_reference (c, y, TRUE);
}

static void
avgpool_reference (const Case *c, double *y)
{
  pool_reference (c, y, FALSE);
}

static const Dims pool_shapes[] = {
  { .N = 2, .C = 3, .H = 4, .W = 4, .k = 2, .s = 2 },
  { .N = 1, .C = 2, .H = 5, .W = 7, .k = 3, .s = 2 }, /* overlapping, floor mode */
  { .N = 1, .C = 1, .H = 3, .W = 3, .k = 3, .s = 1 },
  { .N = 2, .C = 1, .H = 6, .W = 5, .k = 2, .s = 1 },
};

/* ---- attention ------------------------------------------------------------------------------ */

/* key t of sample n is hidden when (n + t) % 3 == 2; key 0 is always kept */
static void
att_setup (Case *c, PlRng *rng)
{
  const Dims *d = &c->d;
  size_t len = (size_t) d->N * d->T * d->heads * d->Dh;
  c->label = g_strdup_printf ("N=%d T=%d H=%d Dh=%d%s", d->N, d->T, d->heads, d->Dh,
                              d->masked ? " key mask" : "");
  add_input (c, "q", len, FILL_NORMAL, rng);
  add_input (c, "k", len, FILL_NORMAL, rng);
  add_input (c, "v", len, FILL_NORMAL, rng);
  c->scratch[0] = g_new (float, (size_t) d->N * d->heads * d->T * d->T);
  c->scratch[1] = g_new (float, (size_t) d->T * d->T); /* datt is documented as [T, T] */
  if (d->masked)
    {
      c->mask = g_new (guint8, (size_t) d->N * d->T);
      for (int n = 0; n < d->N; n++)
        for (int t = 0; t < d->T; t++)
          c->mask[n * d->T + t] = t == 0 || (n + t) % 3 != 2;
    }
  set_output (c, len);
}

static void
att_forward (Case *c)
{
  const Dims *d = &c->d;
  pl_attention_forward (c->y, c->scratch[0], I (c, 0), I (c, 1), I (c, 2), c->mask, d->N,
                        d->T, d->heads, d->Dh);
}

static void
att_backward (Case *c, const float *dy, float **g)
{
  const Dims *d = &c->d;
  pl_attention_backward (G (g, 0), G (g, 1), G (g, 2), c->scratch[1], dy, c->scratch[0],
                         I (c, 0), I (c, 1), I (c, 2), d->N, d->T, d->heads, d->Dh);
}

static void
att_reference (const Case *c, double *y)
{
  const Dims *d = &c->d;
  int D = d->heads * d->Dh;
  double *s = g_new (double, d->T);
  for (int n = 0; n < d->N; n++)
    for (int h = 0; h < d->heads; h++)
      for (int t = 0; t < d->T; t++)
        {
          double m = -INFINITY, sum = 0.0;
          for (int j = 0; j < d->T; j++)
            {
              double acc = 0.0;
              for (int e = 0; e < d->Dh; e++)
                acc += (double) I (c, 0)[(n * d->T + t) * D + h * d->Dh + e]
                       * I (c, 1)[(n * d->T + j) * D + h * d->Dh + e];
              s[j] = c->mask && !c->mask[n * d->T + j] ? -INFINITY : acc / sqrt (d->Dh);
              m = MAX (m, s[j]);
            }
          for (int j = 0; j < d->T; j++)
            {
              s[j] = m == -INFINITY ? 0.0 : exp (s[j] - m);
              sum += s[j];
            }
          for (int e = 0; e < d->Dh; e++)
            {
              double acc = 0.0;
              for (int j = 0; j < d->T; j++)
                acc += s[j] * I (c, 2)[(n * d->T + j) * D + h * d->Dh + e];
              y[(n * d->T + t) * D + h * d->Dh + e] = sum > 0 ? acc / sum : 0.0;
            }
        }
  g_free (s);
}

static const Dims att_shapes[] = {
  { .N = 2, .T = 4, .heads = 2, .Dh = 3, .masked = TRUE },
  { .N = 1, .T = 1, .heads = 1, .Dh = 4 },
  { .N = 2, .T = 1, .heads = 2, .Dh = 2, .masked = TRUE },
  { .N = 2, .T = 3, .heads = 1, .Dh = 2 },
  { .N = 3, .T = 5, .heads = 3, .Dh = 2, .masked = TRUE },
};

/* ---- elementwise and layout ----------------------------------------------------------------- */

static void
binary_setup (Case *c, PlRng *rng)
{
  c->label = g_strdup_printf ("n=%zu", c->d.n);
  add_input (c, "a", c->d.n, FILL_UNIFORM, rng);
  add_input (c, "b", c->d.n, FILL_UNIFORM, rng);
  set_output (c, c->d.n);
}

static void
mul_forward (Case *c)
{
  pl_mul_forward (c->y, I (c, 0), I (c, 1), c->d.n);
}

static void
mul_backward (Case *c, const float *dy, float **g)
{
  pl_mul_backward (G (g, 0), G (g, 1), dy, I (c, 0), I (c, 1), c->d.n);
}

static void
mul_reference (const Case *c, double *y)
{
  for (size_t i = 0; i < c->d.n; i++)
    y[i] = (double) I (c, 0)[i] * I (c, 1)[i];
}

static void
add_forward (Case *c)
{
  pl_add_forward (c->y, I (c, 0), I (c, 1), c->d.n);
}

static void
add_backward (Case *c, const float *dy, float **g)
{
  pl_add_backward (G (g, 0), G (g, 1), dy, c->d.n);
}

static void
add_reference (const Case *c, double *y)
{
  for (size_t i = 0; i < c->d.n; i++)
    y[i] = (double) I (c, 0)[i] + I (c, 1)[i];
}

static const Dims binary_shapes[] = { { .n = 17 }, { .n = 1 } };

static void
mulcols_setup (Case *c, PlRng *rng)
{
  c->label = g_strdup_printf ("N=%d C=%d", c->d.N, c->d.C);
  add_input (c, "x", (size_t) c->d.N * c->d.C, FILL_UNIFORM, rng);
  add_input (c, "g", c->d.C, FILL_UNIFORM, rng);
  set_output (c, (size_t) c->d.N * c->d.C);
}

static void
mulcols_forward (Case *c)
{
  pl_mul_cols_forward (c->y, I (c, 0), I (c, 1), c->d.N, c->d.C);
}

static void
mulcols_backward (Case *c, const float *dy, float **g)
{
  pl_mul_cols_backward (G (g, 0), G (g, 1), dy, I (c, 0), I (c, 1), c->d.N, c->d.C);
}

static void
mulcols_reference (const Case *c, double *y)
{
  for (int n = 0; n < c->d.N; n++)
    for (int j = 0; j < c->d.C; j++)
      y[n * c->d.C + j] = (double) I (c, 0)[n * c->d.C + j] * I (c, 1)[j];
}

static const Dims mulcols_shapes[] = { { .N = 4, .C = 3 }, { .N = 1, .C = 5 } };

static void
concat_setup (Case *c, PlRng *rng)
{
  c->label = g_strdup_printf ("N=%d A=%d B=%d", c->d.N, c->d.A, c->d.B);
  add_input (c, "a", (size_t) c->d.N * c->d.A, FILL_UNIFORM, rng);
  add_input (c, "b", (size_t) c->d.N * c->d.B, FILL_UNIFORM, rng);
  set_output (c, (size_t) c->d.N * (c->d.A + c->d.B));
}

static void
concat_forward (Case *c)
{
  pl_concat_forward (c->y, I (c, 0), I (c, 1), c->d.N, c->d.A, c->d.B);
}

static void
concat_backward (Case *c, const float *dy, float **g)
{
  pl_concat_backward (G (g, 0), G (g, 1), dy, c->d.N, c->d.A, c->d.B);
}

static void
concat_reference (const Case *c, double *y)
{
  int A = c->d.A, B = c->d.B;
  for (int n = 0; n < c->d.N; n++)
    {
      for (int i = 0; i < A; i++)
        y[n * (A + B) + i] = I (c, 0)[n * A + i];
      for (int i = 0; i < B; i++)
        y[n * (A + B) + A + i] = I (c, 1)[n * B + i];
    }
}

/* the second is a token concat: [N, 2 tokens * 3] + [N, 1 token * 3] */
static const Dims concat_shapes[] = {
  { .N = 3, .A = 2, .B = 4 },
  { .N = 2, .A = 6, .B = 3 },
  { .N = 1, .A = 1, .B = 1 },
};

static void
meantok_setup (Case *c, PlRng *rng)
{
  c->label = g_strdup_printf ("N=%d T=%d D=%d", c->d.N, c->d.T, c->d.D);
  add_input (c, "x", (size_t) c->d.N * c->d.T * c->d.D, FILL_UNIFORM, rng);
  set_output (c, (size_t) c->d.N * c->d.D);
}

static void
meantok_forward (Case *c)
{
  pl_mean_tokens_forward (c->y, I (c, 0), c->d.N, c->d.T, c->d.D);
}

static void
meantok_backward (Case *c, const float *dy, float **g)
{
  pl_mean_tokens_backward (G (g, 0), dy, c->d.N, c->d.T, c->d.D);
}

static void
meantok_reference (const Case *c, double *y)
{
  const Dims *d = &c->d;
  for (int n = 0; n < d->N; n++)
    for (int j = 0; j < d->D; j++)
      {
        double acc = 0.0;
        for (int t = 0; t < d->T; t++)
          acc += I (c, 0)[(n * d->T + t) * d->D + j];
        y[n * d->D + j] = acc / d->T;
      }
}

static const Dims meantok_shapes[] = { { .N = 2, .T = 3, .D = 4 }, { .N = 3, .T = 1, .D = 2 } };

/* ---- the op table --------------------------------------------------------------------------- */

#define SPEC(nm, pre, shp) \
  { nm, pre##_setup, pre##_forward, pre##_backward, pre##_reference, shp, \
    G_N_ELEMENTS (shp) }

static const OpSpec ops[] = {
  SPEC ("linear", linear, linear_shapes),
  SPEC ("bias-add", bias, bias_shapes),
  { "relu", act_setup, act_forward, act_backward, act_reference, relu_shapes, 2 },
  { "gelu", act_setup, act_forward, act_backward, act_reference, gelu_shapes, 2 },
  { "tanh", act_setup, act_forward, act_backward, act_reference, tanh_shapes, 2 },
  { "sigmoid", act_setup, act_forward, act_backward, act_reference, sigmoid_shapes, 2 },
  SPEC ("softmax-xent", xent, xent_shapes),
  SPEC ("mse", mse, mse_shapes),
  SPEC ("layernorm", ln, ln_shapes),
  SPEC ("embedding", emb, emb_shapes),
  SPEC ("dropout", drop, drop_shapes),
  SPEC ("conv2d", conv, conv_shapes),
  { "maxpool2d", pool_setup, maxpool_forward, maxpool_backward, maxpool_reference,
    pool_shapes, G_N_ELEMENTS (pool_shapes) },
  { "avgpool2d", pool_setup, avgpool_forward, avgpool_backward, avgpool_reference,
    pool_shapes, G_N_ELEMENTS (pool_shapes) },
  SPEC ("attention", att, att_shapes),
  { "mul", binary_setup, mul_forward, mul_backward, mul_reference, binary_shapes,
    G_N_ELEMENTS (binary_shapes) },
  SPEC ("mul-cols", mulcols, mulcols_shapes),
  { "add", binary_setup, add_forward, add_backward, add_reference, binary_shapes,
    G_N_ELEMENTS (binary_shapes) },
  SPEC ("concat", concat, concat_shapes),
  SPEC ("mean-tokens", meantok, meantok_shapes),
};

/* ---- the checker can fail ---------------------------------------------------------------------- */

static void
linear_backward_wrong_scale (Case *c, const float *dy, float **g)
{
  float *dy2 = g_memdup2 (dy, c->ny * sizeof (float));
  for (size_t i = 0; i < c->ny; i++)
    dy2[i] *= 1.05f;
  linear_backward (c, dy2, g);
  g_free (dy2);
}

static void
linear_backward_overwrites (Case *c, const float *dy, float **g)
{
  for (int i = 0; i < c->n_in; i++)
    if (g[i])
      memset (g[i], 0, c->len[i] * sizeof (float));
  linear_backward (c, dy, g);
}

static void
test_checker_fails (void)
{
  static const OpSpec wrong[] = {
    { "linear-5%-off", linear_setup, linear_forward, linear_backward_wrong_scale,
      linear_reference, linear_shapes, 1 },
    { "linear-overwrites", linear_setup, linear_forward, linear_backward_overwrites,
      linear_reference, linear_shapes, 1 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (wrong); i++)
    {
      PlRng rng;
      pl_rng_init (&rng, 5);
      Case *c = case_new (&wrong[i], &linear_shapes[0], &rng);
      g_autoptr (GString) msg = g_string_new (NULL);
      g_assert_false (gradcheck (&wrong[i], c, &rng, msg));
      g_assert_nonnull (strstr (msg->str, wrong[i].name));
      g_assert_nonnull (strstr (msg->str, "dx["));
      case_free (c);
    }
}

/* ---- named behaviours ---------------------------------------------------------------------------- */

static void
test_xent_huge_logits (void)
{
  const float logits[] = { 1e4f, 0.0f, -1e4f,
                           1e4f, 0.0f, -1e4f,
                           -1e4f, -1e4f, -1e4f };
  const int32_t labels[] = { 0, 1, 2 };
  float probs[9], d[9] = { 0 };
  float loss = pl_softmax_xent_forward (probs, logits, labels, 3, 3);
  /* per row: 0, 1e4, log 3 */
  g_assert_true (isfinite (loss));
  pl_assert_close (loss, (0.0 + 1e4 + log (3.0)) / 3, 1e-2, 1e-6);
  g_assert_true (pl_all_finite (probs, 9));
  pl_assert_close (probs[0], 1.0, 1e-7, 0);
  pl_assert_close (probs[2], 0.0, 1e-7, 0);
  pl_assert_close (probs[7], 1.0 / 3, 1e-7, 0);
  pl_softmax_xent_backward (d, probs, labels, 3, 3, 1.0f);
  g_assert_true (pl_all_finite (d, 9));
  pl_assert_close (d[0], 0.0, 1e-7, 0);
  pl_assert_close (d[3], 1.0 / 3, 1e-7, 0);
  pl_assert_close (d[4], -1.0 / 3, 1e-7, 0);

  float y[3];
  pl_softmax_forward (y, logits, 1, 3);
  g_assert_true (pl_all_finite (y, 3));
  pl_assert_close (y[0], 1.0, 1e-7, 0);
}

/* a label outside [0, C) is a caller's bug: a critical and a NaN, no stray write */
static void
test_xent_bad_label (void)
{
  if (g_test_subprocess ())
    {
      const float logits[] = { 0.5f, -1.0f, 2.0f, 0.0f, 1.0f, 1.0f };
      const int32_t labels[] = { 1, 3 };
      float probs[6], d[8] = { 0 };
      /* criticals are fatal under g_test; here the caller's view is wanted */
      g_log_set_always_fatal (G_LOG_FATAL_MASK);
      float loss = pl_softmax_xent_forward (probs, logits, labels, 2, 3);
      g_assert_true (isnan (loss));
      pl_softmax_xent_backward (d, probs, labels, 2, 3, 1.0f);
      g_assert_cmpfloat (d[6], ==, 0.0f);
      g_assert_cmpfloat (d[7], ==, 0.0f);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("*CRITICAL*label 3 of row 1 is outside [0, 3)*");
}

static void
test_softmax_rows (void)
{
  PlRng rng;
  pl_rng_init (&rng, 11);
  float *x = random_floats (4 * 7, FILL_NORMAL, &rng);
  float y[4 * 7];
  x[5] += 3e4f;
  pl_softmax_forward (y, x, 4, 7);
  for (int n = 0; n < 4; n++)
    {
      double sum = 0.0, s = 0.0, m = -INFINITY;
      for (int j = 0; j < 7; j++)
        m = MAX (m, x[n * 7 + j]);
      for (int j = 0; j < 7; j++)
        s += exp (x[n * 7 + j] - m);
      for (int j = 0; j < 7; j++)
        {
          pl_assert_close (y[n * 7 + j], exp (x[n * 7 + j] - m) / s, 1e-6, 1e-5);
          sum += y[n * 7 + j];
        }
      pl_assert_close (sum, 1.0, 1e-5, 0);
    }
  g_free (x);
}

static void
test_dropout_scale (void)
{
  const size_t n = 100000;
  float *x = g_new (float, n), *y = g_new (float, n), *mask = g_new (float, n);
  for (size_t i = 0; i < n; i++)
    x[i] = 1.0f;
  const float ps[] = { 0.1f, 0.3f, 0.5f, 0.9f };
  for (guint k = 0; k < G_N_ELEMENTS (ps); k++)
    {
      PlRng rng;
      pl_rng_init (&rng, 21 + k);
      pl_dropout_forward (y, mask, x, n, ps[k], &rng);
      size_t zeros = 0;
      double sum = 0.0;
      for (size_t i = 0; i < n; i++)
        {
          if (mask[i] == 0.0f)
            zeros++;
          else
            pl_assert_close (mask[i], 1.0 / (1.0 - ps[k]), 1e-6, 1e-6);
          g_assert_cmpfloat (y[i], ==, x[i] * mask[i]);
          sum += y[i];
        }
      /* the expectation of the output is the input */
      pl_assert_close ((double) zeros / n, ps[k], 0.01, 0);
      pl_assert_close (sum / n, 1.0, 0.03, 0);
    }

  /* p = 0 is the identity, in place too, with a mask of ones */
  PlRng rng;
  pl_rng_init (&rng, 3);
  for (size_t i = 0; i < n; i++)
    x[i] = (float) i - 5.5f;
  pl_dropout_forward (y, mask, x, n, 0.0f, &rng);
  g_assert_cmpmem (y, n * sizeof (float), x, n * sizeof (float));
  for (size_t i = 0; i < n; i++)
    g_assert_cmpfloat (mask[i], ==, 1.0f);
  pl_dropout_forward (x, mask, x, n, 0.0f, &rng);
  g_assert_cmpmem (y, n * sizeof (float), x, n * sizeof (float));

  /* the same seed gives the same mask */
  float *mask2 = g_new (float, n);
  PlRng a, b;
  pl_rng_init (&a, 8);
  pl_rng_init (&b, 8);
  pl_dropout_forward (y, mask, x, n, 0.4f, &a);
  pl_dropout_forward (y, mask2, x, n, 0.4f, &b);
  g_assert_cmpmem (mask, n * sizeof (float), mask2, n * sizeof (float));

  g_free (mask2);
  g_free (x);
  g_free (y);
  g_free (mask);
}

static void
test_embedding_bad_ids (void)
{
  const float table[] = { 1, 2, 3, 4, 5, 6 }; /* V = 3, D = 2 */
  float y[8];
  const struct {
    int32_t ids[4];
    int bad;
  } cases[] = {
    { { 0, 1, 2, 1 }, -1 },
    { { 0, 3, 1, 2 }, 1 },
    { { 2, 1, 0, -1 }, 3 },
    { { G_MININT32, 0, 0, 0 }, 0 },
    { { 0, 0, G_MAXINT32, 0 }, 2 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      gboolean ok = pl_embedding_forward (y, cases[i].ids, table, 4, 3, 2);
      g_assert_cmpint (ok, ==, cases[i].bad < 0);
      g_assert_cmpint (pl_embedding_find_bad_id (cases[i].ids, 4, 3), ==, cases[i].bad);
    }
  pl_embedding_forward (y, cases[0].ids, table, 4, 3, 2);
  const float expect[] = { 1, 2, 3, 4, 5, 6, 3, 4 };
  g_assert_cmpmem (y, sizeof expect, expect, sizeof expect);
}

static void
test_gelu_exact (void)
{
  /* erf-form values; the tanh approximation differs by more than 1e-5 here */
  const struct { float x; double y; } cases[] = {
    { 1.0f, 0.8413447460685429 },
    { -1.0f, -0.15865525393145707 },
    { 2.0f, 1.9544997361036416 },
    { -3.0f, -0.0040496525364808 },
    { 0.0f, 0.0 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      float y;
      pl_gelu_forward (&y, &cases[i].x, 1);
      pl_assert_close (y, cases[i].y, 1e-6, 1e-6);
    }
}

static void
test_relu_nan (void)
{
  const float x[] = { NAN, -1.0f, 2.0f };
  float y[3];
  pl_relu_forward (y, x, 3);
  g_assert_true (isnan (y[0]));
  g_assert_cmpfloat (y[1], ==, 0.0f);
  g_assert_cmpfloat (y[2], ==, 2.0f);
}

static void
test_bias_add_in_place (void)
{
  float x[] = { 1, 2, 3, 4, 5, 6 }; /* N = 1, C = 2, S = 3 */
  const float b[] = { 10, 20 };
  pl_bias_add_forward (x, x, b, 1, 2, 3);
  const float expect[] = { 11, 12, 13, 24, 25, 26 };
  g_assert_cmpmem (x, sizeof expect, expect, sizeof expect);
}

static void
test_attention_mask (void)
{
  const int N = 2, T = 4, H = 2, Dh = 3, D = H * Dh;
  size_t len = (size_t) N * T * D;
  PlRng rng;
  pl_rng_init (&rng, 13);
  float *q = random_floats (len, FILL_NORMAL, &rng);
  float *k = random_floats (len, FILL_NORMAL, &rng);
  float *v = random_floats (len, FILL_NORMAL, &rng);
  float *out = g_new (float, len), *out2 = g_new (float, len);
  float *att = g_new (float, (size_t) N * H * T * T);
  /* sample 0 hides keys 1 and 3; sample 1 hides them all */
  const guint8 mask[] = { 1, 0, 1, 0, 0, 0, 0, 0 };

  pl_attention_forward (out, att, q, k, v, mask, N, T, H, Dh);
  for (int h = 0; h < H; h++)
    for (int t = 0; t < T; t++)
      {
        const float *row = att + ((size_t) h * T + t) * T;
        g_assert_cmpfloat (row[1], ==, 0.0f);
        g_assert_cmpfloat (row[3], ==, 0.0f);
        pl_assert_close (row[0] + row[2], 1.0, 1e-6, 0);
      }
  for (size_t i = (size_t) T * D; i < len; i++)
    g_assert_cmpfloat (out[i], ==, 0.0f);
  g_assert_true (pl_all_finite (att, (size_t) N * H * T * T));

  /* a hidden key's values cannot reach the output */
  for (int e = 0; e < D; e++)
    v[1 * D + e] += 100.0f;
  pl_attention_forward (out2, att, q, k, v, mask, N, T, H, Dh);
  g_assert_cmpmem (out, len * sizeof (float), out2, len * sizeof (float));

  g_free (q);
  g_free (k);
  g_free (v);
  g_free (out);
  g_free (out2);
  g_free (att);
}

/* The per-head products of pl_attention_* (hand kernels on AVX-512 for head
 * shapes with T and Dh multiples of 16) against the same steps through
 * cblas_sgemm, as the kernels were written before: bitwise where OpenBLAS runs
 * its SkylakeX-class kernels (whose summation order the hand kernels follow),
 * otherwise within float rounding. Shapes on both sides of the fast path's
 * limits, with and without a key mask, gradients overwritten and added to. */
static void
ref_attention (float *out, float *att, float *dq, float *dk, float *dv, PlGradWrite wr,
               const float *dout, const float *q, const float *k, const float *v, int N,
               int T, int H, int Dh)
{
  int D = H * Dh;
  float scale = 1.0f / sqrtf ((float) Dh);
  float beta = wr == PL_GRAD_SET ? 0.0f : 1.0f;
  g_autofree float *datt = g_new (float, (size_t) T * T);
  g_autofree float *sc = g_new (float, (size_t) T * T);
  /* the softmax is pl_softmax_forward's, so only the products may differ */
  for (int n = 0; n < N; n++)
    for (int h = 0; h < H; h++)
      {
        size_t off = (size_t) n * T * D + (size_t) h * Dh;
        float *a = att + ((size_t) n * H + h) * T * T;
        cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, T, T, Dh, scale, q + off, D,
                     k + off, D, 0.0f, sc, T);
        pl_softmax_forward (a, sc, T, T);
        cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, T, Dh, T, 1.0f, a, T,
                     v + off, D, 0.0f, out + off, D);
        cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, T, Dh, T, 1.0f, a, T,
                     dout + off, D, beta, dv + off, D);
        cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, T, T, Dh, 1.0f, dout + off, D,
                     v + off, D, 0.0f, datt, T);
        for (int t = 0; t < T; t++)
          {
            /* the softmax backward's 8 partial sums in double of float products */
            double acc[8] = { 0 };
            for (int j = 0; j < T; j++)
              {
                float prod = datt[t * T + j] * a[t * T + j];
                acc[j % 8] += prod;
              }
            float dot = (float) (((acc[0] + acc[1]) + (acc[2] + acc[3]))
                                 + ((acc[4] + acc[5]) + (acc[6] + acc[7])));
            for (int j = 0; j < T; j++)
              datt[t * T + j] = a[t * T + j] * (datt[t * T + j] - dot);
          }
        cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, T, Dh, T, scale, datt, T,
                     k + off, D, beta, dq + off, D);
        cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, T, Dh, T, scale, datt, T,
                     q + off, D, beta, dk + off, D);
      }
}

static void
test_attention_head_kernels (void)
{
  static const struct { int N, T, H, Dh; } shapes[] = {
    { 2, 32, 4, 16 }, { 1, 16, 2, 16 }, { 1, 48, 1, 16 }, { 1, 64, 2, 16 },
    { 1, 16, 2, 32 }, { 1, 32, 1, 64 }, { 1, 64, 1, 48 }, { 1, 24, 2, 16 },
    { 1, 32, 2, 8 }, { 1, 80, 1, 16 },
  };
  const char *core = openblas_get_corename ();
  gboolean same_bits = g_ascii_strcasecmp (core, "skylakex") == 0
                       || g_ascii_strcasecmp (core, "cooperlake") == 0
                       || g_ascii_strcasecmp (core, "sapphirerapids") == 0;
  if (!same_bits)
    g_test_message ("OpenBLAS core %s: comparing within rounding, not bits", core);
  PlRng rng;
  pl_rng_init (&rng, 17);
  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
    for (int wr = 0; wr < 2; wr++)
      {
        int N = shapes[s].N, T = shapes[s].T, H = shapes[s].H, Dh = shapes[s].Dh;
        PlGradWrite w = wr ? PL_GRAD_ADD : PL_GRAD_SET;
        size_t len = (size_t) N * T * H * Dh, alen = (size_t) N * H * T * T;
        g_autofree float *q = random_floats (len, FILL_NORMAL, &rng);
        g_autofree float *k = random_floats (len, FILL_NORMAL, &rng);
        g_autofree float *v = random_floats (len, FILL_NORMAL, &rng);
        g_autofree float *dout = random_floats (len, FILL_NORMAL, &rng);
        g_autofree float *g0 = random_floats (3 * len, FILL_UNIFORM, &rng);
        g_autofree float *out = g_new (float, len), *out_r = g_new (float, len);
        g_autofree float *att = g_new (float, alen), *att_r = g_new (float, alen);
        g_autofree float *g = g_memdup2 (g0, 3 * len * sizeof (float));
        g_autofree float *g_r = g_memdup2 (g0, 3 * len * sizeof (float));
        g_autofree float *datt = g_new (float, (size_t) T * T);
        pl_attention_forward (out, att, q, k, v, NULL, N, T, H, Dh);
        pl_attention_backward_write (g, g + len, g + 2 * len, w, w, w, datt, dout, att, q, k,
                                     v, N, T, H, Dh);
        ref_attention (out_r, att_r, g_r, g_r + len, g_r + 2 * len, w, dout, q, k, v, N, T, H,
                       Dh);
        if (same_bits)
          {
            g_assert_cmpmem (att, alen * sizeof (float), att_r, alen * sizeof (float));
            g_assert_cmpmem (out, len * sizeof (float), out_r, len * sizeof (float));
            g_assert_cmpmem (g, 3 * len * sizeof (float), g_r, 3 * len * sizeof (float));
          }
        else
          {
            for (size_t i = 0; i < alen; i++)
              pl_assert_close (att[i], att_r[i], 1e-4, 1e-6);
            for (size_t i = 0; i < len; i++)
              pl_assert_close (out[i], out_r[i], 1e-4, 1e-5);
            for (size_t i = 0; i < 3 * len; i++)
              pl_assert_close (g[i], g_r[i], 1e-4, 1e-5);
          }
        /* every element written, none left from before, in the SET case */
        g_assert_true (pl_all_finite (g, 3 * len));
      }
}

/* PyTorch's choice on ties (the first in row-major window order) and NaN (wins) */
static void
test_maxpool_ties_and_nan (void)
{
  const float x[] = { 1, 5, 5, 0,
                      5, 2, NAN, 3,
                      4, 4, 1, 1,
                      4, 4, 1, 1 }; /* N = C = 1, H = W = 4, k = s = 2 */
  float y[4], dx[16] = { 0 };
  int32_t argmax[4];
  pl_maxpool2d_forward (y, argmax, x, 1, 1, 4, 4, 2, 2);
  const int32_t expect[] = { 1, 6, 8, 10 };
  g_assert_cmpmem (argmax, sizeof argmax, expect, sizeof expect);
  g_assert_cmpfloat (y[0], ==, 5.0f);
  g_assert_true (isnan (y[1]));
  g_assert_cmpfloat (y[2], ==, 4.0f);
  g_assert_cmpfloat (y[3], ==, 1.0f);
  const float dy[] = { 1, 2, 3, 4 };
  pl_maxpool2d_backward (dx, dy, argmax, 1, 1, 2, 2);
  const float expect_dx[] = { 0, 1, 0, 0, 0, 0, 2, 0, 3, 0, 4, 0, 0, 0, 0, 0 };
  g_assert_cmpmem (dx, sizeof dx, expect_dx, sizeof expect_dx);
}

static void
test_conv_out_size (void)
{
  const struct { int in, k, stride, pad, out; } cases[] = {
    { 5, 3, 1, 0, 3 },
    { 7, 3, 2, 1, 4 },
    { 8, 3, 2, 1, 4 },
    { 4, 1, 1, 0, 4 },
    { 5, 2, 3, 1, 2 },
    { 2, 3, 1, 0, 0 },
    { 1, 3, 1, 1, 1 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    g_assert_cmpint (pl_conv2d_out_size (cases[i].in, cases[i].k, cases[i].stride,
                                         cases[i].pad), ==, cases[i].out);
}

static void
test_argmax_rows (void)
{
  const float x[] = { 1, 3, 3, 0,
                      -5, -4, -4.5f, -9,
                      0, NAN, 7, 1,
                      2, 2, 2, 2 };
  int32_t out[4];
  const int32_t expect[] = { 1, 1, 1, 0 };
  pl_argmax_rows (out, x, 4, 4);
  g_assert_cmpmem (out, sizeof out, expect, sizeof expect);
}

static void
test_all_finite (void)
{
  const size_t n = 5000;
  float *x = g_new (float, n);
  for (size_t i = 0; i < n; i++)
    x[i] = (i % 2 ? -1.0f : 1.0f) * (float) i * 1e30f;
  x[7] = -0.0f;
  g_assert_true (pl_all_finite (x, n));
  g_assert_true (pl_all_finite (x, 0));
  const float bad[] = { NAN, INFINITY, -INFINITY };
  const size_t where[] = { 0, 1023, 1024, 4999 };
  for (guint b = 0; b < G_N_ELEMENTS (bad); b++)
    for (guint w = 0; w < G_N_ELEMENTS (where); w++)
      {
        float keep = x[where[w]];
        x[where[w]] = bad[b];
        g_assert_false (pl_all_finite (x, n));
        x[where[w]] = keep;
      }
  g_free (x);
}

/* ---- first-writer variants (PL_GRAD_SET / PL_GRAD_ADD) ----------------------
 * Each *_backward_write kernel against its plain kernel: with PL_GRAD_ADD into a
 * non-zero gradient it must give the same bits; with PL_GRAD_SET into a gradient
 * full of NaNs it must give what clearing and adding gives (equal as floats: the
 * product kernels may keep a -0 where clearing and adding gives +0), every
 * element written. The finite-difference checks of the plain kernels above cover
 * the maths. */

typedef void (*WriteCall) (float *dx, PlGradWrite w, gboolean plain, const float *in,
                           gpointer ctx);

typedef struct {
  const char *name;
  size_t n;         /* gradient elements */
  size_t n_in;      /* elements of the input buffer (random) */
  WriteCall call;
} WriteCase;

enum { WN = 5, WT = 4, WH = 2, WDH = 3, WIN = 7, WOUT = 6, WC = 9 };

static void
call_relu (float *dx, PlGradWrite w, gboolean plain, const float *in, gpointer ctx)
{
  size_t n = WN * WC;
  if (plain)
    pl_relu_backward (dx, in, in + n, NULL, n);
  else
    pl_relu_backward_write (dx, w, in, in + n, NULL, n);
}

static void
call_gelu (float *dx, PlGradWrite w, gboolean plain, const float *in, gpointer ctx)
{
  size_t n = WN * WC;
  if (plain)
    pl_gelu_backward (dx, in, in + n, NULL, n);
  else
    pl_gelu_backward_write (dx, w, in, in + n, NULL, n);
}

static void
call_tanh (float *dx, PlGradWrite w, gboolean plain, const float *in, gpointer ctx)
{
  size_t n = WN * WC;
  if (plain)
    pl_tanh_backward (dx, in, NULL, in + n, n);
  else
    pl_tanh_backward_write (dx, w, in, NULL, in + n, n);
}

static void
call_sigmoid (float *dx, PlGradWrite w, gboolean plain, const float *in, gpointer ctx)
{
  size_t n = WN * WC;
  if (plain)
    pl_sigmoid_backward (dx, in, NULL, in + n, n);
  else
    pl_sigmoid_backward_write (dx, w, in, NULL, in + n, n);
}

static void
call_linear (float *dx, PlGradWrite w, gboolean plain, const float *in, gpointer ctx)
{
  /* dy [N, OUT], x [N, IN], W [OUT, IN]; dW and db are added to in both forms */
  float *dwb = ctx;
  const float *dy = in, *x = in + WN * WOUT, *wt = x + WN * WIN;
  if (plain)
    pl_linear_backward (dx, dwb, dwb + WOUT * WIN, dy, x, wt, WN, WIN, WOUT);
  else
    pl_linear_backward_write (dx, w, dwb, dwb + WOUT * WIN, dy, x, wt, WN, WIN, WOUT);
}

static void
call_layernorm (float *dx, PlGradWrite w, gboolean plain, const float *in, gpointer ctx)
{
  float *dgb = ctx;
  const float *dy = in, *x = in + WN * WC, *gamma = x + WN * WC;
  float mean[WN], rstd[WN], y[WN * WC];
  pl_layernorm_forward (y, mean, rstd, x, gamma, NULL, WN, WC, 1e-5f);
  if (plain)
    pl_layernorm_backward (dx, dgb, dgb + WC, dy, x, mean, rstd, gamma, WN, WC);
  else
    pl_layernorm_backward_write (dx, w, dgb, dgb + WC, dy, x, mean, rstd, gamma, WN, WC);
}

/* the gradient is [3, N, T, H*Dh]: dq, dk, dv; all three SET or all ADD */
static void
call_attention (float *dx, PlGradWrite w, gboolean plain, const float *in, gpointer ctx)
{
  size_t m = (size_t) WN * WT * WH * WDH;
  const float *dout = in, *q = in + m, *k = q + m, *v = k + m;
  float att[WN * WH * WT * WT], out[WN * WT * WH * WDH], datt[WT * WT];
  pl_attention_forward (out, att, q, k, v, NULL, WN, WT, WH, WDH);
  if (plain)
    pl_attention_backward (dx, dx + m, dx + 2 * m, datt, dout, att, q, k, v, WN, WT, WH,
                           WDH);
  else
    pl_attention_backward_write (dx, dx + m, dx + 2 * m, w, w, w, datt, dout, att, q, k, v,
                                 WN, WT, WH, WDH);
}

/* the gradient is [2, n]: da, db */
static void
call_add (float *dx, PlGradWrite w, gboolean plain, const float *in, gpointer ctx)
{
  size_t n = WN * WC;
  if (plain)
    pl_add_backward (dx, dx + n, in, n);
  else
    pl_add_backward_write (dx, w, dx + n, w, in, n);
}

static void
call_bias_add (float *dx, PlGradWrite w, gboolean plain, const float *in, gpointer ctx)
{
  float *db = ctx;
  if (plain)
    pl_bias_add_backward (dx, db, in, WN, WC, 1);
  else
    pl_bias_add_backward_write (dx, w, db, in, WN, WC, 1);
}

static void
call_mean_tokens (float *dx, PlGradWrite w, gboolean plain, const float *in, gpointer ctx)
{
  if (plain)
    pl_mean_tokens_backward (dx, in, WN, WT, WC);
  else
    pl_mean_tokens_backward_write (dx, w, in, WN, WT, WC);
}

static const WriteCase write_cases[] = {
  { "relu", WN * WC, 2 * WN * WC, call_relu },
  { "gelu", WN * WC, 2 * WN * WC, call_gelu },
  { "tanh", WN * WC, 2 * WN * WC, call_tanh },
  { "sigmoid", WN * WC, 2 * WN * WC, call_sigmoid },
  { "linear", WN * WIN, WN * WOUT + WN * WIN + WOUT * WIN, call_linear },
  { "layernorm", WN * WC, 3 * WN * WC, call_layernorm },
  { "attention", 3 * WN * WT * WH * WDH, 4 * WN * WT * WH * WDH, call_attention },
  { "add", 2 * WN * WC, WN * WC, call_add },
  { "bias-add", WN * WC, WN * WC, call_bias_add },
  { "mean-tokens", WN * WT * WC, WN * WC, call_mean_tokens },
};

static void
test_backward_write (gconstpointer data)
{
  const WriteCase *c = data;
  PlRng r;
  pl_rng_init (&r, 1234);
  float *in = g_new (float, c->n_in);
  for (size_t i = 0; i < c->n_in; i++)
    in[i] = (float) pl_rng_normal (&r);
  in[0] = 0.0f;  /* a kink and a zero gradient element */
  float *ref = g_new (float, c->n), *got = g_new (float, c->n);
  /* parameter gradients the kernels add to (both forms must add the same) */
  float ctx_ref[WOUT * WIN + WOUT + WC * 2] = { 0 }, ctx_got[G_N_ELEMENTS (ctx_ref)] = { 0 };

  /* ADD into a non-zero gradient: the plain kernel's bits */
  for (size_t i = 0; i < c->n; i++)
    ref[i] = got[i] = (float) pl_rng_uniform (&r) - 0.5f;
  c->call (ref, PL_GRAD_ADD, TRUE, in, ctx_ref);
  c->call (got, PL_GRAD_ADD, FALSE, in, ctx_got);
  g_assert_cmpmem (ref, c->n * sizeof (float), got, c->n * sizeof (float));
  g_assert_cmpmem (ctx_ref, sizeof ctx_ref, ctx_got, sizeof ctx_got);

  /* SET over NaNs: cleared-and-added, every element written */
  memset (ref, 0, c->n * sizeof (float));
  for (size_t i = 0; i < c->n; i++)
    got[i] = NAN;
  c->call (ref, PL_GRAD_ADD, TRUE, in, ctx_ref);
  c->call (got, PL_GRAD_SET, FALSE, in, ctx_got);
  for (size_t i = 0; i < c->n; i++)
    if (!(got[i] == ref[i]))
      g_error ("%s: SET element %zu is %.9g, clear + add gives %.9g", c->name, i, got[i],
               ref[i]);
  g_assert_cmpmem (ctx_ref, sizeof ctx_ref, ctx_got, sizeof ctx_got);
  g_free (in);
  g_free (ref);
  g_free (got);
}

/* The bias gradient adds the rows in row order (as one row at a time would), so
 * its bits do not depend on how many rows a pass takes: against a plain loop,
 * for row counts around the block of four. */
static void
test_bias_grad_order (void)
{
  enum { C = 11, MAXN = 9 };
  PlRng r;
  pl_rng_init (&r, 77);
  float dy[MAXN * C];
  for (int i = 0; i < MAXN * C; i++)
    dy[i] = (float) pl_rng_normal (&r) * (i % 3 ? 1.0f : 1e-4f);
  for (int n = 1; n <= MAXN; n++)
    {
      float ref[C], lin[C], bias[C];
      for (int c = 0; c < C; c++)
        ref[c] = lin[c] = bias[c] = 0.25f * c - 1.0f;
      for (int k = 0; k < n; k++)
        for (int c = 0; c < C; c++)
          ref[c] += dy[k * C + c];
      pl_linear_backward (NULL, NULL, lin, dy, NULL, NULL, n, 3, C);
      pl_bias_add_backward (NULL, bias, dy, n, C, 1);
      g_assert_cmpmem (ref, sizeof ref, lin, sizeof lin);
      g_assert_cmpmem (ref, sizeof ref, bias, sizeof bias);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (ops); i++)
    {
      g_autofree char *fwd = g_strdup_printf ("/core/ops/%s/forward", ops[i].name);
      g_autofree char *bwd = g_strdup_printf ("/core/ops/%s/gradcheck", ops[i].name);
      g_test_add_data_func (fwd, &ops[i], test_forward);
      g_test_add_data_func (bwd, &ops[i], test_gradcheck);
    }
  g_test_add_func ("/core/ops/gradcheck/can-fail", test_checker_fails);
  g_test_add_func ("/core/ops/softmax-xent/huge-logits", test_xent_huge_logits);
  g_test_add_func ("/core/ops/softmax-xent/bad-label", test_xent_bad_label);
  g_test_add_func ("/core/ops/softmax/rows", test_softmax_rows);
  g_test_add_func ("/core/ops/dropout/scale-and-identity", test_dropout_scale);
  g_test_add_func ("/core/ops/embedding/bad-ids", test_embedding_bad_ids);
  g_test_add_func ("/core/ops/gelu/exact", test_gelu_exact);
  g_test_add_func ("/core/ops/relu/nan", test_relu_nan);
  g_test_add_func ("/core/ops/bias-add/in-place", test_bias_add_in_place);
  g_test_add_func ("/core/ops/attention/key-mask", test_attention_mask);
  g_test_add_func ("/core/ops/attention/head-kernels", test_attention_head_kernels);
  g_test_add_func ("/core/ops/maxpool2d/ties-and-nan", test_maxpool_ties_and_nan);
  g_test_add_func ("/core/ops/conv2d/out-size", test_conv_out_size);
  g_test_add_func ("/core/ops/argmax-rows", test_argmax_rows);
  g_test_add_func ("/core/ops/all-finite", test_all_finite);
  g_test_add_func ("/core/ops/linear/bias-grad-order", test_bias_grad_order);
  for (guint i = 0; i < G_N_ELEMENTS (write_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/core/ops/%s/backward-write",
                                               write_cases[i].name);
      g_test_add_data_func (path, &write_cases[i], test_backward_write);
    }
  return g_test_run ();
}
