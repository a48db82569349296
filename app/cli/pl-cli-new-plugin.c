/* paramlab-cli new-plugin: writes a buildable meson project for a third-party
 * plugin of one slot, built against the installed Paramlab (pkg-config
 * paramlab-1).
 *
 * The files come from templates compiled into the program as a GResource
 * (app/cli/templates/): {{KEY}} placeholders are replaced by the plugin's names
 * and the slot's details below. */
#include "pl-config.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <string.h>

#include "pl-cli.h"

#define EXIT_FAILED 1
#define TEMPLATE_PREFIX "/io/github/paramlab/cli/templates/"
#define MAX_NAME_LEN 48

/* What differs between slots, beyond the two per-slot template files. */
typedef struct {
  const char *slot;
  const char *section;      /* experiment section that chooses it */
  const char *selector;     /* the key naming the plugin in that section */
  const char *interface;
  const char *description;  /* for the .plugin file */
  const char *options;      /* example option lines of the section */
  const char *extra;        /* other sections an example needs, or "" */
} SlotInfo;

static const SlotInfo slot_infos[] = {
  { PL_SLOT_INIT, "init", "plugin", "PlInitStrategy",
    "Draws every weight from a normal N(0, std²) and starts biases at zero.",
    "std = 0.05\n", "" },
  { PL_SLOT_GATE, "gate", "plugin", "PlSparsityGate",
    "Switches off every hidden unit whose activation is at most a threshold; reports "
    "gate/active.",
    "threshold = 0.1\n", "" },
  { PL_SLOT_PRUNE_CRITERION, "prune", "criterion", "PlPruningCriterion",
    "Scores weights by |w| + lambda·|dL/dw|: magnitude, with the gradient mixed in.",
    "gradient-weight = 1.0\n",
    "# a criterion needs a schedule: any prune-schedule plugin will do\n"
    "schedule = one-shot\n" },
  { PL_SLOT_PRUNE_SCHEDULE, "prune", "schedule", "PlPruningSchedule",
    "Prunes once, halfway through training, to a target sparsity per layer.",
    "sparsity = 0.5\n", "" },
  { PL_SLOT_QUANT, "quant", "plugin", "PlQuantizer",
    "Fake-quantizes weights to signed integers of a given width (per tensor, "
    "symmetric, straight-through gradient) and exports them as int8.",
    "bits = 8\n", "" },
  { PL_SLOT_LR_POLICY, "lr-policy", "plugin", "PlLrPolicy",
    "Multiplies every parameter's learning rate by a constant factor.",
    "factor = 0.5\n", "" },
  { PL_SLOT_ARCH, "arch", "plugin", "PlArchitecture",
    "A multilayer perceptron with one hidden layer, built by hand.",
    "width = 32\n", "" },
  { PL_SLOT_DATASET, "dataset", "plugin", "PlDatasetSource",
    "Two seeded Gaussian blobs in the plane, one per class (synthetic).",
    "n-samples = 400\n", "" },
};

static const SlotInfo *
find_slot (const char *slot)
{
  for (guint i = 0; i < G_N_ELEMENTS (slot_infos); i++)
    if (g_str_equal (slot_infos[i].slot, slot))
      return &slot_infos[i];
  return NULL;
}

/* NULL when @name is a usable plugin id, else what is wrong with it.
 * (transfer full) */
