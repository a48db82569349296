/* pl-plugin-catalog.c: the plugins the window can offer, as the CLI lists them. */
#include "pl-plugin-catalog.h"

#include <glib/gi18n.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "paramlab.h"
#include "pl-gui-json.h"

static void
plugin_option_free (gpointer data)
{
  PlPluginOption *opt = data;
  g_free (opt->name);
  g_free (opt->type);
  g_free (opt->default_text);
  g_free (opt->blurb);
  g_strfreev (opt->choices);
  g_free (opt);
}

void
pl_plugin_info_free (PlPluginInfo *info)
{
  if (!info)
    return;
  g_free (info->id);
  g_free (info->slot);
  g_free (info->name);
  g_free (info->description);
  g_free (info->version);
  g_free (info->error);
  g_ptr_array_unref (info->options);
  g_free (info);
}

static char *
dup_member (const PlJson *obj,
            const char   *key)
{
  const PlJson *node = pl_gui_json_object_get (obj, key);
  switch (pl_gui_json_type (node))
    {
    case PL_JSON_STRING:
      return g_strdup (pl_gui_json_get_string (node, NULL));
    case PL_JSON_NUMBER:
      {
        char buf[G_ASCII_DTOSTR_BUF_SIZE];
        return g_strdup (g_ascii_dtostr (buf, sizeof buf, pl_gui_json_get_double (node)));
      }
    case PL_JSON_BOOL:
      return g_strdup (pl_gui_json_get_bool (node) ? "true" : "false");
    default:
      return NULL;
    }
}

static gboolean
get_number (const PlJson *obj,
            const char   *key,
            double       *out)
{
  const PlJson *node = pl_gui_json_object_get (obj, key);
  if (pl_gui_json_type (node) != PL_JSON_NUMBER)
    return FALSE;
  *out = pl_gui_json_get_double (node);
  return TRUE;
}

GPtrArray *
pl_plugin_info_parse (const char  *json,
                      gsize        len,
                      GError     **error)
{
  g_autoptr (PlJson) root = pl_json_parse (json, len, error);
  if (!root)
    return NULL;
  const PlJson *list = root;
  if (pl_gui_json_type (root) == PL_JSON_OBJECT)
    list = pl_gui_json_object_get (root, "plugins");
  if (pl_gui_json_type (list) != PL_JSON_ARRAY)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "expected a JSON array of plugins, found %s",
                   pl_json_type_name (pl_gui_json_type (list)));
      return NULL;
    }

  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) pl_plugin_info_free);
  for (guint i = 0; i < pl_gui_json_array_length (list); i++)
    {
      const PlJson *p = pl_json_array_get (list, i);
      char *id = dup_member (p, "id");
      char *slot = dup_member (p, "slot");
      if (pl_gui_json_type (p) != PL_JSON_OBJECT || !id || !slot)
        {
          g_free (id);
          g_free (slot);
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "plugin %u of the list has no \"id\" or \"slot\"", i + 1);
          g_ptr_array_unref (out);
          return NULL;
        }
      PlPluginInfo *info = g_new0 (PlPluginInfo, 1);
      info->id = id;
      info->slot = slot;
      info->name = dup_member (p, "name");
      info->description = dup_member (p, "description");
      info->version = dup_member (p, "version");
      info->error = dup_member (p, "error");
      const PlJson *loaded = pl_gui_json_object_get (p, "loaded");
      info->loaded = loaded ? pl_gui_json_get_bool (loaded) : info->error == NULL;
      info->builtin = pl_gui_json_get_bool (pl_gui_json_object_get (p, "builtin"));
      info->options = g_ptr_array_new_with_free_func (plugin_option_free);
      const PlJson *opts = pl_gui_json_object_get (p, "options");
      for (guint j = 0; j < pl_gui_json_array_length (opts); j++)
        {
          const PlJson *o = pl_json_array_get (opts, j);
          char *name = dup_member (o, "name");
          if (!name)
            continue;
          PlPluginOption *opt = g_new0 (PlPluginOption, 1);
          opt->name = name;
          opt->type = dup_member (o, "type");
          if (!opt->type)
            opt->type = g_strdup ("string");
          opt->default_text = dup_member (o, "default");
          opt->blurb = dup_member (o, "blurb");
          opt->has_min = get_number (o, "min", &opt->min);
          opt->has_max = get_number (o, "max", &opt->max);
          const PlJson *choices = pl_gui_json_object_get (o, "choices");
          if (pl_gui_json_array_length (choices) > 0)
            {
              GStrvBuilder *b = g_strv_builder_new ();
              for (guint k = 0; k < pl_gui_json_array_length (choices); k++)
                {
                  const char *c = pl_gui_json_get_string (pl_json_array_get (choices, k), NULL);
                  if (c)
                    g_strv_builder_add (b, c);
                }
              opt->choices = g_strv_builder_end (b);
              g_strv_builder_unref (b);
            }
          g_ptr_array_add (info->options, opt);
        }
      g_ptr_array_add (out, info);
    }
  return out;
}

