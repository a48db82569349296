#include "pl-infer.h"

#include <cblas.h>
#include <string.h>

#include "pl-error.h"
#include "pl-int8.h"
#include "pl-ops.h"
#include "pl-sparse.h"

typedef struct {
  int rows, cols;
  float *w;            /* fp32: [rows, cols], else NULL */
  PlCsr *csr;          /* sparse */
  PlInt8Linear *q;     /* int8 */
  float *b;            /* [rows] */
} Layer;

struct _PlInferNet {
  PlInferFormat format;
  PlActivation act;
  GArray *layers;      /* of Layer */
  PlInt8Kernel kernel;
  PlNormalizer *norm;
  int cap;             /* rows the buffers hold */
  int max_width;
  float *buf[2];
  gboolean all_csr;    /* every layer sparse: blocks stay transposed between layers */
  float *blk[2];       /* [max_width, PL_CSR_BLOCK] each, 64-byte aligned */
};

static void
layer_clear (gpointer data)
{
  Layer *l = data;
  g_free (l->w);
  pl_csr_free (l->csr);
  pl_int8_linear_free (l->q);
  g_free (l->b);
}

const char *
pl_infer_format_to_string (PlInferFormat format)
{
  static const char *const names[] = { "fp32", "int8", "sparse" };
  return (guint) format < G_N_ELEMENTS (names) ? names[format] : "unknown";
}

static gboolean
parse_activation (const PlSafetensors *st, const char *path, PlActivation *act,
                  GError **error)
{
  *act = PL_ACT_RELU;
  const char *text = pl_safetensors_get_metadata (st, "paramlab.experiment");
  if (!text)
    return TRUE;
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  if (!g_key_file_load_from_data (kf, text, -1, G_KEY_FILE_NONE, NULL))
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                   "%s: __metadata__ paramlab.experiment is not a valid experiment", path);
      return FALSE;
    }
  g_autofree char *arch = g_key_file_get_string (kf, "model", "architecture", NULL);
  if (arch)
    g_strstrip (arch);
  if (arch && !g_str_equal (arch, "mlp"))
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                   "%s: the model is a %s; infer runs mlp exports", path, arch);
      return FALSE;
    }
  g_autofree char *name = g_key_file_get_string (kf, "model", "activation", NULL);
  if (!name)
    return TRUE;
  g_strstrip (name);
  static const char *const names[] = { "relu", "gelu", "tanh", "sigmoid" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (g_str_equal (name, names[i]))
      {
        *act = (PlActivation) (PL_ACT_RELU + i);
        return TRUE;
      }
  g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
               "%s: paramlab.experiment [model] activation \"%s\" is not relu, gelu, tanh or "
               "sigmoid", path, name);
  return FALSE;
}

static float *
parse_floats (const char *text, gsize n)
{
  g_auto (GStrv) parts = g_strsplit (text, ",", -1);
  if (g_strv_length (parts) != n)
    return NULL;
  float *v = g_new (float, MAX (n, 1));
  for (gsize i = 0; i < n; i++)
    {
      char *end = NULL;
      v[i] = (float) g_ascii_strtod (parts[i], &end);
      if (end == parts[i])
        {
          g_free (v);
          return NULL;
        }
    }
  return v;
}

static gboolean
parse_normalizer (PlInferNet *net, const PlSafetensors *st, const char *path, int n,
                  GError **error)
{
  const char *kind_text = pl_safetensors_get_metadata (st, "paramlab.normalize");
  if (!kind_text)
    return TRUE;
  PlNormalize kind;
  if (!pl_normalize_from_string (kind_text, &kind))
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                   "%s: __metadata__ paramlab.normalize is \"%s\"; expected none, standard or "
                   "minmax", path, kind_text);
      return FALSE;
    }
  const char *off = pl_safetensors_get_metadata (st, "paramlab.normalize.offset");
  const char *sc = pl_safetensors_get_metadata (st, "paramlab.normalize.scale");
  if (kind == PL_NORMALIZE_NONE || !off || !sc)
    return TRUE;
  g_autofree float *offset = parse_floats (off, n);
  g_autofree float *scale = parse_floats (sc, n);
  for (int i = 0; scale && i < n; i++)
    if (scale[i] == 0)
      g_clear_pointer (&scale, g_free);
  if (!offset || !scale)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                   "%s: __metadata__ paramlab.normalize.offset and .scale must hold %d "
                   "numbers each (scales non-zero)", path, n);
      return FALSE;
    }
  net->norm = pl_normalizer_new (kind, n, offset, scale);
  return TRUE;
}

