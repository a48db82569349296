#include "pl-experiment.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "pl-error.h"

/* The loader reads enum and bool fields through int pointers. */
G_STATIC_ASSERT (sizeof (PlDatasetKind) == sizeof (int));
G_STATIC_ASSERT (sizeof (PlArchitectureKind) == sizeof (int));
G_STATIC_ASSERT (sizeof (PlActivationChoice) == sizeof (int));
G_STATIC_ASSERT (sizeof (PlNormalizeChoice) == sizeof (int));
G_STATIC_ASSERT (sizeof (PlOptimizerKind) == sizeof (int));
G_STATIC_ASSERT (sizeof (PlScheduleKind) == sizeof (int));
G_STATIC_ASSERT (sizeof (PlFreeze) == sizeof (int));
G_STATIC_ASSERT (sizeof (PlLossKind) == sizeof (int));
G_STATIC_ASSERT (sizeof (gboolean) == sizeof (int));

/* At most this many problems are listed in one error; the rest are counted. */
#define MAX_REPORTED 20
/* Values quoted in messages are cut to this many bytes. */
#define MAX_QUOTED 80

/* ------------------------------------------------------------------ key table */

typedef struct {
  PlExperimentKeyInfo info;
  gsize offset;   /* the typed field; the raw text for PATH */
  gsize offset2;  /* PATH: the resolved path; INT_LIST: the guint count */
} PlKeyEntry;

static const char * const table_sections[] = {
  "experiment", "data", "model", "train", NULL
};
static const char * const slot_sections[] = {
  "init", "gate", "prune", "quant", "lr-policy", "arch", "dataset", NULL
};
#define N_SLOTS (G_N_ELEMENTS (slot_sections) - 1)

static const char * const dataset_values[] = { "digits", "breast-cancer", "csv", "npy", NULL };
static const char * const normalize_values[] = { "none", "standard", "minmax", NULL };
static const char * const architecture_values[] = { "mlp", "cnn", "attention", NULL };
static const char * const activation_values[] = { "relu", "gelu", "tanh", "sigmoid", NULL };
static const char * const optimizer_values[] = { "sgd", "adam", "adamw", NULL };
static const char * const schedule_values[] = { "constant", "step", "cosine", NULL };
static const char * const freeze_values[] = { "none", "base", NULL };
static const char * const loss_values[] = { "cross-entropy", "mse", NULL };

#define OFF(f) G_STRUCT_OFFSET (PlExperiment, f)
#define B_MIN PL_EXPERIMENT_BOUND_MIN
#define B_GT PL_EXPERIMENT_BOUND_MIN_EXCLUSIVE
#define B_MAX PL_EXPERIMENT_BOUND_MAX
#define B_LT PL_EXPERIMENT_BOUND_MAX_EXCLUSIVE

#define K_STR(s, k, def, f, blurb) \
  { { s, k, PL_EXPERIMENT_KEY_STRING, def, 0, 0, 0, NULL, blurb }, OFF (f), 0 }
#define K_PATH(s, k, f, f2, blurb) \
  { { s, k, PL_EXPERIMENT_KEY_PATH, "", 0, 0, 0, NULL, blurb }, OFF (f), OFF (f2) }
#define K_INT(s, k, def, lo, hi, f, blurb) \
  { { s, k, PL_EXPERIMENT_KEY_INT, def, lo, hi, B_MIN | B_MAX, NULL, blurb }, OFF (f), 0 }
#define K_U64(s, k, def, f, blurb) \
  { { s, k, PL_EXPERIMENT_KEY_UINT64, def, 0, 0, 0, NULL, blurb }, OFF (f), 0 }
#define K_DBL(s, k, def, lo, hi, bounds, f, blurb) \
  { { s, k, PL_EXPERIMENT_KEY_DOUBLE, def, lo, hi, bounds, NULL, blurb }, OFF (f), 0 }
#define K_BOOL(s, k, def, f, blurb) \
  { { s, k, PL_EXPERIMENT_KEY_BOOL, def, 0, 0, 0, NULL, blurb }, OFF (f), 0 }
#define K_ENUM(s, k, def, values, f, blurb) \
  { { s, k, PL_EXPERIMENT_KEY_ENUM, def, 0, 0, 0, values, blurb }, OFF (f), 0 }
#define K_LIST(s, k, def, lo, hi, f, nf, blurb) \
  { { s, k, PL_EXPERIMENT_KEY_INT_LIST, def, lo, hi, B_MIN | B_MAX, NULL, blurb }, \
    OFF (f), OFF (nf) }

/* The one table. Keep docs/experiments.md in step: tests/test-experiment.c checks
 * that every entry has a row there with the same type, default and range. */
