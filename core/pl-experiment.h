/* pl-experiment.h: experiment files (GKeyFile .ini) and `--set` overrides.
 *
 * An experiment is what the CLI runs, the window edits and the run store records.
 * One static key table (see pl_experiment_get_key_info()) drives parsing, the
 * per-key checks, the defaults, `--set section.key=value` and docs/experiments.md.
 *
 * Loading checks every key on its own and reports the file, line, section, key and
 * what is allowed; pl_experiment_validate() then checks the rules that span keys.
 * The plugin slot sections ([init], [gate], [prune], [quant], [lr-policy], [arch], [dataset])
 * are passed through untyped with their lines: the plugin engine checks them
 * against the GObject properties of the chosen plugin.
 *
 * The struct fields are read-only for callers: change an experiment with
 * pl_experiment_set(), which keeps the typed fields, the raw values and their
 * origins in step. */
#pragma once

#include <glib.h>
#include <glib-object.h>

G_BEGIN_DECLS

/* Append only: the values are stored in run records. */
typedef enum {
  PL_DATASET_KIND_DIGITS,
  PL_DATASET_KIND_BREAST_CANCER,
  PL_DATASET_KIND_CSV,
  PL_DATASET_KIND_NPY,
} PlDatasetKind;

typedef enum {
  PL_ARCHITECTURE_KIND_MLP,
  PL_ARCHITECTURE_KIND_CNN,
  PL_ARCHITECTURE_KIND_ATTENTION,
} PlArchitectureKind;

/* Same order as the first four values of PlActivation (pl-graph.h), so a cast
 * converts. */
typedef enum {
  PL_ACTIVATION_CHOICE_RELU,
  PL_ACTIVATION_CHOICE_GELU,
  PL_ACTIVATION_CHOICE_TANH,
  PL_ACTIVATION_CHOICE_SIGMOID,
} PlActivationChoice;

/* Same order as PlNormalize (pl-dataset.h), so a cast converts. */
typedef enum {
  PL_NORMALIZE_CHOICE_NONE,
  PL_NORMALIZE_CHOICE_STANDARD,
  PL_NORMALIZE_CHOICE_MINMAX,
} PlNormalizeChoice;

typedef enum {
  PL_OPTIMIZER_KIND_SGD,
  PL_OPTIMIZER_KIND_ADAM,
  PL_OPTIMIZER_KIND_ADAMW,
} PlOptimizerKind;

typedef enum {
  PL_SCHEDULE_KIND_CONSTANT,
  PL_SCHEDULE_KIND_STEP,
  PL_SCHEDULE_KIND_COSINE,
} PlScheduleKind;

typedef enum {
  PL_FREEZE_NONE,
  PL_FREEZE_BASE,
} PlFreeze;

typedef enum {
  PL_LOSS_KIND_CROSS_ENTROPY,
  PL_LOSS_KIND_MSE,
} PlLossKind;

typedef struct _PlExperimentPrivate PlExperimentPrivate;

/* Path keys come in pairs: the raw text as written (relative paths stay relative;
 * NULL when unset) and the resolved absolute path (NULL when unset). Relative paths
 * are resolved against [experiment] base-dir, which defaults to the directory of
 * the experiment file. */
typedef struct _PlExperiment {
  struct {
    char *name;
    guint64 seed;
    char *description;
    char *base_dir;          /* raw; NULL when not given */
    char *base_dir_path;     /* always set: absolute base for relative paths */
  } experiment;
  struct {
    PlDatasetKind dataset;
    char *train;
    char *train_path;
    char *val;
    char *val_path;
    double val_fraction;     /* ignored when val is given */
    int label_column;        /* -1 = last column */
    PlNormalizeChoice normalize;
    gboolean shuffle;
  } data;
  struct {
    PlArchitectureKind architecture;
    int *hidden;
    guint n_hidden;
    PlActivationChoice activation;
    char *init_from;
    char *init_from_path;
    double dropout;
    int *channels;
    guint n_channels;
    int kernel_size;
    int layers;
    int heads;
    int width;
    int tokens;
  } model;
  struct {
    int epochs;
    int batch_size;
    PlOptimizerKind optimizer;
    double lr;
    double momentum;
    gboolean nesterov;
    double weight_decay;
    double beta1;
    double beta2;
    double eps;
    PlScheduleKind schedule;
    int step_size;
    double gamma;
    int warmup_steps;
    PlFreeze freeze;
    PlLossKind loss;
    int eval_every;          /* steps; 0 = once per epoch */
    int max_steps;           /* 0 = no limit */
  } train;

  /*< private >*/
  PlExperimentPrivate *priv;
} PlExperiment;

/* The key table, for front ends that build forms and help text from it. */
typedef enum {
  PL_EXPERIMENT_KEY_STRING,
  PL_EXPERIMENT_KEY_PATH,
  PL_EXPERIMENT_KEY_INT,
  PL_EXPERIMENT_KEY_UINT64,
  PL_EXPERIMENT_KEY_DOUBLE,
  PL_EXPERIMENT_KEY_BOOL,
  PL_EXPERIMENT_KEY_ENUM,
  PL_EXPERIMENT_KEY_INT_LIST,
} PlExperimentKeyType;

/* How min and max bound a number (INT, DOUBLE, INT_LIST items). */
typedef enum {
  PL_EXPERIMENT_BOUND_NONE          = 0,
  PL_EXPERIMENT_BOUND_MIN           = 1 << 0,  /* x >= min */
  PL_EXPERIMENT_BOUND_MIN_EXCLUSIVE = 1 << 1,  /* x >  min */
  PL_EXPERIMENT_BOUND_MAX           = 1 << 2,  /* x <= max */
  PL_EXPERIMENT_BOUND_MAX_EXCLUSIVE = 1 << 3,  /* x <  max */
} PlExperimentBounds;