static const PlTensorInfo *
need_f32 (const PlSafetensors *st, const char *path, const char *name, int ndim,
          const gint64 *shape, GError **error)
{
  const PlTensorInfo *t = pl_safetensors_lookup (st, name);
  if (!t)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_NOT_FOUND, "%s: has no tensor \"%s\"", path,
                   name);
      return NULL;
    }
  gboolean same = t->ndim == ndim;
  for (int d = 0; same && shape && d < ndim; d++)
    same = t->shape[d] == shape[d];
  if (t->dtype != PL_DTYPE_F32 || !same)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                   "%s: tensor \"%s\" is %s of %d dimensions; expected F32 of %d dimensions%s",
                   path, name, pl_dtype_to_string (t->dtype), t->ndim, ndim,
                   shape ? " (matching the layer)" : "");
      return NULL;
    }
  return t;
}

static gboolean
load_layer (PlInferNet *net, const PlSafetensors *st, const char *path, const char *prefix,
            GHashTable *used, Layer *l, GError **error)
{
  g_autofree char *wname = g_strconcat (prefix, ".weight", NULL);
  g_autofree char *bname = g_strconcat (prefix, ".bias", NULL);
  if (net->format == PL_INFER_FORMAT_SPARSE && !pl_safetensors_lookup (st, wname))
    {
      l->csr = pl_sparse_read_weight (st, path, wname, error);
      if (!l->csr)
        return FALSE;
      l->rows = l->csr->rows;
      l->cols = l->csr->cols;
      static const char *const parts[] = { ".values", ".indices", ".indptr" };
      for (guint i = 0; i < G_N_ELEMENTS (parts); i++)
        g_hash_table_add (used, g_strconcat (wname, parts[i], NULL));
    }
  else
    {
      const PlTensorInfo *t = pl_safetensors_lookup (st, wname);
      if (!t)
        {
          g_set_error (error, PL_ERROR, PL_ERROR_NOT_FOUND, "%s: has no tensor \"%s\"", path,
                       wname);
          return FALSE;
        }
      if (t->ndim != 2 || t->shape[0] <= 0 || t->shape[1] <= 0 || t->shape[0] > G_MAXINT32
          || t->shape[1] > G_MAXINT32)
        {
          g_set_error (error, PL_ERROR, PL_ERROR_SHAPE,
                       "%s: tensor \"%s\" has %d dimensions; a dense layer's weight is "
                       "[out, in]", path, wname, t->ndim);
          return FALSE;
        }
      l->rows = (int) t->shape[0];
      l->cols = (int) t->shape[1];
      g_hash_table_add (used, g_strdup (wname));
      if (net->format == PL_INFER_FORMAT_INT8 && t->dtype == PL_DTYPE_I8)
        {
          g_autofree float *scale = g_new (float, l->rows);
          g_autofree int32_t *zp = g_new (int32_t, l->rows);
          int n_ch = 0;
          if (!pl_int8_read_qparams (st, path, wname, FALSE, l->rows, scale, zp, &n_ch, error))
            return FALSE;
          g_hash_table_add (used, g_strconcat (wname, ".scale", NULL));
          g_hash_table_add (used, g_strconcat (wname, ".zero_point", NULL));
          float in_scale = 0;
          int32_t in_zp = 0;
          g_autofree char *iname = g_strconcat (wname, ".input_scale", NULL);
          if (pl_safetensors_lookup (st, iname))
            {
              int in_ch = 0;
              if (!pl_int8_read_qparams (st, path, wname, TRUE, 1, &in_scale, &in_zp, &in_ch,
                                         error))
                return FALSE;
              g_hash_table_add (used, g_strdup (iname));
              g_hash_table_add (used, g_strconcat (wname, ".input_zero_point", NULL));
            }
          const char *scheme = pl_safetensors_get_metadata (st, "paramlab.int8.scheme");
          PlInt8Scheme in_scheme = g_strcmp0 (scheme, "affine") == 0 ? PL_INT8_AFFINE
                                                                     : PL_INT8_SYMMETRIC;
          l->q = pl_int8_linear_new (t->data, l->rows, l->cols, scale, zp, n_ch, NULL,
                                     in_scale, in_zp, in_scheme);
        }
      else
        {
          if (t->dtype != PL_DTYPE_F32)
            {
              g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                           "%s: tensor \"%s\" is %s; a %s export holds F32 weights%s", path,
                           wname, pl_dtype_to_string (t->dtype),
                           pl_infer_format_to_string (net->format),
                           net->format == PL_INFER_FORMAT_INT8 ? " or I8 ones" : "");
              return FALSE;
            }
          l->w = g_new (float, (gsize) l->rows * l->cols);
          if (!pl_safetensors_read_f32 (t, l->w, (gsize) l->rows * l->cols, error))
            {
              g_prefix_error (error, "%s: ", path);
              return FALSE;
            }
        }
    }
  gint64 bshape[1] = { l->rows };
  const PlTensorInfo *tb = need_f32 (st, path, bname, 1, bshape, error);
  if (!tb)
    return FALSE;
  g_hash_table_add (used, g_strdup (bname));
  l->b = g_new (float, l->rows);
  memcpy (l->b, tb->data, tb->nbytes);
  return TRUE;
}

