/* pl-run-state.h: named tensors of a training-state checkpoint.
 *
 * `paramlab-cli resume` continues a run from <checkpoint dir>/state.safetensors
 * (docs/checkpoints.md, "Training state"). Core writes its own state there
 * (parameters, masks, optimizer buffers, RNG, data position, best-so-far) and
 * asks every plugin hook with save_state / load_state (PlRunAddin) for the state
 * the plugin holds. A plugin names its tensors @prefix + its own name (the
 * engine gives each plugin a distinct prefix made from its hook name, e.g.
 * "state.gate.plugin.sigmoid-gate.") and reads them back with the same names and
 * sizes.
 *
 * Every tensor here is one-dimensional. The readers refuse a missing tensor, a
 * wrong dtype or a wrong length with a GError naming the tensor, what the file
 * holds and what was expected. */
#pragma once

#include <glib.h>

#include "pl-safetensors.h"

G_BEGIN_DECLS

/* Adds tensor @prefix@name of shape [n] (n may be 0) holding @data. */
gboolean pl_state_write_f32 (PlSafetensorsWriter *writer, const char *prefix,
                             const char *name, const float *data, gsize n, GError **error);
gboolean pl_state_write_f64 (PlSafetensorsWriter *writer, const char *prefix,
                             const char *name, const double *data, gsize n, GError **error);
gboolean pl_state_write_i64 (PlSafetensorsWriter *writer, const char *prefix,
                             const char *name, const gint64 *data, gsize n, GError **error);

/* Copies tensor @prefix@name, which must be of that dtype and shape [n], into
 * out[0..n). PL_ERROR_NOT_FOUND when absent, PL_ERROR_FORMAT for another dtype,
 * PL_ERROR_SHAPE for another shape. */
gboolean pl_state_read_f32  (const PlSafetensors *state, const char *prefix,
                             const char *name, float *out, gsize n, GError **error);
gboolean pl_state_read_f64  (const PlSafetensors *state, const char *prefix,
                             const char *name, double *out, gsize n, GError **error);
gboolean pl_state_read_i64  (const PlSafetensors *state, const char *prefix,
                             const char *name, gint64 *out, gsize n, GError **error);

/* "[2, 3]" for a shape (transfer full) */
char    *pl_state_shape_text (const gint64 *shape, int ndim);

G_END_DECLS
