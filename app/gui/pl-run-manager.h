/* pl-run-manager.h: the queue of runs started from the window.
 *
 * Runs wait in a queue and start as child processes while fewer than
 * max-concurrent-runs (a GSettings preference) are active. The manager holds
 * every PlLiveRun of the session, in submission order, as a GListModel. */
#pragma once

#include <gio/gio.h>

#include "pl-live-run.h"

G_BEGIN_DECLS

#define PL_TYPE_RUN_MANAGER (pl_run_manager_get_type ())
G_DECLARE_FINAL_TYPE (PlRunManager, pl_run_manager, PL, RUN_MANAGER, GObject)

/* (transfer full): a manager reading max-concurrent-runs and threads from
 * @settings (may be NULL: one run at a time, default threads). */
PlRunManager *pl_run_manager_new            (GSettings *settings);

/* The paramlab-cli binary that runs are started with; see pl_find_cli(). */
void          pl_run_manager_set_cli_path   (PlRunManager *self, const char *path);
const char   *pl_run_manager_get_cli_path   (PlRunManager *self);
/* The run database passed as --db (NULL: the CLI's default). */
void          pl_run_manager_set_db_path    (PlRunManager *self, const char *path);

/* Queues a run of @experiment_text and starts it when a slot is free.
 * (transfer none): the run, owned by the manager. */
PlLiveRun    *pl_run_manager_submit         (PlRunManager *self,
                                             const char   *name,
                                             const char   *experiment_text,
                                             gint64        parent_run);

/* Queues `paramlab-cli resume @run_id` (a stopped, interrupted or failed run
 * with a training state; see pl_live_run_new_resume()) like a new run.
 * (transfer none): the run, owned by the manager. */
PlLiveRun    *pl_run_manager_resume         (PlRunManager *self,
                                             const char   *name,
                                             gint64        run_id,
                                             const char   *experiment_text);

/* (transfer none): a GListModel of PlLiveRun. */
GListModel   *pl_run_manager_get_runs       (PlRunManager *self);
/* Runs queued, starting, running or paused. */
guint         pl_run_manager_get_n_active   (PlRunManager *self);
/* (transfer none): the session's latest run with store id @id (a resume
 * shares its run's id), or NULL. */
PlLiveRun    *pl_run_manager_lookup         (PlRunManager *self, gint64 id);
/* Stops every active run (queued ones are dropped). */
void          pl_run_manager_stop_all       (PlRunManager *self);

/* The paramlab-cli to run: $PARAMLAB_CLI, else the one next to this program
 * (build tree or bindir), else the installed one, else "paramlab-cli" on PATH.
 * (transfer full) */
char         *pl_find_cli                   (void);

G_END_DECLS
