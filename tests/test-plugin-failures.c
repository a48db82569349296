/* Plugins the engine cannot use are listed with the reason and skipped; the
 * others keep working, in the library and in `paramlab-cli plugins`.
 *
 * A temporary plugin dir holds a copy of the built uniform plugin and fabricated
 * broken ones: a .plugin file without X-Paramlab-ABI, one naming another ABI, one
 * naming an unknown slot, one whose module is missing and one whose module is not
 * a shared object. */
#include "pl-config.h"

#include <string.h>

#include "paramlab.h"
#include "pl-test-util.h"

/* id, .plugin keys after [Plugin] Module/Name/Version, module file contents
 * (repeated to 4 KiB; NULL: none), what the reason must say */
static const struct {
  const char *id;
  const char *keys;
  const char *module;
  const char *reason;
} broken[] = {
  { "no-abi", "X-Paramlab-Slot=init\n", NULL,
    "has no X-Paramlab-ABI key; this engine needs X-Paramlab-ABI=" PL_ABI_VERSION },
  { "other-abi", "X-Paramlab-Slot=init\nX-Paramlab-ABI=999\n", NULL,
    "built for plugin ABI 999, this engine has ABI " PL_ABI_VERSION "; rebuild it" },
  { "bad-slot", "X-Paramlab-Slot=frobnicate\nX-Paramlab-ABI=" PL_ABI_VERSION "\n", NULL,
    "X-Paramlab-Slot is \"frobnicate\"; expected one of dataset, arch, init, gate" },
  { "missing-module", "X-Paramlab-Slot=init\nX-Paramlab-ABI=" PL_ABI_VERSION "\n", NULL,
    "libmissing-module.so: cannot open shared object file" },
  { "garbage-module", "X-Paramlab-Slot=init\nX-Paramlab-ABI=" PL_ABI_VERSION "\n",
    "this is not a shared object\n", "libgarbage-module.so: invalid ELF header" },
};

static char *plugin_root;

static void
write_file (const char *dir, const char *name, const char *contents, gssize len)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_mkdir_with_parents (dir, 0755);
  g_file_set_contents (path, contents, len, &error);
  g_assert_no_error (error);
}

static void
copy_file (const char *from, const char *to_dir, const char *name)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize len = 0;
  g_file_get_contents (from, &contents, &len, &error);
  g_assert_no_error (error);
  write_file (to_dir, name, contents, (gssize) len);
}

/* plugin_root/<id>/ for each broken plugin, and plugin_root/uniform/ copied from
 * the build tree */
static void
make_plugin_dirs (void)
{
  plugin_root = g_build_filename (pl_test_tmpdir (), "plugins", NULL);
  for (guint i = 0; i < G_N_ELEMENTS (broken); i++)
    {
      g_autofree char *dir = g_build_filename (plugin_root, broken[i].id, NULL);
      g_autofree char *file = g_strconcat (broken[i].id, ".plugin", NULL);
      g_autofree char *text = g_strdup_printf ("[Plugin]\nModule=%s\nName=%s\n"
                                               "Description=broken on purpose\n"
                                               "Version=0.1\n%s", broken[i].id,
                                               broken[i].id, broken[i].keys);
      write_file (dir, file, text, -1);
      if (broken[i].module)
        {
          /* longer than an ELF header, so that it is read as one */
          g_autoptr (GString) bytes = g_string_new (NULL);
          while (bytes->len < 4096)
            g_string_append (bytes, broken[i].module);
          g_autofree char *lib = g_strconcat ("lib", broken[i].id, ".so", NULL);
          write_file (dir, lib, bytes->str, bytes->len);
        }
    }
  const char *build = g_getenv ("PARAMLAB_BUILD_DIR");
  g_assert_nonnull (build);
  g_autofree char *from = g_build_filename (build, "plugins", "uniform", NULL);
  g_autofree char *to = g_build_filename (plugin_root, "uniform", NULL);
  g_autofree char *so = g_build_filename (from, "libuniform.so", NULL);
  g_autofree char *info = g_build_filename (from, "uniform.plugin", NULL);
  copy_file (so, to, "libuniform.so");
  copy_file (info, to, "uniform.plugin");
}