PlInferNet *
pl_infer_net_load_from (const PlSafetensors *st, const char *path, GError **error)
{
  g_return_val_if_fail (st != NULL && path != NULL, NULL);
  g_autoptr (PlInferNet) net = g_new0 (PlInferNet, 1);
  net->layers = g_array_new (FALSE, TRUE, sizeof (Layer));
  g_array_set_clear_func (net->layers, layer_clear);
  net->kernel = pl_int8_kernel_best ();
  const char *format = pl_safetensors_get_metadata (st, "paramlab.format");
  if (!format || g_str_equal (format, "fp32"))
    net->format = PL_INFER_FORMAT_FP32;
  else if (g_str_equal (format, "int8"))
    net->format = PL_INFER_FORMAT_INT8;
  else if (g_str_equal (format, "sparse"))
    net->format = PL_INFER_FORMAT_SPARSE;
  else
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                   "%s: __metadata__ paramlab.format is \"%s\"; expected fp32, int8 or sparse",
                   path, format);
      return NULL;
    }
  const char *arch = pl_safetensors_get_metadata (st, "paramlab.architecture");
  if (arch && !g_str_equal (arch, "mlp"))
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                   "%s: __metadata__ paramlab.architecture is \"%s\"; infer runs mlp exports",
                   path, arch);
      return NULL;
    }
  if (!parse_activation (st, path, &net->act, error))
    return NULL;

  g_autoptr (GHashTable) used = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (int k = 0;; k++)
    {
      g_autofree char *prefix = g_strdup_printf ("hidden.%d", k);
      g_autofree char *wname = g_strconcat (prefix, ".weight", NULL);
      g_autofree char *vname = g_strconcat (prefix, ".weight.values", NULL);
      gboolean last = !pl_safetensors_lookup (st, wname) && !pl_safetensors_lookup (st, vname);
      g_array_set_size (net->layers, net->layers->len + 1);
      if (!load_layer (net, st, path, last ? "head" : prefix, used,
                       &g_array_index (net->layers, Layer, net->layers->len - 1), error))
        return NULL;
      if (last)
        break;
    }
  for (guint i = 0; i < net->layers->len; i++)
    {
      Layer *l = &g_array_index (net->layers, Layer, i);
      Layer *prev = i ? &g_array_index (net->layers, Layer, i - 1) : NULL;
      if (prev && prev->rows != l->cols)
        {
          g_set_error (error, PL_ERROR, PL_ERROR_SHAPE,
                       "%s: layer %u takes %d inputs but the layer before it gives %d", path,
                       i, l->cols, prev->rows);
          return NULL;
        }
      net->max_width = MAX (net->max_width, MAX (l->rows, l->cols));
    }
  net->all_csr = TRUE;
  for (guint i = 0; i < net->layers->len; i++)
    net->all_csr &= g_array_index (net->layers, Layer, i).csr != NULL;
  if (net->all_csr)
    for (int i = 0; i < 2; i++)
      net->blk[i] = g_aligned_alloc0 (net->max_width, PL_CSR_BLOCK * sizeof (float), 64);
  for (guint i = 0; i < pl_safetensors_get_n_tensors (st); i++)
    {
      const PlTensorInfo *t = pl_safetensors_get_tensor_at (st, i);
      if (!g_hash_table_contains (used, t->name))
        {
          g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                       "%s: tensor \"%s\" is not part of a plain %s mlp (hidden.K and head "
                       "layers); infer cannot run it", path, t->name,
                       pl_infer_format_to_string (net->format));
          return NULL;
        }
    }
  if (!parse_normalizer (net, st, path, pl_infer_net_get_in_features (net), error))
    return NULL;
  return g_steal_pointer (&net);
}

