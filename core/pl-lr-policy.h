/* pl-lr-policy.h: the lr-policy slot: per-parameter learning rates.
 *
 * After every backward pass the engine calls adjust with the optimizer's
 * per-element rate scale (aligned with the model's parameter block); the
 * schedule's rate is multiplied by it. */
#pragma once

#include <glib-object.h>

#include "pl-engine.h"

G_BEGIN_DECLS

#define PL_TYPE_LR_POLICY (pl_lr_policy_get_type ())
G_DECLARE_INTERFACE (PlLrPolicy, pl_lr_policy, PL, LR_POLICY, GObject)

struct _PlLrPolicyInterface
{
  GTypeInterface parent_iface;

  /* Update @lr_scale from the gradients of step @step. */
  void (*adjust) (PlLrPolicy *self, PlRun *run, float *lr_scale, gint64 step);
};

void pl_lr_policy_adjust (PlLrPolicy *self, PlRun *run, float *lr_scale, gint64 step);

G_END_DECLS