static const PlKeyEntry key_table[] = {
  K_STR ("experiment", "name", "untitled", experiment.name,
         "Short name shown in run lists, compare views and exports."),
  K_U64 ("experiment", "seed", "0", experiment.seed,
         "Seeds every random stream of the run (initialization, splits, shuffling, "
         "dropout): the same seed gives the same run."),
  K_STR ("experiment", "description", "", experiment.description,
         "Free text: what the experiment is meant to show."),
  K_PATH ("experiment", "base-dir", experiment.base_dir, experiment.base_dir_path,
          "Directory that relative paths resolve against; empty means the directory "
          "of the experiment file. Normalized experiments record it so that they "
          "reload from anywhere."),

  K_ENUM ("data", "dataset", "digits", dataset_values, data.dataset,
          "Where the samples come from: the bundled digits (8x8 images, 10 classes) "
          "or breast-cancer (30 features, 2 classes) data, or a CSV or NumPy file."),
  K_PATH ("data", "train", data.train, data.train_path,
          "Training file for csv and npy; required by them, unused by the bundled "
          "datasets."),
  K_PATH ("data", "val", data.val, data.val_path,
          "Validation file for csv and npy; when empty, val-fraction of the "
          "training samples are held out."),
  K_DBL ("data", "val-fraction", "0.2", 0, 1, B_GT | B_LT, data.val_fraction,
         "Share of the training samples held out for validation; ignored when val "
         "is given."),
  K_INT ("data", "label-column", "-1", -1, G_MAXINT, data.label_column,
         "Column of a CSV file that holds the class label; -1 is the last column."),
  K_ENUM ("data", "normalize", "standard", normalize_values, data.normalize,
          "Feature scaling fitted on the training split: none, standard (zero mean, "
          "unit variance) or minmax (to [0, 1])."),
  K_BOOL ("data", "shuffle", "true", data.shuffle,
          "Reshuffle the training samples every epoch (from the seed)."),

  K_ENUM ("model", "architecture", "mlp", architecture_values, model.architecture,
          "mlp: fully connected layers; cnn: convolutions over the image; "
          "attention: a transformer encoder over tokens cut from the features."),
  K_LIST ("model", "hidden", "128", 1, 65536, model.hidden, model.n_hidden,
          "Widths of the hidden layers of the mlp, input side first."),
  K_ENUM ("model", "activation", "relu", activation_values, model.activation,
          "Nonlinearity after each hidden layer."),
  K_PATH ("model", "init-from", model.init_from, model.init_from_path,
          "Checkpoint whose parameters replace the initial values by name; with "
          "freeze = base they form a frozen base."),
  K_DBL ("model", "dropout", "0", 0, 1, B_MIN | B_LT, model.dropout,
         "Probability of zeroing each hidden activation while training."),
  K_LIST ("model", "channels", "16,32", 1, 65536, model.channels, model.n_channels,
          "Output channels of each convolution layer of the cnn."),
  K_INT ("model", "kernel-size", "3", 1, 15, model.kernel_size,
         "Side of the square convolution kernels of the cnn."),
  K_INT ("model", "layers", "2", 1, 64, model.layers,
         "Encoder layers of the attention model."),
  K_INT ("model", "heads", "4", 1, 64, model.heads,
         "Attention heads per encoder layer; width must be divisible by heads."),
  K_INT ("model", "width", "64", 1, 65536, model.width,
         "Embedding width of the attention model."),
  K_INT ("model", "tokens", "8", 1, 4096, model.tokens,
         "Sequence length of the attention model: the features are split into this "
         "many tokens."),

  K_INT ("train", "epochs", "10", 1, 100000, train.epochs,
         "Passes over the training split."),
  K_INT ("train", "batch-size", "32", 1, 1048576, train.batch_size,
         "Samples per optimizer step."),
  K_ENUM ("train", "optimizer", "adam", optimizer_values, train.optimizer,
          "sgd (with momentum and nesterov), adam, or adamw (Adam with decoupled "
          "weight decay)."),
  K_DBL ("train", "lr", "1e-3", 0, 10, B_GT | B_MAX, train.lr,
         "Learning rate; the peak rate when warmup or a schedule is used."),
  K_DBL ("train", "momentum", "0", 0, 1, B_MIN | B_MAX, train.momentum,
         "Momentum of sgd; ignored by adam and adamw."),
  K_BOOL ("train", "nesterov", "false", train.nesterov,
          "Nesterov momentum for sgd; needs momentum > 0."),
  K_DBL ("train", "weight-decay", "0", 0, 0, B_MIN, train.weight_decay,
         "L2 penalty added to the gradients (sgd, adam) or decoupled decay (adamw)."),
  K_DBL ("train", "beta1", "0.9", 0, 1, B_MIN | B_LT, train.beta1,
         "Decay rate of Adam's first-moment estimate."),
  K_DBL ("train", "beta2", "0.999", 0, 1, B_MIN | B_LT, train.beta2,
         "Decay rate of Adam's second-moment estimate."),
  K_DBL ("train", "eps", "1e-8", 0, 1, B_GT | B_MAX, train.eps,
         "Term added to Adam's denominator for numerical stability."),
  K_ENUM ("train", "schedule", "constant", schedule_values, train.schedule,
          "Learning-rate schedule: constant; step (multiply by gamma every "
          "step-size epochs); cosine (anneal towards 0 over the run's steps)."),
  K_INT ("train", "step-size", "10", 1, G_MAXINT, train.step_size,
         "Epochs between two decays of the step schedule."),
  K_DBL ("train", "gamma", "0.1", 0, 0, B_GT, train.gamma,
         "Factor applied at each decay of the step schedule."),
  K_INT ("train", "warmup-steps", "0", 0, G_MAXINT, train.warmup_steps,
         "Steps of linear warmup: the scheduled rate is scaled by (step + 1) / "
         "warmup-steps until that reaches 1; 0 means no warmup."),
  K_ENUM ("train", "freeze", "none", freeze_values, train.freeze,
          "none trains every parameter; base keeps the base parameters (e.g. loaded "
          "with init-from) fixed and trains only the task parameters."),
  K_ENUM ("train", "loss", "cross-entropy", loss_values, train.loss,
          "cross-entropy on the class logits, or mse against one-hot targets."),
  K_INT ("train", "eval-every", "0", 0, G_MAXINT, train.eval_every,
         "Evaluate on the validation split every this many steps; 0 evaluates once "
         "per epoch."),
  K_INT ("train", "max-steps", "0", 0, G_MAXINT, train.max_steps,
         "Stop after this many optimizer steps; 0 means no limit (epochs decide)."),
};

guint
pl_experiment_get_n_keys (void)
{
  return G_N_ELEMENTS (key_table);
}

const PlExperimentKeyInfo *
pl_experiment_get_key_info (guint i)
{
  return i < G_N_ELEMENTS (key_table) ? &key_table[i].info : NULL;
}

static const PlKeyEntry *
lookup_entry (const char *section,
              const char *key)
{
  for (guint i = 0; i < G_N_ELEMENTS (key_table); i++)
    if (strcmp (key_table[i].info.section, section) == 0
        && strcmp (key_table[i].info.key, key) == 0)
      return &key_table[i];
  return NULL;
}

const PlExperimentKeyInfo *
pl_experiment_lookup_key (const char *section,
                          const char *key)
{
  g_return_val_if_fail (section != NULL && key != NULL, NULL);
  const PlKeyEntry *e = lookup_entry (section, key);
  return e ? &e->info : NULL;
}

const char * const *
pl_experiment_get_table_sections (void)
{
  return table_sections;
}

const char * const *
pl_experiment_get_slot_sections (void)
{
  return slot_sections;
}

static gboolean
is_table_section (const char *section)
{
  return g_strv_contains (table_sections, section);
}

/* index of slot @section, or -1 */
static int
slot_index (const char *section)
{
  for (guint i = 0; i < N_SLOTS; i++)
    if (strcmp (slot_sections[i], section) == 0)
      return i;
  return -1;
}

static char *
format_bound (double v)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  return g_strdup (g_ascii_formatd (buf, sizeof buf, "%.15g", v));
}

/* "from 1 to 10", "greater than 0 and at most 10", "of at least 0", ... */
static char *
describe_range (const PlExperimentKeyInfo *info)
{
  g_autofree char *lo = format_bound (info->min);
  g_autofree char *hi = format_bound (info->max);
  PlExperimentBounds b = info->bounds;
  gboolean has_lo = (b & (B_MIN | B_GT)) != 0;
  gboolean has_hi = (b & (B_MAX | B_LT)) != 0;

  if ((b & B_MIN) && (b & B_MAX))
    return g_strdup_printf ("from %s to %s", lo, hi);
  g_autofree char *lo_text = !has_lo ? NULL
    : g_strdup_printf ((b & B_GT) ? "greater than %s" : "of at least %s", lo);
  g_autofree char *hi_text = !has_hi ? NULL
    : g_strdup_printf ((b & B_LT) ? "less than %s" : "at most %s", hi);
  if (lo_text && hi_text)
    return g_strdup_printf ("%s and %s", lo_text, hi_text);
  if (lo_text)
    return g_steal_pointer (&lo_text);
  if (hi_text)
    return g_steal_pointer (&hi_text);
  return g_strdup ("");
}

char *
pl_experiment_key_describe (const PlExperimentKeyInfo *info)
{
  g_return_val_if_fail (info != NULL, NULL);
  g_autofree char *range = describe_range (info);

  switch (info->type)
    {
    case PL_EXPERIMENT_KEY_STRING:
      return g_strdup ("any text");
    case PL_EXPERIMENT_KEY_PATH:
      return g_strdup ("a path, or empty for none");
    case PL_EXPERIMENT_KEY_INT:
      return g_strdup_printf ("an integer %s", range);
    case PL_EXPERIMENT_KEY_UINT64:
      return g_strdup_printf ("an integer from 0 to %" G_GUINT64_FORMAT, G_MAXUINT64);
    case PL_EXPERIMENT_KEY_DOUBLE:
      return g_strdup_printf ("a number %s", range);
    case PL_EXPERIMENT_KEY_BOOL:
      return g_strdup ("true or false");
    case PL_EXPERIMENT_KEY_ENUM:
      {
        g_autofree char *values = g_strjoinv (", ", (char **) info->allowed);
        return g_strdup_printf ("one of %s", values);
      }
    case PL_EXPERIMENT_KEY_INT_LIST:
      return g_strdup_printf ("a comma-separated list of integers %s", range);
    default:
      g_assert_not_reached ();
    }
}

