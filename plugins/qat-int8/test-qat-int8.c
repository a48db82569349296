/* The qat-int8 quantizer: fake-quant maths against an independent reference, the
 * straight-through backward, observers and their freeze, the int8 export (layout,
 * dtypes, scales, round trip) and its evaluation, through the plugin engine, the
 * run engine and paramlab-cli as a user's experiment uses them. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "paramlab.h"
#include "pl-test-util.h"
#include "pl-state-test-util.h"

static PlPluginEngine *
engine (void)
{
  static PlPluginEngine *e;
  if (!e)
    e = pl_plugin_engine_new ();
  return e;
}

/* ---- an independent reference (double precision) ---------------------------- */

static void
ref_range (PlInt8Scheme scheme, int *qmin, int *qmax)
{
  *qmin = scheme == PL_INT8_SYMMETRIC ? -127 : -128;
  *qmax = 127;
}

/* The quantized integer before the float rounding of x / s matters: NAN when x / s
 * lies within 1e-4 of a .5 tie, where float and double may round apart. */
static double
ref_quantize (double x, double s, int z, PlInt8Scheme scheme)
{
  int qmin, qmax;
  ref_range (scheme, &qmin, &qmax);
  double t = x / s;
  if (fabs (t - floor (t) - 0.5) < 1e-4 && fabs (t) < 1e6)
    return NAN;
  double r = rint (t) + z;
  return fmin (fmax (r, qmin), qmax);
}

/* ---- maths: qparams ------------------------------------------------------------ */

typedef struct {
  const char *name;
  PlInt8Scheme scheme;
  float lo, hi;
  float scale;
  int32_t zero_point;
} QparamCase;

static const QparamCase qparam_cases[] = {
  /* 127 * 2^-7 / 127 = 2^-7 exactly */
  { "symmetric/max", PL_INT8_SYMMETRIC, -0.5f, 0.9921875f, 0.0078125f, 0 },
  { "symmetric/min", PL_INT8_SYMMETRIC, -1.984375f, 1.0f, 0.015625f, 0 },
  { "symmetric/zero", PL_INT8_SYMMETRIC, 0.0f, 0.0f, FLT_EPSILON, 0 },
  /* s = 4/255, lo / s = -63.75 -> z = -128 + 64 */
  { "affine/straddle", PL_INT8_AFFINE, -1.0f, 3.0f, 4.0f / 255.0f, -64 },
  /* a positive range is widened to [0, hi]: z = -128 */
  { "affine/positive", PL_INT8_AFFINE, 0.5f, 2.0f, 2.0f / 255.0f, -128 },
  /* a negative range is widened to [lo, 0]: z = -128 + 255 */
  { "affine/negative", PL_INT8_AFFINE, -2.0f, -1.0f, 2.0f / 255.0f, 127 },
  { "affine/zero", PL_INT8_AFFINE, 0.0f, 0.0f, FLT_EPSILON, -128 },
};

static void
test_qparams (gconstpointer data)
{
  const QparamCase *c = data;
  float s;
  int32_t z;
  pl_int8_choose_qparams (c->lo, c->hi, c->scheme, &s, &z);
  g_assert_cmpfloat (s, ==, c->scale);
  g_assert_cmpint (z, ==, c->zero_point);
  /* zero is exactly representable: pruned weights stay zero */
  float zero = 0.0f, y;
  pl_int8_fake_quant_forward (&y, &zero, 1, 1, &s, &z, c->scheme);
  g_assert_cmpfloat (y, ==, 0.0f);
}

/* ---- maths: rounding and clamping with given qparams ---------------------------- */

typedef struct {
  const char *name;
  PlInt8Scheme scheme;
  float scale;
  int32_t zero_point;
  int n;
  float x[10];
  int8_t q[10];
} RoundCase;

#define S7 0.0078125f  /* 2^-7: x / s is exact, so ties are real ties */

static const RoundCase round_cases[] = {
  { "symmetric/ties-to-even", PL_INT8_SYMMETRIC, S7, 0, 8,
    { 0.5f * S7, 1.5f * S7, 2.5f * S7, -1.5f * S7, -0.5f * S7, -2.5f * S7, 3.5f * S7, 0.5f },
    { 0, 2, 2, -2, 0, -2, 4, 64 } },
  { "symmetric/clamp", PL_INT8_SYMMETRIC, S7, 0, 7,
    { 127 * S7, 127.4f * S7, 127.5f * S7, 2.0f, -2.0f, 1e30f, -1e30f },
    { 127, 127, 127, 127, -127, 127, -127 } },
  { "affine/clamp", PL_INT8_AFFINE, S7, 10, 7,
    { 0.0f, -138 * S7, -139 * S7, -2.0f, 117 * S7, 118 * S7, 1e30f },
    { 10, -128, -128, -128, 127, 127, 127 } },
  { "affine/ties-to-even", PL_INT8_AFFINE, S7, -3, 4,
    { 0.5f * S7, 1.5f * S7, -0.5f * S7, -1.5f * S7 },
    { -3, -1, -3, -5 } },
};

static void
test_rounding (gconstpointer data)
{
  const RoundCase *c = data;
  int8_t q[10];
  float y[10], d[10];
  pl_int8_quantize (q, c->x, 1, c->n, &c->scale, &c->zero_point, c->scheme);
  pl_int8_fake_quant_forward (y, c->x, 1, c->n, &c->scale, &c->zero_point, c->scheme);
  pl_int8_dequantize (d, q, 1, c->n, &c->scale, &c->zero_point);
  for (int i = 0; i < c->n; i++)
    {
      if (q[i] != c->q[i])
        g_error ("%s: x[%d] = %.9g quantized to %d, expected %d", c->name, i, c->x[i], q[i],
                 c->q[i]);
      g_assert_cmpfloat (y[i], ==, (float) (c->q[i] - c->zero_point) * c->scale);
      /* fake quantization is what the int8 export gives back, bit for bit */
      g_assert_cmpfloat (y[i], ==, d[i]);
    }
}

/* Random tensors, per-tensor and per-channel, both schemes: the integers match
 * the double-precision reference everywhere but at float/double ties, and the
 * error inside the range is at most half a step. */
static void
test_random_against_reference (void)
{
  PlRng rng;
  pl_rng_init (&rng, 11);
  enum { N_CH = 4, LEN = 500 };
  static float x[N_CH * LEN], y[N_CH * LEN], d[N_CH * LEN];
  static int8_t q[N_CH * LEN];
  for (int scheme = PL_INT8_SYMMETRIC; scheme <= PL_INT8_AFFINE; scheme++)
    for (int n_ch = 1; n_ch <= N_CH; n_ch += N_CH - 1)
      {
        size_t len = (size_t) N_CH * LEN / n_ch;
        for (int i = 0; i < N_CH * LEN; i++)
          {
            /* channels of very different ranges and offsets */
            int ch = (int) (i / (N_CH * LEN / N_CH));
            x[i] = (float) (pl_rng_normal (&rng) * pow (10.0, ch - 2) + 0.3 * ch);
          }
        float lo[N_CH], hi[N_CH], s[N_CH];
        int32_t z[N_CH];
        pl_int8_minmax (lo, hi, x, n_ch, len);
        for (int c = 0; c < n_ch; c++)
          {
            double rlo = HUGE_VAL, rhi = -HUGE_VAL;
            for (size_t i = 0; i < len; i++)
              {
                rlo = fmin (rlo, x[c * len + i]);
                rhi = fmax (rhi, x[c * len + i]);
              }
            g_assert_cmpfloat (lo[c], ==, rlo);
            g_assert_cmpfloat (hi[c], ==, rhi);
            pl_int8_choose_qparams (lo[c], hi[c], scheme, &s[c], &z[c]);
          }
        pl_int8_quantize (q, x, n_ch, len, s, z, scheme);
        pl_int8_fake_quant_forward (y, x, n_ch, len, s, z, scheme);
        pl_int8_dequantize (d, q, n_ch, len, s, z);
        int ties = 0;
        for (int c = 0; c < n_ch; c++)
          for (size_t i = 0; i < len; i++)
            {
              size_t k = c * len + i;
              double r = ref_quantize (x[k], s[c], z[c], scheme);
              if (isnan (r))
                {
                  ties++;
                  continue;
                }
              if (q[k] != (int8_t) r)
                g_error ("scheme %d n_ch %d: x[%zu] = %.9g: q %d, reference %g (s %g z %d)",
                         scheme, n_ch, k, x[k], q[k], r, s[c], z[c]);
              g_assert_cmpfloat (y[k], ==, d[k]);
              /* the range is the data's own: nothing is clamped */
              g_assert_cmpfloat (fabs (y[k] - x[k]), <=, 0.5 * s[c] * (1 + 1e-5));
            }
        g_assert_cmpint (ties, <, 5);
      }
}

