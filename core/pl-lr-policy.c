#include "pl-lr-policy.h"

#include "pl-error.h"

G_DEFINE_INTERFACE (PlLrPolicy, pl_lr_policy, G_TYPE_OBJECT)

static void
pl_lr_policy_default_init (PlLrPolicyInterface *iface)
{
}

void
pl_lr_policy_adjust (PlLrPolicy *self, PlRun *run, float *lr_scale, gint64 step)
{
  g_return_if_fail (PL_IS_LR_POLICY (self));
  PlLrPolicyInterface *iface = PL_LR_POLICY_GET_IFACE (self);
  iface->adjust (self, run, lr_scale, step);
}
