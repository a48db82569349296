#include "pl-int8.h"

/* The fake-quantization loops of QAT run over every weight and activation each
 * step: vectorized (plain compares and the 1.5 * 2^23 rounding below instead of
 * libm calls, which baseline x86-64 cannot inline), with AVX2 and AVX-512 clones
 * picked at load time. Division and the conversions are exact in every width, so
 * all clones give the same bits. */
#pragma GCC optimize ("tree-vectorize", "vect-cost-model=dynamic")
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__ELF__)
#define PL_INT8_CLONES __attribute__ ((target_clones ("avx512f", "avx2", "default")))
#else
#define PL_INT8_CLONES
#endif

#include <float.h>
#include <math.h>
#include <string.h>

#include "pl-error.h"

void
pl_int8_range (PlInt8Scheme scheme, int *qmin, int *qmax)
{
  *qmin = scheme == PL_INT8_SYMMETRIC ? -127 : -128;
  *qmax = 127;
}

void
pl_int8_choose_qparams (float lo, float hi, PlInt8Scheme scheme, float *scale,
                        int32_t *zero_point)
{
  if (scheme == PL_INT8_SYMMETRIC)
    {
      /* s = max(|lo|, |hi|) / 127, z = 0 */
      float amax = fmaxf (fabsf (lo), fabsf (hi));
      *scale = fmaxf (amax / 127.0f, FLT_EPSILON);
      *zero_point = 0;
      return;
    }
  /* [lo, hi] widened to hold 0; s = (hi - lo) / 255, z = -128 - round(lo / s) */
  lo = fminf (lo, 0.0f);
  hi = fmaxf (hi, 0.0f);
  float s = fmaxf ((hi - lo) / 255.0f, FLT_EPSILON);
  float z = -128.0f - nearbyintf (lo / s);
  *scale = s;
  *zero_point = (int32_t) fminf (fmaxf (z, -128.0f), 127.0f);
}

PL_INT8_CLONES void
pl_int8_minmax (float *lo, float *hi, const float *x, int n_ch, size_t len)
{
  for (int c = 0; c < n_ch; c++)
    {
      const float *xc = x + (size_t) c * len;
      if (len == 0)
        {
          lo[c] = hi[c] = 0.0f;
          continue;
        }
      /* fminf/fmaxf semantics (a NaN loses to a number; all NaN gives NaN) with
       * compares in 16 independent lanes, which vectorize, combined at the end */
      float mnl[16], mxl[16];
      for (int l = 0; l < 16; l++)
        mnl[l] = INFINITY, mxl[l] = -INFINITY;
      size_t i = 0;
      for (; i + 16 <= len; i += 16)
        for (int l = 0; l < 16; l++)
          {
            float v = xc[i + l];
            mnl[l] = v < mnl[l] ? v : mnl[l];
            mxl[l] = v > mxl[l] ? v : mxl[l];
          }
      for (; i < len; i++)
        {
          float v = xc[i];
          mnl[0] = v < mnl[0] ? v : mnl[0];
          mxl[0] = v > mxl[0] ? v : mxl[0];
        }
      float mn = mnl[0], mx = mxl[0];
      for (int l = 1; l < 16; l++)
        {
          mn = mnl[l] < mn ? mnl[l] : mn;
          mx = mxl[l] > mx ? mxl[l] : mx;
        }
      if (mn == INFINITY && mx == -INFINITY)
        mn = mx = NAN;  /* no number: every value was NaN */
      lo[c] = mn;
      hi[c] = mx;
    }
}

/* round_half_even (x / s) + z before clamping, as a float holding an integer, with
 * the quotient first limited to one step beyond [qmin - z, qmax - z] (which
 * changes no clamped result nor any in-range test; NaN becomes the lower limit),
 * so that adding and subtracting 1.5 * 2^23 rounds it to nearest even exactly:
 * the same values as nearbyintf (x / s) + z and the clamps below, without libm
 * calls on baseline x86-64 */