/* Per-channel gives each output channel its own scale: a small channel next to
 * a large one keeps its resolution. */
static void
test_per_channel_resolution (void)
{
  float x[8] = { 0.01f, -0.02f, 0.015f, 0.005f, 10.0f, -20.0f, 5.0f, 0.0f };
  float lo[2], hi[2], s[2], y[8], s1, lo1, hi1, y1[8];
  int32_t z[2], z1;
  pl_int8_minmax (lo, hi, x, 2, 4);
  for (int c = 0; c < 2; c++)
    pl_int8_choose_qparams (lo[c], hi[c], PL_INT8_SYMMETRIC, &s[c], &z[c]);
  g_assert_cmpfloat (s[0], ==, 0.02f / 127.0f);
  g_assert_cmpfloat (s[1], ==, 20.0f / 127.0f);
  pl_int8_fake_quant_forward (y, x, 2, 4, s, z, PL_INT8_SYMMETRIC);
  pl_int8_minmax (&lo1, &hi1, x, 1, 8);
  pl_int8_choose_qparams (lo1, hi1, PL_INT8_SYMMETRIC, &s1, &z1);
  pl_int8_fake_quant_forward (y1, x, 1, 8, &s1, &z1, PL_INT8_SYMMETRIC);
  for (int i = 0; i < 4; i++)
    {
      g_assert_cmpfloat (fabsf (y[i] - x[i]), <=, 0.5f * s[0] * 1.0001f);
      g_assert_cmpfloat (y1[i], ==, 0.0f);  /* one scale for both rounds them away */
    }
}

/* ---- maths: the straight-through estimator ------------------------------------ */

typedef struct {
  const char *name;
  PlInt8Scheme scheme;
  int32_t zero_point;
  int n;
  float x[8];
  gboolean passes[8];
} SteCase;

static const SteCase ste_cases[] = {
  /* 127.5 rounds (half to even) to 128: outside, like PyTorch's mask */
  { "symmetric", PL_INT8_SYMMETRIC, 0, 7,
    { 0.5f, 127 * S7, 127.5f * S7, -127.5f * S7, -127 * S7, 3.0f, -126.6f * S7 },
    { TRUE, TRUE, FALSE, FALSE, TRUE, FALSE, TRUE } },
  { "affine", PL_INT8_AFFINE, 10, 6,
    { 0.0f, -138 * S7, -139 * S7, 117 * S7, 118 * S7, -1e30f },
    { TRUE, TRUE, FALSE, TRUE, FALSE, FALSE } },
};

static void
test_ste (gconstpointer data)
{
  const SteCase *c = data;
  float dx[8], dy[8], s = S7;
  for (int i = 0; i < c->n; i++)
    {
      dx[i] = 1.0f;            /* the backward adds */
      dy[i] = 0.25f * (i + 1);
    }
  pl_int8_fake_quant_backward (dx, dy, c->x, 1, c->n, &s, &c->zero_point, c->scheme);
  for (int i = 0; i < c->n; i++)
    {
      double r = rint ((double) c->x[i] / s) + c->zero_point;
      int qmin, qmax;
      ref_range (c->scheme, &qmin, &qmax);
      g_assert_cmpint (r >= qmin && r <= qmax, ==, c->passes[i]);
      g_assert_cmpfloat (dx[i], ==, c->passes[i] ? 1.0f + dy[i] : 1.0f);
    }
  /* the same from the mask the forward records */
  float y[8], dxm[8];
  uint8_t mask[8];
  pl_int8_fake_quant_forward_mask (y, mask, c->x, 1, c->n, &s, &c->zero_point, c->scheme);
  for (int i = 0; i < c->n; i++)
    {
      g_assert_cmpint (mask[i], ==, c->passes[i]);
      dxm[i] = 1.0f;
    }
  pl_int8_fake_quant_backward_mask (dxm, dy, mask, c->n);
  g_assert_cmpmem (dxm, c->n * sizeof (float), dx, c->n * sizeof (float));
}

/* ---- maths: the kernels with a recorded mask ------------------------------------ */

/* The scalar reference of fake quantization, straight from pl-int8.h's definition
 * with libm's rounding (half to even in the default mode): *in_range where
 * qmin <= round_half_even (x / s) + z <= qmax; NaN quotients count as below the
 * range (clamped to qmin), infinities as outside. */
static float
ref_fake_quant (float x, float s, int32_t z, PlInt8Scheme scheme, gboolean *in_range)
{
  int qmin, qmax;
  ref_range (scheme, &qmin, &qmax);
  float t = x / s;
  double r = isnan (t) ? qmin - 1.0 : (double) nearbyintf (t) + z;
  *in_range = r >= qmin && r <= qmax;
  double q = r < qmin ? qmin : r > qmax ? qmax : r;
  return (float) ((int32_t) q - z) * s;
}

static guint32
bits_of (float v)
{
  guint32 b;
  memcpy (&b, &v, sizeof b);
  return b;
}

/* x values a kernel must get right: both sides of every limit of the range and
 * of ties, zeros of both signs, NaN, infinities, huge and subnormal values, and
 * random values at the channel's scale */
static float
hard_value (PlRng *rng, int k, float s, int32_t z, int qmin, int qmax)
{
  float edge[] = { (qmin - z - 0.5f) * s, (qmax - z + 0.5f) * s, (qmin - z) * s,
                   (qmax - z) * s, 0.5f * s, -0.5f * s, 1.5f * s, (qmax - z - 0.5f) * s };
  switch (k % 16)
    {
    case 0: return NAN;
    case 1: return INFINITY;
    case 2: return -INFINITY;
    case 3: return -0.0f;
    case 4: return 0.0f;
    case 5: return 1e30f;
    case 6: return -1e-40f;
    case 7:
    case 8:
    case 9:
      {
        float e = edge[(k / 16 + k) % G_N_ELEMENTS (edge)];
        int step = k % 3 - 1;  /* the edge and its float neighbours */
        return step == 0 ? e : nextafterf (e, step < 0 ? -INFINITY : INFINITY);
      }
    default:
      return (float) (pl_rng_normal (rng) * 60.0 * s);
    }
}

typedef struct {
  const char *name;
  gboolean portable;
} KernelCase;

static const KernelCase kernel_cases[] = {
  { "default", FALSE },   /* AVX-512F where the CPU has it */
  { "portable", TRUE },
};

/* pl_int8_fake_quant_forward_mask () and _backward_mask () against the scalar
 * reference and against the kernels without a mask, bit for bit: every scheme,
 * per tensor and per channel, lengths around the vector width (tails), x in
 * place, and the hard values above. */
