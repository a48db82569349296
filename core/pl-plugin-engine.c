#include "pl-plugin-engine.h"

#include <gmodule.h>
#include <libpeas/peas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pl-architecture.h"
#include "pl-config.h"
#include "pl-dataset-source.h"
#include "pl-error.h"
#include "pl-init-strategy.h"
#include "pl-json.h"
#include "pl-lr-policy.h"
#include "pl-pruning-criterion.h"
#include "pl-pruning-schedule.h"
#include "pl-quantizer.h"
#include "pl-sparsity-gate.h"

struct _PlPluginEngine {
  GObject parent_instance;
  PeasEngine *peas;
  GPtrArray *plugins;      /* PlPluginDesc*, owned */
  GHashTable *infos;       /* PlPluginDesc* -> PeasPluginInfo* */
  char *builtin_dir;
};

G_DEFINE_FINAL_TYPE (PlPluginEngine, pl_plugin_engine, G_TYPE_OBJECT)

static const char * const slots[] = {
  PL_SLOT_DATASET, PL_SLOT_ARCH, PL_SLOT_INIT, PL_SLOT_GATE, PL_SLOT_PRUNE_CRITERION,
  PL_SLOT_PRUNE_SCHEDULE, PL_SLOT_QUANT, PL_SLOT_LR_POLICY, NULL
};

const char * const *
pl_plugin_slots (void)
{
  return slots;
}

GType
pl_plugin_slot_get_interface (const char *slot)
{
  if (!slot)
    return G_TYPE_INVALID;
  if (g_str_equal (slot, PL_SLOT_INIT))
    return PL_TYPE_INIT_STRATEGY;
  if (g_str_equal (slot, PL_SLOT_GATE))
    return PL_TYPE_SPARSITY_GATE;
  if (g_str_equal (slot, PL_SLOT_PRUNE_CRITERION))
    return PL_TYPE_PRUNING_CRITERION;
  if (g_str_equal (slot, PL_SLOT_PRUNE_SCHEDULE))
    return PL_TYPE_PRUNING_SCHEDULE;
  if (g_str_equal (slot, PL_SLOT_QUANT))
    return PL_TYPE_QUANTIZER;
  if (g_str_equal (slot, PL_SLOT_LR_POLICY))
    return PL_TYPE_LR_POLICY;
  if (g_str_equal (slot, PL_SLOT_ARCH))
    return PL_TYPE_ARCHITECTURE;
  if (g_str_equal (slot, PL_SLOT_DATASET))
    return PL_TYPE_DATASET_SOURCE;
  return G_TYPE_INVALID;
}

static void
desc_free (gpointer data)
{
  PlPluginDesc *d = data;
  g_free (d->id);
  g_free (d->slot);
  g_free (d->name);
  g_free (d->description);
  g_free (d->version);
  g_free (d->authors);
  g_free (d->dir);
  g_free (d->error);
  g_free (d);
}

static void
pl_plugin_engine_finalize (GObject *object)
{
  PlPluginEngine *self = PL_PLUGIN_ENGINE (object);
  g_clear_pointer (&self->infos, g_hash_table_unref);
  g_clear_pointer (&self->plugins, g_ptr_array_unref);
  g_clear_object (&self->peas);
  g_free (self->builtin_dir);
  G_OBJECT_CLASS (pl_plugin_engine_parent_class)->finalize (object);
}

static void
pl_plugin_engine_class_init (PlPluginEngineClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = pl_plugin_engine_finalize;
}

static void
pl_plugin_engine_init (PlPluginEngine *self)
{
  self->peas = peas_engine_new_with_nonglobal_loaders ();
  self->plugins = g_ptr_array_new_with_free_func (desc_free);
  self->infos = g_hash_table_new (NULL, NULL);
}

/* @dir and each of its subdirectories that holds a .plugin file. A relative
 * @dir is refused with a warning: plugins never load from the working directory
 * (a PARAMLAB_PLUGIN_PATH entry such as "." or "plugins", or a relative
 * XDG_DATA_HOME, would make whatever directory a run starts in executable). */
