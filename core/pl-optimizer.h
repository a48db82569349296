/* pl-optimizer.h: SGD (momentum, nesterov, weight decay), Adam and AdamW with
 * exactly PyTorch 1.13's update rules, over a model's flat parameter block; and the
 * learning-rate schedules.
 *
 * Frozen parameters are skipped. A masked weight's gradient, momentum and Adam
 * moments are masked too, so a pruned weight stays exactly zero. A per-element
 * learning-rate scale (set by lr-policy plugins) multiplies the rate. */
#pragma once

#include <glib.h>

#include "pl-model.h"
#include "pl-safetensors.h"

G_BEGIN_DECLS

/* Append only. */
typedef enum {
  PL_OPTIMIZER_SGD,
  PL_OPTIMIZER_ADAM,
  PL_OPTIMIZER_ADAMW,
} PlOptimizerAlgorithm;

typedef struct {
  PlOptimizerAlgorithm algorithm;
  double lr;
  double momentum;      /* sgd */
  double dampening;     /* sgd */
  gboolean nesterov;    /* sgd */
  double weight_decay;
  double beta1, beta2, eps; /* adam, adamw */
} PlOptimizerConfig;

typedef struct _PlOptimizer PlOptimizer;

PlOptimizer *pl_optimizer_new       (const PlOptimizerConfig *config, PlModel *model,
                                     GError **error);
void         pl_optimizer_free      (PlOptimizer *opt);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PlOptimizer, pl_optimizer_free)

/* One update of every trainable parameter with learning rate @lr. */
void         pl_optimizer_step      (PlOptimizer *opt, double lr);
gint64       pl_optimizer_get_step  (PlOptimizer *opt);
/* The per-element rate scale, aligned with the model's parameter block (created
 * as all ones on first call). */
float       *pl_optimizer_get_lr_scale (PlOptimizer *opt);
/* Bytes of optimizer state (for the memory benchmark). */
gsize        pl_optimizer_get_state_bytes (PlOptimizer *opt);

/* The optimizer's state as training-state tensors (pl-run-state.h): @prefix
 * "buf1" (momentum buffer or exp_avg) and "buf2" (exp_avg_sq) when the algorithm
 * has them, "lr_scale" when a policy set one, all aligned with the model's
 * parameter block, and "step" (I64 [1], the bias-correction count). Loading
 * refuses a file whose buffers are missing or of another size; a file without
 * lr_scale resets the scale to ones. */
gboolean     pl_optimizer_save_state (PlOptimizer *opt, PlSafetensorsWriter *writer,
                                      const char *prefix, GError **error);
gboolean     pl_optimizer_load_state (PlOptimizer *opt, const PlSafetensors *state,
                                      const char *prefix, GError **error);

/* Append only. */
typedef enum {
  PL_SCHEDULE_CONSTANT,
  PL_SCHEDULE_STEP,
  PL_SCHEDULE_COSINE,
} PlScheduleShape;

typedef struct {
  PlScheduleShape kind;
  double base_lr;
  int step_size;        /* epochs, for step */
  double gamma;         /* for step */
  double min_lr;        /* cosine floor (eta_min) */
  gint64 warmup_steps;  /* linear warmup from base_lr / warmup_steps */
  gint64 total_steps;   /* for cosine */
  gint64 steps_per_epoch;
} PlSchedule;

/* The rate at optimizer step @step (0-based), as torch's StepLR (per epoch),
 * CosineAnnealingLR (per step, T_max = total steps) and a linear warmup
 * multiplier min(1, (step + 1) / warmup_steps). */
double       pl_schedule_lr         (const PlSchedule *s, gint64 step);

G_END_DECLS
