/* pl-sparsity-gate.h: the gate slot: a learned gate per hidden unit inside the forward pass.
 *
 * While a model is built the engine calls declare_units for every hidden layer
 * (add the gate's parameters with pl_model_add_param) and then wrap_units with the
 * layer's activations h [B, width] (return the gated tensor, e.g. from
 * pl_graph_custom). Reporting and hard switching happen through PlRunAddin. */
#pragma once

#include <glib-object.h>

#include "pl-model.h"

G_BEGIN_DECLS

#define PL_TYPE_SPARSITY_GATE (pl_sparsity_gate_get_type ())
G_DECLARE_INTERFACE (PlSparsityGate, pl_sparsity_gate, PL, SPARSITY_GATE, GObject)

struct _PlSparsityGateInterface
{
  GTypeInterface parent_iface;

  /* Declare the gate parameters of hidden layer @layer of @width units. */
  void (*declare_units) (PlSparsityGate *self, PlModel *model, int layer, int width);
  /* Return the gated units of @layer (or @h). */
  PlTensor * (*wrap_units) (PlSparsityGate *self, PlModel *model, PlGraph *graph, int layer, PlTensor *h);
};

void pl_sparsity_gate_declare_units (PlSparsityGate *self, PlModel *model, int layer, int width);
PlTensor * pl_sparsity_gate_wrap_units (PlSparsityGate *self, PlModel *model, PlGraph *graph, int layer, PlTensor *h);

G_END_DECLS