static inline float
unclamped_in (float x, float s, int32_t z, int qmin, int qmax)
{
  const float magic = 12582912.0f;
  float lo = (float) (qmin - z - 1), hi = (float) (qmax - z + 1);
  float v = x / s;
  v = v >= lo ? v : lo;
  v = v <= hi ? v : hi;
  return ((v + magic) - magic) + (float) z;
}

static inline int32_t
quantize_one (float x, float s, int32_t z, int qmin, int qmax)
{
  float r = unclamped_in (x, s, z, qmin, qmax);
  r = r >= (float) qmin ? r : (float) qmin;
  return (int32_t) (r <= (float) qmax ? r : (float) qmax);
}

void
pl_int8_quantize (int8_t *q, const float *x, int n_ch, size_t len, const float *scale,
                  const int32_t *zero_point, PlInt8Scheme scheme)
{
  int qmin, qmax;
  pl_int8_range (scheme, &qmin, &qmax);
  for (int c = 0; c < n_ch; c++)
    {
      size_t o = (size_t) c * len;
      for (size_t i = 0; i < len; i++)
        q[o + i] = (int8_t) quantize_one (x[o + i], scale[c], zero_point[c], qmin, qmax);
    }
}

void
pl_int8_dequantize (float *x, const int8_t *q, int n_ch, size_t len, const float *scale,
                    const int32_t *zero_point)
{
  for (int c = 0; c < n_ch; c++)
    {
      size_t o = (size_t) c * len;
      for (size_t i = 0; i < len; i++)
        x[o + i] = (float) ((int32_t) q[o + i] - zero_point[c]) * scale[c];
    }
}

PL_INT8_CLONES void
pl_int8_fake_quant_forward (float *y, const float *x, int n_ch, size_t len,
                            const float *scale, const int32_t *zero_point,
                            PlInt8Scheme scheme)
{
  int qmin, qmax;
  pl_int8_range (scheme, &qmin, &qmax);
  for (int c = 0; c < n_ch; c++)
    {
      size_t o = (size_t) c * len;
      float s = scale[c];
      int32_t z = zero_point[c];
      for (size_t i = 0; i < len; i++)
        y[o + i] = (float) (quantize_one (x[o + i], s, z, qmin, qmax) - z) * s;
    }
}

PL_INT8_CLONES void
pl_int8_fake_quant_backward (float *dx, const float *dy, const float *x, int n_ch,
                             size_t len, const float *scale, const int32_t *zero_point,
                             PlInt8Scheme scheme)
{
  int qmin, qmax;
  pl_int8_range (scheme, &qmin, &qmax);
  const float qlo = (float) qmin, qhi = (float) qmax;
  for (int c = 0; c < n_ch; c++)
    {
      size_t o = (size_t) c * len;
      const float s = scale[c];
      const int32_t z = zero_point[c];
      for (size_t i = 0; i < len; i++)
        {
          float r = unclamped_in (x[o + i], s, z, qmin, qmax);
          /* a bitwise select, not a branch (vectorizes in every clone); dx
           * unchanged where clamped */
          float a = dx[o + i], b = a + dy[o + i];
          uint32_t ab, bb, sel = -(uint32_t) ((r >= qlo) & (r <= qhi));
          memcpy (&ab, &a, sizeof ab);
          memcpy (&bb, &b, sizeof bb);
          uint32_t v = (ab & ~sel) | (bb & sel);
          memcpy (&dx[o + i], &v, sizeof v);
        }
    }
}

/* ---- fake quantization with a recorded mask (the QAT plugin's kernels) ----- */

/* Two implementations of the same maths, bit for bit: portable C loops that the
 * compiler vectorizes per clone, and AVX-512F intrinsics, which the C loops do
 * not come close to for the forward (mixing the float lanes with a byte store
 * makes GCC fall back to narrow vectors with blends and spills). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__ELF__)
#define PL_INT8_HAVE_AVX512 1
#include <immintrin.h>
#define PL_AVX512 __attribute__ ((target ("avx512f")))
#endif

static gboolean fq_portable;  /* pl_int8_fake_quant_use_portable () */

void
pl_int8_fake_quant_use_portable (gboolean portable)
{
  fq_portable = portable;
}