static void
add_dir (PlPluginEngine *self, const char *dir)
{
  if (!g_path_is_absolute (dir))
    {
      g_warning ("plugin directory \"%s\" is not an absolute path: ignored (plugins load "
                 "only from absolute directories, never from the working directory)", dir);
      return;
    }
  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    return;
  peas_engine_add_search_path (self->peas, dir, NULL);
  GDir *d = g_dir_open (dir, 0, NULL);
  const char *name;
  while (d && (name = g_dir_read_name (d)))
    {
      g_autofree char *sub = g_build_filename (dir, name, NULL);
      if (g_file_test (sub, G_FILE_TEST_IS_DIR))
        peas_engine_add_search_path (self->peas, sub, NULL);
    }
  if (d)
    g_dir_close (d);
}

static gboolean
running_from_build_tree (void)
{
  g_autofree char *exe = g_file_read_link ("/proc/self/exe", NULL);
  return exe && g_str_has_prefix (exe, PL_BUILD_DIR "/");
}

static int
compare_desc (gconstpointer a, gconstpointer b)
{
  const PlPluginDesc *x = *(PlPluginDesc * const *) a, *y = *(PlPluginDesc * const *) b;
  int sx = 99, sy = 99;
  for (int i = 0; slots[i]; i++)
    {
      if (x->slot && g_str_equal (x->slot, slots[i]))
        sx = i;
      if (y->slot && g_str_equal (y->slot, slots[i]))
        sy = i;
    }
  if (sx != sy)
    return sx - sy;
  return g_strcmp0 (x->id, y->id);
}

/* Opens the module of @info as libpeas's C loader will, and checks that it has
 * peas_register_types. Returns the open module, to be closed once libpeas holds
 * it, or NULL with the reason in @reason: libpeas itself only warns on stderr and
 * says "Failed to load". (transfer full) */
static GModule *
open_module (PeasPluginInfo *info, char **reason)
{
  g_autofree char *path = g_module_build_path (peas_plugin_info_get_module_dir (info),
                                               peas_plugin_info_get_module_name (info));
  GModule *module = g_module_open (path, G_MODULE_BIND_LAZY | G_MODULE_BIND_LOCAL);
  gpointer symbol = NULL;
  if (!module)
    *reason = g_strdup_printf ("failed to load: %s", g_module_error ());
  else if (!g_module_symbol (module, "peas_register_types", &symbol))
    {
      *reason = g_strdup_printf ("failed to load: %s has no peas_register_types function",
                                 path);
      g_module_close (module);
      module = NULL;
    }
  return module;
}

