/* pl-plugin-catalog.h: the plugins the window can offer, as the CLI lists them.
 *
 * The window does not load plugins to list them: it runs
 * `paramlab-cli plugins --format json` and parses its output, an array (or an
 * object with a "plugins" array) of
 *   {"id","slot","name","description","version","loaded","error",
 *    "options":[{"name","type","default","min","max","blurb","choices"}]}.
 * While the command is missing or fails the catalog is empty and says why. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct {
  char *name;
  char *type;          /* int, uint, double, float, bool, string, enum, ... */
  char *default_text;  /* NULL when not given */
  char *blurb;
  gboolean has_min;
  double min;
  gboolean has_max;
  double max;
  char **choices;      /* NULL-terminated, or NULL */
} PlPluginOption;

typedef struct {
  char *id;
  char *slot;
  char *name;
  char *description;
  char *version;
  gboolean loaded;
  gboolean builtin;    /* shipped with Paramlab */
  char *error;
  GPtrArray *options;  /* PlPluginOption */
} PlPluginInfo;

void pl_plugin_info_free (PlPluginInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PlPluginInfo, pl_plugin_info_free)

/* Parses the CLI's JSON. (transfer full): GPtrArray of PlPluginInfo, or NULL
 * with an error naming what was expected. */
GPtrArray  *pl_plugin_info_parse     (const char *json, gsize len, GError **error);

/* Checks @value against @opt; on failure returns FALSE and a translated
 * "Must be …" sentence in @problem. */
gboolean    pl_plugin_option_check   (const PlPluginOption *opt, const char *value,
                                      char **problem);

/* The experiment section and key that choose a plugin of @slot:
 * prune-criterion -> [prune] criterion, prune-schedule -> [prune] schedule,
 * every other slot -> [slot] plugin. NULL for an unknown slot. */
const char *pl_slot_section          (const char *slot, const char **key);
/* The slots in experiment order. (transfer none) */
const char * const *pl_slot_list     (void);
/* "Initialization", "Pruning schedule", … (translated) */
const char *pl_slot_title            (const char *slot);
/* One line on what the slot does (translated). */
const char *pl_slot_description      (const char *slot);

#define PL_TYPE_PLUGIN_CATALOG (pl_plugin_catalog_get_type ())
G_DECLARE_FINAL_TYPE (PlPluginCatalog, pl_plugin_catalog, PL, PLUGIN_CATALOG, GObject)

/* (transfer full) An empty catalog; call pl_plugin_catalog_reload(). */
PlPluginCatalog *pl_plugin_catalog_new       (void);
/* Runs `@cli plugins --format json` asynchronously; "changed" is emitted when
 * the answer (or the failure) is in. */
void             pl_plugin_catalog_reload    (PlPluginCatalog *self, const char *cli);
/* Says that a reload is on its way (is_loading is TRUE until it is done): the
 * window asks for the list after its first frame. */
void             pl_plugin_catalog_set_pending (PlPluginCatalog *self);
gboolean         pl_plugin_catalog_is_loading (PlPluginCatalog *self);
/* (transfer none) GPtrArray of PlPluginInfo (empty when unavailable) */
GPtrArray       *pl_plugin_catalog_get_plugins (PlPluginCatalog *self);
/* Why the list is unavailable, or NULL. */
const char      *pl_plugin_catalog_get_error (PlPluginCatalog *self);
/* (transfer none) the plugin @id of @slot, or NULL */
const PlPluginInfo *pl_plugin_catalog_lookup (PlPluginCatalog *self, const char *slot,
                                              const char *id);

G_END_DECLS