static gboolean
fq_use_avx512 (void)
{
#ifdef PL_INT8_HAVE_AVX512
  return !fq_portable && __builtin_cpu_supports ("avx512f");
#else
  return FALSE;
#endif
}

/* one channel: y, in_range, x [len] */
PL_INT8_CLONES static void
forward_mask_c (float *y, uint8_t *restrict in_range, const float *x, size_t len, float s,
                int32_t z, int qmin, int qmax)
{
  const float qlo = (float) qmin, qhi = (float) qmax;
  for (size_t i = 0; i < len; i++)
    {
      float r = unclamped_in (x[i], s, z, qmin, qmax);
      /* & rather than &&: no control flow, so the mixed float/byte loop
       * vectorizes */
      in_range[i] = (uint8_t) ((r >= qlo) & (r <= qhi));
      float q = r >= qlo ? r : qlo;
      q = q <= qhi ? q : qhi;
      y[i] = (float) ((int32_t) q - z) * s;
    }
}

PL_INT8_CLONES static void
backward_mask_c (float *dx, const float *dy, const uint8_t *in_range, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      /* dx + dy or dx, picked bitwise by the mask (a float select on a byte
       * does not vectorize; integer masks do); where the mask is 0 dx keeps its
       * bits (-0.0 stays -0.0, which dx + 0 would not) */
      float a = dx[i], b = a + dy[i];
      uint32_t ab, bb, sel = -(uint32_t) (in_range[i] != 0);
      memcpy (&ab, &a, sizeof ab);
      memcpy (&bb, &b, sizeof bb);
      uint32_t r = (ab & ~sel) | (bb & sel);
      memcpy (&dx[i], &r, sizeof r);
    }
}

PL_INT8_CLONES static void
backward_mask_set_c (float *dx, const float *dy, const uint8_t *in_range, size_t n)
{
  for (size_t i = 0; i < n; i++)
    {
      /* backward_mask_c () on a zeroed dx: +0 + dy where the mask is set (so a
       * -0.0 dy gives +0.0, as the addition did), +0 elsewhere */
      float b = 0.0f + dy[i];
      uint32_t bb, sel = -(uint32_t) (in_range[i] != 0);
      memcpy (&bb, &b, sizeof bb);
      uint32_t r = bb & sel;
      memcpy (&dx[i], &r, sizeof r);
    }
}

#ifdef PL_INT8_HAVE_AVX512
/* the lanes of i .. i + 15 below len */
PL_AVX512 static inline __mmask16
tail_mask (size_t i, size_t len)
{
  return len - i >= 16 ? (__mmask16) 0xffff : (__mmask16) ((1u << (len - i)) - 1);
}

/* forward_mask_c () 16 lanes at a time, the same operations in the same order:
 * x86 max/min return their second operand when the first is NaN or the two
 * compare equal, which is the C selects' result but for the sign of a zero
 * limit, and a zero after the clamp rounds to +0 either way; the limits qmin,
 * qmax of the second clamp are never zero */
PL_AVX512 static void
forward_mask_avx512 (float *y, uint8_t *in_range, const float *x, size_t len, float s,
                     int32_t z, int qmin, int qmax)
{
  const __m512 vs = _mm512_set1_ps (s);
  const __m512 lo = _mm512_set1_ps ((float) (qmin - z - 1));
  const __m512 hi = _mm512_set1_ps ((float) (qmax - z + 1));
  const __m512 magic = _mm512_set1_ps (12582912.0f);
  const __m512 fz = _mm512_set1_ps ((float) z);
  const __m512 qlo = _mm512_set1_ps ((float) qmin), qhi = _mm512_set1_ps ((float) qmax);
  const __m512i iz = _mm512_set1_epi32 (z), one = _mm512_set1_epi32 (1);
  for (size_t i = 0; i < len; i += 16)
    {
      __mmask16 t = tail_mask (i, len);
      __m512 v = _mm512_div_ps (_mm512_maskz_loadu_ps (t, x + i), vs);
      v = _mm512_max_ps (v, lo);   /* v > lo ? v : lo; NaN -> lo */
      v = _mm512_min_ps (v, hi);
      __m512 r = _mm512_add_ps (_mm512_sub_ps (_mm512_add_ps (v, magic), magic), fz);
      __mmask16 in = _mm512_cmp_ps_mask (r, qlo, _CMP_GE_OQ)
                     & _mm512_cmp_ps_mask (r, qhi, _CMP_LE_OQ);
      __m512 q = _mm512_min_ps (_mm512_max_ps (r, qlo), qhi);
      __m512i d = _mm512_sub_epi32 (_mm512_cvttps_epi32 (q), iz);
      _mm512_mask_storeu_ps (y + i, t, _mm512_mul_ps (_mm512_cvtepi32_ps (d), vs));
      _mm512_mask_cvtepi32_storeu_epi8 (in_range + i, t, _mm512_maskz_mov_epi32 (in, one));
    }
}