PlInferNet *
pl_infer_net_load (const char *path, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_autoptr (PlSafetensors) st = pl_safetensors_load (path, error);
  return st ? pl_infer_net_load_from (st, path, error) : NULL;
}

void
pl_infer_net_free (PlInferNet *net)
{
  if (!net)
    return;
  g_array_unref (net->layers);
  pl_normalizer_free (net->norm);
  g_free (net->buf[0]);
  g_free (net->buf[1]);
  g_aligned_free (net->blk[0]);
  g_aligned_free (net->blk[1]);
  g_free (net);
}

PlInferFormat
pl_infer_net_get_format (const PlInferNet *net)
{
  return net->format;
}

int
pl_infer_net_get_in_features (const PlInferNet *net)
{
  return g_array_index (net->layers, Layer, 0).cols;
}

int
pl_infer_net_get_n_classes (const PlInferNet *net)
{
  return g_array_index (net->layers, Layer, net->layers->len - 1).rows;
}

int
pl_infer_net_get_n_layers (const PlInferNet *net)
{
  return (int) net->layers->len;
}

double
pl_infer_net_get_density (const PlInferNet *net)
{
  double nz = 0, all = 0;
  for (guint i = 0; i < net->layers->len; i++)
    {
      Layer *l = &g_array_index (net->layers, Layer, i);
      gsize n = (gsize) l->rows * l->cols;
      all += n;
      if (l->csr)
        nz += l->csr->nnz;
      else if (l->w)
        for (gsize j = 0; j < n; j++)
          nz += l->w[j] != 0.0f;
      else
        {
          g_autofree float *w = g_new (float, n);
          pl_int8_linear_dequantize (l->q, w);
          for (gsize j = 0; j < n; j++)
            nz += w[j] != 0.0f;
        }
    }
  return all ? nz / all : 0;
}

PlCsrKernel
pl_infer_net_get_csr_kernel (const PlInferNet *net)
{
  g_return_val_if_fail (net != NULL, PL_CSR_KERNEL_C);
  const PlCsr *largest = NULL;
  for (guint i = 0; i < net->layers->len; i++)
    {
      const PlCsr *m = g_array_index (net->layers, Layer, i).csr;
      if (m && (!largest || m->nnz > largest->nnz))
        largest = m;
    }
  return largest ? pl_csr_kernel_best (largest) : PL_CSR_KERNEL_C;
}