/* -------------------------------------------------------------- the struct */

typedef struct {
  char *raw;         /* the value with escapes decoded */
  int line;          /* 1-based file line; 0 for --set */
  char *assignment;  /* the --set text, or NULL */
} PlValue;

struct _PlExperimentPrivate {
  gint ref_count;
  char *display_name;
  char *file_dir;            /* absolute; the default base-dir */
  GHashTable *values;        /* "section\037key" -> PlValue*: given keys only */
  gboolean slot_present[N_SLOTS];
  GPtrArray *slot_keys[N_SLOTS];  /* char*, in the order they were added */
};

G_DEFINE_BOXED_TYPE (PlExperiment, pl_experiment, pl_experiment_ref, pl_experiment_unref)

static void
pl_value_free (gpointer data)
{
  PlValue *v = data;
  g_free (v->raw);
  g_free (v->assignment);
  g_free (v);
}

static PlValue *
pl_value_new (const char *raw,
              int         line,
              const char *assignment)
{
  PlValue *v = g_new0 (PlValue, 1);
  v->raw = g_strdup (raw);
  v->line = line;
  v->assignment = g_strdup (assignment);
  return v;
}

static char *
value_id (const char *section,
          const char *key)
{
  return g_strconcat (section, "\037", key, NULL);
}

#define FIELD(exp, off, type) (*(type *) ((char *) (exp) + (off)))

static void
free_field (PlExperiment     *exp,
            const PlKeyEntry *e)
{
  switch (e->info.type)
    {
    case PL_EXPERIMENT_KEY_STRING:
      g_clear_pointer (&FIELD (exp, e->offset, char *), g_free);
      break;
    case PL_EXPERIMENT_KEY_PATH:
      g_clear_pointer (&FIELD (exp, e->offset, char *), g_free);
      g_clear_pointer (&FIELD (exp, e->offset2, char *), g_free);
      break;
    case PL_EXPERIMENT_KEY_INT_LIST:
      g_clear_pointer (&FIELD (exp, e->offset, int *), g_free);
      FIELD (exp, e->offset2, guint) = 0;
      break;
    default:
      break;
    }
}

/* ------------------------------------------------------------ value parsing */

/* a copy of @s cut to MAX_QUOTED bytes on a character boundary */
static char *
quote_value (const char *s)
{
  if (strlen (s) <= MAX_QUOTED)
    return g_strdup (s);
  const char *end = g_utf8_find_prev_char (s, s + MAX_QUOTED + 1);
  return g_strdup_printf ("%.*s...", (int) (end - s), s);
}

static gboolean
parse_int64 (const char *text,
             gint64     *out)
{
  /* g_ascii_string_to_signed rejects empty text, whitespace and trailing garbage */
  return g_ascii_string_to_signed (text, 10, G_MININT64, G_MAXINT64, out, NULL);
}

/* A decimal number: [+-] digits [. digits] [e [+-] digits], finite. No hex, no
 * "nan" or "inf", no trailing characters. */
static gboolean
parse_double (const char *text,
              double     *out)
{
  const char *p = text;
  gboolean digits = FALSE;
  if (*p == '+' || *p == '-')
    p++;
  while (g_ascii_isdigit (*p))
    p++, digits = TRUE;
  if (*p == '.')
    {
      p++;
      while (g_ascii_isdigit (*p))
        p++, digits = TRUE;
    }
  if (!digits)
    return FALSE;
  if (*p == 'e' || *p == 'E')
    {
      p++;
      if (*p == '+' || *p == '-')
        p++;
      if (!g_ascii_isdigit (*p))
        return FALSE;
      while (g_ascii_isdigit (*p))
        p++;
    }
  if (*p != '\0')
    return FALSE;
  char *end = NULL;
  double v = g_ascii_strtod (text, &end);
  if (end != p || !isfinite (v))
    return FALSE;
  *out = v;
  return TRUE;
}

static gboolean
in_range (const PlExperimentKeyInfo *info,
          double                     v)
{
  PlExperimentBounds b = info->bounds;
  if ((b & B_MIN) && !(v >= info->min))
    return FALSE;
  if ((b & B_GT) && !(v > info->min))
    return FALSE;
  if ((b & B_MAX) && !(v <= info->max))
    return FALSE;
  if ((b & B_LT) && !(v < info->max))
    return FALSE;
  return TRUE;
}

/* Parses @text as a value of @e and stores it in @exp, freeing the old value.
 * Paths are stored raw; resolve_paths() fills the resolved form. On failure
 * returns a message "expected ..., got "text"" (transfer full) and leaves @exp
 * unchanged; on success returns NULL. */
static char *
apply_value (PlExperiment     *exp,
             const PlKeyEntry *e,
             const char       *text)
{
  const PlExperimentKeyInfo *info = &e->info;
  g_autofree char *detail = NULL;

  switch (info->type)
    {
    case PL_EXPERIMENT_KEY_STRING:
      g_free (FIELD (exp, e->offset, char *));
      FIELD (exp, e->offset, char *) = g_strdup (text);
      return NULL;

    case PL_EXPERIMENT_KEY_PATH:
      g_free (FIELD (exp, e->offset, char *));
      FIELD (exp, e->offset, char *) = *text ? g_strdup (text) : NULL;
      return NULL;

    case PL_EXPERIMENT_KEY_INT:
      {
        gint64 v;
        if (parse_int64 (text, &v) && in_range (info, (double) v)
            && v >= G_MININT && v <= G_MAXINT)
          {
            FIELD (exp, e->offset, int) = (int) v;
            return NULL;
          }
        break;
      }

    case PL_EXPERIMENT_KEY_UINT64:
      {
        guint64 v;
        if (g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT64, &v, NULL))
          {
            FIELD (exp, e->offset, guint64) = v;
            return NULL;
          }
        break;
      }

    case PL_EXPERIMENT_KEY_DOUBLE:
      {
        double v;
        if (parse_double (text, &v) && in_range (info, v))
          {
            FIELD (exp, e->offset, double) = v;
            return NULL;
          }
        break;
      }

    case PL_EXPERIMENT_KEY_BOOL:
      /* the spellings GKeyFile accepts */
      if (strcmp (text, "true") == 0 || strcmp (text, "1") == 0)
        {
          FIELD (exp, e->offset, gboolean) = TRUE;
          return NULL;
        }
      if (strcmp (text, "false") == 0 || strcmp (text, "0") == 0)
        {
          FIELD (exp, e->offset, gboolean) = FALSE;
          return NULL;
        }
      break;

    case PL_EXPERIMENT_KEY_ENUM:
      for (int i = 0; info->allowed[i]; i++)
        if (strcmp (text, info->allowed[i]) == 0)
          {
            FIELD (exp, e->offset, int) = i;
            return NULL;
          }
      break;

    case PL_EXPERIMENT_KEY_INT_LIST:
      {
        /* items separated by ',' or ';' (GKeyFile's list separator), one trailing
         * separator allowed; an empty text is an empty list */
        g_autoptr(GArray) items = g_array_new (FALSE, FALSE, sizeof (int));
        g_auto(GStrv) parts = g_strsplit_set (text, ",;", -1);
        guint n = g_strv_length (parts);
        if (n > 0 && *g_strstrip (parts[n - 1]) == '\0')
          n--;
        gboolean ok = TRUE;
        for (guint i = 0; i < n && ok; i++)
          {
            gint64 v;
            g_strstrip (parts[i]);
            if (parse_int64 (parts[i], &v) && in_range (info, (double) v)
                && v >= G_MININT && v <= G_MAXINT)
              {
                int iv = (int) v;
                g_array_append_val (items, iv);
              }
            else
              {
                g_autofree char *q = quote_value (parts[i]);
                detail = g_strdup_printf (" (item %u is \"%s\")", i + 1, q);
                ok = FALSE;
              }
          }
        if (!ok)
          break;
        g_free (FIELD (exp, e->offset, int *));
        FIELD (exp, e->offset2, guint) = items->len;
        FIELD (exp, e->offset, int *) = items->len
          ? (int *) g_array_free (g_steal_pointer (&items), FALSE) : NULL;
        return NULL;
      }
    }

  g_autofree char *expected = pl_experiment_key_describe (info);
  g_autofree char *q = quote_value (text);
  return g_strdup_printf ("expected %s, got \"%s\"%s", expected, q,
                          detail ? detail : "");
}