static PlPluginEngine *
engine (void)
{
  static PlPluginEngine *e;
  if (!e)
    e = pl_plugin_engine_new_for_dirs ((const char *[]) { plugin_root, NULL });
  return e;
}

/* Each broken plugin is listed, not loaded, with its reason; uniform loads. */
static void
test_listed_with_reason (void)
{
  GPtrArray *list = pl_plugin_engine_list (engine ());
  g_assert_cmpuint (list->len, ==, G_N_ELEMENTS (broken) + 1);
  for (guint i = 0; i < G_N_ELEMENTS (broken); i++)
    {
      const char *slot = g_str_equal (broken[i].id, "bad-slot") ? "frobnicate" : "init";
      const PlPluginDesc *d = pl_plugin_engine_lookup (engine (), slot, broken[i].id);
      g_assert_nonnull (d);
      g_assert_false (d->loaded);
      g_assert_nonnull (d->error);
      if (!strstr (d->error, broken[i].reason))
        g_error ("%s: the reason \"%s\" does not say \"%s\"", broken[i].id, d->error,
                 broken[i].reason);
      g_assert_cmpstr (d->description, ==, "broken on purpose");
    }
  const PlPluginDesc *u = pl_plugin_engine_lookup (engine (), PL_SLOT_INIT, "uniform");
  g_assert_nonnull (u);
  g_assert_true (u->loaded);
  g_assert_null (u->error);
}

/* Creating a skipped plugin fails with its reason; choosing it in an experiment
 * fails with the file line. */
static void
test_create_skipped (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GObject) p = pl_plugin_engine_create (engine (), PL_SLOT_INIT, "garbage-module",
                                                   &error);
  g_assert_null (p);
  g_assert_error (error, PL_ERROR, PL_ERROR_PLUGIN);
  g_assert_nonnull (strstr (error->message, "init plugin \"garbage-module\" is not usable"));
  g_assert_nonnull (strstr (error->message, "invalid ELF header"));
  g_clear_error (&error);

  const char *text = "[experiment]\nseed = 1\n[init]\nplugin = other-abi\n";
  g_autoptr (PlExperiment) exp = pl_experiment_load_data (text, -1, "skip.ini", &error);
  g_assert_no_error (error);
  g_autoptr (PlPluginSelection) sel = pl_plugin_selection_new (engine (), exp, &error);
  g_assert_null (sel);
  g_assert_error (error, PL_ERROR, PL_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "skip.ini:4"));
  g_assert_nonnull (strstr (error->message, "built for plugin ABI 999"));
}