static char *
check_name (const char *name)
{
  gsize len = strlen (name);
  if (len == 0)
    return g_strdup ("the name is empty");
  if (len > MAX_NAME_LEN)
    return g_strdup_printf ("the name is %zu characters long; at most %d are allowed",
                            (size_t) len, MAX_NAME_LEN);
  if (!g_ascii_islower (name[0]))
    return g_strdup_printf ("the name must start with a lowercase letter a-z, not '%c'",
                            name[0]);
  for (gsize i = 0; i < len; i++)
    {
      char c = name[i];
      if (!g_ascii_islower (c) && !g_ascii_isdigit (c) && c != '-')
        return g_strdup_printf ("the name may hold only lowercase letters a-z, digits and "
                                "'-'; '%c' at position %zu is none of these", c,
                                (size_t) i + 1);
      if (c == '-' && (i + 1 == len || name[i + 1] == '-'))
        return g_strdup ("a '-' must be followed by a letter or digit");
    }
  /* "plugin = none" chooses no plugin in an experiment */
  if (g_str_equal (name, "none"))
    return g_strdup ("\"none\" is reserved: in an experiment it means no plugin");
  return NULL;
}

/* my-init -> MyInit (@camel), my_init (@snake), MY_INIT (@upper) */
static void
derive_names (const char *name, char **camel, char **snake, char **upper)
{
  GString *c = g_string_new (NULL);
  g_autofree char *s = g_strdelimit (g_strdup (name), "-", '_');
  gboolean start = TRUE;
  for (const char *p = name; *p; p++)
    {
      if (*p == '-')
        start = TRUE;
      else
        {
          g_string_append_c (c, start ? g_ascii_toupper (*p) : *p);
          start = FALSE;
        }
    }
  *camel = g_string_free (c, FALSE);
  *upper = g_ascii_strup (s, -1);
  *snake = g_steal_pointer (&s);
}

/* The text of template @file from the compiled-in resource. (transfer full) */
static char *
load_template (const char *file, GError **error)
{
  g_autofree char *path = g_strconcat (TEMPLATE_PREFIX, file, NULL);
  g_autoptr (GBytes) bytes = g_resources_lookup_data (path, G_RESOURCE_LOOKUP_FLAGS_NONE,
                                                      error);
  if (!bytes)
    return NULL;
  gsize len = 0;
  const char *data = g_bytes_get_data (bytes, &len);
  return g_strndup (data, len);
}

/* Replaces every {{KEY}} of @text by @vars[KEY], whose values are expanded in
 * turn (@depth levels at most). A key without a value is an error naming the
 * template: it means a template and this file disagree. (transfer full) */
static char *
expand (const char *text, GHashTable *vars, const char *template_name, int depth,
        GError **error)
{
  GString *out = g_string_sized_new (strlen (text) + 256);
  const char *p = text;
  const char *open;
  while ((open = strstr (p, "{{")))
    {
      const char *close = strstr (open + 2, "}}");
      g_string_append_len (out, p, open - p);
      g_autofree char *key = close ? g_strndup (open + 2, close - open - 2) : NULL;
      const char *value = key ? g_hash_table_lookup (vars, key) : NULL;
      if (!value || depth <= 0)
        {
          g_set_error (error, PL_ERROR, PL_ERROR_FAILED,
                       "template %s: %s \"{{%s}}\"", template_name,
                       !close ? "unterminated placeholder"
                       : value ? "placeholders nested too deeply at" : "unknown placeholder",
                       key ? key : "");
          g_string_free (out, TRUE);
          return NULL;
        }
      g_autofree char *expanded = expand (value, vars, template_name, depth - 1, error);
      if (!expanded)
        {
          g_string_free (out, TRUE);
          return NULL;
        }
      g_string_append (out, expanded);
      p = close + 2;
    }
  g_string_append (out, p);
  return g_string_free (out, FALSE);
}

/* Writes @contents to @dir/@rel, creating the directories on the way. */
static gboolean
write_file (const char *dir, const char *rel, const char *contents, GError **error)
{
  g_autofree char *path = g_build_filename (dir, rel, NULL);
  g_autofree char *parent = g_path_get_dirname (path);
  if (g_mkdir_with_parents (parent, 0755) != 0)
    {
      int saved = errno;
      g_set_error (error, PL_ERROR, PL_ERROR_IO, "could not create %s: %s", parent,
                   g_strerror (saved));
      return FALSE;
    }
  GError *local = NULL;
  if (!g_file_set_contents (path, contents, -1, &local))
    {
      g_set_error (error, PL_ERROR, PL_ERROR_IO, "could not write %s: %s", path,
                   local->message);
      g_error_free (local);
      return FALSE;
    }
  return TRUE;
}