static void
test_mask_kernels (gconstpointer data)
{
  const KernelCase *kc = data;
  static const size_t lens[] = { 1, 7, 15, 16, 17, 31, 33, 100, 784 };
  PlRng rng;
  pl_rng_init (&rng, 5);
  pl_int8_fake_quant_use_portable (kc->portable);
  int checked = 0, clamped = 0;
  for (int scheme = PL_INT8_SYMMETRIC; scheme <= PL_INT8_AFFINE; scheme++)
    for (guint li = 0; li < G_N_ELEMENTS (lens); li++)
      for (int n_ch = 1; n_ch <= 3; n_ch += 2)
        {
          int qmin, qmax;
          ref_range (scheme, &qmin, &qmax);
          size_t len = lens[li], n = n_ch * len;
          float s[3] = { S7, 0.013f, 3.7e-3f };
          int32_t z[3] = { 0, 0, 0 };
          if (scheme == PL_INT8_AFFINE)
            z[0] = -128, z[1] = 17, z[2] = 127;
          g_autofree float *x = g_new (float, n), *y = g_new (float, n), *y0 = g_new (float, n);
          g_autofree float *yi = g_new (float, n), *dx = g_new (float, n), *dx0 = g_new (float, n);
          g_autofree float *dy = g_new (float, n);
          g_autofree uint8_t *mask = g_new (uint8_t, n), *maski = g_new (uint8_t, n);
          for (int c = 0; c < n_ch; c++)
            for (size_t i = 0; i < len; i++)
              {
                size_t k = c * len + i;
                x[k] = hard_value (&rng, (int) (k * 7 + li), s[c], z[c], qmin, qmax);
                /* dx: what other consumers added, including -0 (kept bit for bit
                 * where the value was clamped), NaN and infinity */
                dx[k] = k % 11 == 3 ? -0.0f : k % 13 == 5 ? NAN : k % 17 == 9 ? -INFINITY
                        : (float) pl_rng_normal (&rng);
                dy[k] = k % 19 == 2 ? INFINITY : k % 23 == 4 ? -0.0f : (float) pl_rng_normal (&rng);
              }
          memcpy (dx0, dx, n * sizeof (float));
          pl_int8_fake_quant_forward_mask (y, mask, x, n_ch, len, s, z, scheme);
          pl_int8_fake_quant_forward (y0, x, n_ch, len, s, z, scheme);
          memcpy (yi, x, n * sizeof (float));
          pl_int8_fake_quant_forward_mask (yi, maski, yi, n_ch, len, s, z, scheme);  /* in place */
          g_assert_cmpmem (y, n * sizeof (float), y0, n * sizeof (float));
          g_assert_cmpmem (yi, n * sizeof (float), y0, n * sizeof (float));
          g_assert_cmpmem (maski, n, mask, n);
          for (int c = 0; c < n_ch; c++)
            for (size_t i = 0; i < len; i++)
              {
                size_t k = c * len + i;
                gboolean in;
                float want = ref_fake_quant (x[k], s[c], z[c], scheme, &in);
                if (bits_of (y[k]) != bits_of (want) || mask[k] != (uint8_t) in)
                  g_error ("%s scheme %d n_ch %d len %zu: x[%zu] = %.9g (s %.9g z %d): y %.9g "
                           "mask %d, reference %.9g %d", kc->name, scheme, n_ch, len, k, x[k],
                           s[c], z[c], y[k], mask[k], want, in);
                clamped += !in;
                checked++;
              }
          pl_int8_fake_quant_backward_mask (dx, dy, mask, n);
          pl_int8_fake_quant_backward (dx0, dy, x, n_ch, len, s, z, scheme);
          g_assert_cmpmem (dx, n * sizeof (float), dx0, n * sizeof (float));
          /* and against the reference, from the saved inputs */
          memcpy (dx0, dx, n * sizeof (float));
          for (size_t k = 0; k < n; k++)
            {
              gboolean in;
              ref_fake_quant (x[k], s[k / len], z[k / len], scheme, &in);
              if (!in)
                g_assert_cmpuint (bits_of (dx[k]), ==, bits_of (dx0[k]));
            }
        }
  g_assert_cmpint (checked, >, 5000);
  g_assert_cmpint (clamped, >, 500);
  pl_int8_fake_quant_use_portable (FALSE);
}

/* The backward from a mask, against dx + dy and dx by the reference, for any
 * nonzero mask byte; NaN, infinities and -0 in dx and dy. */
static void
test_mask_backward (gconstpointer data)
{
  const KernelCase *kc = data;
  pl_int8_fake_quant_use_portable (kc->portable);
  for (size_t n = 1; n <= 70; n += 3)
    {
      float dx[70], dy[70], out[70];
      uint8_t mask[70];
      for (size_t i = 0; i < n; i++)
        {
          static const float vals[] = { 1.5f, -0.0f, 0.0f, NAN, INFINITY, -INFINITY, -2.25f,
                                        1e-40f };
          dx[i] = vals[i % G_N_ELEMENTS (vals)];
          dy[i] = vals[(i / 3 + 1) % G_N_ELEMENTS (vals)];
          mask[i] = (uint8_t) (i % 5 == 0 ? 0 : i % 5 == 1 ? 1 : i % 5 == 2 ? 255 : i % 5 == 3 ? 0 : 2);
        }
      memcpy (out, dx, n * sizeof (float));
      pl_int8_fake_quant_backward_mask (out, dy, mask, n);
      for (size_t i = 0; i < n; i++)
        g_assert_cmpuint (bits_of (out[i]), ==, bits_of (mask[i] ? dx[i] + dy[i] : dx[i]));
      /* the overwriting variant: the bits of the adding one on a zeroed dx, whatever
       * dx held before (it is not read), and nothing written past n */
      float zeroed[71], set[71];
      memset (zeroed, 0, sizeof zeroed);
      pl_int8_fake_quant_backward_mask (zeroed, dy, mask, n);
      for (size_t i = 0; i < G_N_ELEMENTS (set); i++)
        set[i] = i % 2 ? NAN : -0.0f;
      pl_int8_fake_quant_backward_mask_set (set, dy, mask, n);
      for (size_t i = 0; i < n; i++)
        {
          g_assert_cmpuint (bits_of (set[i]), ==, bits_of (zeroed[i]));
          g_assert_cmpuint (bits_of (set[i]), ==, bits_of (mask[i] ? 0.0f + dy[i] : 0.0f));
        }
      g_assert_cmpuint (bits_of (set[n]), ==, bits_of (n % 2 ? NAN : -0.0f));
    }
  pl_int8_fake_quant_use_portable (FALSE);
}

/* ---- the plugin: options -------------------------------------------------------- */

static void
test_listed (void)
{
  const PlPluginDesc *d = pl_plugin_engine_lookup (engine (), PL_SLOT_QUANT, "qat-int8");
  g_assert_nonnull (d);
  g_assert_true (d->loaded);
  g_assert_null (d->error);
  g_autoptr (GError) error = NULL;
  g_autoptr (GObject) p = pl_plugin_engine_create (engine (), PL_SLOT_QUANT, "qat-int8",
                                                   &error);
  g_assert_no_error (error);
  g_assert_true (PL_IS_QUANTIZER (p));
  g_assert_true (PL_IS_RUN_ADDIN (p));
  static const char *const want[][2] = {
    { "mode", "qat" }, { "granularity", "per-channel" }, { "scheme", "symmetric" },
    { "observer", "moving-average" }, { "averaging-constant", "0.01" },
    { "activations", "false" }, { "start-step", "0" }, { "freeze-step", "-1" },
  };
  g_autoptr (GPtrArray) opts = pl_plugin_list_options (p);
  g_assert_cmpuint (opts->len, ==, G_N_ELEMENTS (want));
  for (guint i = 0; i < opts->len; i++)
    {
      GParamSpec *ps = opts->pdata[i];
      g_assert_cmpstr (ps->name, ==, want[i][0]);
      g_autofree char *def = pl_plugin_option_default_text (ps);
      g_assert_cmpstr (def, ==, want[i][1]);
      g_assert_nonnull (g_param_spec_get_blurb (ps));
    }
}

typedef struct {
  const char *option, *value, *expect;
} BadOption;

static const BadOption bad_options[] = {
  { "scheme", "asymmetric", "symmetric, affine" },
  { "granularity", "per-row", "per-tensor, per-channel" },
  { "observer", "ema", "minmax, moving-average" },
  { "mode", "int4", "qat, ptq" },
  { "averaging-constant", "0", "averaging-constant" },
  { "averaging-constant", "1.5", "averaging-constant" },
  { "start-step", "-1", "start-step" },
  { "freeze-step", "-2", "freeze-step" },
  { "activations", "maybe", "true or false" },
  { "bits", "4", "bits" },
};

static void
test_bad_options (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (bad_options); i++)
    {
      const BadOption *b = &bad_options[i];
      g_autoptr (GError) error = NULL;
      g_autoptr (GObject) p = pl_plugin_engine_create (engine (), PL_SLOT_QUANT, "qat-int8",
                                                       &error);
      g_assert_no_error (error);
      g_assert_false (pl_plugin_set_option (p, "qat-int8", b->option, b->value, "q.ini:7",
                                            &error));
      g_assert_error (error, PL_ERROR, PL_ERROR_CONFIG);
      if (!strstr (error->message, "q.ini:7") || !strstr (error->message, "qat-int8")
          || !strstr (error->message, b->expect))
        g_error ("%s=%s: message \"%s\" lacks the place, the plugin or \"%s\"", b->option,
                 b->value, error->message, b->expect);
    }
}

/* ---- the plugin inside a model ------------------------------------------------ */