/* how far ahead (in elements) the backward asks for its streams: the loop is
 * bound by memory, and software prefetches 2 KiB ahead measured a third faster
 * on W1's weights than the hardware prefetcher alone (a prefetch past the end
 * of an array is harmless: it never faults) */
#define PL_INT8_PREFETCH 512

/* The lanes of in_range [i, i + 16) that are set, within the tail mask t (no
 * read past in_range [n - 1]) */
PL_AVX512 static inline __mmask16
in_range_mask (const uint8_t *in_range, size_t i, size_t n, __mmask16 t)
{
  __m128i m8;
  if (t == 0xffff)
    m8 = _mm_loadu_si128 ((const __m128i *) (in_range + i));
  else
    {
      uint8_t buf[16] = { 0 };
      memcpy (buf, in_range + i, n - i);
      m8 = _mm_loadu_si128 ((const __m128i *) buf);
    }
  __m512i m = _mm512_cvtepu8_epi32 (m8);
  return _mm512_test_epi32_mask (m, m) & t;
}

PL_AVX512 static void
backward_mask_avx512 (float *dx, const float *dy, const uint8_t *in_range, size_t n)
{
  for (size_t i = 0; i < n; i += 16)
    {
      __builtin_prefetch (dx + i + PL_INT8_PREFETCH, 1, 3);
      __builtin_prefetch (dy + i + PL_INT8_PREFETCH, 0, 3);
      if (i % 64 == 0)
        __builtin_prefetch (in_range + i + PL_INT8_PREFETCH, 0, 3);
      __mmask16 t = tail_mask (i, n);
      __mmask16 k = in_range_mask (in_range, i, n, t);
      __m512 a = _mm512_maskz_loadu_ps (t, dx + i);
      __m512 b = _mm512_maskz_loadu_ps (t, dy + i);
      /* dx + dy where the mask is set, dx's own bits elsewhere */
      _mm512_mask_storeu_ps (dx + i, t, _mm512_mask_add_ps (a, k, a, b));
    }
}

/* backward_mask_set_c (): dx is only written */
PL_AVX512 static void
backward_mask_set_avx512 (float *dx, const float *dy, const uint8_t *in_range, size_t n)
{
  const __m512 zero = _mm512_setzero_ps ();
  for (size_t i = 0; i < n; i += 16)
    {
      __builtin_prefetch (dy + i + PL_INT8_PREFETCH, 0, 3);
      if (i % 64 == 0)
        __builtin_prefetch (in_range + i + PL_INT8_PREFETCH, 0, 3);
      __mmask16 t = tail_mask (i, n);
      __mmask16 k = in_range_mask (in_range, i, n, t);
      __m512 b = _mm512_maskz_loadu_ps (t, dy + i);
      /* +0 + dy where the mask is set, +0 elsewhere */
      _mm512_mask_storeu_ps (dx + i, t, _mm512_maskz_add_ps (k, zero, b));
    }
}
#endif