/* TRUE when @dir does not exist or is an empty directory; else the error says
 * why it cannot be used. */
static gboolean
check_dir (const char *dir, GError **error)
{
  if (!g_file_test (dir, G_FILE_TEST_EXISTS))
    return TRUE;
  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, PL_ERROR, PL_ERROR_IO, "%s exists and is not a directory", dir);
      return FALSE;
    }
  GError *local = NULL;
  GDir *d = g_dir_open (dir, 0, &local);
  if (!d)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_IO, "cannot read %s: %s", dir, local->message);
      g_error_free (local);
      return FALSE;
    }
  const char *first = g_dir_read_name (d);
  if (first)
    g_set_error (error, PL_ERROR, PL_ERROR_IO,
                 "%s is not empty (it holds %s%s); choose a new or empty directory so that "
                 "nothing is overwritten", dir, first, g_dir_read_name (d) ? ", ..." : "");
  g_dir_close (d);
  return first == NULL;
}

/* Writes the project of plugin @name for @info into @dir, which is new or empty. */
static gboolean
write_project (const SlotInfo *info, const char *name, const char *dir, GError **error)
{
  g_autofree char *camel = NULL, *snake = NULL, *upper = NULL;
  derive_names (name, &camel, &snake, &upper);
  const char *author = g_get_real_name ();
  if (!author || !author[0] || g_str_equal (author, "Unknown"))
    author = g_get_user_name ();

  g_autofree char *section_block = g_strdup_printf ("[%s]\n%s = {{NAME}}\n%s%s",
                                                    info->section, info->selector,
                                                    info->extra, info->options);
  g_autofree char *plugin_tmpl = g_strconcat (info->slot, ".c.tmpl", NULL);
  g_autofree char *test_tmpl = g_strconcat ("test-", info->slot, ".c.tmpl", NULL);
  g_autofree char *slot_tests = load_template (test_tmpl, error);
  if (!slot_tests)
    return FALSE;

  g_autoptr (GHashTable) vars = g_hash_table_new (g_str_hash, g_str_equal);
  g_hash_table_insert (vars, "NAME", (gpointer) name);
  g_hash_table_insert (vars, "Name", camel);
  g_hash_table_insert (vars, "name", snake);
  g_hash_table_insert (vars, "NAME_UPPER", upper);
  g_hash_table_insert (vars, "SLOT", (gpointer) info->slot);
  g_hash_table_insert (vars, "SECTION", (gpointer) info->section);
  g_hash_table_insert (vars, "SELECTOR", (gpointer) info->selector);
  g_hash_table_insert (vars, "INTERFACE", (gpointer) info->interface);
  g_hash_table_insert (vars, "DESCRIPTION", (gpointer) info->description);
  g_hash_table_insert (vars, "SECTION_BLOCK", section_block);
  g_hash_table_insert (vars, "AUTHOR", (gpointer) author);
  g_hash_table_insert (vars, "ABI", (gpointer) PL_ABI_VERSION);
  g_hash_table_insert (vars, "PL_VERSION", (gpointer) PL_VERSION);
  g_hash_table_insert (vars, "SLOT_TESTS", slot_tests);

  g_autofree char *plugin_file = g_strconcat (name, ".plugin", NULL);
  g_autofree char *source_file = g_strconcat ("plp-", name, ".c", NULL);
  g_autofree char *test_file = g_strconcat ("tests/test-", name, ".c", NULL);
  const struct {
    const char *tmpl;
    const char *out;
  } files[] = {
    { "meson.build.tmpl", "meson.build" },
    { "meson_options.txt.tmpl", "meson_options.txt" },
    { "plugin.tmpl", plugin_file },
    { plugin_tmpl, source_file },
    { "test.c.tmpl", test_file },
    { "example.ini.tmpl", "example.ini" },
    { "README.md.tmpl", "README.md" },
    { "gitignore.tmpl", ".gitignore" },
  };

  /* expand everything first, so that a template error leaves @dir untouched */
  g_autoptr (GPtrArray) texts = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *tmpl = load_template (files[i].tmpl, error);
      char *text = tmpl ? expand (tmpl, vars, files[i].tmpl, 4, error) : NULL;
      if (!text)
        return FALSE;
      g_ptr_array_add (texts, text);
    }
  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    if (!write_file (dir, files[i].out, texts->pdata[i], error))
      return FALSE;

  printf ("Wrote the %s plugin \"%s\" (%s) to %s:\n", info->slot, name, info->interface,
          dir);
  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    printf ("  %s\n", files[i].out);
  g_autofree char *quoted = g_shell_quote (dir);
  printf ("\nBuild, test and install it (needs the installed paramlab-1.pc):\n"
          "  cd %s\n"
          "  meson setup build\n"
          "  meson compile -C build\n"
          "  meson test -C build\n"
          "  meson install -C build     # into $XDG_DATA_HOME/paramlab/plugins/%s\n"
          "Then `paramlab-cli plugins` lists it, and `paramlab-cli run example.ini` "
          "uses it.\n", quoted, name);
  return TRUE;
}