/* Reads every .plugin file found, checks slot and ABI, and loads the module. */
static void
scan (PlPluginEngine *self)
{
  peas_engine_rescan_plugins (self->peas);
  GHashTable *seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (const GList *l = peas_engine_get_plugin_list (self->peas); l; l = l->next)
    {
      PeasPluginInfo *info = l->data;
      PlPluginDesc *d = g_new0 (PlPluginDesc, 1);
      d->id = g_strdup (peas_plugin_info_get_module_name (info));
      d->name = g_strdup (peas_plugin_info_get_name (info));
      d->description = g_strdup (peas_plugin_info_get_description (info));
      d->version = g_strdup (peas_plugin_info_get_version (info));
      const char * const *authors = peas_plugin_info_get_authors (info);
      d->authors = authors ? g_strjoinv (", ", (char **) authors) : NULL;
      d->dir = g_strdup (peas_plugin_info_get_data_dir (info));
      d->slot = g_strdup (peas_plugin_info_get_external_data (info, "Paramlab-Slot"));
      d->builtin = d->dir && ((self->builtin_dir && g_str_has_prefix (d->dir, self->builtin_dir))
                              || g_str_has_prefix (d->dir, PL_INSTALL_PLUGINDIR)
                              || g_str_has_prefix (d->dir, PL_BUILD_DIR "/plugins"));
      const char *abi = peas_plugin_info_get_external_data (info, "Paramlab-ABI");
      GType iface = pl_plugin_slot_get_interface (d->slot);
      GModule *module = NULL;
      g_autofree char *key = g_strdup_printf ("%s/%s", d->slot ? d->slot : "", d->id);

      if (g_hash_table_contains (seen, key))
        {
          /* an earlier directory of the search path has this plugin */
          desc_free (d);
          continue;
        }
      if (strchr (d->id, '/') || d->id[0] == '.')
        d->error = g_strdup_printf ("its .plugin file (in %s) names Module \"%s\", a path; "
                                    "expected a plain module name", d->dir, d->id);
      else if (!abi)
        d->error = g_strdup_printf ("its .plugin file (in %s) has no X-Paramlab-ABI key; this "
                                    "engine needs X-Paramlab-ABI=%s", d->dir, PL_ABI_VERSION);
      else if (!g_str_equal (abi, PL_ABI_VERSION))
        d->error = g_strdup_printf ("built for plugin ABI %s, this engine has ABI %s; rebuild "
                                    "it against this Paramlab", abi, PL_ABI_VERSION);
      else if (iface == G_TYPE_INVALID)
        {
          g_autofree char *known = g_strjoinv (", ", (char **) slots);
          d->error = g_strdup_printf ("X-Paramlab-Slot is \"%s\"; expected one of %s",
                                      d->slot ? d->slot : "(missing)", known);
        }
      else if (!(module = open_module (info, &d->error)))
        {
          /* d->error says why; libpeas is not asked, so it prints no warnings */
        }
      else if (!peas_engine_load_plugin (self->peas, info))
        {
          g_autoptr (GError) error = NULL;
          peas_plugin_info_is_available (info, &error);
          d->error = g_strdup_printf ("failed to load: %s",
                                      error ? error->message : "unknown reason");
        }
      else if (!peas_engine_provides_extension (self->peas, info, iface))
        d->error = g_strdup_printf ("its module registers no %s implementation",
                                    g_type_name (iface));
      else
        d->loaded = TRUE;
      g_clear_pointer (&module, g_module_close);
      if (d->error)
        g_debug ("plugin %s skipped: %s", d->id, d->error);
      g_hash_table_add (seen, g_strdup (key));
      g_hash_table_insert (self->infos, d, info);
      g_ptr_array_add (self->plugins, d);
    }
  g_hash_table_unref (seen);
  g_ptr_array_sort (self->plugins, compare_desc);
}

PlPluginEngine *
pl_plugin_engine_new_for_dirs (const char * const *dirs)
{
  PlPluginEngine *self = g_object_new (PL_TYPE_PLUGIN_ENGINE, NULL);
  for (int i = 0; dirs && dirs[i]; i++)
    add_dir (self, dirs[i]);
  scan (self);
  return self;
}

PlPluginEngine *
pl_plugin_engine_new (void)
{
  g_autoptr (GPtrArray) dirs = g_ptr_array_new_with_free_func (g_free);
  const char *env = g_getenv ("PARAMLAB_PLUGIN_PATH");
  if (env && env[0])
    {
      g_auto (GStrv) parts = g_strsplit (env, ":", -1);
      for (int i = 0; parts[i]; i++)
        if (parts[i][0])
          g_ptr_array_add (dirs, g_strdup (parts[i]));
    }
  char *builtin = running_from_build_tree () ? g_build_filename (PL_BUILD_DIR, "plugins", NULL)
                                             : g_strdup (PL_INSTALL_PLUGINDIR);
  g_ptr_array_add (dirs, builtin);
  g_ptr_array_add (dirs, g_build_filename (g_get_user_data_dir (), "paramlab", "plugins", NULL));
  g_ptr_array_add (dirs, NULL);
  PlPluginEngine *self = g_object_new (PL_TYPE_PLUGIN_ENGINE, NULL);
  self->builtin_dir = g_strdup (builtin);
  for (guint i = 0; dirs->pdata[i]; i++)
    add_dir (self, dirs->pdata[i]);
  scan (self);
  return self;
}

GPtrArray *
pl_plugin_engine_list (PlPluginEngine *self)
{
  return self->plugins;
}