void
pl_int8_fake_quant_forward_mask (float *y, uint8_t *in_range, const float *x, int n_ch,
                                 size_t len, const float *scale, const int32_t *zero_point,
                                 PlInt8Scheme scheme)
{
  int qmin, qmax;
  pl_int8_range (scheme, &qmin, &qmax);
  gboolean avx512 = fq_use_avx512 ();
  for (int c = 0; c < n_ch; c++)
    {
      size_t o = (size_t) c * len;
#ifdef PL_INT8_HAVE_AVX512
      if (avx512)
        {
          forward_mask_avx512 (y + o, in_range + o, x + o, len, scale[c], zero_point[c], qmin,
                               qmax);
          continue;
        }
#endif
      forward_mask_c (y + o, in_range + o, x + o, len, scale[c], zero_point[c], qmin, qmax);
    }
  (void) avx512;
}

void
pl_int8_fake_quant_backward_mask (float *dx, const float *dy, const uint8_t *in_range,
                                  size_t n)
{
#ifdef PL_INT8_HAVE_AVX512
  if (fq_use_avx512 ())
    {
      backward_mask_avx512 (dx, dy, in_range, n);
      return;
    }
#endif
  backward_mask_c (dx, dy, in_range, n);
}

void
pl_int8_fake_quant_backward_mask_set (float *dx, const float *dy, const uint8_t *in_range,
                                      size_t n)
{
#ifdef PL_INT8_HAVE_AVX512
  if (fq_use_avx512 ())
    {
      backward_mask_set_avx512 (dx, dy, in_range, n);
      return;
    }
#endif
  backward_mask_set_c (dx, dy, in_range, n);
}

/* ---- loading --------------------------------------------------------------- */

static char *
shape_text (const gint64 *shape, int ndim)
{
  GString *s = g_string_new ("[");
  for (int d = 0; d < ndim; d++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, d ? ", " : "", shape[d]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

gboolean
pl_int8_read_qparams (const PlSafetensors *st, const char *path, const char *name,
                      gboolean input, int max_ch, float *scale, int32_t *zero_point,
                      int *n_ch, GError **error)
{
  g_autofree char *sname = g_strconcat (name, input ? ".input_scale" : ".scale", NULL);
  g_autofree char *zname = g_strconcat (name, input ? ".input_zero_point" : ".zero_point",
                                        NULL);
  const PlTensorInfo *ts = pl_safetensors_lookup (st, sname);
  const PlTensorInfo *tz = pl_safetensors_lookup (st, zname);
  if (!ts || !tz)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_NOT_FOUND,
                   "%s: \"%s\" is quantized but the file has no \"%s\" (%s) beside it",
                   path, name, ts ? zname : sname, ts ? "I8 or I32" : "F32");
      return FALSE;
    }
  if (ts->numel != tz->numel || (ts->numel != 1 && ts->numel != (gsize) max_ch))
    {
      g_set_error (error, PL_ERROR, PL_ERROR_SHAPE,
                   "%s: \"%s\" has %zu and \"%s\" %zu values; expected 1 each (per-tensor) "
                   "or %d each (one per output channel)", path, sname, (size_t) ts->numel,
                   zname, (size_t) tz->numel, max_ch);
      return FALSE;
    }
  int n = (int) ts->numel;
  if (!pl_safetensors_read_f32 (ts, scale, n, error))
    {
      g_prefix_error (error, "%s: ", path);
      return FALSE;
    }
  for (int c = 0; c < n; c++)
    if (!(isfinite (scale[c]) && scale[c] > 0.0f))
      {
        g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                     "%s: \"%s\"[%d] is %g; a scale must be positive and finite", path, sname,
                     c, scale[c]);
        return FALSE;
      }
  if (tz->dtype == PL_DTYPE_I8)
    {
      const int8_t *src = tz->data;
      for (int c = 0; c < n; c++)
        zero_point[c] = src[c];
    }
  else if (tz->dtype == PL_DTYPE_I32)
    memcpy (zero_point, tz->data, sizeof (int32_t) * n);
  else
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                   "%s: \"%s\" is %s; a zero point must be I8 or I32", path, zname,
                   pl_dtype_to_string (tz->dtype));
      return FALSE;
    }
  *n_ch = n;
  return TRUE;
}

