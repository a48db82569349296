#include "pl-init-fill.h"

#include <math.h>
#include <string.h>

#include "pl-error.h"

GType
pl_init_distribution_get_type (void)
{
  static gsize type = 0;
  if (g_once_init_enter (&type))
    {
      static const GEnumValue values[] = {
        { PL_INIT_DISTRIBUTION_UNIFORM, "PL_INIT_DISTRIBUTION_UNIFORM", "uniform" },
        { PL_INIT_DISTRIBUTION_NORMAL, "PL_INIT_DISTRIBUTION_NORMAL", "normal" },
        { 0, NULL, NULL },
      };
      g_once_init_leave (&type, g_enum_register_static ("PlInitDistribution", values));
    }
  return type;
}

GType
pl_init_bias_get_type (void)
{
  static gsize type = 0;
  if (g_once_init_enter (&type))
    {
      static const GEnumValue values[] = {
        { PL_INIT_BIAS_ZERO, "PL_INIT_BIAS_ZERO", "zero" },
        { PL_INIT_BIAS_DEFAULT, "PL_INIT_BIAS_DEFAULT", "default" },
        { 0, NULL, NULL },
      };
      g_once_init_leave (&type, g_enum_register_static ("PlInitBias", values));
    }
  return type;
}

#define PL_INIT_PARAM_FLAGS \
  (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS)

GParamSpec *
pl_init_param_spec_bias (void)
{
  return g_param_spec_enum ("bias", "Bias", "Biases start at zero, or at PyTorch's default "
                            "U(-1/sqrt(fan_in), 1/sqrt(fan_in))",
                            PL_TYPE_INIT_BIAS, PL_INIT_BIAS_ZERO, PL_INIT_PARAM_FLAGS);
}

GParamSpec *
pl_init_param_spec_distribution (PlInitDistribution default_value, const char *blurb)
{
  return g_param_spec_enum ("distribution", "Distribution", blurb, PL_TYPE_INIT_DISTRIBUTION,
                            default_value, PL_INIT_PARAM_FLAGS);
}

GParamSpec *
pl_init_param_spec_gain (const char *blurb)
{
  return g_param_spec_double ("gain", "Gain", blurb, 0.0, 100.0, 1.0, PL_INIT_PARAM_FLAGS);
}

void
pl_init_fill_random (PlRng *rng, float *x, size_t n, PlInitDistribution dist, double std)
{
  if (dist == PL_INIT_DISTRIBUTION_NORMAL)
    for (size_t i = 0; i < n; i++)
      x[i] = (float) (std * pl_rng_normal (rng));
  else
    {
      double bound = sqrt (3.0) * std;
      for (size_t i = 0; i < n; i++)
        x[i] = (float) ((2.0 * pl_rng_uniform (rng) - 1.0) * bound);
    }
}

/* v [m] minus its projections on the orthonormal q_0..q_{j-1} (each [m],
 * contiguous in q); returns |v|. Two passes of modified Gram-Schmidt keep the
 * columns orthogonal to float precision. */
static double
orthogonalize (double *v, const double *q, int j, int m)
{
  for (int pass = 0; pass < 2; pass++)
    for (int k = 0; k < j; k++)
      {
        const double *qk = q + (size_t) k * m;
        double r = 0;
        for (int i = 0; i < m; i++)
          r += qk[i] * v[i];
        for (int i = 0; i < m; i++)
          v[i] -= r * qk[i];
      }
  double norm = 0;
  for (int i = 0; i < m; i++)
    norm += v[i] * v[i];
  return sqrt (norm);
}

void
pl_init_fill_orthogonal (PlRng *rng, float *w, int rows, int cols, double gain)
{
  g_return_if_fail (rows > 0 && cols > 0);
  gboolean tall = rows >= cols;
  int m = tall ? rows : cols, n = tall ? cols : rows;
  /* q holds the n columns of A (then Q), each [m] contiguous */
  g_autofree double *q = g_new (double, (size_t) m * n);
  for (int r = 0; r < rows; r++)
    for (int c = 0; c < cols; c++)
      {
        double a = pl_rng_normal (rng);
        if (tall)
          q[(size_t) c * m + r] = a;   /* column c of A [rows, cols] */
        else
          q[(size_t) r * m + c] = a;   /* column r of A^T [cols, rows] */
      }
  for (int j = 0; j < n; j++)
    {
      double *v = q + (size_t) j * m;
      double norm = orthogonalize (v, q, j, m);
      /* a dependent column has probability zero; redraw it if it happens */
      while (norm < 1e-10)
        {
          for (int i = 0; i < m; i++)
            v[i] = pl_rng_normal (rng);
          norm = orthogonalize (v, q, j, m);
        }
      /* Gram-Schmidt's R has diag(R) = norm > 0: torch's sign correction */
      for (int i = 0; i < m; i++)
        v[i] /= norm;
    }
  for (int r = 0; r < rows; r++)
    for (int c = 0; c < cols; c++)
      w[(size_t) r * cols + c] = (float) (gain * (tall ? q[(size_t) c * m + r]
                                                        : q[(size_t) r * m + c]));
}

void
pl_init_fill_unit_rows (PlRng *rng, float *w, int rows, int cols, double gain)
{
  g_return_if_fail (rows > 0 && cols > 0);
  g_autofree double *v = g_new (double, cols);
  for (int r = 0; r < rows; r++)
    {
      double norm = 0;
      while (norm < 1e-10)
        {
          norm = 0;
          for (int c = 0; c < cols; c++)
            {
              v[c] = pl_rng_normal (rng);
              norm += v[c] * v[c];
            }
          norm = sqrt (norm);
        }
      for (int c = 0; c < cols; c++)
        w[(size_t) r * cols + c] = (float) (gain * v[c] / norm);
    }
}

gboolean
pl_init_model_weights (PlModel *m, guint64 seed, const char *stream, PlInitBias bias,
                       PlInitWeightFunc fill, gpointer user_data, GError **error)
{
  g_return_val_if_fail (m != NULL && fill != NULL, FALSE);
  pl_model_init_default (m, seed);
  PlRng rng;
  pl_rng_init_stream (&rng, seed, stream);
  for (guint i = 0; i < pl_model_get_n_params (m); i++)
    {
      PlParam *p = pl_model_get_param (m, i);
      if (p->kind == PL_PARAM_WEIGHT
          && (p->layer == PL_LAYER_DENSE || p->layer == PL_LAYER_CONV))
        {
          if (!fill (p, &rng, user_data, error))
            {
              g_prefix_error (error, "tensor %s: ", p->name);
              return FALSE;
            }
        }
      else if (p->kind == PL_PARAM_BIAS && bias == PL_INIT_BIAS_ZERO)
        memset (p->data, 0, p->numel * sizeof (float));
    }
  pl_model_apply_masks (m);
  return TRUE;
}