typedef struct {
  PlExperiment *exp;
  PlPluginSelection *sel;
  PlRunData data;
  PlModel *model;
  GObject *quant;       /* not owned; NULL without [quant] */
  int batch;
} Built;

static void
built_clear (Built *b)
{
  pl_model_free (b->model);
  pl_run_data_clear (&b->data);
  g_clear_pointer (&b->sel, pl_plugin_selection_free);
  g_clear_pointer (&b->exp, pl_experiment_unref);
}

/* A model of @text with its plugins, its first @batch training rows loaded. */
static void
build (Built *b, const char *text, int batch)
{
  g_autoptr (GError) error = NULL;
  memset (b, 0, sizeof *b);
  b->exp = pl_experiment_load_data (text, -1, "qat.ini", &error);
  g_assert_no_error (error);
  b->sel = pl_plugin_selection_new (engine (), b->exp, &error);
  g_assert_no_error (error);
  g_assert_true (pl_run_data_load (b->exp, b->sel, &b->data, &error));
  b->model = pl_model_new_for_experiment (b->exp, b->sel, b->data.train, batch, &error);
  g_assert_no_error (error);
  b->quant = pl_plugin_selection_get (b->sel, PL_SLOT_QUANT);
  b->batch = batch;
  const PlDataset *ds = b->data.train;
  memcpy (pl_model_get_input_buffer (b->model), ds->x, sizeof (float) * batch * ds->n_features);
  memcpy (pl_model_get_label_buffer (b->model), ds->y, sizeof (int32_t) * batch);
}

static float
forward (Built *b, gboolean training)
{
  return pl_graph_forward (pl_model_get_graph (b->model), b->batch, training);
}

/* one training step's forward and backward at step index @step (no update) */
static void
train_pass (Built *b, gint64 step)
{
  if (b->quant)
    PL_RUN_ADDIN_GET_IFACE (b->quant)->before_forward (PL_RUN_ADDIN (b->quant), NULL, step);
  pl_model_zero_grads (b->model);
  forward (b, TRUE);
  pl_graph_backward (pl_model_get_graph (b->model));
}

static gboolean
is_quantized (const PlParam *p)
{
  return p->kind == PL_PARAM_WEIGHT && (p->layer == PL_LAYER_DENSE || p->layer == PL_LAYER_CONV);
}

/* the export of the quantizer, written to @path and loaded back */
static PlSafetensors *
export_to (Built *b, const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PlSafetensorsWriter) w = pl_safetensors_writer_new ();
  g_assert_true (pl_quantizer_export_int8 (PL_QUANTIZER (b->quant), b->model, w, &error));
  g_assert_no_error (error);
  g_assert_true (pl_safetensors_writer_write (w, path, &error));
  PlSafetensors *st = pl_safetensors_load (path, &error);
  g_assert_no_error (error);
  return st;
}

static float
exported_scale (Built *b, const char *name, int ch)
{
  g_autofree char *path = g_build_filename (pl_test_tmpdir (), "scale.safetensors", NULL);
  g_autoptr (PlSafetensors) st = export_to (b, path);
  g_autofree char *sname = g_strconcat (name, ".scale", NULL);
  const PlTensorInfo *t = pl_safetensors_lookup (st, sname);
  g_assert_nonnull (t);
  float v[1024];
  g_assert_cmpuint (t->numel, <=, G_N_ELEMENTS (v));
  g_assert_true (pl_safetensors_read_f32 (t, v, t->numel, NULL));
  return v[ch];
}

#define SMALL_MODEL                                                             \
  "[experiment]\nseed=3\n[data]\ndataset=breast-cancer\n[model]\nhidden=6\n"    \
  "activation=tanh\n[train]\nepochs=1\n"

/* Before start-step the nodes are the identity, forward and backward: the logits
 * are the float model's bit for bit and the gradient matches finite differences. */
static void
test_float_region_fd (void)
{
  Built q, f;
  build (&q, SMALL_MODEL "[quant]\nplugin=qat-int8\nstart-step=1000\nactivations=true\n"
                         "scheme=affine\n", 8);
  build (&f, SMALL_MODEL, 8);
  forward (&q, FALSE);
  forward (&f, FALSE);
  int c = pl_model_get_spec (q.model)->n_classes;
  const float *lq = pl_model_get_logits (q.model)->data, *lf = pl_model_get_logits (f.model)->data;
  for (int i = 0; i < 8 * c; i++)
    g_assert_cmpfloat (lq[i], ==, lf[i]);

  train_pass (&q, 0);
  size_t n = pl_model_get_n_floats (q.model);
  g_autofree float *grad = g_memdup2 (pl_model_get_grads (q.model), n * sizeof (float));
  float *w = pl_model_get_params (q.model);
  const float h = 1e-3f;
  int checked = 0;
  for (size_t j = 0; j < n; j += 7)
    {
      float keep = w[j];
      w[j] = keep + h;
      double up = forward (&q, FALSE);
      w[j] = keep - h;
      double down = forward (&q, FALSE);
      w[j] = keep;
      double fd = (up - down) / (2 * h);
      pl_assert_close (grad[j], fd, 2e-3, 2e-2);
      checked++;
    }
  g_assert_cmpint (checked, >, 20);
  built_clear (&q);
  built_clear (&f);
}

/* Quantized: the gradient of every weight is the float model's gradient at the
 * fake-quantized weights (checked again by finite differences there), passed
 * straight through where the weight was inside the range. */
static void
test_ste_through_model (void)
{
  Built q, f;
  build (&q, SMALL_MODEL "[quant]\nplugin=qat-int8\nscheme=affine\ngranularity=per-channel\n",
         8);
  build (&f, SMALL_MODEL, 8);
  train_pass (&q, 0);

  /* the float model at fq(W): the observer's first range is W's own */
  g_autoptr (GHashTable) masks = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
  for (guint i = 0; i < pl_model_get_n_params (f.model); i++)
    {
      PlParam *p = pl_model_get_param (f.model, i);
      if (!is_quantized (p))
        continue;
      int n_ch = p->shape[0];
      size_t len = p->numel / n_ch;
      float lo[64], hi[64], s[64];
      int32_t z[64];
      pl_int8_minmax (lo, hi, p->data, n_ch, len);
      float *mask = g_new (float, p->numel);
      for (int c = 0; c < n_ch; c++)
        {
          pl_int8_choose_qparams (lo[c], hi[c], PL_INT8_AFFINE, &s[c], &z[c]);
          for (size_t k = 0; k < len; k++)
            {
              double r = rint ((double) p->data[c * len + k] / s[c]) + z[c];
              mask[c * len + k] = r >= -128 && r <= 127;
            }
        }
      pl_int8_fake_quant_forward (p->data, p->data, n_ch, len, s, z, PL_INT8_AFFINE);
      g_hash_table_insert (masks, p->name, mask);
    }
  train_pass (&f, 0);

  float *wf = pl_model_get_params (f.model);
  const float *gq = pl_model_get_grads (q.model), *gf = pl_model_get_grads (f.model);
  int fd_checked = 0;
  for (guint i = 0; i < pl_model_get_n_params (f.model); i++)
    {
      PlParam *p = pl_model_get_param (f.model, i);
      const float *mask = g_hash_table_lookup (masks, p->name);
      for (size_t k = 0; k < p->numel; k++)
        {
          double want = gf[p->offset + k] * (mask ? mask[k] : 1.0f);
          pl_assert_close (gq[p->offset + k], want, 1e-6, 1e-5);
        }
      /* d loss / d fq(W), what passes straight through, by finite differences of
       * the float model at fq(W) */
      for (size_t k = 0; mask && k < p->numel; k += 5)
        {
          float keep = wf[p->offset + k];
          wf[p->offset + k] = keep + 1e-3f;
          double up = forward (&f, FALSE);
          wf[p->offset + k] = keep - 1e-3f;
          double down = forward (&f, FALSE);
          wf[p->offset + k] = keep;
          pl_assert_close (gf[p->offset + k], (up - down) / 2e-3, 2e-3, 2e-2);
          fd_checked++;
        }
    }
  g_assert_cmpint (fd_checked, >, 20);
  built_clear (&q);
  built_clear (&f);
}

/* After freeze-step the scale stays where it was although the weights grow; a
 * weight pushed outside the frozen range gets no gradient. Without the freeze
 * the observer follows the weights. */
