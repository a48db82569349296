/* pl-error.h: the Paramlab error domain.
 *
 * Every recoverable failure in libparamlab fills a GError in PL_ERROR; the message
 * names the file, line, key or tensor and says what was expected. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define PL_ERROR (pl_error_quark ())

/* Append only: these values are stored in run records and used by front ends. */
typedef enum {
  PL_ERROR_FAILED,      /* anything without a better code */
  PL_ERROR_IO,          /* a file could not be read or written */
  PL_ERROR_CONFIG,      /* an experiment file or override is invalid */
  PL_ERROR_FORMAT,      /* a file is malformed (safetensors, npy, csv, json) */
  PL_ERROR_DATA,        /* a dataset is unusable (shapes, labels, empty split) */
  PL_ERROR_STORE,       /* the SQLite run store failed */
  PL_ERROR_PLUGIN,      /* a plugin failed to load or reported an error */
  PL_ERROR_DIVERGED,    /* the loss or a parameter became NaN or Inf */
  PL_ERROR_CANCELLED,   /* the run was stopped by the user */
  PL_ERROR_NOT_FOUND,   /* a run, tensor, key or dataset does not exist */
  PL_ERROR_SHAPE,       /* tensor shapes do not match */
} PlError;

GQuark pl_error_quark (void);

G_END_DECLS