static gboolean
is_qparam_of_param (PlModel *m, const char *name)
{
  static const char *const suffixes[] = { ".scale", ".zero_point", ".input_scale",
                                          ".input_zero_point" };
  for (guint i = 0; i < G_N_ELEMENTS (suffixes); i++)
    if (g_str_has_suffix (name, suffixes[i]))
      {
        g_autofree char *base = g_strndup (name, strlen (name) - strlen (suffixes[i]));
        if (pl_model_lookup_param (m, base))
          return TRUE;
      }
  return FALSE;
}

gboolean
pl_model_load_int8_from (PlModel *m, const PlSafetensors *st, const char *path,
                         GError **error)
{
  const char *format = pl_safetensors_get_metadata (st, "paramlab.format");
  if (g_strcmp0 (format, "int8") != 0)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                   "%s: not an int8 export: __metadata__ paramlab.format is %s%s%s, expected "
                   "\"int8\"", path, format ? "\"" : "", format ? format : "missing",
                   format ? "\"" : "");
      return FALSE;
    }
  for (guint i = 0; i < pl_safetensors_get_n_tensors (st); i++)
    {
      const PlTensorInfo *t = pl_safetensors_get_tensor_at (st, i);
      if (!pl_model_lookup_param (m, t->name) && !is_qparam_of_param (m, t->name))
        {
          g_set_error (error, PL_ERROR, PL_ERROR_SHAPE,
                       "%s: tensor \"%s\" does not match any parameter of this %s model "
                       "(nor a parameter's .scale, .zero_point, .input_scale or "
                       ".input_zero_point)", path, t->name, pl_model_get_architecture (m));
          return FALSE;
        }
    }
  for (guint i = 0; i < pl_model_get_n_params (m); i++)
    {
      PlParam *p = pl_model_get_param (m, i);
      gint64 want[PL_MAX_DIMS];
      for (int d = 0; d < p->ndim; d++)
        want[d] = p->shape[d];
      g_autofree char *want_text = shape_text (want, p->ndim);
      const PlTensorInfo *t = pl_safetensors_lookup (st, p->name);
      if (!t)
        {
          g_set_error (error, PL_ERROR, PL_ERROR_NOT_FOUND,
                       "%s: has no tensor \"%s\" (shape %s) that the model needs", path,
                       p->name, want_text);
          return FALSE;
        }
      gboolean same = t->ndim == p->ndim;
      for (int d = 0; same && d < p->ndim; d++)
        same = t->shape[d] == p->shape[d];
      if (!same)
        {
          g_autofree char *got = shape_text (t->shape, t->ndim);
          g_set_error (error, PL_ERROR, PL_ERROR_SHAPE,
                       "%s: tensor \"%s\" has shape %s, the model expects %s", path, p->name,
                       got, want_text);
          return FALSE;
        }
      if (t->dtype == PL_DTYPE_F32)
        {
          if (!pl_safetensors_read_f32 (t, p->data, p->numel, error))
            {
              g_prefix_error (error, "%s: ", path);
              return FALSE;
            }
          continue;
        }
      if (t->dtype != PL_DTYPE_I8)
        {
          g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                       "%s: tensor \"%s\" is %s; an int8 export holds I8 (quantized) or F32 "
                       "tensors", path, p->name, pl_dtype_to_string (t->dtype));
          return FALSE;
        }
      int max_ch = p->shape[0], n_ch = 0;
      g_autofree float *scale = g_new (float, max_ch);
      g_autofree int32_t *zp = g_new (int32_t, max_ch);
      if (!pl_int8_read_qparams (st, path, p->name, FALSE, max_ch, scale, zp, &n_ch, error))
        return FALSE;
      pl_int8_dequantize (p->data, t->data, n_ch, p->numel / n_ch, scale, zp);
    }
  pl_model_apply_masks (m);
  return TRUE;
}

gboolean
pl_model_load_int8_safetensors (PlModel *m, const char *path, GError **error)
{
  g_return_val_if_fail (m != NULL && path != NULL, FALSE);
  g_autoptr (PlSafetensors) st = pl_safetensors_load (path, error);
  if (!st)
    return FALSE;
  return pl_model_load_int8_from (m, st, path, error);
}