static void
test_freeze_and_clamp (void)
{
  for (int frozen = 0; frozen <= 1; frozen++)
    {
      Built q;
      build (&q, frozen ? SMALL_MODEL "[quant]\nplugin=qat-int8\ngranularity=per-tensor\n"
                                      "observer=minmax\nfreeze-step=1\n"
                        : SMALL_MODEL "[quant]\nplugin=qat-int8\ngranularity=per-tensor\n"
                                      "observer=minmax\n", 8);
      PlParam *w = pl_model_lookup_param (q.model, "hidden.0.weight");
      train_pass (&q, 0);
      float s0 = exported_scale (&q, w->name, 0);
      float lo0, hi0;
      pl_int8_minmax (&lo0, &hi0, w->data, 1, w->numel);
      float amax = fmaxf (-lo0, hi0);
      g_assert_cmpfloat (s0, ==, amax / 127.0f);

      w->data[3] = 1.5f * amax;
      train_pass (&q, 1);
      float s1 = exported_scale (&q, w->name, 0);
      const float *g = pl_model_get_grads (q.model) + w->offset;
      if (frozen)
        {
          g_assert_cmpfloat (s1, ==, s0);
          g_assert_cmpfloat (g[3], ==, 0.0f);
        }
      else
        {
          /* the observer widens its range to the new weight, which stays inside */
          g_assert_cmpfloat (s1, ==, 1.5f * amax / 127.0f);
          g_assert_cmpfloat (g[3], !=, 0.0f);
        }
      int nonzero = 0;
      for (size_t k = 0; k < w->numel; k++)
        nonzero += g[k] != 0.0f;
      g_assert_cmpint (nonzero, >, (int) w->numel / 2);
      built_clear (&q);
    }
}

typedef struct {
  const char *name;
  const char *options;
  float factors[3];    /* the weights at steps 0, 1, 2 are W times these */
  float scales[3];     /* the exported scale after each step, in units of s0 */
} ObserverCase;

static const ObserverCase observer_cases[] = {
  { "minmax", "observer=minmax\n", { 1, 0.5f, 2 }, { 1, 1, 2 } },
  { "moving-average", "observer=moving-average\naveraging-constant=0.5\n", { 1, 2, 2 },
    { 1, 1.5f, 1.75f } },
  { "freeze", "observer=minmax\nfreeze-step=2\n", { 1, 2, 4 }, { 1, 2, 2 } },
  /* nothing observed at step 0: the export rounds 4 W by its own range; step 0
   * left no trace in the observer */
  { "start", "observer=minmax\nstart-step=1\n", { 4, 1, 1 }, { 4, 1, 1 } },
};

static void
test_observer (gconstpointer data)
{
  const ObserverCase *c = data;
  g_autofree char *text = g_strdup_printf (SMALL_MODEL "[quant]\nplugin=qat-int8\n"
                                           "granularity=per-tensor\n%s", c->options);
  Built q;
  build (&q, text, 8);
  PlParam *w = pl_model_lookup_param (q.model, "hidden.0.weight");
  g_autofree float *orig = g_memdup2 (w->data, w->numel * sizeof (float));
  float amax = 0;
  for (size_t k = 0; k < w->numel; k++)
    amax = fmaxf (amax, fabsf (orig[k]));
  float s0 = amax / 127.0f;
  for (int step = 0; step < 3; step++)
    {
      for (size_t k = 0; k < w->numel; k++)
        w->data[k] = orig[k] * c->factors[step];
      train_pass (&q, step);
      pl_assert_close (exported_scale (&q, w->name, 0), c->scales[step] * s0, 0, 1e-6);
    }
  built_clear (&q);
}

/* ---- export layout and round trip --------------------------------------------- */

typedef struct {
  const char *name;
  const char *model;
  const char *quant;
  gboolean per_channel, affine, activations;
  int n_quantized;
} LayoutCase;

#define DIGITS_MLP "[experiment]\nseed=5\n[model]\nhidden=16\n[train]\nepochs=1\n"
#define DIGITS_CNN "[experiment]\nseed=5\n[model]\narchitecture=cnn\nchannels=4,6\n" \
                   "kernel-size=3\n[train]\nepochs=1\n"

static const LayoutCase layout_cases[] = {
  { "mlp/per-tensor/symmetric", DIGITS_MLP, "granularity=per-tensor\n", FALSE, FALSE, FALSE,
    2 },
  { "mlp/per-channel/affine", DIGITS_MLP, "scheme=affine\nactivations=true\n", TRUE, TRUE,
    TRUE, 2 },
  { "cnn/per-channel/symmetric", DIGITS_CNN, "activations=true\n", TRUE, FALSE, TRUE, 3 },
  { "cnn/per-tensor/affine", DIGITS_CNN, "granularity=per-tensor\nscheme=affine\n", FALSE,
    TRUE, FALSE, 3 },
};

