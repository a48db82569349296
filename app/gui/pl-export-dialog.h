/* pl-export-dialog.h: export a run's weights as safetensors.
 *
 * FP32 or INT8 (INT8 when the CLI offers `export --format int8`), the last or
 * the best checkpoint, and where to save. The export itself is
 * `paramlab-cli export RUN --out FILE [--best] [--format int8]`; afterwards the
 * dialog reports the file size and the validation accuracy of the weights that
 * were written (as recorded for that checkpoint). */
#pragma once

#include <adwaita.h>

#include "pl-run-store.h"

G_BEGIN_DECLS

#define PL_TYPE_EXPORT_DIALOG (pl_export_dialog_get_type ())
G_DECLARE_FINAL_TYPE (PlExportDialog, pl_export_dialog, PL, EXPORT_DIALOG, AdwWindow)

PlExportDialog *pl_export_dialog_new (GtkWindow  *parent,
                                      PlRunStore *store,
                                      const char *db_path,
                                      const char *cli,
                                      gint64      run_id);

/* Starts the export to @path as the Export button would (for tests). */
void        pl_export_dialog_export_to (PlExportDialog *self, const char *path);
/* The result line after an export, or NULL. */
const char *pl_export_dialog_get_result (PlExportDialog *self);

G_END_DECLS
