/* plp-sigmoid-gate-op.h: the gate of one hidden layer: its parameters, its graph
 * op and its hard mask. Built into the sigmoid-gate plugin and its test.
 *
 * For unit i of a layer of W units and a batch row b, with h [B, W] the layer's
 * activations:
 *
 *   g[b, i] = sigmoid(w_g[i] * h[b, i] + b_g[i])        P(a_i) of the article
 *   y[b, i] = alive[i] * g[b, i] * h[b, i]
 *
 * w_g and b_g ([W] each, `hidden.{k}.gate.weight` / `.bias`) are trained with the
 * model. The sparsity pressure adds
 *
 *   L_p = pressure / (B W) * sum_{b, i} alive[i] g[b, i]   (L1 of the mean gate)
 *
 * to the loss through the gradients only (the reported loss is the task loss).
 * alive[] is the hard mask: a switched-off unit outputs exactly zero and gets no
 * gradient. */
#pragma once

#include "paramlab.h"

G_BEGIN_DECLS

typedef struct {
  int layer, width;
  guint first_index;      /* index of gate_w among the model's parameters */
  PlParam *gate_w, *gate_b;
  PlParam *in_w, *in_b;   /* the weight [W, in] and bias [W] computing h, or NULL */
  PlParam *out_w;         /* the next dense weight [out, W] reading y, or NULL */
  PlTensor *input;        /* h in the graph, once wrapped */
  float *alive;           /* [W] 1 or 0 */
  float *batch_sum;       /* [W] sum over rows of g in the last training forward */
  int batch_rows;         /* rows of that forward; 0 once folded */
  double *running;        /* [W] running mean of the per-batch mean of g */
  gboolean running_set;
  float pressure;
} PlpGateLayer;

/* y [B, W] = alive * g * h, g = sigmoid(wg * h + bg); gsum [W] (may be NULL)
 * receives sum_b g[b, i] of live units. */
void plp_gate_forward  (float *y, float *gsum, const float *h, const float *wg,
                        const float *bg, const float *alive, int B, int W);
/* From dy [B, W], ADDS dL/dh (dh may be NULL), dL/dwg and dL/dbg of
 * L = sum(dy * y) + pressure / (B W) * sum alive * g:
 *   dz = alive * (dy * h + pressure / (B W)) * g (1 - g),   z = wg h + bg
 *   dh += alive * dy * g + dz * wg;  dwg += sum_b dz * h;  dbg += sum_b dz */
void plp_gate_backward (float *dh, float *dwg, float *dbg, const float *dy,
                        const float *h, const float *wg, const float *bg,
                        const float *alive, float pressure, int B, int W);
/* pressure / (B W) * sum_{b,i} alive[i] g[b, i] */
double plp_gate_penalty (const float *h, const float *wg, const float *bg,
                         const float *alive, float pressure, int B, int W);

/* Declares hidden.{layer}.gate.weight and .bias [width] (kind gate, group base)
 * in @m, which must not be finalized yet. (transfer full) */
PlpGateLayer *plp_gate_layer_new  (PlModel *m, int layer, int width);
void          plp_gate_layer_free (PlpGateLayer *l);
/* Binds @l to the finalized parameters (its own, the weight and bias before them
 * that compute the layer, the first dense weight after them that reads it) and
 * returns the gated h [B, W] from the op. */
PlTensor     *plp_gate_layer_wrap (PlpGateLayer *l, PlModel *m, PlGraph *g, PlTensor *h);
/* w_g = 0, b_g = @bias for live units: every gate starts at sigmoid(@bias). */
void          plp_gate_layer_reset (PlpGateLayer *l, float bias);
/* running = decay * running + (1 - decay) * batch mean, for live units, from the
 * last training forward (the first fold takes the batch mean). FALSE when no
 * training forward happened since the last fold. */
gboolean      plp_gate_layer_fold (PlpGateLayer *l, double decay);
/* Switches @unit off: alive = 0, and masks (to zero) the row of in_w, the entry
 * of in_b, the column of out_w and the unit's gate parameters, so that the
 * parameters alone (a checkpoint) compute the same function. */
void          plp_gate_layer_switch_off (PlpGateLayer *l, PlModel *m, int unit);
/* Units whose in_w row, in_b entry, out_w column and gate parameters are all
 * exactly zero (as a checkpoint of switched-off units has them) are switched
 * off; returns how many. */
int           plp_gate_layer_restore (PlpGateLayer *l, PlModel *m);
int           plp_gate_layer_count_alive (const PlpGateLayer *l);

/* Parameters of @m still connected to live units: every parameter element not
 * masked out, except the in_w rows, in_b entries, gate entries and out_w columns
 * of switched-off units. */
size_t        plp_gate_count_effective (PlModel *m, PlpGateLayer *const *layers, guint n);

G_END_DECLS