/* the canonical text of the value of @e in @exp */
static char *
value_text (const PlExperiment *exp,
            const PlKeyEntry   *e)
{
  switch (e->info.type)
    {
    case PL_EXPERIMENT_KEY_STRING:
    case PL_EXPERIMENT_KEY_PATH:
      {
        const char *s = FIELD (exp, e->offset, char *);
        return g_strdup (s ? s : "");
      }
    case PL_EXPERIMENT_KEY_INT:
      return g_strdup_printf ("%d", FIELD (exp, e->offset, int));
    case PL_EXPERIMENT_KEY_UINT64:
      return g_strdup_printf ("%" G_GUINT64_FORMAT, FIELD (exp, e->offset, guint64));
    case PL_EXPERIMENT_KEY_DOUBLE:
      {
        /* the shortest %g text that reads back to the same double */
        double v = FIELD (exp, e->offset, double);
        char buf[G_ASCII_DTOSTR_BUF_SIZE];
        for (int prec = 1; prec <= 17; prec++)
          {
            char fmt[8];
            g_snprintf (fmt, sizeof fmt, "%%.%dg", prec);
            g_ascii_formatd (buf, sizeof buf, fmt, v);
            if (g_ascii_strtod (buf, NULL) == v)
              break;
          }
        return g_strdup (buf);
      }
    case PL_EXPERIMENT_KEY_BOOL:
      return g_strdup (FIELD (exp, e->offset, gboolean) ? "true" : "false");
    case PL_EXPERIMENT_KEY_ENUM:
      return g_strdup (e->info.allowed[FIELD (exp, e->offset, int)]);
    case PL_EXPERIMENT_KEY_INT_LIST:
      {
        GString *s = g_string_new (NULL);
        const int *v = FIELD (exp, e->offset, int *);
        guint n = FIELD (exp, e->offset2, guint);
        for (guint i = 0; i < n; i++)
          g_string_append_printf (s, i ? ",%d" : "%d", v[i]);
        return g_string_free (s, FALSE);
      }
    default:
      g_assert_not_reached ();
    }
}

/* Decodes GKeyFile escapes (\s \n \t \r \\) in @raw. Returns NULL and sets
 * @message for an unknown escape or a '\' at the end. */
static char *
unescape_value (const char  *raw,
                char       **message)
{
  GString *out = g_string_sized_new (strlen (raw));
  for (const char *p = raw; *p; p++)
    {
      if (*p != '\\')
        {
          g_string_append_c (out, *p);
          continue;
        }
      p++;
      switch (*p)
        {
        case 's': g_string_append_c (out, ' '); break;
        case 'n': g_string_append_c (out, '\n'); break;
        case 't': g_string_append_c (out, '\t'); break;
        case 'r': g_string_append_c (out, '\r'); break;
        case '\\': g_string_append_c (out, '\\'); break;
        case '\0':
          *message = g_strdup ("a '\\' at the end of the value escapes nothing "
                               "(write \\\\ for a backslash)");
          g_string_free (out, TRUE);
          return NULL;
        default:
          {
            int n = g_utf8_skip[(guchar) *p];
            *message = g_strdup_printf ("invalid escape sequence \"\\%.*s\"; allowed "
                                        "are \\s \\n \\t \\r \\\\", n, p);
            g_string_free (out, TRUE);
            return NULL;
          }
        }
    }
  return g_string_free (out, FALSE);
}

/* The inverse of unescape_value(). Leading spaces become \s (the loader skips
 * them otherwise), and so do trailing ones, to keep them visible. */
static char *
escape_value (const char *s)
{
  GString *out = g_string_sized_new (strlen (s) + 8);
  gsize len = strlen (s);
  gsize lead = 0, trail = len;
  while (lead < len && s[lead] == ' ')
    lead++;
  while (trail > lead && s[trail - 1] == ' ')
    trail--;
  for (gsize i = 0; i < len; i++)
    {
      switch (s[i])
        {
        case '\\': g_string_append (out, "\\\\"); break;
        case '\n': g_string_append (out, "\\n"); break;
        case '\t': g_string_append (out, "\\t"); break;
        case '\r': g_string_append (out, "\\r"); break;
        case ' ':
          g_string_append (out, (i < lead || i >= trail) ? "\\s" : " ");
          break;
        default: g_string_append_c (out, s[i]); break;
        }
    }
  return g_string_free (out, FALSE);
}

/* --------------------------------------------------------------- lifecycle */

/* A new experiment with every key at its default; @file_dir must be absolute. */
static PlExperiment *
experiment_new (const char *display_name,
                const char *file_dir)
{
  PlExperiment *exp = g_new0 (PlExperiment, 1);
  exp->priv = g_new0 (PlExperimentPrivate, 1);
  exp->priv->ref_count = 1;
  exp->priv->display_name = g_strdup (display_name);
  exp->priv->file_dir = g_strdup (file_dir);
  exp->priv->values = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                             pl_value_free);
  for (guint i = 0; i < N_SLOTS; i++)
    exp->priv->slot_keys[i] = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < G_N_ELEMENTS (key_table); i++)
    {
      char *msg = apply_value (exp, &key_table[i], key_table[i].info.default_text);
      if (msg)
        g_error ("pl-experiment: default of [%s] %s: %s", key_table[i].info.section,
                 key_table[i].info.key, msg);
    }
  return exp;
}

/* ~ and ~/x expand to the home directory; relative paths join @dir */
static char *
resolve_path (const char *raw,
              const char *dir)
{
  g_autofree char *expanded = NULL;
  if (raw[0] == '~' && (raw[1] == '\0' || raw[1] == G_DIR_SEPARATOR))
    expanded = g_build_filename (g_get_home_dir (), raw + 1, NULL);
  return g_canonicalize_filename (expanded ? expanded : raw, dir);
}