static gboolean
is_integer_type (const char *type)
{
  return g_str_equal (type, "int") || g_str_equal (type, "uint") || g_str_equal (type, "int64")
         || g_str_equal (type, "uint64") || g_str_equal (type, "long");
}

static gboolean
is_number_type (const char *type)
{
  return is_integer_type (type) || g_str_equal (type, "double") || g_str_equal (type, "float");
}

gboolean
pl_plugin_option_check (const PlPluginOption *opt,
                        const char           *value,
                        char                **problem)
{
  g_return_val_if_fail (opt != NULL && value != NULL, FALSE);
  g_autofree char *text = g_strstrip (g_strdup (value));
  if (opt->choices)
    {
      if (g_strv_contains ((const char * const *) opt->choices, text))
        return TRUE;
      g_autofree char *list = g_strjoinv (", ", opt->choices);
      *problem = g_strdup_printf (_("Must be one of %s."), list);
      return FALSE;
    }
  if (g_str_equal (opt->type, "bool") || g_str_equal (opt->type, "boolean"))
    {
      if (g_str_equal (text, "true") || g_str_equal (text, "false"))
        return TRUE;
      *problem = g_strdup (_("Must be true or false."));
      return FALSE;
    }
  if (!is_number_type (opt->type))
    return TRUE;

  char *end = NULL;
  double v = g_ascii_strtod (text, &end);
  gboolean integer = is_integer_type (opt->type);
  gboolean ok = *text && end && *end == '\0' && isfinite (v);
  if (ok && integer)
    ok = v == floor (v);
  if (ok && opt->has_min && v < opt->min)
    ok = FALSE;
  if (ok && opt->has_max && v > opt->max)
    ok = FALSE;
  if (ok)
    return TRUE;

  char lo[G_ASCII_DTOSTR_BUF_SIZE], hi[G_ASCII_DTOSTR_BUF_SIZE];
  g_ascii_formatd (lo, sizeof lo, "%.6g", opt->min);
  g_ascii_formatd (hi, sizeof hi, "%.6g", opt->max);
  if (opt->has_min && opt->has_max)
    *problem = integer ? g_strdup_printf (_("Must be a whole number from %s to %s."), lo, hi)
                       : g_strdup_printf (_("Must be a number from %s to %s."), lo, hi);
  else if (opt->has_min)
    *problem = integer ? g_strdup_printf (_("Must be a whole number of at least %s."), lo)
                       : g_strdup_printf (_("Must be a number of at least %s."), lo);
  else
    *problem = integer ? g_strdup (_("Must be a whole number."))
                       : g_strdup (_("Must be a number."));
  return FALSE;
}

static const struct {
  const char *slot;
  const char *section;
  const char *key;
  const char *title;
  const char *description;
} slots[] = {
  { "dataset", "dataset", "plugin", N_("Dataset plugin"),
    N_("Generates or loads the samples instead of the bundled datasets.") },
  { "arch", "arch", "plugin", N_("Architecture plugin"),
    N_("Builds the model instead of the MLP, CNN or attention model above.") },
  { "init", "init", "plugin", N_("Initialization"),
    N_("How the parameters get their first values.") },
  { "gate", "gate", "plugin", N_("Sparsity gate"),
    N_("Learned gates that switch off units that contribute little.") },
  { "prune-criterion", "prune", "criterion", N_("Pruning criterion"),
    N_("Which weights count as least important.") },
  { "prune-schedule", "prune", "schedule", N_("Pruning schedule"),
    N_("When to prune, and how much, over the run.") },
  { "quant", "quant", "plugin", N_("Quantization"),
    N_("Training with fake INT8 quantization, for an INT8 export.") },
  { "lr-policy", "lr-policy", "plugin", N_("Learning-rate policy"),
    N_("Per-parameter learning rates on top of the optimizer.") },
};

const char *
pl_slot_section (const char  *slot,
                 const char **key)
{
  for (guint i = 0; i < G_N_ELEMENTS (slots); i++)
    if (g_strcmp0 (slots[i].slot, slot) == 0)
      {
        if (key)
          *key = slots[i].key;
        return slots[i].section;
      }
  return NULL;
}

const char * const *
pl_slot_list (void)
{
  static const char * const list[] = {
    "dataset", "arch", "init", "gate", "prune-criterion", "prune-schedule", "quant",
    "lr-policy", NULL
  };
  return list;
}

const char *
pl_slot_title (const char *slot)
{
  for (guint i = 0; i < G_N_ELEMENTS (slots); i++)
    if (g_strcmp0 (slots[i].slot, slot) == 0)
      return _(slots[i].title);
  return slot;
}

const char *
pl_slot_description (const char *slot)
{
  for (guint i = 0; i < G_N_ELEMENTS (slots); i++)
    if (g_strcmp0 (slots[i].slot, slot) == 0)
      return _(slots[i].description);
  return "";
}

/* ---- the catalog object -------------------------------------------------------- */

struct _PlPluginCatalog {
  GObject parent_instance;
  GPtrArray *plugins;
  char *error;
  GCancellable *cancellable;
  gboolean pending;         /* a reload is coming */
};

