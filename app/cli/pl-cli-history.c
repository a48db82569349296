/* The commands that read the run store: list, show, metrics, compare, export. */
#include "pl-config.h"

#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pl-cli.h"

/* ---- a table printed as aligned text, CSV or JSON ---------------------------- */

typedef struct {
  GPtrArray *columns;   /* char* */
  GPtrArray *rows;      /* GPtrArray* of char* */
} Table;

static Table *
table_new (const char *first, ...)
{
  Table *t = g_new0 (Table, 1);
  t->columns = g_ptr_array_new_with_free_func (g_free);
  t->rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref);
  va_list ap;
  va_start (ap, first);
  for (const char *c = first; c; c = va_arg (ap, const char *))
    g_ptr_array_add (t->columns, g_strdup (c));
  va_end (ap);
  return t;
}

static void
table_free (Table *t)
{
  g_ptr_array_unref (t->columns);
  g_ptr_array_unref (t->rows);
  g_free (t);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Table, table_free)

static GPtrArray *
table_add_row (Table *t)
{
  GPtrArray *row = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (t->rows, row);
  return row;
}

static void
cell (GPtrArray *row, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static void
cell (GPtrArray *row, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_ptr_array_add (row, g_strdup_vprintf (fmt, ap));
  va_end (ap);
}

static void
cell_num (GPtrArray *row, double v)
{
  if (isnan (v))
    g_ptr_array_add (row, g_strdup (""));
  else
    cell (row, "%.6g", v);
}

static void
cell_time (GPtrArray *row, double t)
{
  if (t <= 0 || isnan (t))
    {
      g_ptr_array_add (row, g_strdup (""));
      return;
    }
  g_autoptr (GDateTime) dt = g_date_time_new_from_unix_local ((gint64) t);
  g_ptr_array_add (row, g_date_time_format (dt, "%Y-%m-%d %H:%M:%S"));
}

static gboolean
is_number (const char *s)
{
  if (!s[0])
    return FALSE;
  char *end;
  g_ascii_strtod (s, &end);
  return *end == 0 && !g_str_equal (s, "nan") && !g_str_equal (s, "inf");
}

static void
print_csv_field (const char *s)
{
  if (strpbrk (s, ",\"\n\r"))
    {
      fputc ('"', stdout);
      for (const char *p = s; *p; p++)
        {
          if (*p == '"')
            fputc ('"', stdout);
          fputc (*p, stdout);
        }
      fputc ('"', stdout);
    }
  else
    fputs (s, stdout);
}

static void
table_print (Table *t, PlCliFormat format)
{
  guint nc = t->columns->len;
  if (format == PL_CLI_FORMAT_CSV)
    {
      for (guint c = 0; c < nc; c++)
        {
          if (c)
            fputc (',', stdout);
          print_csv_field (g_ptr_array_index (t->columns, c));
        }
      fputc ('\n', stdout);
      for (guint r = 0; r < t->rows->len; r++)
        {
          GPtrArray *row = g_ptr_array_index (t->rows, r);
          for (guint c = 0; c < nc; c++)
            {
              if (c)
                fputc (',', stdout);
              print_csv_field (c < row->len ? g_ptr_array_index (row, c) : "");
            }
          fputc ('\n', stdout);
        }
      return;
    }
  if (format == PL_CLI_FORMAT_JSON)
    {
      g_autoptr (GString) out = g_string_new ("[");
      for (guint r = 0; r < t->rows->len; r++)
        {
          GPtrArray *row = g_ptr_array_index (t->rows, r);
          g_string_append (out, r ? ",\n {" : "\n {");
          for (guint c = 0; c < nc; c++)
            {
              const char *v = c < row->len ? g_ptr_array_index (row, c) : "";
              if (c)
                g_string_append_c (out, ',');
              pl_json_append_string (out, g_ptr_array_index (t->columns, c));
              g_string_append_c (out, ':');
              if (!v[0])
                g_string_append (out, "null");
              else if (is_number (v))
                g_string_append (out, v);
              else
                pl_json_append_string (out, v);
            }
          g_string_append_c (out, '}');
        }
      g_string_append (out, t->rows->len ? "\n]\n" : "]\n");
      fputs (out->str, stdout);
      return;
    }
  g_autofree int *width = g_new0 (int, nc);
  for (guint c = 0; c < nc; c++)
    width[c] = (int) g_utf8_strlen (g_ptr_array_index (t->columns, c), -1);
  for (guint r = 0; r < t->rows->len; r++)
    {
      GPtrArray *row = g_ptr_array_index (t->rows, r);
      for (guint c = 0; c < nc && c < row->len; c++)
        width[c] = MAX (width[c], (int) g_utf8_strlen (g_ptr_array_index (row, c), -1));
    }
  for (guint c = 0; c < nc; c++)
    {
      const char *s = g_ptr_array_index (t->columns, c);
      printf ("%s%-*s", c ? "  " : "", c + 1 < nc ? width[c] : 0, s);
    }
  fputc ('\n', stdout);
  for (guint r = 0; r < t->rows->len; r++)
    {
      GPtrArray *row = g_ptr_array_index (t->rows, r);
      for (guint c = 0; c < nc; c++)
        {
          const char *s = c < row->len ? g_ptr_array_index (row, c) : "";
          /* pad by characters, not bytes, so UTF-8 names line up */
          int pad = c + 1 < nc ? width[c] - (int) g_utf8_strlen (s, -1) : 0;
          printf ("%s%s%*s", c ? "  " : "", s, MAX (pad, 0), "");
        }
      fputc ('\n', stdout);
    }
}

/* ---- shared option parsing ---------------------------------------------------- */

typedef struct {
  char *db;
  char *format;
  PlCliFormat fmt;
} CommonOptions;

static void
common_clear (CommonOptions *o)
{
  g_free (o->db);
  g_free (o->format);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (CommonOptions, common_clear)

static gboolean
parse_common (const char *command, const char *params, int *argc, char ***argv,
              CommonOptions *o, GOptionEntry *extra, gboolean allow_json_only_table,
              int *exit_code)
{
  GOptionEntry common[] = {
    { "db", 0, 0, G_OPTION_ARG_FILENAME, &o->db, "Run store database", "PATH" },
    { "format", 0, 0, G_OPTION_ARG_STRING, &o->format, "Output format", "table|csv|json" },
    { NULL }
  };
  g_autoptr (GOptionContext) oc = g_option_context_new (params);
  g_option_context_add_main_entries (oc, common, NULL);
  if (extra)
    g_option_context_add_main_entries (oc, extra, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (oc, argc, argv, &error))
    {
      *exit_code = pl_cli_usage_error ("%s: %s", command, error->message);
      return FALSE;
    }
  o->fmt = PL_CLI_FORMAT_TABLE;
  /* export's --format is the checkpoint's: fp32 or int8 */
  if (o->format && !g_str_equal (command, "export"))
    {
      if (g_str_equal (o->format, "table"))
        o->fmt = PL_CLI_FORMAT_TABLE;
      else if (g_str_equal (o->format, "csv"))
        o->fmt = PL_CLI_FORMAT_CSV;
      else if (g_str_equal (o->format, "json"))
        o->fmt = PL_CLI_FORMAT_JSON;
      else
        {
          *exit_code = pl_cli_usage_error ("%s: --format must be table, csv or json, got "
                                           "\"%s\"", command, o->format);
          return FALSE;
        }
    }
  return TRUE;
}

static PlRunStore *
open_store_or_fail (CommonOptions *o, int *exit_code)
{
  g_autoptr (GError) error = NULL;
  PlRunStore *store = pl_cli_open_store (o->db, &error);
  if (!store)
    *exit_code = pl_cli_error (2, error);
  return store;
}

static gboolean
parse_run_arg (const char *command, const char *arg, gint64 *id, int *exit_code)
{
  if (!pl_cli_parse_run_id (arg, id))
    {
      *exit_code = pl_cli_usage_error ("%s: \"%s\" is not a run id (a positive number, see "
                                       "`paramlab-cli list`)", command, arg);
      return FALSE;
    }
  return TRUE;
}

/* ---- list ------------------------------------------------------------------ */

int
pl_cli_cmd_list (int argc, char **argv)
{
  g_auto (CommonOptions) o = { 0 };
  int code = 0;
  gboolean all = FALSE;
  GOptionEntry extra[] = {
    { "all", 0, 0, G_OPTION_ARG_NONE, &all, "Include deleted runs", NULL },
    { NULL }
  };
  if (!parse_common ("list", "[FILTER]", &argc, &argv, &o, extra, TRUE, &code))
    return code;
  if (argc > 2)
    {
      code = pl_cli_usage_error ("list: expected at most one filter");
      return code;
    }
  g_autoptr (PlRunStore) store = open_store_or_fail (&o, &code);
  if (!store)
    return code;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) runs = pl_run_store_list_runs (store, argc == 2 ? argv[1] : NULL,
                                                       all, &error);
  if (!runs)
    {
      code = pl_cli_error (1, error);
      return code;
    }
  g_autoptr (Table) t = table_new ("id", "name", "status", "dataset", "architecture",
                                   "best val/acc", "final val/acc", "sparsity", "steps",
                                   "started", "tags", NULL);
  for (guint i = 0; i < runs->len; i++)
    {
      PlRunInfo *r = g_ptr_array_index (runs, i);
      GPtrArray *row = table_add_row (t);
      cell (row, "%" G_GINT64_FORMAT, r->id);
      cell (row, "%s", r->name);
      cell (row, "%s%s", r->status, r->deleted ? " (deleted)" : "");
      cell (row, "%s", r->dataset ? r->dataset : "");
      cell (row, "%s", r->architecture ? r->architecture : "");
      cell_num (row, r->best_val_acc);
      cell_num (row, r->final_val_acc);
      cell_num (row, r->final_sparsity);
      if (r->last_step >= 0)
        cell (row, "%" G_GINT64_FORMAT, r->last_step);
      else
        cell (row, "%s", "");
      cell_time (row, r->started_at > 0 ? r->started_at : r->created_at);
      g_autofree char *tags = r->tags ? g_strjoinv (",", r->tags) : g_strdup ("");
      cell (row, "%s", tags);
    }
  if (runs->len == 0 && o.fmt == PL_CLI_FORMAT_TABLE)
    printf ("No runs yet. Start one with: paramlab-cli run data/experiments/digits-mlp.ini\n");
  else
    table_print (t, o.fmt);
  return code;
}

/* ---- show ------------------------------------------------------------------ */

int
pl_cli_cmd_show (int argc, char **argv)
{
  g_auto (CommonOptions) o = { 0 };
  int code = 0;
  gint64 id;
  if (!parse_common ("show", "RUN", &argc, &argv, &o, NULL, TRUE, &code))
    return code;
  if (argc != 2)
    {
      code = pl_cli_usage_error ("show: expected one run id");
      return code;
    }
  if (!parse_run_arg ("show", argv[1], &id, &code))
    return code;
  g_autoptr (PlRunStore) store = open_store_or_fail (&o, &code);
  if (!store)
    return code;
  g_autoptr (GError) error = NULL;
  g_autoptr (PlRunInfo) r = pl_run_store_get_run (store, id, &error);
  g_autoptr (GPtrArray) plugins = r ? pl_run_store_get_run_plugins (store, id, &error) : NULL;
  g_autoptr (GPtrArray) ckpts = plugins ? pl_run_store_list_checkpoints (store, id, &error)
                                        : NULL;
  g_autoptr (GPtrArray) summary = ckpts ? pl_run_store_get_summary (store, id, &error) : NULL;
  if (!summary)
    {
      code = pl_cli_error (g_error_matches (error, PL_ERROR, PL_ERROR_NOT_FOUND) ? 2 : 1,
                           error);
      return code;
    }
  if (o.fmt == PL_CLI_FORMAT_JSON)
    {
      g_autoptr (GString) s = g_string_new ("{\"id\":");
      g_string_append_printf (s, "%" G_GINT64_FORMAT ",\"name\":", r->id);
      pl_json_append_string (s, r->name);
      g_string_append (s, ",\"status\":");
      pl_json_append_string (s, r->status);
      g_string_append_printf (s, ",\"seed\":%" G_GUINT64_FORMAT ",\"created_at\":", r->seed);
      pl_json_append_double (s, r->created_at);
      g_string_append (s, ",\"started_at\":");
      pl_json_append_double (s, r->started_at);
      g_string_append (s, ",\"finished_at\":");
      pl_json_append_double (s, r->finished_at);
      g_string_append (s, ",\"error\":");
      if (r->error)
        pl_json_append_string (s, r->error);
      else
        g_string_append (s, "null");
      g_string_append (s, ",\"experiment\":");
      pl_json_append_string (s, r->experiment ? r->experiment : "");
      g_string_append (s, ",\"plugins\":[");
      for (guint i = 0; i < plugins->len; i++)
        {
          PlRunPlugin *p = g_ptr_array_index (plugins, i);
          g_string_append (s, i ? ",{\"slot\":" : "{\"slot\":");
          pl_json_append_string (s, p->slot);
          g_string_append (s, ",\"id\":");
          pl_json_append_string (s, p->plugin_id);
          g_string_append (s, ",\"version\":");
          pl_json_append_string (s, p->version ? p->version : "");
          g_string_append (s, ",\"options\":");
          g_string_append (s, p->options_json ? p->options_json : "{}");
          g_string_append_c (s, '}');
        }
      g_string_append (s, "],\"checkpoints\":[");
      for (guint i = 0; i < ckpts->len; i++)
        {
          PlCheckpointInfo *c = g_ptr_array_index (ckpts, i);
          g_string_append_printf (s, "%s{\"step\":%" G_GINT64_FORMAT ",\"kind\":", i ? "," : "",
                                  c->step);
          pl_json_append_string (s, c->kind);
          g_string_append (s, ",\"format\":");
          pl_json_append_string (s, c->format);
          g_string_append_printf (s, ",\"size\":%" G_GINT64_FORMAT ",\"path\":", c->size_bytes);
          pl_json_append_string (s, c->path);
          g_string_append_c (s, '}');
        }
      g_string_append (s, "],\"metrics\":{");
      for (guint i = 0; i < summary->len; i++)
        {
          PlMetricSummary *m = g_ptr_array_index (summary, i);
          if (i)
            g_string_append_c (s, ',');
          pl_json_append_string (s, m->key);
          g_string_append (s, ":{\"last\":");
          pl_json_append_double (s, m->last);
          g_string_append (s, ",\"best\":");
          pl_json_append_double (s, m->best);
          g_string_append_printf (s, ",\"n\":%" G_GINT64_FORMAT "}", m->n);
        }
      g_string_append (s, "}}\n");
      fputs (s->str, stdout);
      return code;
    }
  printf ("run %" G_GINT64_FORMAT ": %s\n", r->id, r->name);
  printf ("  status     %s%s\n", r->status, r->deleted ? " (deleted)" : "");
  if (r->error)
    printf ("  error      %s\n", r->error);
  printf ("  seed       %" G_GUINT64_FORMAT "\n", r->seed);
  printf ("  dataset    %s\n  model      %s\n", r->dataset, r->architecture);
  {
    g_autoptr (Table) tt = table_new ("x", NULL);
    GPtrArray *row = table_add_row (tt);
    cell_time (row, r->created_at);
    cell_time (row, r->started_at);
    cell_time (row, r->finished_at);
    printf ("  created    %s\n  started    %s\n  finished   %s\n",
            (char *) g_ptr_array_index (row, 0), (char *) g_ptr_array_index (row, 1),
            (char *) g_ptr_array_index (row, 2));
  }
  if (plugins->len)
    {
      printf ("\nplugins\n");
      for (guint i = 0; i < plugins->len; i++)
        {
          PlRunPlugin *p = g_ptr_array_index (plugins, i);
          printf ("  %-12s %s %s %s\n", p->slot, p->plugin_id, p->version ? p->version : "",
                  p->options_json ? p->options_json : "");
        }
    }
  if (ckpts->len)
    {
      printf ("\ncheckpoints\n");
      for (guint i = 0; i < ckpts->len; i++)
        {
          PlCheckpointInfo *c = g_ptr_array_index (ckpts, i);
          printf ("  %-6s step %-7" G_GINT64_FORMAT " %-5s %8.1f KiB  %s\n", c->kind, c->step,
                  c->format, c->size_bytes / 1024.0, c->path);
        }
    }
  if (summary->len)
    {
      printf ("\nmetrics\n");
      g_autoptr (Table) t = table_new ("  key", "last", "best", "points", NULL);
      for (guint i = 0; i < summary->len; i++)
        {
          PlMetricSummary *m = g_ptr_array_index (summary, i);
          GPtrArray *row = table_add_row (t);
          cell (row, "  %s", m->key);
          cell_num (row, m->last);
          cell_num (row, m->best);
          cell (row, "%" G_GINT64_FORMAT, m->n);
        }
      table_print (t, PL_CLI_FORMAT_TABLE);
    }
  printf ("\nexperiment\n");
  g_auto (GStrv) lines = g_strsplit (r->experiment ? r->experiment : "", "\n", -1);
  for (int i = 0; lines[i]; i++)
    if (lines[i][0])
      printf ("  %s\n", lines[i]);
  return code;
}

/* ---- metrics --------------------------------------------------------------- */

int
pl_cli_cmd_metrics (int argc, char **argv)
{
  g_auto (CommonOptions) o = { 0 };
  int code = 0;
  gint64 id;
  if (!parse_common ("metrics", "RUN [KEY...]", &argc, &argv, &o, NULL, TRUE, &code))
    return code;
  if (argc < 2)
    {
      code = pl_cli_usage_error ("metrics: expected a run id");
      return code;
    }
  if (!parse_run_arg ("metrics", argv[1], &id, &code))
    return code;
  g_autoptr (PlRunStore) store = open_store_or_fail (&o, &code);
  if (!store)
    return code;
  g_autoptr (GError) error = NULL;
  g_autoptr (PlRunInfo) r = pl_run_store_get_run (store, id, &error);
  g_auto (GStrv) all_keys = r ? pl_run_store_get_metric_keys (store, id, &error) : NULL;
  if (!all_keys)
    {
      code = pl_cli_error (g_error_matches (error, PL_ERROR, PL_ERROR_NOT_FOUND) ? 2 : 1,
                           error);
      return code;
    }
  g_autoptr (GPtrArray) keys = g_ptr_array_new ();
  if (argc > 2)
    for (int i = 2; i < argc; i++)
      {
        if (!g_strv_contains ((const char * const *) all_keys, argv[i]))
          {
            g_autofree char *known = g_strjoinv (", ", all_keys);
            code = pl_cli_usage_error ("metrics: run %" G_GINT64_FORMAT " has no metric \"%s\"; "
                                       "it has: %s", id, argv[i], known);
            return code;
          }
        g_ptr_array_add (keys, argv[i]);
      }
  else
    for (int i = 0; all_keys[i]; i++)
      g_ptr_array_add (keys, all_keys[i]);

  g_autoptr (Table) t = table_new ("key", "step", "value", "wall_time", NULL);
  for (guint k = 0; k < keys->len; k++)
    {
      g_autoptr (PlSeries) s = pl_run_store_get_metric (store, id, keys->pdata[k], &error);
      if (!s)
        {
          code = pl_cli_error (1, error);
          return code;
        }
      for (guint i = 0; i < s->steps->len; i++)
        {
          GPtrArray *row = table_add_row (t);
          cell (row, "%s", (char *) keys->pdata[k]);
          cell (row, "%" G_GINT64_FORMAT, g_array_index (s->steps, gint64, i));
          double v = g_array_index (s->values, double, i);
          if (isnan (v))
            cell (row, "%s", "");
          else
            cell (row, "%.9g", v);
          cell (row, "%.3f", g_array_index (s->wall_times, double, i));
        }
    }
  table_print (t, o.fmt);
  return code;
}

/* ---- compare --------------------------------------------------------------- */

/* "section.key=value" lines of a stored experiment, plus "plugin.<slot>" and
 * "plugin.<slot>.<option>" for the plugins the run used. */
static GHashTable *
run_config (PlRunStore *store, PlRunInfo *r, GPtrArray *order, GError **error)
{
  g_autoptr (PlExperiment) exp = pl_experiment_load_data (r->experiment ? r->experiment : "",
                                                          -1, "stored experiment", error);
  if (!exp)
    {
      g_prefix_error (error, "run %" G_GINT64_FORMAT ": ", r->id);
      return NULL;
    }
  GHashTable *cfg = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autoptr (GPtrArray) flat = pl_experiment_flatten (exp);
  for (guint i = 0; i < flat->len; i++)
    {
      const char *line = flat->pdata[i];
      const char *eq = strchr (line, '=');
      if (!eq)
        continue;
      char *key = g_strndup (line, eq - line);
      if (!g_ptr_array_find_with_equal_func (order, key, g_str_equal, NULL))
        g_ptr_array_add (order, g_strdup (key));
      g_hash_table_replace (cfg, key, g_strdup (eq + 1));
    }
  g_autoptr (GPtrArray) plugins = pl_run_store_get_run_plugins (store, r->id, error);
  if (!plugins)
    {
      g_hash_table_unref (cfg);
      return NULL;
    }
  for (guint i = 0; i < plugins->len; i++)
    {
      PlRunPlugin *p = plugins->pdata[i];
      char *key = g_strdup_printf ("plugin.%s", p->slot);
      if (!g_ptr_array_find_with_equal_func (order, key, g_str_equal, NULL))
        g_ptr_array_add (order, g_strdup (key));
      g_hash_table_replace (cfg, key, g_strdup_printf ("%s %s", p->plugin_id,
                                                       p->version ? p->version : ""));
      g_autoptr (PlJson) opts = pl_json_parse (p->options_json ? p->options_json : "{}",
                                               strlen (p->options_json ? p->options_json : "{}"),
                                               NULL);
      if (!opts || pl_json_type (opts) != PL_JSON_OBJECT)
        continue;
      for (guint j = 0; j < pl_json_object_size (opts); j++)
        {
          const PlJson *v = pl_json_object_value_at (opts, j);
          char *okey = g_strdup_printf ("plugin.%s.%s", p->slot, pl_json_object_key_at (opts, j));
          char *val;
          switch (pl_json_type (v))
            {
            case PL_JSON_STRING: val = g_strdup (pl_json_get_string (v, NULL)); break;
            case PL_JSON_NUMBER: val = g_strdup_printf ("%.9g", pl_json_get_double (v)); break;
            case PL_JSON_BOOL: val = g_strdup (pl_json_get_bool (v) ? "true" : "false"); break;
            default: val = g_strdup ("null"); break;
            }
          if (!g_ptr_array_find_with_equal_func (order, okey, g_str_equal, NULL))
            g_ptr_array_add (order, g_strdup (okey));
          g_hash_table_replace (cfg, okey, val);
        }
    }
  return cfg;
}

int
pl_cli_cmd_compare (int argc, char **argv)
{
  g_auto (CommonOptions) o = { 0 };
  int code = 0;
  gboolean all = FALSE;
  GOptionEntry extra[] = {
    { "all", 0, 0, G_OPTION_ARG_NONE, &all, "Also list the keys that are the same", NULL },
    { NULL }
  };
  if (!parse_common ("compare", "RUN RUN...", &argc, &argv, &o, extra, TRUE, &code))
    return code;
  if (argc < 3)
    {
      code = pl_cli_usage_error ("compare: expected at least two run ids");
      return code;
    }
  int n = argc - 1;
  g_autofree gint64 *ids = g_new (gint64, n);
  for (int i = 0; i < n; i++)
    if (!parse_run_arg ("compare", argv[i + 1], &ids[i], &code))
      return code;
  g_autoptr (PlRunStore) store = open_store_or_fail (&o, &code);
  if (!store)
    return code;

  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) runs = g_ptr_array_new_with_free_func ((GDestroyNotify) pl_run_info_free);
  g_autoptr (GPtrArray) cfgs = g_ptr_array_new_with_free_func ((GDestroyNotify) g_hash_table_unref);
  g_autoptr (GPtrArray) sums = g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref);
  g_autoptr (GPtrArray) order = g_ptr_array_new_with_free_func (g_free);
  for (int i = 0; i < n; i++)
    {
      PlRunInfo *r = pl_run_store_get_run (store, ids[i], &error);
      if (!r)
        {
          code = pl_cli_error (g_error_matches (error, PL_ERROR, PL_ERROR_NOT_FOUND) ? 2 : 1,
                               error);
          return code;
        }
      g_ptr_array_add (runs, r);
      GHashTable *cfg = run_config (store, r, order, &error);
      GPtrArray *sum = cfg ? pl_run_store_get_summary (store, ids[i], &error) : NULL;
      if (!sum)
        {
          if (cfg)
            g_hash_table_unref (cfg);
          code = pl_cli_error (1, error);
          return code;
        }
      g_ptr_array_add (cfgs, cfg);
      g_ptr_array_add (sums, sum);
    }

  /* columns: what, key, then one per run */
  g_autoptr (Table) t = table_new ("what", "key", NULL);
  for (int i = 0; i < n; i++)
    {
      PlRunInfo *r = runs->pdata[i];
      g_ptr_array_add (t->columns, g_strdup_printf ("run %" G_GINT64_FORMAT " %s", r->id, r->name));
    }
  guint n_same = 0;
  for (guint k = 0; k < order->len; k++)
    {
      const char *key = order->pdata[k];
      if (g_str_equal (key, "experiment.name"))
        continue;
      gboolean differ = FALSE;
      const char *first = g_hash_table_lookup (cfgs->pdata[0], key);
      for (int i = 1; i < n; i++)
        differ |= g_strcmp0 (first, g_hash_table_lookup (cfgs->pdata[i], key)) != 0;
      if (!differ)
        n_same++;
      if (!differ && !all)
        continue;
      GPtrArray *row = table_add_row (t);
      cell (row, "%s", differ ? "config" : "same");
      cell (row, "%s", key);
      for (int i = 0; i < n; i++)
        {
          const char *v = g_hash_table_lookup (cfgs->pdata[i], key);
          cell (row, "%s", v ? v : "(none)");
        }
    }

  /* metrics: the union of keys, final and best side by side */
  g_autoptr (GPtrArray) mkeys = g_ptr_array_new ();
  for (int i = 0; i < n; i++)
    {
      GPtrArray *sum = sums->pdata[i];
      for (guint j = 0; j < sum->len; j++)
        {
          PlMetricSummary *m = sum->pdata[j];
          if (!g_ptr_array_find_with_equal_func (mkeys, m->key, g_str_equal, NULL))
            g_ptr_array_add (mkeys, m->key);
        }
    }
  for (int pass = 0; pass < 2; pass++)
    for (guint k = 0; k < mkeys->len; k++)
      {
        const char *key = mkeys->pdata[k];
        if (g_str_equal (key, "lr") || g_str_equal (key, "epoch"))
          continue;
        GPtrArray *row = table_add_row (t);
        cell (row, "%s", pass ? "best" : "final");
        cell (row, "%s", key);
        for (int i = 0; i < n; i++)
          {
            GPtrArray *sum = sums->pdata[i];
            PlMetricSummary *m = NULL;
            for (guint j = 0; j < sum->len && !m; j++)
              if (g_str_equal (((PlMetricSummary *) sum->pdata[j])->key, key))
                m = sum->pdata[j];
            if (m)
              cell_num (row, pass ? m->best : m->last);
            else
              cell (row, "%s", "");
          }
      }
  table_print (t, o.fmt);
  if (o.fmt == PL_CLI_FORMAT_TABLE && !all && n_same)
    printf ("(%u config keys are the same in every run; --all lists them)\n", n_same);
  return code;
}

