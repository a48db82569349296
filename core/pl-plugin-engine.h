/* pl-plugin-engine.h: finding, loading and configuring technique plugins.
 *
 * Plugins are libpeas 1.x modules, one per folder, each with a .plugin file whose
 * keys X-Paramlab-Slot and X-Paramlab-ABI say which slot it fills and which
 * engine ABI it was built for. A plugin whose ABI differs, or that fails to load,
 * is listed with the reason and skipped.
 *
 * Search path, in order: $PARAMLAB_PLUGIN_PATH (colon-separated), the build tree
 * when the program runs from it, the install dir, and the user dir
 * $XDG_DATA_HOME/paramlab/plugins. Each directory and its immediate
 * subdirectories are scanned. The first plugin of an id wins.
 *
 * A plugin's options are the GObject properties its type installs (not inherited
 * ones): name, type, default, range and blurb. */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* The slots, as named in .plugin files and by `paramlab-cli plugins`. */
#define PL_SLOT_INIT             "init"
#define PL_SLOT_GATE             "gate"
#define PL_SLOT_PRUNE_CRITERION  "prune-criterion"
#define PL_SLOT_PRUNE_SCHEDULE   "prune-schedule"
#define PL_SLOT_QUANT            "quant"
#define PL_SLOT_LR_POLICY        "lr-policy"
#define PL_SLOT_ARCH             "arch"
#define PL_SLOT_DATASET          "dataset"

/* NULL-terminated, in the order of an experiment. (transfer none) */
const char * const *pl_plugin_slots (void);
/* The interface a slot's plugins implement, or G_TYPE_INVALID. */
GType        pl_plugin_slot_get_interface (const char *slot);

typedef struct {
  char *id;            /* the module name, e.g. "orthogonal" */
  char *slot;
  char *name;
  char *description;
  char *version;
  char *authors;
  char *dir;           /* where its .plugin file is */
  gboolean builtin;    /* shipped with Paramlab */
  gboolean loaded;
  char *error;         /* why it is not usable, or NULL */
} PlPluginDesc;

#define PL_TYPE_PLUGIN_ENGINE (pl_plugin_engine_get_type ())
G_DECLARE_FINAL_TYPE (PlPluginEngine, pl_plugin_engine, PL, PLUGIN_ENGINE, GObject)

/* An engine with the default search path. (transfer full) */
PlPluginEngine *pl_plugin_engine_new         (void);
/* An engine that searches only @dirs (NULL-terminated). (transfer full) */
PlPluginEngine *pl_plugin_engine_new_for_dirs (const char * const *dirs);

/* Every plugin found, loaded where possible, sorted by slot then id.
 * (transfer none) (element-type PlPluginDesc) */
GPtrArray      *pl_plugin_engine_list        (PlPluginEngine *self);
/* (transfer none): the plugin of @slot called @id, or NULL */
const PlPluginDesc *pl_plugin_engine_lookup  (PlPluginEngine *self, const char *slot,
                                              const char *id);
/* A new instance of plugin @id of @slot, with default options. The error names
 * the plugins the slot has when @id is unknown, and the reason when it failed to
 * load. (transfer full) */
GObject        *pl_plugin_engine_create      (PlPluginEngine *self, const char *slot,
                                              const char *id, GError **error);

/* The options of a plugin instance, in the order its class installed them.
 * (transfer container) (element-type GParamSpec) */
GPtrArray      *pl_plugin_list_options       (GObject *plugin);
/* Sets option @name from text. @where names the origin for messages
 * ("file.ini:12", "--set quant.bits=9"). The error names the plugin, the option
 * and what is allowed. */
gboolean        pl_plugin_set_option         (GObject *plugin, const char *plugin_id,
                                              const char *name, const char *value,
                                              const char *where, GError **error);
/* What a value of @pspec may be: "an integer between 1 and 8", "one of layer,
 * global", "true or false". (transfer full) */
char           *pl_plugin_describe_option    (GParamSpec *pspec);
/* The option's type as a word: int, double, bool, string, enum. */
const char     *pl_plugin_option_type_name   (GParamSpec *pspec);
/* The current options as a JSON object. (transfer full) */
char           *pl_plugin_options_to_json    (GObject *plugin);
/* The default of @pspec as text. (transfer full) */
char           *pl_plugin_option_default_text (GParamSpec *pspec);

G_END_DECLS