G_DEFINE_FINAL_TYPE (PlPluginCatalog, pl_plugin_catalog, G_TYPE_OBJECT)

enum { SIGNAL_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void
pl_plugin_catalog_dispose (GObject *object)
{
  PlPluginCatalog *self = PL_PLUGIN_CATALOG (object);
  if (self->cancellable)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  G_OBJECT_CLASS (pl_plugin_catalog_parent_class)->dispose (object);
}

static void
pl_plugin_catalog_finalize (GObject *object)
{
  PlPluginCatalog *self = PL_PLUGIN_CATALOG (object);
  g_ptr_array_unref (self->plugins);
  g_free (self->error);
  G_OBJECT_CLASS (pl_plugin_catalog_parent_class)->finalize (object);
}

static void
pl_plugin_catalog_class_init (PlPluginCatalogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->dispose = pl_plugin_catalog_dispose;
  object_class->finalize = pl_plugin_catalog_finalize;
  signals[SIGNAL_CHANGED] =
    g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
pl_plugin_catalog_init (PlPluginCatalog *self)
{
  self->plugins = g_ptr_array_new_with_free_func ((GDestroyNotify) pl_plugin_info_free);
  self->error = g_strdup (_("The plugin list has not been read yet."));
}

PlPluginCatalog *
pl_plugin_catalog_new (void)
{
  return g_object_new (PL_TYPE_PLUGIN_CATALOG, NULL);
}

static void
on_communicate (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  GSubprocess *proc = G_SUBPROCESS (source);
  g_autoptr (GError) error = NULL;
  g_autofree char *out = NULL, *err = NULL;
  if (!g_subprocess_communicate_utf8_finish (proc, result, &out, &err, &error)
      && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  PlPluginCatalog *self = user_data;
  g_clear_object (&self->cancellable);
  g_clear_pointer (&self->error, g_free);
  g_ptr_array_set_size (self->plugins, 0);

  if (error)
    self->error = g_strdup (error->message);
  else if (!g_subprocess_get_successful (proc))
    {
      g_autofree char *msg = g_strstrip (g_strdup (err ? err : ""));
      char *nl = strchr (msg, '\n');
      if (nl)
        *nl = '\0';
      self->error = *msg ? g_strdup_printf (_("paramlab-cli plugins failed: %s"), msg)
                         : g_strdup (_("paramlab-cli plugins failed."));
    }
  else
    {
      g_autoptr (GPtrArray) list = pl_plugin_info_parse (out, strlen (out), &error);
      if (!list)
        self->error = g_strdup_printf (_("Could not read the plugin list: %s"), error->message);
      else
        for (guint i = 0; i < list->len; i++)
          g_ptr_array_add (self->plugins, g_steal_pointer (&list->pdata[i]));
    }
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
}

void
pl_plugin_catalog_reload (PlPluginCatalog *self,
                          const char      *cli)
{
  g_return_if_fail (PL_IS_PLUGIN_CATALOG (self));
  self->pending = FALSE;
  if (self->cancellable)
    g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);

  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE
                                                   | G_SUBPROCESS_FLAGS_STDERR_PIPE,
                                                   &error, cli, "plugins", "--format", "json",
                                                   NULL);
  if (!proc)
    {
      g_free (self->error);
      self->error = g_strdup_printf (_("Could not run %s: %s"), cli, error->message);
      g_ptr_array_set_size (self->plugins, 0);
      g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
      return;
    }
  self->cancellable = g_cancellable_new ();
  g_subprocess_communicate_utf8_async (proc, NULL, self->cancellable, on_communicate, self);
}

void
pl_plugin_catalog_set_pending (PlPluginCatalog *self)
{
  g_return_if_fail (PL_IS_PLUGIN_CATALOG (self));
  self->pending = TRUE;
}

gboolean
pl_plugin_catalog_is_loading (PlPluginCatalog *self)
{
  g_return_val_if_fail (PL_IS_PLUGIN_CATALOG (self), FALSE);
  return self->pending || self->cancellable != NULL;
}

GPtrArray *
pl_plugin_catalog_get_plugins (PlPluginCatalog *self)
{
  g_return_val_if_fail (PL_IS_PLUGIN_CATALOG (self), NULL);
  return self->plugins;
}

const char *
pl_plugin_catalog_get_error (PlPluginCatalog *self)
{
  g_return_val_if_fail (PL_IS_PLUGIN_CATALOG (self), NULL);
  return self->error;
}

const PlPluginInfo *
pl_plugin_catalog_lookup (PlPluginCatalog *self,
                          const char      *slot,
                          const char      *id)
{
  g_return_val_if_fail (PL_IS_PLUGIN_CATALOG (self), NULL);
  for (guint i = 0; i < self->plugins->len; i++)
    {
      PlPluginInfo *p = g_ptr_array_index (self->plugins, i);
      if (g_strcmp0 (p->slot, slot) == 0 && g_strcmp0 (p->id, id) == 0)
        return p;
    }
  return NULL;
}