static void
test_export_layout (gconstpointer data)
{
  const LayoutCase *c = data;
  g_autofree char *text = g_strdup_printf ("%s[quant]\nplugin=qat-int8\n%s", c->model, c->quant);
  Built q;
  build (&q, text, 16);
  train_pass (&q, 0);
  train_pass (&q, 1);
  g_autofree char *path = g_build_filename (pl_test_tmpdir (), "layout.safetensors", NULL);
  g_autoptr (PlSafetensors) st = export_to (&q, path);
  g_assert_cmpstr (pl_safetensors_get_metadata (st, "paramlab.format"), ==, "int8");
  g_assert_cmpstr (pl_safetensors_get_metadata (st, "paramlab.int8.scheme"), ==,
                   c->affine ? "affine" : "symmetric");
  g_assert_cmpstr (pl_safetensors_get_metadata (st, "paramlab.int8.granularity"), ==,
                   c->per_channel ? "per-channel" : "per-tensor");
  PlInt8Scheme scheme = c->affine ? PL_INT8_AFFINE : PL_INT8_SYMMETRIC;
  int n_quantized = 0;
  for (guint i = 0; i < pl_model_get_n_params (q.model); i++)
    {
      PlParam *p = pl_model_get_param (q.model, i);
      const PlTensorInfo *t = pl_safetensors_lookup (st, p->name);
      g_assert_nonnull (t);
      g_assert_cmpint (t->ndim, ==, p->ndim);
      for (int d = 0; d < p->ndim; d++)
        g_assert_cmpint (t->shape[d], ==, p->shape[d]);
      g_autofree char *sname = g_strconcat (p->name, ".scale", NULL);
      g_autofree char *zname = g_strconcat (p->name, ".zero_point", NULL);
      g_autofree char *iname = g_strconcat (p->name, ".input_scale", NULL);
      if (!is_quantized (p))
        {
          g_assert_cmpint (t->dtype, ==, PL_DTYPE_F32);
          g_assert_null (pl_safetensors_lookup (st, sname));
          g_assert_cmpint (memcmp (t->data, p->data, p->numel * 4), ==, 0);
          continue;
        }
      n_quantized++;
      g_assert_cmpint (t->dtype, ==, PL_DTYPE_I8);
      const PlTensorInfo *ts = pl_safetensors_lookup (st, sname);
      const PlTensorInfo *tz = pl_safetensors_lookup (st, zname);
      g_assert_nonnull (ts);
      g_assert_nonnull (tz);
      g_assert_cmpint (ts->dtype, ==, PL_DTYPE_F32);
      g_assert_cmpint (tz->dtype, ==, PL_DTYPE_I8);
      int n_ch = c->per_channel ? p->shape[0] : 1;
      g_assert_cmpint (ts->ndim, ==, c->per_channel ? 1 : 0);
      g_assert_cmpuint (ts->numel, ==, n_ch);
      g_assert_cmpuint (tz->numel, ==, n_ch);
      g_assert_true ((pl_safetensors_lookup (st, iname) != NULL) == c->activations);
      size_t len = p->numel / n_ch;
      g_autofree float *s = g_new (float, n_ch);
      g_assert_true (pl_safetensors_read_f32 (ts, s, n_ch, NULL));
      const int8_t *zq = tz->data, *qv = t->data;
      for (int ch = 0; ch < n_ch; ch++)
        {
          /* the weights did not move: the observer's range is the channel's own
           * (axis 0: a dense layer's output row, a conv layer's filter) */
          float lo, hi, ws;
          int32_t wz;
          pl_int8_minmax (&lo, &hi, p->data + ch * len, 1, len);
          pl_int8_choose_qparams (lo, hi, scheme, &ws, &wz);
          g_assert_cmpfloat (s[ch], ==, ws);
          g_assert_cmpint (zq[ch], ==, wz);
          if (!c->affine)
            g_assert_cmpint (zq[ch], ==, 0);
          for (size_t k = 0; k < len; k++)
            {
              double r = ref_quantize (p->data[ch * len + k], s[ch], zq[ch], scheme);
              if (!isnan (r))
                g_assert_cmpint (qv[ch * len + k], ==, (int) r);
            }
        }
    }
  g_assert_cmpint (n_quantized, ==, c->n_quantized);

  /* round trip: a fresh model loads w = scale * (q - zero_point) */
  Built r;
  build (&r, c->model, 16);
  g_autoptr (GError) error = NULL;
  g_assert_true (pl_model_load_int8_safetensors (r.model, path, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < pl_model_get_n_params (q.model); i++)
    {
      PlParam *p = pl_model_get_param (q.model, i), *pr = pl_model_get_param (r.model, i);
      if (!is_quantized (p))
        {
          g_assert_cmpint (memcmp (pr->data, p->data, p->numel * 4), ==, 0);
          continue;
        }
      int n_ch = c->per_channel ? p->shape[0] : 1;
      size_t len = p->numel / n_ch;
      g_autofree float *want = g_new (float, p->numel);
      for (int ch = 0; ch < n_ch; ch++)
        {
          float lo, hi, ws;
          int32_t wz;
          pl_int8_minmax (&lo, &hi, p->data + ch * len, 1, len);
          pl_int8_choose_qparams (lo, hi, scheme, &ws, &wz);
          pl_int8_fake_quant_forward (want + ch * len, p->data + ch * len, 1, len, &ws, &wz,
                                      scheme);
        }
      g_assert_cmpint (memcmp (pr->data, want, p->numel * 4), ==, 0);
    }
  built_clear (&r);
  built_clear (&q);
}

/* ---- loading bad int8 files ---------------------------------------------------- */

typedef enum {
  BAD_NONE,
  BAD_NO_FORMAT,
  BAD_NO_SCALE,
  BAD_EXTRA,
  BAD_SCALE_COUNT,
  BAD_NEGATIVE_SCALE,
  BAD_I16,
  BAD_NO_BIAS,
  BAD_SHAPE,
  BAD_ZP_DTYPE,
} BadKind;

typedef struct {
  const char *name;
  BadKind kind;
  int code;
  const char *expect;
} BadFile;

static const BadFile bad_files[] = {
  { "valid", BAD_NONE, 0, NULL },
  { "no-format", BAD_NO_FORMAT, PL_ERROR_FORMAT, "paramlab.format" },
  { "no-scale", BAD_NO_SCALE, PL_ERROR_NOT_FOUND, "\"hidden.0.weight.scale\"" },
  { "extra", BAD_EXTRA, PL_ERROR_SHAPE, "\"bogus\"" },
  { "scale-count", BAD_SCALE_COUNT, PL_ERROR_SHAPE, "one per output channel" },
  { "negative-scale", BAD_NEGATIVE_SCALE, PL_ERROR_FORMAT, "positive" },
  { "i16", BAD_I16, PL_ERROR_FORMAT, "I16" },
  { "no-bias", BAD_NO_BIAS, PL_ERROR_NOT_FOUND, "\"hidden.0.bias\"" },
  { "shape", BAD_SHAPE, PL_ERROR_SHAPE, "[16, 64]" },
  { "zp-dtype", BAD_ZP_DTYPE, PL_ERROR_FORMAT, "I8 or I32" },
};

static void
write_bad_file (PlModel *m, BadKind kind, const char *path)
{
  g_autoptr (PlSafetensorsWriter) w = pl_safetensors_writer_new ();
  g_autoptr (GError) error = NULL;
  for (guint i = 0; i < pl_model_get_n_params (m); i++)
    {
      PlParam *p = pl_model_get_param (m, i);
      gint64 shape[PL_MAX_DIMS];
      for (int d = 0; d < p->ndim; d++)
        shape[d] = p->shape[d];
      if (kind == BAD_SHAPE && i == 0)
        shape[1] = 32;
      gsize numel = p->numel / (kind == BAD_SHAPE && i == 0 ? 2 : 1);
      if (kind == BAD_NO_BIAS && g_str_equal (p->name, "hidden.0.bias"))
        continue;
      if (!is_quantized (p))
        {
          g_assert_true (pl_safetensors_writer_add (w, p->name, PL_DTYPE_F32, shape, p->ndim,
                                                    p->data, numel * 4, &error));
          continue;
        }
      g_autofree int8_t *q = g_new0 (int8_t, 2 * numel);
      PlDtype dt = kind == BAD_I16 && i == 0 ? PL_DTYPE_I16 : PL_DTYPE_I8;
      g_assert_true (pl_safetensors_writer_add (w, p->name, dt, shape, p->ndim, q,
                                                numel * pl_dtype_size (dt), &error));
      g_autofree char *sname = g_strconcat (p->name, ".scale", NULL);
      g_autofree char *zname = g_strconcat (p->name, ".zero_point", NULL);
      float s[3] = { kind == BAD_NEGATIVE_SCALE ? -0.5f : 0.5f, 0.5f, 0.5f };
      int16_t z[3] = { 0 };
      gint64 three = 3;
      int ndim = kind == BAD_SCALE_COUNT && i == 0 ? 1 : 0;
      if (!(kind == BAD_NO_SCALE && i == 0))
        g_assert_true (pl_safetensors_writer_add (w, sname, PL_DTYPE_F32, &three, ndim, s,
                                                  4 * (ndim ? 3 : 1), &error));
      PlDtype zdt = kind == BAD_ZP_DTYPE && i == 0 ? PL_DTYPE_I16 : PL_DTYPE_I8;
      g_assert_true (pl_safetensors_writer_add (w, zname, zdt, &three, ndim, z,
                                                pl_dtype_size (zdt) * (ndim ? 3 : 1), &error));
    }
  if (kind == BAD_EXTRA)
    {
      float v = 1;
      g_assert_true (pl_safetensors_writer_add (w, "bogus", PL_DTYPE_F32, NULL, 0, &v, 4,
                                                &error));
    }
  if (kind != BAD_NO_FORMAT)
    pl_safetensors_writer_set_metadata (w, "paramlab.format", "int8");
  g_assert_true (pl_safetensors_writer_write (w, path, &error));
}

static void
test_load_errors (void)
{
  Built b;
  build (&b, DIGITS_MLP, 4);
  for (guint i = 0; i < G_N_ELEMENTS (bad_files); i++)
    {
      const BadFile *c = &bad_files[i];
      g_autofree char *leaf = g_strdup_printf ("bad-%s.safetensors", c->name);
      g_autofree char *path = g_build_filename (pl_test_tmpdir (), leaf, NULL);
      write_bad_file (b.model, c->kind, path);
      g_autoptr (GError) error = NULL;
      gboolean ok = pl_model_load_int8_safetensors (b.model, path, &error);
      if (c->kind == BAD_NONE)
        {
          g_assert_no_error (error);
          g_assert_true (ok);
          /* q = 0 everywhere: every weight loads as 0.5 * (0 - 0) */
          g_assert_cmpfloat (pl_model_lookup_param (b.model, "hidden.0.weight")->data[5], ==, 0);
          continue;
        }
      g_assert_false (ok);
      g_assert_error (error, PL_ERROR, c->code);
      if (!strstr (error->message, leaf) || !strstr (error->message, c->expect))
        g_error ("%s: message \"%s\" lacks the file or \"%s\"", c->name, error->message,
                 c->expect);
    }
  built_clear (&b);
}

/* ---- through the run engine ---------------------------------------------------- */

/* The digits-qat-int8 preset's model and training, shortened. */
#define DIGITS_RUN                                                                  \
  "[experiment]\nname=%s\nseed=42\n[data]\ndataset=digits\nval-fraction=0.2\n"      \
  "[model]\nhidden=256,128\ndropout=0.1\n[train]\nepochs=%d\nbatch-size=32\n"          \
  "optimizer=adam\nlr=1e-3\nschedule=cosine\nwarmup-steps=50\n%s"

typedef struct {
  gint64 id;
  double val_acc;        /* the model's, as trained (fake-quantized in qat) */
  double int8_acc;       /* val/acc_int8 recorded with the last int8 checkpoint */
  char *fp32_path, *int8_path;
  gint64 fp32_size, int8_size;
  PlExperiment *exp;
} RunResult;

static void
run_result_clear (RunResult *r)
{
  g_free (r->fp32_path);
  g_free (r->int8_path);
  g_clear_pointer (&r->exp, pl_experiment_unref);
}

static PlRunStore *
store (void)
{
  static PlRunStore *s;
  if (!s)
    {
      g_autofree char *db = g_build_filename (pl_test_tmpdir (), "runs.db", NULL);
      g_autoptr (GError) error = NULL;
      s = pl_run_store_open (db, &error);
      g_assert_no_error (error);
    }
  return s;
}

static void
run_text (const char *text, RunResult *out)
{
  g_autoptr (GError) error = NULL;
  memset (out, 0, sizeof *out);
  g_autoptr (PlExperiment) exp = pl_experiment_load_data (text, -1, "run.ini", &error);
  g_assert_no_error (error);
  g_autoptr (PlPluginSelection) sel = pl_plugin_selection_new (engine (), exp, &error);
  g_assert_no_error (error);
  g_autoptr (PlRun) run = pl_run_new_with_plugins (exp, store (), sel, &error);
  g_assert_no_error (error);
  g_assert_true (pl_run_execute (run, &error));
  g_assert_no_error (error);
  out->id = pl_run_get_id (run);
  out->val_acc = pl_run_get_metric (run, "val/acc");
  out->int8_acc = NAN;
  out->exp = pl_experiment_ref (exp);
  g_autoptr (GPtrArray) ck = pl_run_store_list_checkpoints (store (), out->id, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < ck->len; i++)
    {
      PlCheckpointInfo *c = ck->pdata[i];
      if (!g_str_equal (c->kind, "last"))
        continue;
      if (g_str_equal (c->format, "int8"))
        {
          out->int8_path = g_strdup (c->path);
          out->int8_size = c->size_bytes;
          g_assert_cmpstr (c->metric_key, ==, "val/acc_int8");
          out->int8_acc = c->metric_value;
        }
      else
        {
          out->fp32_path = g_strdup (c->path);
          out->fp32_size = c->size_bytes;
        }
    }
  g_assert_nonnull (out->fp32_path);
}

/* Accuracy of an int8 file recomputed from its integers by a fresh model. */
static double
reevaluate_int8 (const RunResult *r)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PlPluginSelection) sel = pl_plugin_selection_new (engine (), r->exp, &error);
  g_assert_no_error (error);
  PlRunData data;
  g_assert_true (pl_run_data_load (r->exp, sel, &data, &error));
  /* the run's batch, so the sums run in the same order */
  int batch = (int) MIN ((gsize) r->exp->train.batch_size, data.train->n);
  g_autoptr (PlModel) m = pl_model_new_for_experiment (r->exp, sel, data.train, batch, &error);
  g_assert_no_error (error);
  g_autoptr (PlSafetensors) st = pl_safetensors_load (r->int8_path, &error);
  g_assert_no_error (error);
  g_assert_true (pl_model_load_int8_from (m, st, r->int8_path, &error));
  GObject *quant = pl_plugin_selection_get (sel, PL_SLOT_QUANT);
  g_assert_true (pl_quantizer_load_int8 (PL_QUANTIZER (quant), m, st, r->int8_path, &error));
  g_assert_no_error (error);
  PlEvalResult ev;
  g_assert_true (pl_model_evaluate (m, data.val, &ev, &error));
  pl_run_data_clear (&data);
  return ev.acc;
}