typedef struct {
  const char *section;
  const char *key;
  PlExperimentKeyType type;
  const char *default_text;      /* parsed like a value from a file */
  double min;
  double max;
  PlExperimentBounds bounds;
  const char * const *allowed;   /* ENUM only: NULL-terminated, in enum order */
  const char *blurb;
} PlExperimentKeyInfo;

GType pl_experiment_get_type (void) G_GNUC_CONST;
#define PL_TYPE_EXPERIMENT (pl_experiment_get_type ())

/* Number of entries in the key table; entries are in table (and file) order. */
guint                      pl_experiment_get_n_keys      (void);
/* (transfer none): entry @i, or NULL when @i is out of range */
const PlExperimentKeyInfo *pl_experiment_get_key_info    (guint i);
/* (transfer none): the entry for @section/@key, or NULL */
const PlExperimentKeyInfo *pl_experiment_lookup_key      (const char *section,
                                                          const char *key);
/* (transfer full): what a value of @info may be, e.g. "a number greater than 0
 * and at most 10" or "one of sgd, adam, adamw". */
char                      *pl_experiment_key_describe    (const PlExperimentKeyInfo *info);
/* (transfer none): NULL-terminated table sections, then slot sections */
const char * const        *pl_experiment_get_table_sections (void);
const char * const        *pl_experiment_get_slot_sections  (void);

/* Reads and parses @path; every key is checked on its own. Relative paths in it
 * resolve against the file's directory. Returns (transfer full) or NULL with
 * PL_ERROR_IO (unreadable) or PL_ERROR_CONFIG (one line per problem, each
 * "file:line: [section] key: ..."). Call pl_experiment_validate() before running. */
PlExperiment *pl_experiment_load_file   (const char  *path,
                                         GError     **error);
/* Like pl_experiment_load_file() on @text (@len bytes, or -1 when NUL-terminated).
 * @display_name names the source in messages (NULL: "<data>"); relative paths
 * resolve against its directory (the current directory for a bare name). */
PlExperiment *pl_experiment_load_data   (const char  *text,
                                         gssize       len,
                                         const char  *display_name,
                                         GError     **error);
/* (transfer full): every key at its default; relative paths resolve against the
 * current directory. */
PlExperiment *pl_experiment_new_default (void);
/* (transfer full): an independent deep copy, origins included. */
PlExperiment *pl_experiment_copy        (const PlExperiment *exp);

PlExperiment *pl_experiment_ref   (PlExperiment *exp);
void          pl_experiment_unref (PlExperiment *exp);
/* The same as pl_experiment_unref(), for callers that never share. */
void          pl_experiment_free  (PlExperiment *exp);

/* Applies one override "section.key=value" (the value is taken literally, no
 * escapes; whitespace around the key and the value is ignored). Checks it like a
 * value from the file; on error @exp is unchanged and the message starts with
 * "--set <assignment>: ". Slot sections accept any key. */
gboolean      pl_experiment_set      (PlExperiment  *exp,
                                      const char    *assignment,
                                      GError       **error);
/* Checks the rules that span keys: csv/npy need a readable [data] train (and val,
 * when given); [model] init-from must be a readable file; mlp needs hidden, cnn
 * needs channels; attention needs width divisible by heads; nesterov needs sgd
 * with momentum > 0. Every problem is one line naming where the key was set. */
gboolean      pl_experiment_validate (PlExperiment  *exp,
                                      GError       **error);

/* (transfer full): the complete normalized experiment: every table key in table
 * order (defaults included, numbers canonical, paths raw plus [experiment]
 * base-dir), then the slot sections. Loading it gives an equal experiment whose
 * text is identical. This is what the run store keeps. */
char         *pl_experiment_to_text  (const PlExperiment *exp);
/* (transfer full) (element-type utf8): "section.key=value" for every table key but
 * base-dir (paths resolved), then every slot key, in to_text order. */
GPtrArray    *pl_experiment_flatten  (const PlExperiment *exp);
/* TRUE when every typed field and every slot value are equal. */
gboolean      pl_experiment_equal    (const PlExperiment *a,
                                      const PlExperiment *b);

/* (transfer full): the canonical text of a table key's current value (as written
 * by to_text), or the decoded raw value of a slot key; NULL when absent. */
char         *pl_experiment_get_value_text (const PlExperiment *exp,
                                            const char         *section,
                                            const char         *key);
/* (transfer none): the value as the file or --set gave it (escapes decoded), the
 * default text for a table key that was not given, NULL for an absent slot key. */
const char   *pl_experiment_get_raw       (const PlExperiment *exp,
                                           const char         *section,
                                           const char         *key);
/* The 1-based file line of @section/@key, 0 when it came from --set or a default. */
int           pl_experiment_get_line      (const PlExperiment *exp,
                                           const char         *section,
                                           const char         *key);
/* (transfer full): where @section/@key was set, for messages: "file.ini:12",
 * "--set gate.threshold=2", or the file name alone for a default. */
char         *pl_experiment_get_location  (const PlExperiment *exp,
                                           const char         *section,
                                           const char         *key);
/* (transfer none): the name used in messages (the path given to load_file). */
const char   *pl_experiment_get_display_name (const PlExperiment *exp);

/* TRUE when slot @section appears in the file or in an override, keys or not. */
gboolean      pl_experiment_has_section   (const PlExperiment *exp,
                                           const char         *section);
/* (transfer full): the keys of slot @section in file order, then keys added by
 * --set; an empty vector when the section is absent. */
gchar       **pl_experiment_get_slot_keys (const PlExperiment *exp,
                                           const char         *section);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PlExperiment, pl_experiment_unref)

G_END_DECLS
