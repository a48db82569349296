#include "plp-fusion-ops.h"

#include <math.h>
#include <string.h>

/* ---- patch gather ---------------------------------------------------------- */

PlpPatchGather *
plp_patch_gather_new (const PlTensor *src, int offset, int height, int width, int patch)
{
  g_return_val_if_fail (src != NULL && patch > 0, NULL);
  g_return_val_if_fail (height % patch == 0 && width % patch == 0, NULL);
  PlpPatchGather *op = g_new0 (PlpPatchGather, 1);
  op->src = src;
  op->offset = offset;
  int gh = height / patch, gw = width / patch;
  op->n_tokens = gh * gw;
  op->patch_len = patch * patch;
  op->index = g_new (int, (gsize) op->n_tokens * op->patch_len);
  int j = 0;
  for (int pr = 0; pr < gh; pr++)
    for (int pc = 0; pc < gw; pc++)
      for (int i = 0; i < patch; i++)
        for (int k = 0; k < patch; k++)
          op->index[j++] = (pr * patch + i) * width + pc * patch + k;
  return op;
}

void
plp_patch_gather_free (PlpPatchGather *op)
{
  if (!op)
    return;
  g_free (op->index);
  g_free (op);
}

/* out [B, T, P] = src[b, offset + index[.]] */
static void
patch_gather_forward (const PlTensor *in, PlTensor *out, int batch, gboolean training,
                      gpointer user_data)
{
  const PlpPatchGather *op = user_data;
  size_t f = op->src->per_sample, n = (size_t) op->n_tokens * op->patch_len;
  for (int b = 0; b < batch; b++)
    {
      const float *row = op->src->data + (size_t) b * f + op->offset;
      float *y = out->data + (size_t) b * n;
      for (size_t j = 0; j < n; j++)
        y[j] = row[op->index[j]];
    }
}

/* the source is the graph's input: nothing to propagate */
static void
patch_gather_backward (PlTensor *in, const PlTensor *out, int batch, gpointer user_data)
{
}

const PlCustomOp plp_patch_gather_op = {
  "image.patches", patch_gather_forward, patch_gather_backward
};

/* ---- token embedding ------------------------------------------------------- */

PlpTokenEmbed *
plp_token_embed_new (const PlTensor *src, int offset, int n_ids, const PlTensor *table,
                     int max_batch)
{
  g_return_val_if_fail (src != NULL && table != NULL && table->ndim == 2, NULL);
  g_return_val_if_fail (n_ids > 0 && max_batch > 0, NULL);
  PlpTokenEmbed *op = g_new0 (PlpTokenEmbed, 1);
  op->src = src;
  op->offset = offset;
  op->n_ids = n_ids;
  op->table = table;
  op->vocab = table->shape[0];
  op->dim = table->shape[1];
  op->ids = g_new (int32_t, (gsize) max_batch * n_ids);
  return op;
}

void
plp_token_embed_free (PlpTokenEmbed *op)
{
  if (!op)
    return;
  g_free (op->ids);
  g_free (op);
}

/* y [B, L, D]: y[b, i] = table[id(b, i)], zeros for a bad id */
static void
token_embed_forward (const PlTensor *in, PlTensor *out, int batch, gboolean training,
                     gpointer user_data)
{
  PlpTokenEmbed *op = user_data;
  size_t f = op->src->per_sample, d = (size_t) op->dim;
  for (int b = 0; b < batch; b++)
    {
      const float *row = op->src->data + (size_t) b * f + op->offset;
      for (int i = 0; i < op->n_ids; i++)
        {
          float v = row[i];
          float *y = out->data + ((size_t) b * op->n_ids + i) * d;
          int32_t *id = &op->ids[(size_t) b * op->n_ids + i];
          if (v >= 0.0f && v < (float) op->vocab && v == floorf (v))
            {
              *id = (int32_t) v;
              memcpy (y, op->table->data + (size_t) *id * d, d * sizeof (float));
              continue;
            }
          *id = -1;
          memset (y, 0, d * sizeof (float));
          if (!op->bad)
            {
              op->bad = TRUE;
              op->bad_row = b;
              op->bad_pos = i;
              op->bad_value = v;
            }
        }
    }
}

/* dtable[id(b, i)] += dy[b, i] */
static void
token_embed_backward (PlTensor *in, const PlTensor *out, int batch, gpointer user_data)
{
  const PlpTokenEmbed *op = user_data;
  if (!op->table->grad)
    return;
  size_t d = (size_t) op->dim, n = (size_t) batch * op->n_ids;
  for (size_t t = 0; t < n; t++)
    {
      int32_t id = op->ids[t];
      if (id < 0)
        continue;
      float *dt = op->table->grad + (size_t) id * d;
      const float *dy = out->grad + t * d;
      for (size_t k = 0; k < d; k++)
        dt[k] += dy[k];
    }
}

const PlCustomOp plp_token_embed_op = {
  "text.tokens", token_embed_forward, token_embed_backward
};

gboolean
plp_token_embed_take_error (PlpTokenEmbed *op, GError **error)
{
  g_return_val_if_fail (op != NULL, FALSE);
  if (!op->bad)
    return TRUE;
  op->bad = FALSE;
  g_set_error (error, PL_ERROR, PL_ERROR_DATA,
               "%s: row %d of the batch: report token %d holds %g, expected an integer "
               "id in [0, %d) (the data must pack token ids as pl-paired-layout.h says, "
               "with [data] normalize=none)",
               op->table->name ? op->table->name : "token embedding", op->bad_row,
               op->bad_pos, (double) op->bad_value, op->vocab);
  return FALSE;
}
