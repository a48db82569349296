/* pl-cli.h: what the paramlab-cli commands share. */
#pragma once

#include "paramlab.h"

G_BEGIN_DECLS

/* Prints the message and the usage to stderr; returns exit code 2. */
int         pl_cli_usage_error (const char *fmt, ...) G_GNUC_PRINTF (1, 2);
/* Prints the error to stderr; returns @code. */
int         pl_cli_error       (int code, GError *error);
/* The store at @db, or the default one. (transfer full) */
PlRunStore *pl_cli_open_store  (const char *db, GError **error);
gboolean    pl_cli_parse_run_id (const char *text, gint64 *out);

typedef enum {
  PL_CLI_FORMAT_TABLE,
  PL_CLI_FORMAT_CSV,
  PL_CLI_FORMAT_JSON,
} PlCliFormat;

int pl_cli_cmd_list    (int argc, char **argv);
int pl_cli_cmd_show    (int argc, char **argv);
int pl_cli_cmd_metrics (int argc, char **argv);
int pl_cli_cmd_compare (int argc, char **argv);
int pl_cli_cmd_export  (int argc, char **argv);
int pl_cli_cmd_plugins (int argc, char **argv);
int pl_cli_cmd_evaluate (int argc, char **argv);
int pl_cli_cmd_new_plugin (int argc, char **argv);
int pl_cli_cmd_infer (int argc, char **argv);

G_END_DECLS