/* The working plugin of the same directory runs. */
static void
test_others_work (void)
{
  const char *text = "[experiment]\nseed = 2\n[model]\nhidden = 16\n"
                     "[train]\nepochs = 1\nmax-steps = 3\n"
                     "[init]\nplugin = uniform\ngain = 0.5\n";
  g_autoptr (GError) error = NULL;
  g_autoptr (PlExperiment) exp = pl_experiment_load_data (text, -1, "ok.ini", &error);
  g_assert_no_error (error);
  g_autoptr (PlPluginSelection) sel = pl_plugin_selection_new (engine (), exp, &error);
  g_assert_no_error (error);
  g_autoptr (PlRun) run = pl_run_new_with_plugins (exp, NULL, sel, &error);
  g_assert_no_error (error);
  /* gain 0.5 halves PyTorch's bound 1/sqrt(fan_in) = 1/8 for 64 inputs */
  PlParam *w = pl_model_lookup_param (pl_run_get_model (run), "hidden.0.weight");
  for (size_t j = 0; j < w->numel; j++)
    g_assert_cmpfloat (fabs (w->data[j]), <=, 0.5 / 8.0);
  g_assert_true (pl_run_execute (run, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (pl_run_get_status (run), ==, "finished");
}

/* `paramlab-cli plugins` lists every plugin with the reason, exits 0 and prints
 * no warnings. */
static void
test_cli_lists_reasons (void)
{
  static const char *formats[] = { "table", "json" };
  g_autofree char *cli = g_build_filename (g_getenv ("PARAMLAB_BUILD_DIR"), "app", "cli",
                                           "paramlab-cli", NULL);
  for (guint f = 0; f < G_N_ELEMENTS (formats); f++)
    {
      const char *argv[] = { cli, "plugins", "--format", formats[f], NULL };
      g_auto (GStrv) envp = g_get_environ ();
      envp = g_environ_setenv (envp, "PARAMLAB_PLUGIN_PATH", plugin_root, TRUE);
      g_autofree char *out = NULL, *err = NULL;
      int status = -1;
      g_autoptr (GError) error = NULL;
      g_spawn_sync (NULL, (char **) argv, envp, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                    &status, &error);
      g_assert_no_error (error);
      if (!g_spawn_check_wait_status (status, &error))
        g_error ("paramlab-cli plugins --format %s: %s\n%s", formats[f], error->message, err);
      g_assert_null (strstr (err, "WARNING"));
      g_assert_null (strstr (err, "CRITICAL"));
      for (guint i = 0; i < G_N_ELEMENTS (broken); i++)
        {
          /* the entry of @id: its line (json), or its line and the error line under
           * it (table) */
          gboolean json = g_str_equal (formats[f], "json");
          g_autofree char *key = json ? g_strdup_printf ("{\"id\":\"%s\"", broken[i].id)
                                      : g_strdup_printf ("\n  %s ", broken[i].id);
          const char *at = strstr (out, key);
          if (!at)
            g_error ("paramlab-cli plugins --format %s does not list %s:\n%s", formats[f],
                     broken[i].id, out);
          const char *end = strchr (at + 1, '\n');
          if (end && !json)
            end = strchr (end + 1, '\n');
          if (!end)
            end = at + strlen (at);
          g_autofree char *entry = g_strndup (at, end - at);
          /* in JSON the reason is escaped: drop the quotes around the string */
          g_autoptr (GString) reason = g_string_new (NULL);
          if (json)
            {
              pl_json_append_string (reason, broken[i].reason);
              g_string_erase (reason, 0, 1);
              g_string_truncate (reason, reason->len - 1);
            }
          else
            g_string_append (reason, broken[i].reason);
          if (!strstr (entry, reason->str))
            g_error ("%s entry lacks \"%s\":\n%s", broken[i].id, reason->str, entry);
          g_assert_nonnull (strstr (entry, json ? "\"loaded\":false" : "(NOT LOADED)"));
        }
      const char *uniform = g_str_equal (formats[f], "json")
                              ? strstr (out, "{\"id\":\"uniform\"") : strstr (out, "\n  uniform ");
      g_assert_nonnull (uniform);
      g_autofree char *line = g_strndup (uniform + 1, strcspn (uniform + 1, "\n"));
      g_assert_null (strstr (line, "NOT LOADED"));
      if (g_str_equal (formats[f], "json"))
        {
          g_assert_nonnull (strstr (line, "\"loaded\":true"));
          g_assert_nonnull (strstr (line, "\"error\":null"));
        }
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  make_plugin_dirs ();
  g_test_add_func ("/plugins/engine/listed-with-reason", test_listed_with_reason);
  g_test_add_func ("/plugins/engine/create-skipped", test_create_skipped);
  g_test_add_func ("/plugins/engine/others-work", test_others_work);
  g_test_add_func ("/plugins/engine/cli-lists-reasons", test_cli_lists_reasons);
  return g_test_run ();
}
