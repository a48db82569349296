/* paramlab-cli plugins: every plugin by slot with its options. */
#include "pl-config.h"

#include <stdio.h>
#include <string.h>

#include "pl-cli.h"

static void
append_option_json (GString *s, GParamSpec *p)
{
  g_string_append (s, "{\"name\":");
  pl_json_append_string (s, g_param_spec_get_name (p));
  g_string_append (s, ",\"type\":");
  pl_json_append_string (s, pl_plugin_option_type_name (p));
  g_string_append (s, ",\"default\":");
  g_autofree char *def = pl_plugin_option_default_text (p);
  pl_json_append_string (s, def);
  g_autofree char *allowed = pl_plugin_describe_option (p);
  g_string_append (s, ",\"allowed\":");
  pl_json_append_string (s, allowed);
  GType t = G_PARAM_SPEC_VALUE_TYPE (p);
  if (G_TYPE_IS_ENUM (t))
    {
      g_autoptr (GTypeClass) klass = g_type_class_ref (t);
      GEnumClass *ec = G_ENUM_CLASS (klass);
      g_string_append (s, ",\"choices\":[");
      for (guint i = 0; i < ec->n_values; i++)
        {
          if (i)
            g_string_append_c (s, ',');
          pl_json_append_string (s, ec->values[i].value_nick);
        }
      g_string_append_c (s, ']');
    }
  else if (G_IS_PARAM_SPEC_DOUBLE (p))
    {
      g_string_append (s, ",\"min\":");
      pl_json_append_double (s, G_PARAM_SPEC_DOUBLE (p)->minimum);
      g_string_append (s, ",\"max\":");
      pl_json_append_double (s, G_PARAM_SPEC_DOUBLE (p)->maximum);
    }
  else if (G_IS_PARAM_SPEC_INT (p))
    g_string_append_printf (s, ",\"min\":%d,\"max\":%d", G_PARAM_SPEC_INT (p)->minimum,
                            G_PARAM_SPEC_INT (p)->maximum);
  else if (G_IS_PARAM_SPEC_UINT (p))
    g_string_append_printf (s, ",\"min\":%u,\"max\":%u", G_PARAM_SPEC_UINT (p)->minimum,
                            G_PARAM_SPEC_UINT (p)->maximum);
  else if (G_IS_PARAM_SPEC_INT64 (p))
    g_string_append_printf (s, ",\"min\":%" G_GINT64_FORMAT ",\"max\":%" G_GINT64_FORMAT,
                            G_PARAM_SPEC_INT64 (p)->minimum, G_PARAM_SPEC_INT64 (p)->maximum);
  g_string_append (s, ",\"blurb\":");
  pl_json_append_string (s, g_param_spec_get_blurb (p) ? g_param_spec_get_blurb (p) : "");
  g_string_append_c (s, '}');
}

int
pl_cli_cmd_plugins (int argc, char **argv)
{
  g_autofree char *format = NULL;
  GOptionEntry entries[] = {
    { "format", 0, 0, G_OPTION_ARG_STRING, &format, "Output format", "table|json" },
    { NULL }
  };
  g_autoptr (GOptionContext) oc = g_option_context_new (NULL);
  g_option_context_add_main_entries (oc, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (oc, &argc, &argv, &error))
    return pl_cli_usage_error ("plugins: %s", error->message);
  gboolean json = format && g_str_equal (format, "json");
  if (format && !json && !g_str_equal (format, "table"))
    return pl_cli_usage_error ("plugins: --format must be table or json, got \"%s\"", format);

  g_autoptr (PlPluginEngine) engine = pl_plugin_engine_new ();
  GPtrArray *list = pl_plugin_engine_list (engine);
  g_autoptr (GString) s = g_string_new (json ? "[" : NULL);
  const char *last_slot = NULL;
  for (guint i = 0; i < list->len; i++)
    {
      const PlPluginDesc *d = list->pdata[i];
      g_autoptr (GObject) obj = d->loaded ? pl_plugin_engine_create (engine, d->slot, d->id, NULL)
                                          : NULL;
      g_autoptr (GPtrArray) opts = obj ? pl_plugin_list_options (obj) : NULL;
      if (json)
        {
          g_string_append (s, i ? ",\n {\"id\":" : "\n {\"id\":");
          pl_json_append_string (s, d->id);
          g_string_append (s, ",\"slot\":");
          pl_json_append_string (s, d->slot ? d->slot : "");
          g_string_append (s, ",\"name\":");
          pl_json_append_string (s, d->name ? d->name : d->id);
          g_string_append (s, ",\"description\":");
          pl_json_append_string (s, d->description ? d->description : "");
          g_string_append (s, ",\"version\":");
          pl_json_append_string (s, d->version ? d->version : "");
          g_string_append (s, ",\"dir\":");
          pl_json_append_string (s, d->dir ? d->dir : "");
          g_string_append_printf (s, ",\"builtin\":%s,\"loaded\":%s,\"error\":",
                                  d->builtin ? "true" : "false", d->loaded ? "true" : "false");
          if (d->error)
            pl_json_append_string (s, d->error);
          else
            g_string_append (s, "null");
          g_string_append (s, ",\"options\":[");
          for (guint j = 0; opts && j < opts->len; j++)
            {
              if (j)
                g_string_append_c (s, ',');
              append_option_json (s, opts->pdata[j]);
            }
          g_string_append (s, "]}");
          continue;
        }
      if (g_strcmp0 (last_slot, d->slot) != 0)
        {
          g_string_append_printf (s, "%s[%s]\n", last_slot ? "\n" : "", d->slot ? d->slot : "?");
          last_slot = d->slot;
        }
      g_string_append_printf (s, "  %-24s %s %s — %s\n", d->id, d->version ? d->version : "",
                              d->loaded ? "" : "(NOT LOADED)",
                              d->description ? d->description : "");
      if (d->error)
        g_string_append_printf (s, "      error: %s\n", d->error);
      for (guint j = 0; opts && j < opts->len; j++)
        {
          GParamSpec *p = opts->pdata[j];
          g_autofree char *def = pl_plugin_option_default_text (p);
          g_autofree char *allowed = pl_plugin_describe_option (p);
          g_string_append_printf (s, "      %-22s %-6s default %-10s %s; %s\n",
                                  g_param_spec_get_name (p), pl_plugin_option_type_name (p), def,
                                  allowed, g_param_spec_get_blurb (p) ? g_param_spec_get_blurb (p) : "");
        }
    }
  if (json)
    g_string_append (s, list->len ? "\n]\n" : "]\n");
  else if (list->len == 0)
    g_string_append (s, "No plugins found. Plugins are searched in $PARAMLAB_PLUGIN_PATH, the "
                        "install dir and $XDG_DATA_HOME/paramlab/plugins.\n");
  fputs (s->str, stdout);
  return 0;
}
