/* pl-model-load.h: partial loads of a checkpoint into a model, for transfer.
 *
 * pl_model_load_safetensors() takes every parameter from a file that holds
 * exactly the model. A transfer model (a pretrained base with a new task layer)
 * takes only part of a file: each parameter gets a rule, and tensors of the file
 * that the model has no use for may be ignored by name. */
#pragma once

#include <glib.h>

#include "pl-model.h"

G_BEGIN_DECLS

/* What a load does with one parameter. Append only. */
typedef enum {
  PL_LOAD_REQUIRED,     /* must be in the file, F32, with the same shape */
  PL_LOAD_IF_MATCHING,  /* taken when the file has it with the same shape, else kept */
  PL_LOAD_SKIP,         /* kept as it is, whatever the file holds */
} PlLoadRule;

/* The rule for @param; called once per parameter, in model order. */
typedef PlLoadRule (*PlLoadRuleFunc) (const PlParam *param, gpointer user_data);

/* Copies tensors of the safetensors file @path into @m by the rule of each
 * parameter (@rule NULL: every parameter is required). A tensor of the file that
 * no parameter takes by name is an error naming it, unless its name matches one of
 * the glob patterns in @ignore (NULL-terminated, g_pattern_match_simple syntax,
 * e.g. "head.*"; NULL for none); names starting with "__" are always ignored.
 * A skipped parameter's tensor counts as taken. Nothing is written to @m unless
 * every check passes. Masks are re-applied afterwards. @n_loaded (nullable) gets
 * the number of parameters copied. Errors (PL_ERROR_IO, _FORMAT, _NOT_FOUND,
 * _SHAPE) name the file and the tensor. */
gboolean pl_model_load_safetensors_with_rules (PlModel *m, const char *path,
                                               PlLoadRuleFunc rule, gpointer user_data,
                                               const char *const *ignore,
                                               guint *n_loaded, GError **error);

G_END_DECLS