const PlPluginDesc *
pl_plugin_engine_lookup (PlPluginEngine *self, const char *slot, const char *id)
{
  for (guint i = 0; i < self->plugins->len; i++)
    {
      PlPluginDesc *d = self->plugins->pdata[i];
      if (g_strcmp0 (d->slot, slot) == 0 && g_str_equal (d->id, id))
        return d;
    }
  return NULL;
}

GObject *
pl_plugin_engine_create (PlPluginEngine *self, const char *slot, const char *id,
                         GError **error)
{
  const PlPluginDesc *d = pl_plugin_engine_lookup (self, slot, id);
  if (!d)
    {
      g_autoptr (GString) have = g_string_new (NULL);
      for (guint i = 0; i < self->plugins->len; i++)
        {
          PlPluginDesc *o = self->plugins->pdata[i];
          if (g_strcmp0 (o->slot, slot) == 0 && o->loaded)
            g_string_append_printf (have, "%s%s", have->len ? ", " : "", o->id);
        }
      g_set_error (error, PL_ERROR, PL_ERROR_PLUGIN,
                   "no %s plugin called \"%s\"; available: %s (see `paramlab-cli plugins`)",
                   slot, id, have->len ? have->str : "none");
      return NULL;
    }
  if (!d->loaded)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_PLUGIN, "%s plugin \"%s\" is not usable: %s", slot,
                   id, d->error);
      return NULL;
    }
  PeasPluginInfo *info = g_hash_table_lookup (self->infos, d);
  GObject *ext = (GObject *) peas_engine_create_extension (self->peas, info,
                                                          pl_plugin_slot_get_interface (slot),
                                                          NULL);
  if (!ext)
    g_set_error (error, PL_ERROR, PL_ERROR_PLUGIN, "%s plugin \"%s\" could not be created",
                 slot, id);
  return ext;
}

/* ---- options --------------------------------------------------------------- */

GPtrArray *
pl_plugin_list_options (GObject *plugin)
{
  guint n = 0;
  GParamSpec **all = g_object_class_list_properties (G_OBJECT_GET_CLASS (plugin), &n);
  GPtrArray *out = g_ptr_array_new ();
  for (guint i = 0; i < n; i++)
    {
      GParamSpec *p = all[i];
      /* the plugin's own options: not GObject's or PeasExtensionBase's */
      if (p->owner_type == G_TYPE_OBJECT || !(p->flags & G_PARAM_WRITABLE)
          || (p->flags & G_PARAM_CONSTRUCT_ONLY)
          || g_str_has_prefix (g_type_name (p->owner_type), "Peas"))
        continue;
      g_ptr_array_add (out, p);
    }
  g_free (all);
  return out;
}

const char *
pl_plugin_option_type_name (GParamSpec *pspec)
{
  GType t = G_PARAM_SPEC_VALUE_TYPE (pspec);
  if (t == G_TYPE_BOOLEAN)
    return "bool";
  if (t == G_TYPE_INT || t == G_TYPE_UINT || t == G_TYPE_INT64 || t == G_TYPE_UINT64
      || t == G_TYPE_LONG || t == G_TYPE_ULONG)
    return "int";
  if (t == G_TYPE_DOUBLE || t == G_TYPE_FLOAT)
    return "double";
  if (G_TYPE_IS_ENUM (t))
    return "enum";
  if (t == G_TYPE_STRING)
    return "string";
  return g_type_name (t);
}

static char *
fmt_num (double v)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  return g_strdup (g_ascii_formatd (buf, sizeof buf, "%.9g", v));
}