const PlNormalizer *
pl_infer_net_get_normalizer (const PlInferNet *net)
{
  return net->norm;
}

void
pl_infer_net_set_int8_kernel (PlInferNet *net, PlInt8Kernel kernel)
{
  g_return_if_fail (pl_int8_kernel_supported (kernel));
  net->kernel = kernel;
}

static void
activate (PlActivation act, float *x, size_t n)
{
  switch (act)
    {
    case PL_ACT_RELU: pl_relu_forward (x, x, n); break;
    case PL_ACT_GELU: pl_gelu_forward (x, x, n); break;
    case PL_ACT_TANH: pl_tanh_forward (x, x, n); break;
    case PL_ACT_SIGMOID: pl_sigmoid_forward (x, x, n); break;
    default: break;
    }
}

/* A sparse net on @n >= 4 rows: blocks of PL_CSR_BLOCK rows go through every
 * layer in transposed form ([features, block]), transposed once on the way in
 * and once on the way out. */
static void
forward_csr_blocks (PlInferNet *net, const float *x, int n, float *logits)
{
  int in = pl_infer_net_get_in_features (net), nc = pl_infer_net_get_n_classes (net);
  for (int i0 = 0; i0 < n; i0 += PL_CSR_BLOCK)
    {
      int nb = MIN (PL_CSR_BLOCK, n - i0);
      pl_csr_block_in (net->blk[0], x + (gsize) i0 * in, nb, in);
      int cur = 0;
      for (guint i = 0; i < net->layers->len; i++)
        {
          Layer *l = &g_array_index (net->layers, Layer, i);
          pl_csr_linear_forward_block (net->blk[!cur], net->blk[cur], l->csr, l->b, TRUE);
          cur = !cur;
          if (i + 1 < net->layers->len)
            activate (net->act, net->blk[cur], (size_t) l->rows * PL_CSR_BLOCK);
        }
      pl_csr_block_out (logits + (gsize) i0 * nc, net->blk[cur], nb, nc);
    }
}

void
pl_infer_net_forward (PlInferNet *net, const float *x, int n, float *logits)
{
  g_return_if_fail (net != NULL && n >= 0);
  if (net->all_csr && n >= 4)
    {
      forward_csr_blocks (net, x, n, logits);
      return;
    }
  if (n > net->cap)
    {
      for (int i = 0; i < 2; i++)
        net->buf[i] = g_renew (float, net->buf[i], (gsize) n * net->max_width);
      net->cap = n;
    }
  const float *in = x;
  for (guint i = 0; i < net->layers->len; i++)
    {
      Layer *l = &g_array_index (net->layers, Layer, i);
      gboolean last = i + 1 == net->layers->len;
      float *out = last ? logits : net->buf[i % 2];
      if (l->csr)
        pl_csr_linear_forward (out, in, l->csr, l->b, n);
      else if (l->q)
        {
          pl_int8_linear_forward (l->q, net->kernel, out, in, n);
          for (int r = 0; r < n; r++)
            for (int o = 0; o < l->rows; o++)
              out[(gsize) r * l->rows + o] += l->b[o];
        }
      else if (n == 1)
        {
          memcpy (out, l->b, l->rows * sizeof (float));
          cblas_sgemv (CblasRowMajor, CblasNoTrans, l->rows, l->cols, 1.0f, l->w, l->cols, in,
                       1, 1.0f, out, 1);
        }
      else
        {
          for (int r = 0; r < n; r++)
            memcpy (out + (gsize) r * l->rows, l->b, l->rows * sizeof (float));
          cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, n, l->rows, l->cols, 1.0f, in,
                       l->cols, l->w, l->cols, 1.0f, out, l->rows);
        }
      if (!last)
        activate (net->act, out, (size_t) n * l->rows);
      in = out;
    }
}