/* Recomputes base_dir_path and every resolved path from the raw forms. */
static void
resolve_paths (PlExperiment *exp)
{
  g_free (exp->experiment.base_dir_path);
  exp->experiment.base_dir_path = exp->experiment.base_dir
    ? resolve_path (exp->experiment.base_dir, exp->priv->file_dir)
    : g_strdup (exp->priv->file_dir);

  for (guint i = 0; i < G_N_ELEMENTS (key_table); i++)
    {
      const PlKeyEntry *e = &key_table[i];
      if (e->info.type != PL_EXPERIMENT_KEY_PATH
          || e->offset == OFF (experiment.base_dir))
        continue;
      const char *raw = FIELD (exp, e->offset, char *);
      g_free (FIELD (exp, e->offset2, char *));
      FIELD (exp, e->offset2, char *) = raw
        ? resolve_path (raw, exp->experiment.base_dir_path) : NULL;
    }
}

PlExperiment *
pl_experiment_new_default (void)
{
  g_autofree char *cwd = g_get_current_dir ();
  PlExperiment *exp = experiment_new ("(defaults)", cwd);
  resolve_paths (exp);
  return exp;
}

PlExperiment *
pl_experiment_ref (PlExperiment *exp)
{
  g_return_val_if_fail (exp != NULL, NULL);
  g_atomic_int_inc (&exp->priv->ref_count);
  return exp;
}

void
pl_experiment_unref (PlExperiment *exp)
{
  if (exp == NULL || !g_atomic_int_dec_and_test (&exp->priv->ref_count))
    return;
  for (guint i = 0; i < G_N_ELEMENTS (key_table); i++)
    free_field (exp, &key_table[i]);
  g_free (exp->experiment.base_dir_path);
  g_free (exp->priv->display_name);
  g_free (exp->priv->file_dir);
  g_hash_table_unref (exp->priv->values);
  for (guint i = 0; i < N_SLOTS; i++)
    g_ptr_array_unref (exp->priv->slot_keys[i]);
  g_free (exp->priv);
  g_free (exp);
}

void
pl_experiment_free (PlExperiment *exp)
{
  pl_experiment_unref (exp);
}

PlExperiment *
pl_experiment_copy (const PlExperiment *exp)
{
  g_return_val_if_fail (exp != NULL, NULL);
  PlExperiment *copy = experiment_new (exp->priv->display_name, exp->priv->file_dir);

  for (guint i = 0; i < G_N_ELEMENTS (key_table); i++)
    {
      const PlKeyEntry *e = &key_table[i];
      g_autofree char *text = value_text (exp, e);
      char *msg = apply_value (copy, e, text);
      g_assert (msg == NULL);
    }
  resolve_paths (copy);

  GHashTableIter iter;
  gpointer k, v;
  g_hash_table_iter_init (&iter, exp->priv->values);
  while (g_hash_table_iter_next (&iter, &k, &v))
    {
      PlValue *value = v;
      g_hash_table_insert (copy->priv->values, g_strdup (k),
                           pl_value_new (value->raw, value->line, value->assignment));
    }
  for (guint i = 0; i < N_SLOTS; i++)
    {
      copy->priv->slot_present[i] = exp->priv->slot_present[i];
      for (guint j = 0; j < exp->priv->slot_keys[i]->len; j++)
        g_ptr_array_add (copy->priv->slot_keys[i],
                         g_strdup (exp->priv->slot_keys[i]->pdata[j]));
    }
  return copy;
}

/* --------------------------------------------------------------- messages */

static guint
edit_distance (const char *a,
               const char *b)
{
  gsize la = strlen (a), lb = strlen (b);
  g_autofree guint *row = g_new (guint, lb + 1);
  for (gsize j = 0; j <= lb; j++)
    row[j] = j;
  for (gsize i = 1; i <= la; i++)
    {
      guint diag = row[0];
      row[0] = i;
      for (gsize j = 1; j <= lb; j++)
        {
          guint up = row[j];
          guint best = MIN (row[j] + 1, row[j - 1] + 1);
          row[j] = MIN (best, diag + (a[i - 1] != b[j - 1]));
          diag = up;
        }
    }
  return row[lb];
}

/* " (did you mean X?)" for the closest of @candidates within 2 edits, or "" */
static char *
suggestion (const char        *word,
            GPtrArray         *candidates,
            const char        *format)
{
  const char *best = NULL;
  guint best_d = 3;
  for (guint i = 0; i < candidates->len; i++)
    {
      guint d = edit_distance (word, candidates->pdata[i]);
      if (d < best_d)
        best = candidates->pdata[i], best_d = d;
    }
  return best ? g_strdup_printf (format, best) : g_strdup ("");
}

/* "[train] unknown key "x"; known keys: a, b, ..." */
static char *
unknown_key_message (const char *section,
                     const char *key)
{
  g_autoptr(GPtrArray) keys = g_ptr_array_new ();
  for (guint i = 0; i < G_N_ELEMENTS (key_table); i++)
    if (strcmp (key_table[i].info.section, section) == 0)
      g_ptr_array_add (keys, (gpointer) key_table[i].info.key);
  g_autofree char *hint = suggestion (key, keys, " (did you mean \"%s\"?)");
  g_ptr_array_add (keys, NULL);
  g_autofree char *list = g_strjoinv (", ", (char **) keys->pdata);
  g_autofree char *q = quote_value (key);
  return g_strdup_printf ("[%s] unknown key \"%s\"%s; known keys: %s", section, q,
                          hint, list);
}

static char *
unknown_section_message (const char *section)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new ();
  for (guint i = 0; table_sections[i]; i++)
    g_ptr_array_add (names, (gpointer) table_sections[i]);
  for (guint i = 0; slot_sections[i]; i++)
    g_ptr_array_add (names, (gpointer) slot_sections[i]);
  g_autofree char *hint = suggestion (section, names, " (did you mean [%s]?)");
  g_ptr_array_add (names, NULL);
  g_autofree char *list = g_strjoinv (", ", (char **) names->pdata);
  g_autofree char *q = quote_value (section);
  return g_strdup_printf ("unknown section [%s]%s; known sections: %s", q, hint, list);
}

/* Slot keys become GObject property names: a letter, then letters, digits, '-'
 * or '_'. */
