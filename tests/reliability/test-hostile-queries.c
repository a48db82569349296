/* Hostile queries (issue 6): text a user types into a filter, and run names,
 * tags and metric keys, are bound as data and never spliced into SQL. Classic
 * injections must match literally (or nothing) and leave the database exactly
 * as it was; LIKE wildcards (% and _) and the escape character are literal in
 * the substring filter. */
#include <sqlite3.h>
#include <string.h>

#include "paramlab.h"
#include "pl-test-util.h"

static const char * const injections[] = {
  "'; DROP TABLE runs; --",
  "\" OR 1=1 --",
  "%' OR '1'='1",
  "') OR ('1'='1",
  "1; DELETE FROM metrics",
  "' UNION SELECT name, sql FROM sqlite_schema --",
  "\\",
  "%",
  "_",
  "%%",
  "\\%",
  "[a-z]*",
  "\xff\xfe",
  "\x01\x02",
};

/* A digest of every table's schema and rows, read through a connection of the
 * test's own. */
static char *
snapshot (const char *path)
{
  sqlite3 *db = NULL;
  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  GChecksum *sum = g_checksum_new (G_CHECKSUM_SHA256);
  sqlite3_stmt *tables = NULL;
  g_assert_cmpint (sqlite3_prepare_v2 (db, "SELECT name, sql FROM sqlite_schema "
                                       "ORDER BY type, name", -1, &tables, NULL),
                   ==, SQLITE_OK);
  guint n_tables = 0;
  while (sqlite3_step (tables) == SQLITE_ROW)
    {
      const char *name = (const char *) sqlite3_column_text (tables, 0);
      const char *sql = (const char *) sqlite3_column_text (tables, 1);
      g_checksum_update (sum, (const guchar *) name, -1);
      if (sql)
        g_checksum_update (sum, (const guchar *) sql, -1);
      if (!sql || !g_str_has_prefix (sql, "CREATE TABLE"))
        continue;
      n_tables++;
      g_autofree char *q = g_strdup_printf ("SELECT * FROM \"%s\" ORDER BY rowid", name);
      sqlite3_stmt *rows = NULL;
      if (sqlite3_prepare_v2 (db, q, -1, &rows, NULL) != SQLITE_OK)
        continue;  /* WITHOUT ROWID tables */
      while (sqlite3_step (rows) == SQLITE_ROW)
        for (int c = 0; c < sqlite3_column_count (rows); c++)
          {
            const guchar *v = sqlite3_column_text (rows, c);
            g_checksum_update (sum, v ? v : (const guchar *) "<null>", -1);
            g_checksum_update (sum, (const guchar *) "|", 1);
          }
      sqlite3_finalize (rows);
    }
  sqlite3_finalize (tables);
  sqlite3_close (db);
  g_assert_cmpuint (n_tables, >=, 3);
  return g_strdup (g_checksum_get_string (sum));
}

static gint64
new_run (PlRunStore *store, const char *name, const char *dataset)
{
  g_autoptr (GError) error = NULL;
  gint64 id = pl_run_store_create_run (store, name, 7, "[experiment]\nname = x\n", dataset,
                                       "mlp", &error);
  g_assert_no_error (error);
  g_assert_cmpint (id, >, 0);
  return id;
}

static guint
count_runs (PlRunStore *store, const char *filter)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) runs = pl_run_store_list_runs (store, filter, TRUE, &error);
  g_assert_no_error (error);
  return runs->len;
}

static void
test_filter (void)
{
  g_autofree char *path = g_build_filename (pl_test_tmpdir (), "filter.db", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (PlRunStore) store = pl_run_store_open (path, &error);
  g_assert_no_error (error);

  /* runs whose own names are the injections, stored as data */
  gint64 plain = new_run (store, "baseline", "digits");
  gint64 percent = new_run (store, "pruned 50% sparse", "digits");
  gint64 under = new_run (store, "a_b", "breast-cancer");
  for (guint i = 0; i < G_N_ELEMENTS (injections); i++)
    new_run (store, injections[i], "digits");
  const char *tags[] = { "'; DROP TABLE runs; --", "keep", NULL };
  g_assert_true (pl_run_store_set_tags (store, plain, tags, &error));
  g_assert_true (pl_run_store_log_metric (store, plain, "train/loss", 0, 1.0));
  g_assert_true (pl_run_store_flush (store, &error));
  g_assert_no_error (error);
  guint total = count_runs (store, NULL);
  g_assert_cmpuint (total, ==, 3 + G_N_ELEMENTS (injections));
  g_autofree char *before = snapshot (path);

  /* each injection finds exactly the runs whose name (or tags) hold it as text */
  for (guint i = 0; i < G_N_ELEMENTS (injections); i++)
    {
      const char *f = injections[i];
      g_autoptr (GPtrArray) runs = pl_run_store_list_runs (store, f, TRUE, &error);
      g_assert_no_error (error);
      guint expected = 0;
      g_autoptr (GPtrArray) all = pl_run_store_list_runs (store, NULL, TRUE, &error);
      for (guint k = 0; k < all->len; k++)
        {
          PlRunInfo *r = all->pdata[k];
          g_autofree char *lname = g_utf8_validate (r->name, -1, NULL)
                                   ? g_ascii_strdown (r->name, -1) : g_strdup (r->name);
          g_autofree char *lf = g_ascii_strdown (f, -1);
          gboolean hit = strstr (lname, lf) != NULL || strstr (r->dataset, f) != NULL;
          for (int t = 0; r->tags && r->tags[t]; t++)
            hit |= strstr (r->tags[t], f) != NULL;
          expected += hit;
        }
      {
        /* the filters include invalid UTF-8; escape them so the TAP log stays text */
        g_autofree char *shown = g_strescape (f, NULL);
        g_test_message ("filter \"%s\": %u runs, expected %u", shown, runs->len, expected);
      }
      g_assert_cmpuint (runs->len, ==, expected);
      g_assert_cmpuint (runs->len, <, total);
    }

  /* wildcards are literal */
  g_assert_cmpuint (count_runs (store, "50%"), ==, 1);
  g_assert_cmpuint (count_runs (store, "0% s"), ==, 1);
  g_assert_cmpuint (count_runs (store, "a_b"), ==, 1);
  g_assert_cmpuint (count_runs (store, "b_s"), ==, 0);   /* "baseline" has no '_' */
  g_assert_cmpuint (count_runs (store, "p%d"), ==, 0);   /* "pruned" is not matched */
  (void) percent, (void) under;

  /* metric keys and run names go in as data too */
  for (guint i = 0; i < G_N_ELEMENTS (injections); i++)
    {
      g_autoptr (PlSeries) s = pl_run_store_get_metric (store, plain, injections[i], &error);
      g_assert_no_error (error);
      g_assert_cmpuint (s->steps->len, ==, 0);
      gint64 ids[] = { plain, plain + 1 };
      g_autoptr (GPtrArray) many = pl_run_store_get_metrics_for_runs (store, ids, 2,
                                                                      injections[i], &error);
      g_assert_no_error (error);
      g_assert_cmpuint (many->len, ==, 2);
    }
  g_autoptr (PlSeries) loss = pl_run_store_get_metric (store, plain, "train/loss", &error);
  g_assert_cmpuint (loss->steps->len, ==, 1);

  g_autofree char *after = snapshot (path);
  g_assert_cmpstr (before, ==, after);
  g_assert_cmpuint (count_runs (store, NULL), ==, total);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/reliability/queries/filter", test_filter);
  return g_test_run ();
}
