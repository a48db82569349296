/* pl-init-fill.h: what the init plugins share: the distribution and bias options
 * and the fills they draw weights with.
 *
 * Every fill draws from a PlRng, so an initialization is a function of the run's
 * seed alone. Shapes are PyTorch's: a dense weight is [out, in], a conv weight
 * [out, in, kh, kw] viewed as [out, in * kh * kw]. */
#pragma once

#include <glib-object.h>

#include "pl-model.h"
#include "pl-rng.h"

G_BEGIN_DECLS

/* Append only. */
typedef enum {
  PL_INIT_DISTRIBUTION_UNIFORM,
  PL_INIT_DISTRIBUTION_NORMAL,
} PlInitDistribution;

GType pl_init_distribution_get_type (void) G_GNUC_CONST;
#define PL_TYPE_INIT_DISTRIBUTION (pl_init_distribution_get_type ())

/* What biases start at. Append only. */
typedef enum {
  PL_INIT_BIAS_ZERO,     /* 0 */
  PL_INIT_BIAS_DEFAULT,  /* PyTorch's U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
} PlInitBias;

GType pl_init_bias_get_type (void) G_GNUC_CONST;
#define PL_TYPE_INIT_BIAS (pl_init_bias_get_type ())

/* The options the init plugins share, as new GParamSpecs (transfer floating) for
 * g_object_class_install_property(), read-write with static strings. "bias"
 * (PlInitBias, default zero) is the same in every init plugin; "distribution"
 * (PlInitDistribution, default @default_value) and "gain" (0 to 100, default 1)
 * say in @blurb, a static string, what they mean to the plugin. */
GParamSpec *pl_init_param_spec_bias         (void);
GParamSpec *pl_init_param_spec_distribution (PlInitDistribution default_value,
                                             const char *blurb);
GParamSpec *pl_init_param_spec_gain         (const char *blurb);

/* x [n]: x_i ~ N(0, std^2), or x_i ~ U(-sqrt(3) std, sqrt(3) std), which has the
 * same variance std^2. */
void      pl_init_fill_random      (PlRng *rng, float *x, size_t n,
                                    PlInitDistribution dist, double std);

/* w [rows, cols] := gain * Q, as torch.nn.init.orthogonal_: A ~ N(0, 1) drawn as
 * [rows, cols] (transposed to [cols, rows] when rows < cols), A = QR with the
 * signs chosen so that diag(R) > 0, Q [max, min] with orthonormal columns (then
 * transposed back). So W^T W = gain^2 I (rows >= cols) or W W^T = gain^2 I
 * (rows < cols). */
void      pl_init_fill_orthogonal  (PlRng *rng, float *w, int rows, int cols, double gain);

/* w [rows, cols]: each row ~ N(0, I) scaled to L2 norm @gain (unit-norm filters
 * for conv weights viewed as [out, in * kh * kw]). */
void      pl_init_fill_unit_rows   (PlRng *rng, float *w, int rows, int cols, double gain);

/* Fills one weight tensor @p (its data, p->numel floats) from @rng. */
typedef gboolean (*PlInitWeightFunc) (PlParam *p, PlRng *rng, gpointer user_data,
                                      GError **error);

/* The skeleton of an init plugin: PyTorch's default for everything
 * (pl_model_init_default), then @fill for every weight of a dense or conv layer
 * (kind PL_PARAM_WEIGHT), drawing from the sub-stream @stream of @seed, then
 * biases per @bias; masks are re-applied. Gate, norm and embedding parameters
 * keep their defaults. A failure of @fill is prefixed with the tensor's name. */
gboolean  pl_init_model_weights    (PlModel *m, guint64 seed, const char *stream,
                                    PlInitBias bias, PlInitWeightFunc fill,
                                    gpointer user_data, GError **error);

G_END_DECLS