static gboolean
valid_slot_key (const char *key)
{
  if (!g_ascii_isalpha (key[0]))
    return FALSE;
  for (const char *p = key + 1; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_')
      return FALSE;
  return TRUE;
}

static char *
invalid_slot_key_message (const char *section,
                          const char *key)
{
  g_autofree char *q = quote_value (key);
  return g_strdup_printf ("[%s] invalid key name \"%s\": expected a letter followed "
                          "by letters, digits, '-' or '_'", section, q);
}

/* Collects problems, one per line, into a single PL_ERROR_CONFIG. */
typedef struct {
  GPtrArray *lines;
} Problems;

static void
problem_add (Problems   *p,
             const char *format,
             ...) G_GNUC_PRINTF (2, 3);

static void
problem_add (Problems   *p,
             const char *format,
             ...)
{
  va_list ap;
  va_start (ap, format);
  g_ptr_array_add (p->lines, g_strdup_vprintf (format, ap));
  va_end (ap);
}

/* Moves the problems into @error; returns TRUE when there were none. */
static gboolean
problems_finish (Problems  *p,
                 GError   **error)
{
  g_autoptr(GPtrArray) lines = g_steal_pointer (&p->lines);
  if (lines->len == 0)
    return TRUE;
  GString *msg = g_string_new (NULL);
  for (guint i = 0; i < lines->len && i < MAX_REPORTED; i++)
    g_string_append_printf (msg, i ? "\n%s" : "%s", (char *) lines->pdata[i]);
  if (lines->len > MAX_REPORTED)
    g_string_append_printf (msg, "\n... and %u more problems",
                            lines->len - MAX_REPORTED);
  g_set_error_literal (error, PL_ERROR, PL_ERROR_CONFIG, msg->str);
  g_string_free (msg, TRUE);
  return FALSE;
}

/* ------------------------------------------------------------------ loading */

static void
store_value (PlExperiment *exp,
             const char   *section,
             const char   *key,
             PlValue      *value)
{
  g_hash_table_replace (exp->priv->values, value_id (section, key), value);
  int s = slot_index (section);
  if (s >= 0)
    {
      exp->priv->slot_present[s] = TRUE;
      GPtrArray *keys = exp->priv->slot_keys[s];
      for (guint i = 0; i < keys->len; i++)
        if (strcmp (keys->pdata[i], key) == 0)
          return;
      g_ptr_array_add (keys, g_strdup (key));
    }
}

/* One key = value line of the file: checks, decodes and applies it. @raw is the
 * text after '=' and its leading whitespace; it is modified. */
static void
load_key (PlExperiment *exp,
          Problems     *problems,
          GHashTable   *seen,
          const char   *section,
          const char   *key,
          char         *raw,
          int           line)
{
  const char *name = exp->priv->display_name;
  g_autofree char *id = value_id (section, key);
  int first = GPOINTER_TO_INT (g_hash_table_lookup (seen, id));
  g_autofree char *qkey = quote_value (key);

  if (first)
    {
      problem_add (problems, "%s:%d: [%s] duplicate key \"%s\" (first set on line %d)",
                   name, line, section, qkey, first);
      return;
    }
  g_hash_table_insert (seen, g_strdup (id), GINT_TO_POINTER (line));

  const PlKeyEntry *e = NULL;
  if (slot_index (section) < 0)
    {
      e = lookup_entry (section, key);
      if (!e)
        {
          g_autofree char *msg = unknown_key_message (section, key);
          problem_add (problems, "%s:%d: %s", name, line, msg);
          return;
        }
    }
  else if (!valid_slot_key (key))
    {
      g_autofree char *msg = invalid_slot_key_message (section, key);
      problem_add (problems, "%s:%d: %s", name, line, msg);
      return;
    }

  if (!e || e->info.type != PL_EXPERIMENT_KEY_STRING)
    g_strchomp (raw);
  g_autofree char *msg = NULL;
  g_autofree char *value = unescape_value (raw, &msg);
  if (!value)
    {
      problem_add (problems, "%s:%d: [%s] %s: %s", name, line, section, qkey, msg);
      return;
    }
  if (e && (msg = apply_value (exp, e, value)))
    {
      problem_add (problems, "%s:%d: [%s] %s: %s", name, line, section, qkey, msg);
      return;
    }
  store_value (exp, section, key, pl_value_new (value, line, NULL));
}

/* The directory that relative paths in @display_name's text resolve against. */
static char *
file_dir_of (const char *display_name)
{
  g_autofree char *dir = g_path_get_dirname (display_name);
  return g_canonicalize_filename (dir, NULL);
}

/* Scans @text line by line like GKeyFile does (leading whitespace skipped, '#'
 * comments, [section] headers, key = value with whitespace around '=' ignored,
 * duplicate section headers merged) and applies every key. */
PlExperiment *
pl_experiment_load_data (const char  *text,
                         gssize       len,
                         const char  *display_name,
                         GError     **error)
{
  g_return_val_if_fail (text != NULL || len == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (display_name == NULL)
    display_name = "<data>";
  if (text == NULL)
    text = "";
  if (len < 0)
    len = strlen (text);

  /* a UTF-8 byte order mark is allowed and skipped */
  if (len >= 3 && memcmp (text, "\xef\xbb\xbf", 3) == 0)
    text += 3, len -= 3;

  const char *bad = memchr (text, '\0', len);
  if (bad || !g_utf8_validate_len (text, len, &bad))
    {
      int line = 1;
      for (const char *p = text; p < bad; p++)
        line += *p == '\n';
      g_set_error (error, PL_ERROR, PL_ERROR_CONFIG,
                   "%s:%d: %s", display_name, line,
                   *bad ? "not valid UTF-8 text" : "contains a NUL byte");
      return NULL;
    }

  g_autofree char *file_dir = file_dir_of (display_name);
  g_autoptr(PlExperiment) exp = experiment_new (display_name, file_dir);
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                      g_free, NULL);
  Problems problems = { g_ptr_array_new_with_free_func (g_free) };
  g_autofree char *section = NULL;
  gboolean skipping = FALSE;  /* inside a section whose header was reported */
  int lineno = 0;

  for (const char *p = text, *end = text + len; p < end;)
    {
      const char *nl = memchr (p, '\n', end - p);
      const char *eol = nl ? nl : end;
      if (eol > p && eol[-1] == '\r')
        eol--;
      g_autofree char *line = g_strndup (p, eol - p);
      p = nl ? nl + 1 : end;
      lineno++;

      /* like GKeyFile: leading whitespace never counts, trailing whitespace only
       * in string values */
      g_strchug (line);
      if (line[0] == '\0' || line[0] == '#')
        continue;

      if (line[0] == '[')
        {
          g_strchomp (line);
          char *close = strchr (line, ']');
          if (!close || close[1] != '\0' || close == line + 1)
            {
              g_autofree char *q = quote_value (line);
              problem_add (&problems, "%s:%d: expected a section header like "
                           "[train], got \"%s\"", display_name, lineno, q);
              skipping = TRUE;
              continue;
            }
          g_free (section);
          section = g_strndup (line + 1, close - line - 1);
          skipping = !is_table_section (section) && slot_index (section) < 0;
          if (skipping)
            {
              g_autofree char *msg = unknown_section_message (section);
              problem_add (&problems, "%s:%d: %s", display_name, lineno, msg);
            }
          else if (slot_index (section) >= 0)
            exp->priv->slot_present[slot_index (section)] = TRUE;
          continue;
        }

      char *eq = strchr (line, '=');
      if (!eq || eq == line)
        {
          g_autofree char *q = quote_value (line);
          problem_add (&problems, "%s:%d: expected \"key = value\", a [section] "
                       "header or a # comment, got \"%s\"", display_name, lineno,
                       g_strchomp (q));
          continue;
        }
      *eq = '\0';
      const char *key = g_strchomp (line);
      char *raw = g_strchug (eq + 1);

      if (skipping)
        continue;
      if (!section)
        {
          g_autofree char *q = quote_value (key);
          problem_add (&problems, "%s:%d: key \"%s\" comes before any [section] "
                       "header", display_name, lineno, q);
          continue;
        }
      load_key (exp, &problems, seen, section, key, raw, lineno);
    }

  /* What this scanner accepts, GKeyFile (and so any other reader) must too. */
  if (problems.lines->len == 0)
    {
      g_autoptr(GKeyFile) kf = g_key_file_new ();
      g_autoptr(GError) kf_error = NULL;
      if (!g_key_file_load_from_data (kf, text, len, G_KEY_FILE_NONE, &kf_error))
        problem_add (&problems, "%s: not a valid key file: %s", display_name,
                     kf_error->message);
    }

  if (!problems_finish (&problems, error))
    return NULL;
  resolve_paths (exp);
  return g_steal_pointer (&exp);
}

PlExperiment *
pl_experiment_load_file (const char  *path,
                         GError     **error)
{
  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_autofree char *text = NULL;
  gsize len = 0;
  g_autoptr(GError) local = NULL;
  if (!g_file_get_contents (path, &text, &len, &local))
    {
      g_set_error (error, PL_ERROR, PL_ERROR_IO, "cannot read experiment file %s: %s",
                   path, local->message);
      return NULL;
    }
  return pl_experiment_load_data (text, len, path, error);
}

/* ----------------------------------------------------------------- --set */

gboolean
pl_experiment_set (PlExperiment  *exp,
                   const char    *assignment,
                   GError       **error)
{
  g_return_val_if_fail (exp != NULL, FALSE);
  g_return_val_if_fail (assignment != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* as in a file: the experiment's text must stay UTF-8 (the run store keeps it) */
  if (!g_utf8_validate (assignment, -1, NULL))
    {
      g_autofree char *shown = g_utf8_make_valid (assignment, -1);
      g_set_error (error, PL_ERROR, PL_ERROR_CONFIG, "--set %s: not valid UTF-8 text",
                   shown);
      return FALSE;
    }

  const char *eq = strchr (assignment, '=');
  g_autofree char *lhs = eq ? g_strndup (assignment, eq - assignment) : NULL;
  char *dot = lhs ? strchr (lhs, '.') : NULL;
  if (!dot)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_CONFIG,
                   "--set %s: expected section.key=value, e.g. train.lr=0.01",
                   assignment);
      return FALSE;
    }
  *dot = '\0';
  const char *section = g_strstrip (lhs);
  const char *key = g_strstrip (dot + 1);
  g_autofree char *value = g_strstrip (g_strdup (eq + 1));

  if (slot_index (section) >= 0)
    {
      if (!valid_slot_key (key))
        {
          g_autofree char *msg = invalid_slot_key_message (section, key);
          g_set_error (error, PL_ERROR, PL_ERROR_CONFIG, "--set %s: %s", assignment, msg);
          return FALSE;
        }
      store_value (exp, section, key, pl_value_new (value, 0, assignment));
      return TRUE;
    }
  if (!is_table_section (section))
    {
      g_autofree char *msg = unknown_section_message (section);
      g_set_error (error, PL_ERROR, PL_ERROR_CONFIG, "--set %s: %s", assignment, msg);
      return FALSE;
    }
  const PlKeyEntry *e = lookup_entry (section, key);
  if (!e)
    {
      g_autofree char *msg = unknown_key_message (section, key);
      g_set_error (error, PL_ERROR, PL_ERROR_CONFIG, "--set %s: %s", assignment, msg);
      return FALSE;
    }
  g_autofree char *msg = apply_value (exp, e, value);
  if (msg)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_CONFIG, "--set %s: [%s] %s: %s",
                   assignment, section, key, msg);
      return FALSE;
    }
  store_value (exp, section, key, pl_value_new (value, 0, assignment));
  if (e->info.type == PL_EXPERIMENT_KEY_PATH)
    resolve_paths (exp);
  return TRUE;
}

