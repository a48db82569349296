/* pl-experiment-editor.h: the experiment form.
 *
 * One row per key of the experiment key table (core/pl-experiment.h: types,
 * ranges, defaults and blurbs), shown when it matters for the chosen dataset,
 * architecture, optimizer and schedule; one row per plugin slot with a plugin
 * picker and a form generated from the plugin's options. A value that is not
 * allowed is marked on its row with what is allowed, and the experiment is not
 * valid (Run stays off) until every visible row and the rules across keys are
 * satisfied. */
#pragma once

#include <adwaita.h>

#include "pl-plugin-catalog.h"

G_BEGIN_DECLS

#define PL_TYPE_EXPERIMENT_EDITOR (pl_experiment_editor_get_type ())
G_DECLARE_FINAL_TYPE (PlExperimentEditor, pl_experiment_editor, PL, EXPERIMENT_EDITOR, GtkWidget)

/* @catalog lists the plugins (may be NULL); @settings gives the disabled ones. */
GtkWidget  *pl_experiment_editor_new        (PlPluginCatalog *catalog,
                                             GSettings       *settings);

/* Replaces the form with the experiment in @path; FALSE with the loader's error
 * (the form is unchanged). A file of the bundled presets is not saved over. */
gboolean    pl_experiment_editor_load_file  (PlExperimentEditor *self,
                                             const char         *path,
                                             gboolean            is_preset,
                                             GError            **error);
/* The same from text; @display_name names it in messages. */
gboolean    pl_experiment_editor_load_text  (PlExperimentEditor *self,
                                             const char         *text,
                                             const char         *display_name,
                                             GError            **error);
/* Writes the experiment to @path (normalized .ini) and makes it the current file. */
gboolean    pl_experiment_editor_save       (PlExperimentEditor *self,
                                             const char         *path,
                                             GError            **error);

/* (transfer full) the experiment as .ini text: every table key, then the slot
 * sections. */
char       *pl_experiment_editor_dup_text   (PlExperimentEditor *self);
/* The file the form was loaded from or saved to; NULL for none. */
const char *pl_experiment_editor_get_path   (PlExperimentEditor *self);
gboolean    pl_experiment_editor_is_preset  (PlExperimentEditor *self);
gboolean    pl_experiment_editor_get_modified (PlExperimentEditor *self);
const char *pl_experiment_editor_get_name   (PlExperimentEditor *self);
gboolean    pl_experiment_editor_is_valid   (PlExperimentEditor *self);
/* (transfer full) what keeps the experiment from running, one line each, or
 * NULL when it is valid. */
char       *pl_experiment_editor_dup_problems (PlExperimentEditor *self);

/* As if the user typed @text into the row of @section/@key (a table key, or an
 * option of a chosen plugin). FALSE when there is no such row. */
gboolean    pl_experiment_editor_set_value  (PlExperimentEditor *self,
                                             const char         *section,
                                             const char         *key,
                                             const char         *text);
/* The problem shown on that row, or NULL. */
const char *pl_experiment_editor_get_problem (PlExperimentEditor *self,
                                              const char         *section,
                                              const char         *key);
/* (transfer none) the row of @section/@key, or NULL; for tests and focus. */
GtkWidget  *pl_experiment_editor_get_row    (PlExperimentEditor *self,
                                             const char         *section,
                                             const char         *key);
/* The line under the pruning schedule preview ("Reaches 80.0% sparsity at
 * step …", or why the run is too short), or NULL without a schedule. Updated
 * a moment after the last edit. */
const char *pl_experiment_editor_get_schedule_note (PlExperimentEditor *self);
/* Updates the schedule preview now instead of after the pause. */
void        pl_experiment_editor_flush_preview (PlExperimentEditor *self);

/* Chooses plugin @id (NULL: none) for @slot, as the picker would. */
gboolean    pl_experiment_editor_set_plugin (PlExperimentEditor *self,
                                             const char         *slot,
                                             const char         *id);

G_END_DECLS