/* ---- export ---------------------------------------------------------------- */

int
pl_cli_cmd_export (int argc, char **argv)
{
  g_auto (CommonOptions) o = { 0 };
  int code = 0;
  gint64 id;
  g_autofree char *out_path = NULL;
  gint64 step = -1;
  gboolean best = FALSE;
  gboolean force = FALSE;
  GOptionEntry extra[] = {
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out_path, "Where to write", "FILE.safetensors" },
    { "force", 'f', 0, G_OPTION_ARG_NONE, &force, "Replace FILE if it exists", NULL },
    { "step", 0, 0, G_OPTION_ARG_INT64, &step, "The checkpoint at this step", "N" },
    { "best", 0, 0, G_OPTION_ARG_NONE, &best, "The checkpoint with the best val/acc", NULL },
    { NULL }
  };
  if (!parse_common ("export", "RUN --out FILE.safetensors", &argc, &argv, &o, extra, FALSE,
                     &code))
    return code;
  if (argc != 2)
    {
      code = pl_cli_usage_error ("export: expected one run id");
      return code;
    }
  if (!parse_run_arg ("export", argv[1], &id, &code))
    return code;
  if (!out_path)
    {
      code = pl_cli_usage_error ("export: --out FILE.safetensors is required");
      return code;
    }
  if (best && step >= 0)
    {
      code = pl_cli_usage_error ("export: give --step or --best, not both");
      return code;
    }
  const char *format = o.format ? o.format : "fp32";
  /* sparse: the fp32 checkpoint with its 2-D weights in CSR form (core/pl-sparse.h) */
  gboolean sparse = g_str_equal (format, "sparse");
  if (sparse)
    format = "fp32";
  if (!g_str_equal (format, "fp32") && !g_str_equal (format, "int8"))
    {
      code = pl_cli_usage_error ("export: --format must be sparse, fp32 or int8, got \"%s\"",
                                 format);
      return code;
    }
  g_autoptr (PlRunStore) store = open_store_or_fail (&o, &code);
  if (!store)
    return code;
  g_autoptr (GError) error = NULL;
  g_autoptr (PlRunInfo) r = pl_run_store_get_run (store, id, &error);
  g_autoptr (GPtrArray) ckpts = r ? pl_run_store_list_checkpoints (store, id, &error) : NULL;
  if (!ckpts)
    {
      code = pl_cli_error (g_error_matches (error, PL_ERROR, PL_ERROR_NOT_FOUND) ? 2 : 1, error);
      return code;
    }
  PlCheckpointInfo *chosen = NULL;
  const char *want = best ? "best" : "last";
  for (guint i = 0; i < ckpts->len; i++)
    {
      PlCheckpointInfo *c = ckpts->pdata[i];
      if (g_str_equal (c->kind, "export") || g_strcmp0 (c->format, format) != 0)
        continue;
      if (step >= 0 ? c->step == step : g_str_equal (c->kind, want))
        chosen = c;
    }
  if (!chosen)
    {
      g_autoptr (GString) have = g_string_new (NULL);
      for (guint i = 0; i < ckpts->len; i++)
        {
          PlCheckpointInfo *c = ckpts->pdata[i];
          g_string_append_printf (have, "%s%s %s at step %" G_GINT64_FORMAT, i ? ", " : "",
                                  c->kind, c->format, c->step);
        }
      g_autofree char *what = step >= 0 ? g_strdup_printf ("at step %" G_GINT64_FORMAT
                                                           " in format %s", step, format)
                                        : g_strdup_printf ("\"%s\" in format %s", want,
                                                           format);
      fprintf (stderr, "paramlab-cli: export: run %" G_GINT64_FORMAT " (%s) has no checkpoint "
               "%s; it has: %s\n", id, r->status, what, have->len ? have->str : "none");
      code = 2;
      return code;
    }

  /* an existing file is never replaced without --force; checked again, atomically,
   * when the export is renamed into place (PL_FILE_WRITE_NO_REPLACE) */
  if (!force && g_file_test (out_path, G_FILE_TEST_EXISTS))
    {
      fprintf (stderr, "paramlab-cli: export: %s already exists; use --force to replace "
               "it\n", out_path);
      code = 2;
      return code;
    }

  /* re-read, validate and rewrite atomically, so a corrupt checkpoint is never
   * copied and a half-written export never appears at out_path */
  g_autoptr (PlSafetensors) st = pl_safetensors_load (chosen->path, &error);
  if (!st)
    {
      code = pl_cli_error (1, error);
      return code;
    }
  g_autoptr (PlSafetensorsWriter) w = pl_safetensors_writer_new ();
  for (guint i = 0; i < pl_safetensors_get_n_tensors (st); i++)
    {
      const PlTensorInfo *ti = pl_safetensors_get_tensor_at (st, i);
      if (sparse && ti->dtype == PL_DTYPE_F32 && ti->ndim == 2
          && g_str_has_suffix (ti->name, ".weight"))
        {
          g_autofree float *dense = g_new (float, MAX (ti->numel, 1));
          if (!pl_safetensors_read_f32 (ti, dense, ti->numel, &error)
              || !pl_sparse_writer_add_weight (w, ti->name, dense, (int) ti->shape[0],
                                               (int) ti->shape[1], PL_SPARSE_INDEX_DELTA_U8,
                                               &error))
            {
              code = pl_cli_error (1, error);
              return code;
            }
          continue;
        }
      if (!pl_safetensors_writer_add (w, ti->name, ti->dtype, ti->shape, ti->ndim, ti->data,
                                      ti->nbytes, &error))
        {
          code = pl_cli_error (1, error);
          return code;
        }
    }
  g_autofree const char **mkeys = pl_safetensors_get_metadata_keys (st);
  for (int i = 0; mkeys && mkeys[i]; i++)
    pl_safetensors_writer_set_metadata (w, mkeys[i], pl_safetensors_get_metadata (st, mkeys[i]));
  pl_safetensors_writer_set_metadata (w, "paramlab.exported_from", chosen->path);
  if (sparse)
    {
      pl_safetensors_writer_set_metadata (w, "paramlab.format", "sparse");
      pl_safetensors_writer_set_metadata (w, "paramlab.sparse.index", "delta-u8");
    }
  if (!pl_safetensors_writer_write_full (w, out_path,
                                         force ? PL_FILE_WRITE_REPLACE : PL_FILE_WRITE_NO_REPLACE,
                                         &error))
    {
      if (!force && g_file_test (out_path, G_FILE_TEST_EXISTS))
        {
          /* it appeared while we exported: still not replaced */
          fprintf (stderr, "paramlab-cli: export: %s already exists; use --force to replace "
                   "it\n", out_path);
          code = 2;
          return code;
        }
      code = pl_cli_error (1, error);
      return code;
    }
  GStatBuf sb;
  gint64 size = g_stat (out_path, &sb) == 0 ? (gint64) sb.st_size : -1;
  g_autofree char *abs = g_canonicalize_filename (out_path, NULL);
  /* recorded as an export in the format of the file written */
  if (!pl_run_store_add_checkpoint (store, id, chosen->step, abs, "export",
                                    sparse ? "sparse" : chosen->format, size,
                                    chosen->metric_key, chosen->metric_value, &error))
    {
      code = pl_cli_error (1, error);
      return code;
    }
  if (sparse)
    printf ("exported run %" G_GINT64_FORMAT " %s checkpoint (step %" G_GINT64_FORMAT
            ", fp32) as sparse to %s (%.1f KiB)\n", id, chosen->kind, chosen->step, abs,
            size / 1024.0);
  else
    printf ("exported run %" G_GINT64_FORMAT " %s checkpoint (step %" G_GINT64_FORMAT ", %s) to %s "
            "(%.1f KiB)\n", id, chosen->kind, chosen->step, chosen->format, abs, size / 1024.0);
  return code;
}