/* numeric bounds of a pspec, as doubles; FALSE for non-numbers */
static gboolean
numeric_bounds (GParamSpec *p, double *lo, double *hi)
{
  if (G_IS_PARAM_SPEC_INT (p))
    *lo = G_PARAM_SPEC_INT (p)->minimum, *hi = G_PARAM_SPEC_INT (p)->maximum;
  else if (G_IS_PARAM_SPEC_UINT (p))
    *lo = G_PARAM_SPEC_UINT (p)->minimum, *hi = G_PARAM_SPEC_UINT (p)->maximum;
  else if (G_IS_PARAM_SPEC_INT64 (p))
    *lo = (double) G_PARAM_SPEC_INT64 (p)->minimum, *hi = (double) G_PARAM_SPEC_INT64 (p)->maximum;
  else if (G_IS_PARAM_SPEC_UINT64 (p))
    *lo = (double) G_PARAM_SPEC_UINT64 (p)->minimum, *hi = (double) G_PARAM_SPEC_UINT64 (p)->maximum;
  else if (G_IS_PARAM_SPEC_DOUBLE (p))
    *lo = G_PARAM_SPEC_DOUBLE (p)->minimum, *hi = G_PARAM_SPEC_DOUBLE (p)->maximum;
  else if (G_IS_PARAM_SPEC_FLOAT (p))
    *lo = G_PARAM_SPEC_FLOAT (p)->minimum, *hi = G_PARAM_SPEC_FLOAT (p)->maximum;
  else
    return FALSE;
  return TRUE;
}

char *
pl_plugin_describe_option (GParamSpec *p)
{
  GType t = G_PARAM_SPEC_VALUE_TYPE (p);
  double lo, hi;
  if (t == G_TYPE_BOOLEAN)
    return g_strdup ("true or false");
  if (G_TYPE_IS_ENUM (t))
    {
      g_autoptr (GTypeClass) klass = g_type_class_ref (t);
      GEnumClass *ec = G_ENUM_CLASS (klass);
      g_autoptr (GString) s = g_string_new ("one of ");
      for (guint i = 0; i < ec->n_values; i++)
        g_string_append_printf (s, "%s%s", i ? ", " : "", ec->values[i].value_nick);
      return g_strdup (s->str);
    }
  if (numeric_bounds (p, &lo, &hi))
    {
      g_autofree char *a = fmt_num (lo), *b = fmt_num (hi);
      return g_strdup_printf ("%s between %s and %s",
                              g_str_equal (pl_plugin_option_type_name (p), "int")
                                ? "an integer" : "a number", a, b);
    }
  return g_strdup ("text");
}

char *
pl_plugin_option_default_text (GParamSpec *p)
{
  const GValue *dv = g_param_spec_get_default_value (p);
  GType t = G_PARAM_SPEC_VALUE_TYPE (p);
  if (G_TYPE_IS_ENUM (t))
    {
      g_autoptr (GTypeClass) klass = g_type_class_ref (t);
      GEnumValue *ev = g_enum_get_value (G_ENUM_CLASS (klass), g_value_get_enum (dv));
      return g_strdup (ev ? ev->value_nick : "");
    }
  if (t == G_TYPE_BOOLEAN)
    return g_strdup (g_value_get_boolean (dv) ? "true" : "false");
  if (t == G_TYPE_STRING)
    return g_strdup (g_value_get_string (dv) ? g_value_get_string (dv) : "");
  GValue d = G_VALUE_INIT;
  g_value_init (&d, G_TYPE_DOUBLE);
  if (g_value_transform (dv, &d))
    return fmt_num (g_value_get_double (&d));
  return g_strdup ("");
}