static gboolean
cli (const char *const *args, char **out, char **err, int *status)
{
  const char *build = g_getenv ("PARAMLAB_BUILD_DIR");
  g_autofree char *exe = build ? g_build_filename (build, "app", "cli", "paramlab-cli", NULL)
                               : NULL;
  if (!exe || !g_file_test (exe, G_FILE_TEST_IS_EXECUTABLE))
    return FALSE;
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_ptr_array_add (argv, exe);
  for (int i = 0; args[i]; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                               out, err, status, &error));
  g_assert_no_error (error);
  return TRUE;
}

static double
cli_value (const char *out, const char *key)
{
  const char *at = strstr (out, key);
  g_assert_nonnull (at);
  return g_ascii_strtod (at + strlen (key), NULL);
}

/* paramlab-cli: export --format int8 picks the int8 file; evaluate recomputes
 * the recorded accuracy from the file alone; a float run has no int8 file. */
static void
check_cli (const RunResult *f, const RunResult *q)
{
  g_autofree char *db = g_build_filename (pl_test_tmpdir (), "runs.db", NULL);
  g_autofree char *out_path = g_build_filename (pl_test_tmpdir (), "qat-int8.safetensors",
                                                NULL);
  g_autofree char *id = g_strdup_printf ("%" G_GINT64_FORMAT, q->id);
  g_autofree char *fid = g_strdup_printf ("%" G_GINT64_FORMAT, f->id);
  g_autofree char *out = NULL, *err = NULL;
  int status;
  const char *exp_args[] = { "export", id, "--format", "int8", "--out", out_path, "--db", db,
                             NULL };
  if (!cli (exp_args, &out, &err, &status))
    {
      g_test_message ("paramlab-cli not built; its part is skipped");
      return;
    }
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_autoptr (PlSafetensors) st = pl_safetensors_load (out_path, NULL);
  g_assert_nonnull (st);
  g_assert_cmpint (pl_safetensors_lookup (st, "hidden.0.weight")->dtype, ==, PL_DTYPE_I8);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  const char *eval_args[] = { "evaluate", out_path, "--db", db, NULL };
  g_assert_true (cli (eval_args, &out, &err, &status));
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("evaluate failed: %s", err);
  g_assert_nonnull (strstr (out, "format: int8"));
  pl_assert_close (cli_value (out, "val/acc: "), q->int8_acc, 1e-4, 0);
  g_assert_cmpfloat (cli_value (out, "size: "), >, 0);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  const char *eval_fp32[] = { "evaluate", f->fp32_path, NULL };
  g_assert_true (cli (eval_fp32, &out, &err, &status));
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_assert_nonnull (strstr (out, "format: fp32"));
  pl_assert_close (cli_value (out, "val/acc: "), f->val_acc, 1e-4, 0);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  /* the QAT run's fp32 file is evaluated as a float model */
  const char *eval_qat_fp32[] = { "evaluate", q->fp32_path, NULL };
  g_assert_true (cli (eval_qat_fp32, &out, &err, &status));
  if (!g_spawn_check_wait_status (status, NULL)
      || !strstr (out, "without the experiment's [quant]"))
    g_error ("evaluate of a QAT run's fp32 file: %s %s", out, err);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  /* a file from elsewhere: no experiment to rebuild the model from */
  g_autofree char *foreign = g_build_filename (pl_test_tmpdir (), "foreign.safetensors", NULL);
  g_autoptr (PlSafetensorsWriter) w = pl_safetensors_writer_new ();
  float one = 1;
  g_assert_true (pl_safetensors_writer_add (w, "w", PL_DTYPE_F32, NULL, 0, &one, 4, NULL));
  g_assert_true (pl_safetensors_writer_write (w, foreign, NULL));
  const char *foreign_args[] = { "evaluate", foreign, NULL };
  g_assert_true (cli (foreign_args, &out, &err, &status));
  g_assert_false (g_spawn_check_wait_status (status, NULL));
  if (!strstr (err, "foreign.safetensors") || !strstr (err, "paramlab.experiment"))
    g_error ("evaluate of a foreign file: \"%s\"", err);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  const char *bad_format[] = { "export", id, "--format", "int4", "--out", out_path, "--db", db,
                               NULL };
  g_assert_true (cli (bad_format, &out, &err, &status));
  g_assert_false (g_spawn_check_wait_status (status, NULL));
  if (!strstr (err, "fp32 or int8") || !strstr (err, "int4"))
    g_error ("export --format int4: \"%s\"", err);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  /* a float run has no int8 checkpoint: the error says what it has */
  const char *none_args[] = { "export", fid, "--format", "int8", "--out", out_path, "--db",
                              db, NULL };
  g_assert_true (cli (none_args, &out, &err, &status));
  g_assert_false (g_spawn_check_wait_status (status, NULL));
  if (!strstr (err, "in format int8") || !strstr (err, "last fp32"))
    g_error ("export of a float run as int8: \"%s\"", err);
}