/* ------------------------------------------------------------ inspection */

static const PlValue *
find_value (const PlExperiment *exp,
            const char         *section,
            const char         *key)
{
  g_autofree char *id = value_id (section, key);
  return g_hash_table_lookup (exp->priv->values, id);
}

const char *
pl_experiment_get_raw (const PlExperiment *exp,
                       const char         *section,
                       const char         *key)
{
  g_return_val_if_fail (exp != NULL && section != NULL && key != NULL, NULL);
  const PlValue *v = find_value (exp, section, key);
  if (v)
    return v->raw;
  const PlKeyEntry *e = lookup_entry (section, key);
  return e ? e->info.default_text : NULL;
}

int
pl_experiment_get_line (const PlExperiment *exp,
                        const char         *section,
                        const char         *key)
{
  g_return_val_if_fail (exp != NULL && section != NULL && key != NULL, 0);
  const PlValue *v = find_value (exp, section, key);
  return v ? v->line : 0;
}

char *
pl_experiment_get_location (const PlExperiment *exp,
                            const char         *section,
                            const char         *key)
{
  g_return_val_if_fail (exp != NULL && section != NULL && key != NULL, NULL);
  const PlValue *v = find_value (exp, section, key);
  if (v && v->line > 0)
    return g_strdup_printf ("%s:%d", exp->priv->display_name, v->line);
  if (v && v->assignment)
    return g_strdup_printf ("--set %s", v->assignment);
  return g_strdup (exp->priv->display_name);
}

const char *
pl_experiment_get_display_name (const PlExperiment *exp)
{
  g_return_val_if_fail (exp != NULL, NULL);
  return exp->priv->display_name;
}

char *
pl_experiment_get_value_text (const PlExperiment *exp,
                              const char         *section,
                              const char         *key)
{
  g_return_val_if_fail (exp != NULL && section != NULL && key != NULL, NULL);
  const PlKeyEntry *e = lookup_entry (section, key);
  if (e)
    return value_text (exp, e);
  const PlValue *v = find_value (exp, section, key);
  return v ? g_strdup (v->raw) : NULL;
}

gboolean
pl_experiment_has_section (const PlExperiment *exp,
                           const char         *section)
{
  g_return_val_if_fail (exp != NULL && section != NULL, FALSE);
  if (is_table_section (section))
    return TRUE;
  int s = slot_index (section);
  return s >= 0 && exp->priv->slot_present[s];
}

gchar **
pl_experiment_get_slot_keys (const PlExperiment *exp,
                             const char         *section)
{
  g_return_val_if_fail (exp != NULL && section != NULL, NULL);
  int s = slot_index (section);
  g_return_val_if_fail (s >= 0, NULL);
  GPtrArray *keys = exp->priv->slot_keys[s];
  gchar **out = g_new0 (gchar *, keys->len + 1);
  for (guint i = 0; i < keys->len; i++)
    out[i] = g_strdup (keys->pdata[i]);
  return out;
}

/* ------------------------------------------------------------ validation */

/* NULL when @path is a readable regular file, else why not (transfer full) */
static char *
unreadable_reason (const char *path)
{
  GStatBuf st;
  if (g_stat (path, &st) != 0)
    return g_strdup (g_strerror (errno));
  if (S_ISDIR (st.st_mode))
    return g_strdup ("it is a directory");
  if (g_access (path, R_OK) != 0)
    return g_strdup (g_strerror (errno));
  return NULL;
}

static void
check_readable (const PlExperiment *exp,
                Problems           *problems,
                const char         *section,
                const char         *key,
                const char         *path)
{
  g_autofree char *why = unreadable_reason (path);
  if (why)
    {
      g_autofree char *where = pl_experiment_get_location (exp, section, key);
      problem_add (problems, "%s: [%s] %s: cannot read \"%s\": %s", where, section, key,
                   path, why);
    }
}