gboolean
pl_plugin_set_option (GObject *plugin, const char *plugin_id, const char *name,
                      const char *value, const char *where, GError **error)
{
  GParamSpec *p = g_object_class_find_property (G_OBJECT_GET_CLASS (plugin), name);
  g_autoptr (GPtrArray) opts = pl_plugin_list_options (plugin);
  if (!p || !g_ptr_array_find (opts, p, NULL))
    {
      g_autoptr (GString) known = g_string_new (NULL);
      for (guint i = 0; i < opts->len; i++)
        g_string_append_printf (known, "%s%s", i ? ", " : "",
                                g_param_spec_get_name (opts->pdata[i]));
      g_set_error (error, PL_ERROR, PL_ERROR_CONFIG,
                   "%s: plugin %s has no option \"%s\"; its options are: %s", where, plugin_id,
                   name, known->len ? known->str : "(none)");
      return FALSE;
    }
  GType t = G_PARAM_SPEC_VALUE_TYPE (p);
  GValue v = G_VALUE_INIT;
  g_value_init (&v, t);
  gboolean ok = TRUE;
  g_autofree char *trimmed = g_strstrip (g_strdup (value));
  char *end = NULL;
  double lo = 0, hi = 0;
  if (t == G_TYPE_BOOLEAN)
    {
      if (g_str_equal (trimmed, "true") || g_str_equal (trimmed, "1"))
        g_value_set_boolean (&v, TRUE);
      else if (g_str_equal (trimmed, "false") || g_str_equal (trimmed, "0"))
        g_value_set_boolean (&v, FALSE);
      else
        ok = FALSE;
    }
  else if (G_TYPE_IS_ENUM (t))
    {
      g_autoptr (GTypeClass) klass = g_type_class_ref (t);
      GEnumValue *ev = g_enum_get_value_by_nick (G_ENUM_CLASS (klass), trimmed);
      if (ev)
        g_value_set_enum (&v, ev->value);
      else
        ok = FALSE;
    }
  else if (t == G_TYPE_STRING)
    g_value_set_string (&v, trimmed);
  else if (numeric_bounds (p, &lo, &hi))
    {
      gboolean is_int = g_str_equal (pl_plugin_option_type_name (p), "int");
      double d = g_ascii_strtod (trimmed, &end);
      if (!trimmed[0] || *end || !isfinite (d) || d < lo || d > hi
          || (is_int && d != floor (d)))
        ok = FALSE;
      else if (t == G_TYPE_INT)
        g_value_set_int (&v, (int) d);
      else if (t == G_TYPE_UINT)
        g_value_set_uint (&v, (guint) d);
      else if (t == G_TYPE_INT64)
        g_value_set_int64 (&v, (gint64) d);
      else if (t == G_TYPE_UINT64)
        g_value_set_uint64 (&v, (guint64) d);
      else if (t == G_TYPE_FLOAT)
        g_value_set_float (&v, (float) d);
      else
        g_value_set_double (&v, d);
    }
  else
    ok = FALSE;
  if (!ok)
    {
      g_autofree char *allowed = pl_plugin_describe_option (p);
      g_set_error (error, PL_ERROR, PL_ERROR_CONFIG,
                   "%s: plugin %s option %s: expected %s, got \"%s\"", where, plugin_id, name,
                   allowed, value);
      g_value_unset (&v);
      return FALSE;
    }
  g_object_set_property (plugin, name, &v);
  g_value_unset (&v);
  return TRUE;
}

char *
pl_plugin_options_to_json (GObject *plugin)
{
  g_autoptr (GPtrArray) opts = pl_plugin_list_options (plugin);
  GString *s = g_string_new ("{");
  for (guint i = 0; i < opts->len; i++)
    {
      GParamSpec *p = opts->pdata[i];
      GValue v = G_VALUE_INIT;
      g_value_init (&v, G_PARAM_SPEC_VALUE_TYPE (p));
      g_object_get_property (plugin, g_param_spec_get_name (p), &v);
      if (i)
        g_string_append_c (s, ',');
      pl_json_append_string (s, g_param_spec_get_name (p));
      g_string_append_c (s, ':');
      GType t = G_PARAM_SPEC_VALUE_TYPE (p);
      if (t == G_TYPE_BOOLEAN)
        g_string_append (s, g_value_get_boolean (&v) ? "true" : "false");
      else if (t == G_TYPE_STRING)
        {
          if (g_value_get_string (&v))
            pl_json_append_string (s, g_value_get_string (&v));
          else
            g_string_append (s, "null");
        }
      else if (G_TYPE_IS_ENUM (t))
        {
          g_autoptr (GTypeClass) klass = g_type_class_ref (t);
          GEnumValue *ev = g_enum_get_value (G_ENUM_CLASS (klass), g_value_get_enum (&v));
          pl_json_append_string (s, ev ? ev->value_nick : "");
        }
      else
        {
          GValue d = G_VALUE_INIT;
          g_value_init (&d, G_TYPE_DOUBLE);
          if (g_value_transform (&v, &d))
            pl_json_append_double (s, g_value_get_double (&d));
          else
            g_string_append (s, "null");
        }
      g_value_unset (&v);
    }
  g_string_append_c (s, '}');
  return g_string_free (s, FALSE);
}