/* The done-when of the plugin on the digits MLP: the int8 export is under 30% of
 * the fp32 export, its accuracy (recomputed from its integers, here, by the
 * engine and by paramlab-cli) is within one point of the float model's; ptq
 * trains exactly the float model; both are exported and recorded. */
static void
test_digits_end_to_end (void)
{
  const int epochs = 12;
  g_autofree char *t_float = g_strdup_printf (DIGITS_RUN, "float", epochs, "");
  g_autofree char *t_qat = g_strdup_printf (DIGITS_RUN, "qat", epochs,
                                            "[quant]\nplugin=qat-int8\n"
                                            "granularity=per-tensor\nfreeze-step=1000\n");
  g_autofree char *t_ptq = g_strdup_printf (DIGITS_RUN, "ptq", epochs,
                                            "[quant]\nplugin=qat-int8\nmode=ptq\n"
                                            "granularity=per-tensor\n");
  RunResult f, q, p;
  run_text (t_float, &f);
  run_text (t_qat, &q);
  run_text (t_ptq, &p);
  g_test_message ("float %.4f, qat %.4f (int8 %.4f), ptq %.4f (int8 %.4f), sizes %"
                  G_GINT64_FORMAT " / %" G_GINT64_FORMAT, f.val_acc, q.val_acc, q.int8_acc,
                  p.val_acc, p.int8_acc, q.int8_size, q.fp32_size);

  g_assert_null (f.int8_path);
  g_assert_nonnull (q.int8_path);
  g_assert_nonnull (p.int8_path);
  /* ptq: the forward is float during training */
  g_assert_cmpfloat (p.val_acc, ==, f.val_acc);
  g_assert_cmpfloat (f.val_acc, >, 0.9);
  g_assert_cmpfloat ((double) q.int8_size / q.fp32_size, <, 0.30);
  g_assert_cmpfloat (fabs (q.int8_acc - f.val_acc), <=, 0.01);
  g_assert_cmpfloat (fabs (p.int8_acc - f.val_acc), <=, 0.03);
  /* what was recorded is what the integers give */
  g_assert_cmpfloat (reevaluate_int8 (&q), ==, q.int8_acc);
  g_assert_cmpfloat (reevaluate_int8 (&p), ==, p.int8_acc);

  check_cli (&f, &q);
  run_result_clear (&f);
  run_result_clear (&q);
  run_result_clear (&p);
}

/* Activation quantization end to end (breast cancer, short): the int8 export
 * carries the activation ranges and a fresh model replays them exactly. */
static void
test_activations_end_to_end (void)
{
  const char *text = "[experiment]\nname=act\nseed=7\n[data]\ndataset=breast-cancer\n"
                     "val-fraction=0.25\n[model]\nhidden=32,16\nactivation=tanh\n"
                     "[train]\nepochs=10\nbatch-size=16\noptimizer=sgd\nlr=0.05\n"
                     "momentum=0.9\n[quant]\nplugin=qat-int8\nactivations=true\n"
                     "scheme=affine\nstart-step=20\nfreeze-step=200\n";
  RunResult r;
  run_text (text, &r);
  g_assert_nonnull (r.int8_path);
  g_autoptr (PlSafetensors) st = pl_safetensors_load (r.int8_path, NULL);
  g_assert_nonnull (pl_safetensors_lookup (st, "hidden.1.weight.input_scale"));
  g_assert_cmpfloat (r.int8_acc, >, 0.9);
  g_assert_cmpfloat (reevaluate_int8 (&r), ==, r.int8_acc);
  run_result_clear (&r);
}

typedef struct {
  const char *quant;
  const char *expect;
} BadSteps;

static const BadSteps bad_steps[] = {
  { "start-step=5\nfreeze-step=5\n", "freeze-step" },
  { "start-step=100000\n", "start-step 100000" },
};

static void
test_bad_steps (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (bad_steps); i++)
    {
      g_autofree char *text = g_strdup_printf (SMALL_MODEL "[quant]\nplugin=qat-int8\n%s",
                                               bad_steps[i].quant);
      g_autoptr (GError) error = NULL;
      g_autoptr (PlExperiment) exp = pl_experiment_load_data (text, -1, "steps.ini", &error);
      g_autoptr (PlPluginSelection) sel = pl_plugin_selection_new (engine (), exp, &error);
      g_autoptr (PlRun) run = pl_run_new_with_plugins (exp, NULL, sel, &error);
      g_assert_no_error (error);
      g_assert_false (pl_run_execute (run, &error));
      g_assert_error (error, PL_ERROR, PL_ERROR_CONFIG);
      if (!strstr (error->message, "steps.ini:") || !strstr (error->message, bad_steps[i].expect))
        g_error ("\"%s\" lacks the file line or \"%s\"", error->message, bad_steps[i].expect);
    }
}

/* The training state for resume: the observers' ranges, qparams and step
 * survive save_state / load_state exactly (tests/pl-state-test-util.h). */
static void
test_state_round_trip (void)
{
  pl_test_state_round_trip (engine (),
    "[experiment]\nseed=5\n[data]\ndataset=digits\n[model]\nhidden=16\n"
    "[train]\nepochs=1\nmax-steps=30\nbatch-size=32\nlr=1e-2\n"
    "[quant]\nplugin=qat-int8\nactivations=true\nstart-step=5\nfreeze-step=25\n",
    PL_SLOT_QUANT);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  pl_test_tmpdir ();
  for (guint i = 0; i < G_N_ELEMENTS (qparam_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/plugins/qat-int8/maths/qparams/%s",
                                               qparam_cases[i].name);
      g_test_add_data_func (path, &qparam_cases[i], test_qparams);
    }
  for (guint i = 0; i < G_N_ELEMENTS (round_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/plugins/qat-int8/maths/rounding/%s",
                                               round_cases[i].name);
      g_test_add_data_func (path, &round_cases[i], test_rounding);
    }
  g_test_add_func ("/plugins/qat-int8/maths/reference", test_random_against_reference);
  g_test_add_func ("/plugins/qat-int8/maths/per-channel", test_per_channel_resolution);
  for (guint i = 0; i < G_N_ELEMENTS (ste_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/plugins/qat-int8/maths/ste/%s",
                                               ste_cases[i].name);
      g_test_add_data_func (path, &ste_cases[i], test_ste);
    }
  for (guint i = 0; i < G_N_ELEMENTS (kernel_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/plugins/qat-int8/maths/mask-kernels/%s",
                                               kernel_cases[i].name);
      g_test_add_data_func (path, &kernel_cases[i], test_mask_kernels);
      g_autofree char *path2 = g_strdup_printf ("/plugins/qat-int8/maths/mask-backward/%s",
                                                kernel_cases[i].name);
      g_test_add_data_func (path2, &kernel_cases[i], test_mask_backward);
    }
  g_test_add_func ("/plugins/qat-int8/options/listed", test_listed);
  g_test_add_func ("/plugins/qat-int8/options/bad", test_bad_options);
  g_test_add_func ("/plugins/qat-int8/backward/float-region-fd", test_float_region_fd);
  g_test_add_func ("/plugins/qat-int8/backward/ste", test_ste_through_model);
  g_test_add_func ("/plugins/qat-int8/observer/freeze-and-clamp", test_freeze_and_clamp);
  for (guint i = 0; i < G_N_ELEMENTS (observer_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/plugins/qat-int8/observer/%s",
                                               observer_cases[i].name);
      g_test_add_data_func (path, &observer_cases[i], test_observer);
    }
  for (guint i = 0; i < G_N_ELEMENTS (layout_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/plugins/qat-int8/export/%s",
                                               layout_cases[i].name);
      g_test_add_data_func (path, &layout_cases[i], test_export_layout);
    }
  g_test_add_func ("/plugins/qat-int8/export/load-errors", test_load_errors);
  g_test_add_func ("/plugins/qat-int8/run/bad-steps", test_bad_steps);
  g_test_add_func ("/plugins/qat-int8/run/digits", test_digits_end_to_end);
  g_test_add_func ("/plugins/qat-int8/run/activations", test_activations_end_to_end);
  g_test_add_func ("/plugins/qat-int8/state-round-trip", test_state_round_trip);
  return g_test_run ();
}
