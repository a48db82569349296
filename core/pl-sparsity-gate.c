#include "pl-sparsity-gate.h"

#include "pl-error.h"

G_DEFINE_INTERFACE (PlSparsityGate, pl_sparsity_gate, G_TYPE_OBJECT)

static void
pl_sparsity_gate_default_init (PlSparsityGateInterface *iface)
{
}

void
pl_sparsity_gate_declare_units (PlSparsityGate *self, PlModel *model, int layer, int width)
{
  g_return_if_fail (PL_IS_SPARSITY_GATE (self));
  PlSparsityGateInterface *iface = PL_SPARSITY_GATE_GET_IFACE (self);
  if (!iface->declare_units)
    return;
  iface->declare_units (self, model, layer, width);
}

PlTensor *
pl_sparsity_gate_wrap_units (PlSparsityGate *self, PlModel *model, PlGraph *graph, int layer, PlTensor *h)
{
  g_return_val_if_fail (PL_IS_SPARSITY_GATE (self), NULL);
  PlSparsityGateInterface *iface = PL_SPARSITY_GATE_GET_IFACE (self);
  if (!iface->wrap_units)
    return h;
  return iface->wrap_units (self, model, graph, layer, h);
}