/* paramlab-cli new-plugin --slot SLOT --name NAME DIR: 0 when written, 2 for a bad
 * slot, name or directory (nothing is written), 1 when writing failed. */
int
pl_cli_cmd_new_plugin (int argc, char **argv)
{
  g_autofree char *slot = NULL, *name = NULL;
  GOptionEntry entries[] = {
    { "slot", 0, 0, G_OPTION_ARG_STRING, &slot, "The slot the plugin fills", "SLOT" },
    { "name", 0, 0, G_OPTION_ARG_STRING, &name, "The plugin id", "NAME" },
    { NULL }
  };
  g_autofree char *slots = g_strjoinv (", ", (char **) pl_plugin_slots ());
  g_autofree char *summary = g_strdup_printf (
    "Writes a meson project for a new plugin into DIR (new or empty): sources, a .plugin "
    "file, a test and an example experiment, built against the installed Paramlab.\n"
    "SLOT is one of %s; NAME is a lowercase id such as my-init.", slots);
  g_autoptr (GOptionContext) oc = g_option_context_new ("DIR");
  g_option_context_set_summary (oc, summary);
  g_option_context_add_main_entries (oc, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (oc, &argc, &argv, &error))
    return pl_cli_usage_error ("new-plugin: %s", error->message);

  if (!slot)
    return pl_cli_usage_error ("new-plugin: --slot is required; one of %s", slots);
  const SlotInfo *info = find_slot (slot);
  if (!info)
    return pl_cli_usage_error ("new-plugin: unknown slot \"%s\"; expected one of %s", slot,
                               slots);
  if (!name)
    return pl_cli_usage_error ("new-plugin: --name is required (a lowercase id such as "
                               "my-%s)", info->section);
  g_autofree char *why = check_name (name);
  if (why)
    return pl_cli_usage_error ("new-plugin: invalid name \"%s\": %s (a plugin id is "
                               "[a-z][a-z0-9-]*, e.g. my-%s)", name, why, info->section);
  if (argc != 2)
    return pl_cli_usage_error ("new-plugin: expected one directory to write the project "
                               "into, got %d", argc - 1);
  if (!check_dir (argv[1], &error))
    return pl_cli_usage_error ("new-plugin: %s", error->message);
  if (!write_project (info, name, argv[1], &error))
    return pl_cli_error (EXIT_FAILED, error);
  return 0;
}