gboolean
pl_experiment_validate (PlExperiment  *exp,
                        GError       **error)
{
  g_return_val_if_fail (exp != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  Problems problems = { g_ptr_array_new_with_free_func (g_free) };

  if (exp->data.dataset == PL_DATASET_KIND_CSV || exp->data.dataset == PL_DATASET_KIND_NPY)
    {
      const char *kind = dataset_values[exp->data.dataset];
      if (!exp->data.train_path)
        {
          g_autofree char *where = pl_experiment_get_location (exp, "data", "dataset");
          problem_add (&problems, "%s: [data] dataset: %s needs [data] train, the "
                       "training file", where, kind);
        }
      else
        check_readable (exp, &problems, "data", "train", exp->data.train_path);
      if (exp->data.val_path)
        check_readable (exp, &problems, "data", "val", exp->data.val_path);
    }

  if (exp->model.init_from_path)
    check_readable (exp, &problems, "model", "init-from", exp->model.init_from_path);

  if (exp->model.architecture == PL_ARCHITECTURE_KIND_MLP && exp->model.n_hidden == 0)
    {
      g_autofree char *where = pl_experiment_get_location (exp, "model", "hidden");
      problem_add (&problems, "%s: [model] hidden: the mlp architecture needs at least "
                   "one hidden layer width, e.g. hidden = 128", where);
    }
  if (exp->model.architecture == PL_ARCHITECTURE_KIND_CNN && exp->model.n_channels == 0)
    {
      g_autofree char *where = pl_experiment_get_location (exp, "model", "channels");
      problem_add (&problems, "%s: [model] channels: the cnn architecture needs at "
                   "least one convolution layer, e.g. channels = 16,32", where);
    }
  if (exp->model.architecture == PL_ARCHITECTURE_KIND_ATTENTION
      && exp->model.width % exp->model.heads != 0)
    {
      g_autofree char *where = pl_experiment_get_location (exp, "model", "width");
      problem_add (&problems, "%s: [model] width: %d is not divisible by [model] heads "
                   "(%d); the attention width is split evenly between the heads",
                   where, exp->model.width, exp->model.heads);
    }

  if (exp->train.nesterov
      && (exp->train.optimizer != PL_OPTIMIZER_KIND_SGD || exp->train.momentum <= 0))
    {
      g_autofree char *where = pl_experiment_get_location (exp, "train", "nesterov");
      g_autofree char *momentum = pl_experiment_get_value_text (exp, "train", "momentum");
      problem_add (&problems, "%s: [train] nesterov: needs optimizer = sgd and momentum "
                   "> 0 (optimizer is %s, momentum %s)", where,
                   optimizer_values[exp->train.optimizer], momentum);
    }

  return problems_finish (&problems, error);
}

/* ------------------------------------------------------------------ output */

char *
pl_experiment_to_text (const PlExperiment *exp)
{
  g_return_val_if_fail (exp != NULL, NULL);
  GString *out = g_string_new ("# Paramlab experiment, normalized: every key with "
                               "its value or default.\n");
  const char *section = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (key_table); i++)
    {
      const PlKeyEntry *e = &key_table[i];
      if (!section || strcmp (section, e->info.section) != 0)
        {
          section = e->info.section;
          g_string_append_printf (out, "\n[%s]\n", section);
        }
      g_autofree char *text = e->offset == OFF (experiment.base_dir)
        ? g_strdup (exp->experiment.base_dir_path) : value_text (exp, e);
      g_autofree char *escaped = escape_value (text);
      g_string_append_printf (out, *escaped ? "%s = %s\n" : "%s =%s\n", e->info.key,
                              escaped);
    }

  for (guint s = 0; s < N_SLOTS; s++)
    {
      if (!exp->priv->slot_present[s])
        continue;
      g_string_append_printf (out, "\n[%s]\n", slot_sections[s]);
      GPtrArray *keys = exp->priv->slot_keys[s];
      for (guint i = 0; i < keys->len; i++)
        {
          const PlValue *v = find_value (exp, slot_sections[s], keys->pdata[i]);
          g_autofree char *escaped = escape_value (v->raw);
          g_string_append_printf (out, *escaped ? "%s = %s\n" : "%s =%s\n",
                                  (char *) keys->pdata[i], escaped);
        }
    }
  return g_string_free (out, FALSE);
}

GPtrArray *
pl_experiment_flatten (const PlExperiment *exp)
{
  g_return_val_if_fail (exp != NULL, NULL);
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < G_N_ELEMENTS (key_table); i++)
    {
      const PlKeyEntry *e = &key_table[i];
      if (e->offset == OFF (experiment.base_dir))
        continue;
      g_autofree char *text = NULL;
      if (e->info.type == PL_EXPERIMENT_KEY_PATH)
        {
          const char *resolved = FIELD (exp, e->offset2, char *);
          text = g_strdup (resolved ? resolved : "");
        }
      else
        text = value_text (exp, e);
      g_ptr_array_add (out, g_strdup_printf ("%s.%s=%s", e->info.section, e->info.key,
                                             text));
    }
  for (guint s = 0; s < N_SLOTS; s++)
    {
      GPtrArray *keys = exp->priv->slot_keys[s];
      for (guint i = 0; i < keys->len; i++)
        {
          const PlValue *v = find_value (exp, slot_sections[s], keys->pdata[i]);
          g_ptr_array_add (out, g_strdup_printf ("%s.%s=%s", slot_sections[s],
                                                 (char *) keys->pdata[i], v->raw));
        }
    }
  return out;
}

gboolean
pl_experiment_equal (const PlExperiment *a,
                     const PlExperiment *b)
{
  g_return_val_if_fail (a != NULL && b != NULL, FALSE);

  for (guint i = 0; i < G_N_ELEMENTS (key_table); i++)
    {
      const PlKeyEntry *e = &key_table[i];
      switch (e->info.type)
        {
        case PL_EXPERIMENT_KEY_STRING:
          if (g_strcmp0 (FIELD (a, e->offset, char *), FIELD (b, e->offset, char *)))
            return FALSE;
          break;
        case PL_EXPERIMENT_KEY_PATH:
          /* paths are equal when they name the same file */
          if (g_strcmp0 (FIELD (a, e->offset2, char *), FIELD (b, e->offset2, char *)))
            return FALSE;
          break;
        case PL_EXPERIMENT_KEY_INT:
        case PL_EXPERIMENT_KEY_BOOL:
        case PL_EXPERIMENT_KEY_ENUM:
          if (FIELD (a, e->offset, int) != FIELD (b, e->offset, int))
            return FALSE;
          break;
        case PL_EXPERIMENT_KEY_UINT64:
          if (FIELD (a, e->offset, guint64) != FIELD (b, e->offset, guint64))
            return FALSE;
          break;
        case PL_EXPERIMENT_KEY_DOUBLE:
          if (FIELD (a, e->offset, double) != FIELD (b, e->offset, double))
            return FALSE;
          break;
        case PL_EXPERIMENT_KEY_INT_LIST:
          {
            guint n = FIELD (a, e->offset2, guint);
            if (n != FIELD (b, e->offset2, guint))
              return FALSE;
            if (n && memcmp (FIELD (a, e->offset, int *), FIELD (b, e->offset, int *),
                             n * sizeof (int)) != 0)
              return FALSE;
            break;
          }
        default:
          g_assert_not_reached ();
        }
    }

  for (guint s = 0; s < N_SLOTS; s++)
    {
      GPtrArray *ka = a->priv->slot_keys[s], *kb = b->priv->slot_keys[s];
      if (a->priv->slot_present[s] != b->priv->slot_present[s] || ka->len != kb->len)
        return FALSE;
      for (guint i = 0; i < ka->len; i++)
        {
          const PlValue *va = find_value (a, slot_sections[s], ka->pdata[i]);
          const PlValue *vb = find_value (b, slot_sections[s], ka->pdata[i]);
          if (!vb || strcmp (va->raw, vb->raw) != 0)
            return FALSE;
        }
    }
  return TRUE;
}
