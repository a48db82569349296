/* plp-fusion-ops.h: the two graph ops the fusion model needs beyond core's.
 *
 * Both read the model's input rows directly (the image pixels and the report
 * token ids packed per pl-paired-layout.h) and produce a token sequence whose
 * shape differs from those rows. A PlCustomOp's output has its input's shape, so
 * each op is applied to a "slots" tensor of the output's shape (an unused graph
 * input, pl_graph_input) and finds the real source through its state. The source
 * is the graph's input: no gradient flows back into it.
 *
 * The states are built before the graph, must outlive it, and hold no memory
 * that a step allocates. The symbols stay inside the plugin module (G_GNUC_INTERNAL),
 * so a test that builds this file in does not clash with the loaded module. */
#pragma once

#include "paramlab.h"

G_BEGIN_DECLS

/* ---- patch gather ---------------------------------------------------------- */

/* out[b, t, k] = src[b, offset + index[t * P + k]]: an H x W image cut into
 * T = (H/p) * (W/p) patches of P = p * p pixels, patches in row-major order of
 * the patch grid, pixels row-major inside a patch. */
typedef struct {
  const PlTensor *src;     /* [B, F] */
  int offset;              /* first pixel column of src */
  int n_tokens, patch_len; /* T, P */
  int *index;              /* [T * P] pixel offsets inside the image, owned */
} PlpPatchGather;

/* (transfer full); @patch divides @height and @width */
G_GNUC_INTERNAL
PlpPatchGather *plp_patch_gather_new  (const PlTensor *src, int offset, int height,
                                       int width, int patch);
G_GNUC_INTERNAL
void            plp_patch_gather_free (PlpPatchGather *op);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PlpPatchGather, plp_patch_gather_free)

/* slots [B, T, P] -> patches [B, T, P]; user_data is a PlpPatchGather */
G_GNUC_INTERNAL extern const PlCustomOp plp_patch_gather_op;

/* ---- token embedding ------------------------------------------------------- */

/* y[b, i, :] = table[id(b, i), :] with id(b, i) = src[b, offset + i], a float that
 * must hold an integer in [0, V); table [V, D] (PyTorch's nn.Embedding layout).
 * Backward: dtable[id(b, i), :] += dy[b, i, :] (repeated ids add up).
 *
 * An id that is not an integer in [0, V) does not crash the step: its token gets
 * a zero vector and no gradient, and the first such id is kept until
 * plp_token_embed_take_error() reports it. */
typedef struct {
  const PlTensor *src;     /* [B, F] */
  int offset, n_ids;       /* ids are src columns offset .. offset + n_ids - 1 */
  const PlTensor *table;   /* [V, D]; a parameter: its grad is the model's */
  int vocab, dim;
  int32_t *ids;            /* [max_batch * n_ids]: the last forward's ids, -1 if bad */
  /* the first bad id since the last take_error */
  gboolean bad;
  int bad_row, bad_pos;
  float bad_value;
} PlpTokenEmbed;

/* (transfer full) */
G_GNUC_INTERNAL
PlpTokenEmbed *plp_token_embed_new  (const PlTensor *src, int offset, int n_ids,
                                     const PlTensor *table, int max_batch);
G_GNUC_INTERNAL
void           plp_token_embed_free (PlpTokenEmbed *op);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PlpTokenEmbed, plp_token_embed_free)

/* slots [B, L, D] -> embeddings [B, L, D]; user_data is a PlpTokenEmbed */
G_GNUC_INTERNAL extern const PlCustomOp plp_token_embed_op;

/* FALSE with a PL_ERROR_DATA error naming the table, the batch row, the token
 * position and the value when a forward met a bad id since the last call; then
 * forgets it. */
G_GNUC_INTERNAL
gboolean       plp_token_embed_take_error (PlpTokenEmbed *op, GError **error);

G_END_DECLS
