/* pl-experiment-editor.c: the experiment form. */
#include "pl-experiment-editor.h"

#include <glib/gi18n.h>

#include "pl-config.h"
#include <math.h>
#include <string.h>

#include "paramlab.h"
#include "pl-gui.h"
#include "pl-key-texts.h"
#include "pl-plot.h"

typedef struct _Field Field;

struct _PlExperimentEditor {
  GtkWidget parent_instance;

  PlPluginCatalog *catalog;
  GSettings *settings;

  PlExperiment *exp;          /* the table keys (its slot sections are ignored) */
  GKeyFile *slots;            /* the slot sections, as edited */
  char *path;
  char *display_name;
  gboolean is_preset;
  gboolean modified;
  gboolean valid;
  char *rule_problems;        /* from pl_experiment_validate, one line each */
  gboolean building;          /* filling widgets: their signals are not edits */

  AdwPreferencesPage *page;
  GtkRevealer *banner;
  GtkLabel *banner_label;
  AdwPreferencesGroup *techniques;
  GPtrArray *technique_rows;  /* rows added to techniques, to remove on rebuild */
  GHashTable *fields;         /* "section.key" -> Field (table keys) */
  GHashTable *option_fields;  /* "section.key" -> Field (plugin options) */
  GHashTable *slot_rows;      /* slot -> AdwComboRow */
  GQueue hidden_groups;       /* groups below the fold, shown after the first frame */
  guint reveal_tick;
  guint reveal_frames;

  /* the preview of the pruning schedule's target sparsity */
  GtkWidget *preview_row;
  PlPlot *preview_plot;
  GtkLabel *preview_note;
  guint preview_timeout;
  PlPluginEngine *engine;     /* made when a preview first needs it */
  char *data_key;             /* what n_train was counted for */
  gsize n_train;
};

G_DEFINE_FINAL_TYPE (PlExperimentEditor, pl_experiment_editor, GTK_TYPE_WIDGET)

enum { SIGNAL_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

struct _Field {
  PlExperimentEditor *editor;
  char *section;
  char *key;
  const PlExperimentKeyInfo *info;   /* table key, or NULL */
  PlPluginOption *opt;               /* plugin option (a copy), or NULL */
  GtkWidget *row;                    /* AdwActionRow or AdwComboRow */
  GtkWidget *entry;                  /* GtkEntry, GtkSpinButton, GtkSwitch, or NULL */
  GtkStringList *values;             /* combo rows: the raw values by position */
  char *subtitle;
  char *problem;
};

static void revalidate (PlExperimentEditor *self);
static void rebuild_techniques (PlExperimentEditor *self);
static void add_preview_row (PlExperimentEditor *self);
static void schedule_preview (PlExperimentEditor *self);
static char *compose_text (PlExperimentEditor *self);

static void
field_free (gpointer data)
{
  Field *f = data;
  g_free (f->section);
  g_free (f->key);
  g_free (f->subtitle);
  g_free (f->problem);
  g_clear_object (&f->values);
  if (f->opt)
    {
      g_free (f->opt->name);
      g_free (f->opt->type);
      g_free (f->opt->default_text);
      g_free (f->opt->blurb);
      g_strfreev (f->opt->choices);
      g_free (f->opt);
    }
  g_free (f);
}

/* ---- labels ------------------------------------------------------------------ */

static const char *
section_title (const char *section)
{
  if (g_str_equal (section, "experiment"))
    return _("Experiment");
  if (g_str_equal (section, "data"))
    return _("Data");
  if (g_str_equal (section, "model"))
    return _("Model");
  if (g_str_equal (section, "train"))
    return _("Training");
  return section;
}

/* A readable label for an enum value of the key table. */
static const char *
choice_label (const char *section,
              const char *key,
              const char *value)
{
  static const struct { const char *key; const char *value; const char *label; } labels[] = {
    { "dataset", "digits", N_("Digits (8×8 images, 10 classes)") },
    { "dataset", "breast-cancer", N_("Breast cancer (30 features, 2 classes)") },
    { "dataset", "csv", N_("CSV file") },
    { "dataset", "npy", N_("NumPy file (.npy, .npz)") },
    { "normalize", "none", N_("None") },
    { "normalize", "standard", N_("Standardize (zero mean, unit variance)") },
    { "normalize", "minmax", N_("Min–max to [0, 1]") },
    { "architecture", "mlp", N_("MLP (fully connected)") },
    { "architecture", "cnn", N_("CNN (convolutional)") },
    { "architecture", "attention", N_("Attention (transformer encoder)") },
    { "optimizer", "sgd", N_("SGD") },
    { "optimizer", "adam", N_("Adam") },
    { "optimizer", "adamw", N_("AdamW") },
    { "schedule", "constant", N_("Constant") },
    { "schedule", "step", N_("Step decay") },
    { "schedule", "cosine", N_("Cosine annealing") },
    { "freeze", "none", N_("None: train everything") },
    { "freeze", "base", N_("Freeze the base") },
    { "loss", "cross-entropy", N_("Cross-entropy") },
    { "loss", "mse", N_("Mean squared error") },
  };
  for (guint i = 0; i < G_N_ELEMENTS (labels); i++)
    if (g_str_equal (labels[i].key, key) && g_str_equal (labels[i].value, value))
      return _(labels[i].label);
  return value;
}

static char *
format_bound (double v)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  if (fabs (v) >= 1e9 && v == floor (v))
    return g_strdup_printf ("%.0f", v);
  return g_strdup (g_ascii_formatd (buf, sizeof buf, "%.6g", v));
}

/* "Must be …": what a value of @info may be, translated. */
static char *
describe_allowed (const PlExperimentKeyInfo *info)
{
  PlExperimentBounds b = info->bounds;
  g_autofree char *lo = format_bound (info->min);
  g_autofree char *hi = format_bound (info->max);
  gboolean has_lo = b & (PL_EXPERIMENT_BOUND_MIN | PL_EXPERIMENT_BOUND_MIN_EXCLUSIVE);
  gboolean has_hi = b & (PL_EXPERIMENT_BOUND_MAX | PL_EXPERIMENT_BOUND_MAX_EXCLUSIVE);
  gboolean lo_ex = b & PL_EXPERIMENT_BOUND_MIN_EXCLUSIVE;
  gboolean hi_ex = b & PL_EXPERIMENT_BOUND_MAX_EXCLUSIVE;
  if (info->max >= G_MAXINT)
    has_hi = FALSE;

  switch (info->type)
    {
    case PL_EXPERIMENT_KEY_INT:
      if (has_lo && has_hi)
        return g_strdup_printf (_("Must be a whole number from %s to %s."), lo, hi);
      if (has_lo)
        return g_strdup_printf (_("Must be a whole number of at least %s."), lo);
      return g_strdup (_("Must be a whole number."));
    case PL_EXPERIMENT_KEY_UINT64:
      return g_strdup (_("Must be a whole number of 0 or more."));
    case PL_EXPERIMENT_KEY_INT_LIST:
      return g_strdup_printf (_("Must be whole numbers from %s to %s, separated by commas."),
                              lo, hi);
    case PL_EXPERIMENT_KEY_DOUBLE:
      if (has_lo && has_hi)
        {
          if (!lo_ex && !hi_ex)
            return g_strdup_printf (_("Must be a number from %s to %s."), lo, hi);
          if (lo_ex && !hi_ex)
            return g_strdup_printf (_("Must be a number greater than %s and at most %s."), lo, hi);
          if (!lo_ex && hi_ex)
            return g_strdup_printf (_("Must be a number of at least %s and less than %s."), lo, hi);
          return g_strdup_printf (_("Must be a number greater than %s and less than %s."), lo, hi);
        }
      if (has_lo)
        return lo_ex ? g_strdup_printf (_("Must be a number greater than %s."), lo)
                     : g_strdup_printf (_("Must be a number of at least %s."), lo);
      if (has_hi)
        return hi_ex ? g_strdup_printf (_("Must be a number less than %s."), hi)
                     : g_strdup_printf (_("Must be a number of at most %s."), hi);
      return g_strdup (_("Must be a number."));
    case PL_EXPERIMENT_KEY_BOOL:
      return g_strdup (_("Must be true or false."));
    default:
      return NULL;
    }
}

/* ---- rows ------------------------------------------------------------------ */

static void
field_show_problem (Field      *f,
                    const char *problem)
{
  if (g_strcmp0 (f->problem, problem) == 0)
    return;
  g_free (f->problem);
  f->problem = g_strdup (problem);
  if (ADW_IS_ACTION_ROW (f->row))
    adw_action_row_set_subtitle (ADW_ACTION_ROW (f->row), problem ? problem : f->subtitle);
  if (problem)
    {
      gtk_widget_add_css_class (f->row, "invalid");
      if (f->entry)
        gtk_widget_add_css_class (f->entry, "error");
    }
  else
    {
      gtk_widget_remove_css_class (f->row, "invalid");
      if (f->entry)
        gtk_widget_remove_css_class (f->entry, "error");
    }
}

/* The row's current value as the text of a .ini value. (transfer full) */
static char *
field_get_text (Field *f)
{
  if (ADW_IS_COMBO_ROW (f->row))
    {
      guint pos = adw_combo_row_get_selected (ADW_COMBO_ROW (f->row));
      const char *v = pos != GTK_INVALID_LIST_POSITION
                        ? gtk_string_list_get_string (f->values, pos) : NULL;
      return g_strdup (v ? v : "");
    }
  if (GTK_IS_SWITCH (f->entry))
    return g_strdup (gtk_switch_get_active (GTK_SWITCH (f->entry)) ? "true" : "false");
  if (GTK_IS_SPIN_BUTTON (f->entry))
    return g_strdup_printf ("%d", gtk_spin_button_get_value_as_int (GTK_SPIN_BUTTON (f->entry)));
  return g_strdup (gtk_editable_get_text (GTK_EDITABLE (f->entry)));
}

static void
field_set_text (Field      *f,
                const char *text)
{
  if (!text)
    text = "";
  if (ADW_IS_COMBO_ROW (f->row))
    {
      guint n = g_list_model_get_n_items (G_LIST_MODEL (f->values));
      for (guint i = 0; i < n; i++)
        if (g_str_equal (gtk_string_list_get_string (f->values, i), text))
          {
            adw_combo_row_set_selected (ADW_COMBO_ROW (f->row), i);
            return;
          }
      /* a value the list does not have: offer it as it is */
      gtk_string_list_append (f->values, text);
      GListModel *model = adw_combo_row_get_model (ADW_COMBO_ROW (f->row));
      if (model != G_LIST_MODEL (f->values))
        gtk_string_list_append (GTK_STRING_LIST (model), text);
      adw_combo_row_set_selected (ADW_COMBO_ROW (f->row), n);
    }
  else if (GTK_IS_SWITCH (f->entry))
    gtk_switch_set_active (GTK_SWITCH (f->entry), g_str_equal (text, "true"));
  else if (GTK_IS_SPIN_BUTTON (f->entry))
    gtk_spin_button_set_value (GTK_SPIN_BUTTON (f->entry), g_ascii_strtod (text, NULL));
  else
    gtk_editable_set_text (GTK_EDITABLE (f->entry), text);
}

/* A table key was edited: apply it to the experiment, or mark the row. */
static void
table_field_changed (Field *f)
{
  PlExperimentEditor *self = f->editor;
  if (self->building)
    return;
  g_autofree char *text = field_get_text (f);
  g_autofree char *assignment = g_strdup_printf ("%s.%s=%s", f->section, f->key, text);
  g_autoptr (GError) error = NULL;
  if (pl_experiment_set (self->exp, assignment, &error))
    field_show_problem (f, NULL);
  else
    {
      g_autofree char *allowed = describe_allowed (f->info);
      if (allowed)
        field_show_problem (f, allowed);
      else
        {
          /* the loader's message after the "--set …: " it starts with */
          const char *msg = strstr (error->message, ": ");
          field_show_problem (f, msg ? msg + 2 : error->message);
        }
    }
  self->modified = TRUE;
  revalidate (self);
}

static void
option_field_changed (Field *f)
{
  PlExperimentEditor *self = f->editor;
  if (self->building)
    return;
  g_autofree char *text = field_get_text (f);
  g_autofree char *problem = NULL;
  g_strstrip (text);
  if (pl_plugin_option_check (f->opt, text, &problem))
    field_show_problem (f, NULL);
  else
    field_show_problem (f, problem);
  /* a value equal to the default is left out of the file */
  if (f->opt->default_text && g_str_equal (text, f->opt->default_text))
    g_key_file_remove_key (self->slots, f->section, f->key, NULL);
  else
    g_key_file_set_value (self->slots, f->section, f->key, text);
  self->modified = TRUE;
  revalidate (self);
}

static void
field_changed (Field *f)
{
  if (f->info)
    table_field_changed (f);
  else
    option_field_changed (f);
}

static void
on_entry_changed (GtkEditable *editable,
                  Field       *f)
{
  field_changed (f);
}

static void
on_switch_active (GtkSwitch  *sw,
                  GParamSpec *pspec,
                  Field      *f)
{
  field_changed (f);
}

static void
on_spin_value (GtkSpinButton *spin,
               Field         *f)
{
  field_changed (f);
}

static void update_visibility (PlExperimentEditor *self);

static void
on_combo_selected (AdwComboRow *row,
                   GParamSpec  *pspec,
                   Field       *f)
{
  field_changed (f);
  update_visibility (f->editor);
}

/* The chooser of a path key: fills the entry with the file picked. */
static void
on_path_chosen (GtkNativeDialog *dialog,
                int              response,
                Field           *f)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (dialog));
      g_autofree char *path = file ? g_file_get_path (file) : NULL;
      if (path)
        gtk_editable_set_text (GTK_EDITABLE (f->entry), path);
    }
  g_object_unref (dialog);
}

static void
on_browse_clicked (GtkButton *button,
                   Field     *f)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (button));
  GtkFileChooserNative *dialog =
    gtk_file_chooser_native_new (_("Choose a File"), GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                 GTK_FILE_CHOOSER_ACTION_OPEN, _("_Choose"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (dialog), TRUE);
  g_signal_connect (dialog, "response", G_CALLBACK (on_path_chosen), f);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (dialog));
}

static GtkWidget *
new_entry (int width_chars)
{
  GtkWidget *entry = gtk_entry_new ();
  gtk_editable_set_width_chars (GTK_EDITABLE (entry), width_chars);
  gtk_widget_set_valign (entry, GTK_ALIGN_CENTER);
  return entry;
}

/* Builds the row of table key @info with its current value. */
static Field *
build_table_field (PlExperimentEditor        *self,
                   const PlExperimentKeyInfo *info)
{
  Field *f = g_new0 (Field, 1);
  f->editor = self;
  f->section = g_strdup (info->section);
  f->key = g_strdup (info->key);
  f->info = info;
  const PlKeyText *kt = pl_key_text_lookup (info->section, info->key);
  const char *title = kt ? _(kt->title) : info->key;
  f->subtitle = g_strdup (info->blurb ? g_dgettext (GETTEXT_PACKAGE, info->blurb) : "");
  g_autofree char *allowed = describe_allowed (info);
  g_autofree char *tooltip = g_strdup_printf ("[%s] %s%s%s", info->section, info->key,
                                              allowed ? "\n" : "", allowed ? allowed : "");

  if (info->type == PL_EXPERIMENT_KEY_ENUM)
    {
      f->values = gtk_string_list_new (NULL);
      GtkStringList *labels = gtk_string_list_new (NULL);
      for (guint i = 0; info->allowed && info->allowed[i]; i++)
        {
          gtk_string_list_append (f->values, info->allowed[i]);
          gtk_string_list_append (labels, choice_label (info->section, info->key, info->allowed[i]));
        }
      f->row = adw_combo_row_new ();
      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (f->row), FALSE);
      adw_combo_row_set_model (ADW_COMBO_ROW (f->row), G_LIST_MODEL (labels));
      g_object_unref (labels);
      adw_action_row_set_subtitle (ADW_ACTION_ROW (f->row), f->subtitle);
      g_signal_connect (f->row, "notify::selected", G_CALLBACK (on_combo_selected), f);
    }
  else
    {
      f->row = adw_action_row_new ();
      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (f->row), FALSE);
      adw_action_row_set_subtitle (ADW_ACTION_ROW (f->row), f->subtitle);
      switch (info->type)
        {
        case PL_EXPERIMENT_KEY_BOOL:
          f->entry = gtk_switch_new ();
          gtk_widget_set_valign (f->entry, GTK_ALIGN_CENTER);
          adw_action_row_set_activatable_widget (ADW_ACTION_ROW (f->row), f->entry);
          g_signal_connect (f->entry, "notify::active", G_CALLBACK (on_switch_active), f);
          break;
        case PL_EXPERIMENT_KEY_INT:
          {
            double lo = info->bounds & PL_EXPERIMENT_BOUND_MIN ? info->min : -G_MAXINT;
            double hi = info->bounds & PL_EXPERIMENT_BOUND_MAX ? info->max : G_MAXINT;
            f->entry = gtk_spin_button_new_with_range (lo, hi, 1);
            gtk_spin_button_set_numeric (GTK_SPIN_BUTTON (f->entry), TRUE);
            gtk_editable_set_width_chars (GTK_EDITABLE (f->entry), 8);
            gtk_widget_set_valign (f->entry, GTK_ALIGN_CENTER);
            g_signal_connect (f->entry, "value-changed", G_CALLBACK (on_spin_value), f);
          }
          break;
        case PL_EXPERIMENT_KEY_STRING:
          f->entry = new_entry (g_str_equal (info->key, "description") ? 36 : 20);
          g_signal_connect (f->entry, "changed", G_CALLBACK (on_entry_changed), f);
          break;
        case PL_EXPERIMENT_KEY_PATH:
          {
            f->entry = new_entry (24);
            g_signal_connect (f->entry, "changed", G_CALLBACK (on_entry_changed), f);
            GtkWidget *browse = gtk_button_new_from_icon_name ("document-open-symbolic");
            gtk_widget_set_valign (browse, GTK_ALIGN_CENTER);
            gtk_widget_add_css_class (browse, "flat");
            gtk_widget_set_tooltip_text (browse, _("Choose a file"));
            g_signal_connect (browse, "clicked", G_CALLBACK (on_browse_clicked), f);
            adw_action_row_add_suffix (ADW_ACTION_ROW (f->row), f->entry);
            adw_action_row_add_suffix (ADW_ACTION_ROW (f->row), browse);
          }
          break;
        default:
          f->entry = new_entry (12);
          gtk_entry_set_alignment (GTK_ENTRY (f->entry), 1.0);
          g_signal_connect (f->entry, "changed", G_CALLBACK (on_entry_changed), f);
          break;
        }
      if (info->type != PL_EXPERIMENT_KEY_PATH)
        adw_action_row_add_suffix (ADW_ACTION_ROW (f->row), f->entry);
    }
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (f->row), title);
  gtk_widget_set_tooltip_text (f->row, tooltip);
  adw_action_row_set_subtitle_lines (ADW_ACTION_ROW (f->row), 3);
  return f;
}

/* Shows the rows that matter for the current choices. */
static void
update_visibility (PlExperimentEditor *self)
{
  if (!self->exp)
    return;
  const PlExperiment *e = self->exp;
  gboolean files = e->data.dataset == PL_DATASET_KIND_CSV || e->data.dataset == PL_DATASET_KIND_NPY;
  gboolean adam = e->train.optimizer != PL_OPTIMIZER_KIND_SGD;
  const struct { const char *section; const char *key; gboolean visible; } rules[] = {
    { "experiment", "base-dir", FALSE },
    { "data", "train", files },
    { "data", "val", files },
    { "data", "label-column", e->data.dataset == PL_DATASET_KIND_CSV },
    { "model", "hidden", e->model.architecture == PL_ARCHITECTURE_KIND_MLP },
    { "model", "channels", e->model.architecture == PL_ARCHITECTURE_KIND_CNN },
    { "model", "kernel-size", e->model.architecture == PL_ARCHITECTURE_KIND_CNN },
    { "model", "layers", e->model.architecture == PL_ARCHITECTURE_KIND_ATTENTION },
    { "model", "heads", e->model.architecture == PL_ARCHITECTURE_KIND_ATTENTION },
    { "model", "width", e->model.architecture == PL_ARCHITECTURE_KIND_ATTENTION },
    { "model", "tokens", e->model.architecture == PL_ARCHITECTURE_KIND_ATTENTION },
    { "train", "momentum", !adam },
    { "train", "nesterov", !adam },
    { "train", "beta1", adam },
    { "train", "beta2", adam },
    { "train", "eps", adam },
    { "train", "step-size", e->train.schedule == PL_SCHEDULE_KIND_STEP },
    { "train", "gamma", e->train.schedule == PL_SCHEDULE_KIND_STEP },
  };
  for (guint i = 0; i < G_N_ELEMENTS (rules); i++)
    {
      g_autofree char *id = g_strdup_printf ("%s.%s", rules[i].section, rules[i].key);
      Field *f = g_hash_table_lookup (self->fields, id);
      if (f)
        gtk_widget_set_visible (f->row, rules[i].visible);
    }
}

/* ---- showing the form in stages ---------------------------------------------- */

/* The groups of the first sections fill the first screen; the others stay out
 * of the first frame's layout (measuring every row costs about as much as the
 * rest of the window) and are shown one per frame after it. */
#define FIRST_FRAME_GROUPS 2

static void
reveal_next_group (PlExperimentEditor *self)
{
  GtkWidget *group = g_queue_pop_head (&self->hidden_groups);
  if (group)
    gtk_widget_set_visible (group, TRUE);
}

static gboolean
on_reveal_tick (GtkWidget     *widget,
                GdkFrameClock *clock,
                gpointer       data)
{
  PlExperimentEditor *self = PL_EXPERIMENT_EDITOR (widget);
  /* the first tick belongs to the frame that shows the form first */
  if (self->reveal_frames++ > 0)
    reveal_next_group (self);
  if (!g_queue_is_empty (&self->hidden_groups))
    return G_SOURCE_CONTINUE;
  self->reveal_tick = 0;
  return G_SOURCE_REMOVE;
}

/* Shows every group now (a row below the fold is wanted before its turn). */
static void
reveal_all (PlExperimentEditor *self)
{
  while (!g_queue_is_empty (&self->hidden_groups))
    reveal_next_group (self);
  if (self->reveal_tick)
    gtk_widget_remove_tick_callback (GTK_WIDGET (self), self->reveal_tick);
  self->reveal_tick = 0;
}

static void
hide_until_shown (PlExperimentEditor *self,
                  GtkWidget          *group)
{
  gtk_widget_set_visible (group, FALSE);
  g_queue_push_tail (&self->hidden_groups, group);
  if (!self->reveal_tick)
    self->reveal_tick = gtk_widget_add_tick_callback (GTK_WIDGET (self), on_reveal_tick,
                                                      NULL, NULL);
}

/* ---- the slot sections ------------------------------------------------------- */

static gboolean
plugin_disabled (PlExperimentEditor *self,
                 const char         *id)
{
  if (!self->settings)
    return FALSE;
  g_auto (GStrv) disabled = g_settings_get_strv (self->settings, "disabled-plugins");
  return g_strv_contains ((const char * const *) disabled, id);
}

static char *
slot_choice (PlExperimentEditor *self,
             const char         *slot)
{
  const char *key = NULL;
  const char *section = pl_slot_section (slot, &key);
  if (!section)
    return NULL;
  char *value = g_key_file_get_value (self->slots, section, key, NULL);
  if (value)
    g_strstrip (value);
  if (value && !*value)
    g_clear_pointer (&value, g_free);
  return value;
}

static void
add_technique_row (PlExperimentEditor *self,
                   GtkWidget          *row)
{
  adw_preferences_group_add (self->techniques, row);
  g_ptr_array_add (self->technique_rows, row);
}

static gboolean
is_integer_option (const PlPluginOption *opt)
{
  static const char * const types[] = { "int", "uint", "int64", "uint64", "long", NULL };
  return g_strv_contains (types, opt->type);
}

static Field *
build_option_field (PlExperimentEditor   *self,
                    const char           *section,
                    const PlPluginOption *opt)
{
  Field *f = g_new0 (Field, 1);
  f->editor = self;
  f->section = g_strdup (section);
  f->key = g_strdup (opt->name);
  f->opt = g_new0 (PlPluginOption, 1);
  *f->opt = *opt;
  f->opt->name = g_strdup (opt->name);
  f->opt->type = g_strdup (opt->type);
  f->opt->default_text = g_strdup (opt->default_text);
  f->opt->blurb = g_strdup (opt->blurb);
  f->opt->choices = g_strdupv (opt->choices);
  f->subtitle = g_strdup (opt->blurb ? opt->blurb : "");

  if (opt->choices)
    {
      f->values = gtk_string_list_new ((const char * const *) opt->choices);
      GtkStringList *labels = gtk_string_list_new ((const char * const *) opt->choices);
      f->row = adw_combo_row_new ();
      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (f->row), FALSE);
      adw_combo_row_set_model (ADW_COMBO_ROW (f->row), G_LIST_MODEL (labels));
      g_object_unref (labels);
      g_signal_connect (f->row, "notify::selected", G_CALLBACK (on_combo_selected), f);
    }
  else
    {
      f->row = adw_action_row_new ();
      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (f->row), FALSE);
      if (g_str_equal (opt->type, "bool") || g_str_equal (opt->type, "boolean"))
        {
          f->entry = gtk_switch_new ();
          gtk_widget_set_valign (f->entry, GTK_ALIGN_CENTER);
          adw_action_row_set_activatable_widget (ADW_ACTION_ROW (f->row), f->entry);
          g_signal_connect (f->entry, "notify::active", G_CALLBACK (on_switch_active), f);
        }
      else if (is_integer_option (opt))
        {
          /* whole numbers get a spin button over the option's range; numbers
           * with decimals an entry, which keeps every digit typed */
          double lo = opt->has_min ? MAX (opt->min, -G_MAXINT) : -G_MAXINT;
          double hi = opt->has_max ? MIN (opt->max, G_MAXINT) : G_MAXINT;
          f->entry = gtk_spin_button_new_with_range (lo, hi, 1);
          gtk_spin_button_set_numeric (GTK_SPIN_BUTTON (f->entry), TRUE);
          gtk_editable_set_width_chars (GTK_EDITABLE (f->entry), 8);
          gtk_widget_set_valign (f->entry, GTK_ALIGN_CENTER);
          g_signal_connect (f->entry, "value-changed", G_CALLBACK (on_spin_value), f);
        }
      else
        {
          f->entry = new_entry (12);
          gtk_entry_set_alignment (GTK_ENTRY (f->entry), 1.0);
          g_signal_connect (f->entry, "changed", G_CALLBACK (on_entry_changed), f);
        }
      adw_action_row_add_suffix (ADW_ACTION_ROW (f->row), f->entry);
    }
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (f->row), opt->name);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (f->row), f->subtitle);
  adw_action_row_set_subtitle_lines (ADW_ACTION_ROW (f->row), 2);
  g_autofree char *tip = NULL;
  if (opt->has_min && opt->has_max)
    tip = g_strdup_printf ("%s\n[%s] %s (%s, %g … %g)", opt->blurb ? opt->blurb : "", section,
                           opt->name, opt->type, opt->min, opt->max);
  else
    tip = g_strdup_printf ("%s\n[%s] %s (%s)", opt->blurb ? opt->blurb : "", section, opt->name,
                           opt->type);
  gtk_widget_set_tooltip_text (f->row, tip);
  gtk_widget_add_css_class (f->row, "option-row");

  g_autofree char *value = g_key_file_get_value (self->slots, section, opt->name, NULL);
  if (value)
    g_strstrip (value);
  field_set_text (f, value ? value : opt->default_text);
  g_autofree char *problem = NULL;
  if (value && !pl_plugin_option_check (opt, value, &problem))
    field_show_problem (f, problem);
  return f;
}

static void
on_slot_selected (AdwComboRow        *row,
                  GParamSpec         *pspec,
                  PlExperimentEditor *self)
{
  if (self->building)
    return;
  const char *slot = g_object_get_data (G_OBJECT (row), "pl-slot");
  GtkStringList *ids = g_object_get_data (G_OBJECT (row), "pl-ids");
  guint pos = adw_combo_row_get_selected (row);
  const char *id = pos != GTK_INVALID_LIST_POSITION && pos > 0
                     ? gtk_string_list_get_string (ids, pos) : NULL;
  pl_experiment_editor_set_plugin (self, slot, id);
}

/* Rebuilds the plugin pickers and option forms from the catalog and the slot
 * sections. */
static void
rebuild_techniques (PlExperimentEditor *self)
{
  /* Drop the focus before its row goes: GTK 4.8's viewport would follow a
   * focus widget that no longer exists. */
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  GtkWidget *focus = root ? gtk_root_get_focus (root) : NULL;
  for (guint i = 0; focus && i < self->technique_rows->len; i++)
    {
      GtkWidget *row = g_ptr_array_index (self->technique_rows, i);
      if (focus == row || gtk_widget_is_ancestor (focus, row))
        {
          gtk_root_set_focus (root, NULL);
          break;
        }
    }
  for (guint i = 0; i < self->technique_rows->len; i++)
    adw_preferences_group_remove (self->techniques, g_ptr_array_index (self->technique_rows, i));
  g_ptr_array_set_size (self->technique_rows, 0);
  g_hash_table_remove_all (self->option_fields);
  g_hash_table_remove_all (self->slot_rows);
  self->preview_row = NULL;
  self->preview_plot = NULL;
  self->preview_note = NULL;

  GPtrArray *plugins = self->catalog ? pl_plugin_catalog_get_plugins (self->catalog) : NULL;
  gboolean building = self->building;
  self->building = TRUE;

  if (!plugins || plugins->len == 0)
    {
      GtkWidget *row = adw_action_row_new ();
      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), _("No plugins available"));
      const char *why = self->catalog ? pl_plugin_catalog_get_error (self->catalog) : NULL;
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row),
                                   why ? why : _("No plugin was found. See the Plugins page."));
      add_technique_row (self, row);
      /* keep what the file chose visible, read-only */
      g_auto (GStrv) groups = g_key_file_get_groups (self->slots, NULL);
      for (guint i = 0; groups[i]; i++)
        {
          g_auto (GStrv) keys = g_key_file_get_keys (self->slots, groups[i], NULL, NULL);
          for (guint k = 0; keys && keys[k]; k++)
            {
              g_autofree char *v = g_key_file_get_value (self->slots, groups[i], keys[k], NULL);
              GtkWidget *kv = adw_action_row_new ();
              adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (kv), FALSE);
              g_autofree char *title = g_strdup_printf ("[%s] %s", groups[i], keys[k]);
              adw_preferences_row_set_title (ADW_PREFERENCES_ROW (kv), title);
              adw_action_row_set_subtitle (ADW_ACTION_ROW (kv), v);
              add_technique_row (self, kv);
            }
        }
      self->building = building;
      return;
    }

  for (const char * const *slot = pl_slot_list (); *slot; slot++)
    {
      const char *section = pl_slot_section (*slot, NULL);
      g_autofree char *chosen = slot_choice (self, *slot);
      GtkStringList *ids = gtk_string_list_new (NULL);
      GtkStringList *labels = gtk_string_list_new (NULL);
      gtk_string_list_append (ids, "");
      gtk_string_list_append (labels, C_("plugin", "None"));
      guint selected = 0, n = 1;
      const PlPluginInfo *chosen_info = NULL;
      for (guint i = 0; i < plugins->len; i++)
        {
          PlPluginInfo *p = g_ptr_array_index (plugins, i);
          if (!g_str_equal (p->slot, *slot))
            continue;
          gboolean is_chosen = g_strcmp0 (p->id, chosen) == 0;
          if ((!p->loaded || plugin_disabled (self, p->id)) && !is_chosen)
            continue;
          gtk_string_list_append (ids, p->id);
          gtk_string_list_append (labels, p->name && *p->name ? p->name : p->id);
          if (is_chosen)
            {
              selected = n;
              chosen_info = p;
            }
          n++;
        }
      if (n == 1 && !chosen)
        {
          g_object_unref (ids);
          g_object_unref (labels);
          continue;   /* no plugin for this slot */
        }
      if (chosen && !chosen_info)
        {
          g_autofree char *label = g_strdup_printf (_("%s (not installed)"), chosen);
          gtk_string_list_append (ids, chosen);
          gtk_string_list_append (labels, label);
          selected = n;
        }

      GtkWidget *row = adw_combo_row_new ();
      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), pl_slot_title (*slot));
      adw_action_row_set_subtitle (ADW_ACTION_ROW (row),
                                   chosen_info && chosen_info->description && *chosen_info->description
                                     ? chosen_info->description : pl_slot_description (*slot));
      adw_action_row_set_subtitle_lines (ADW_ACTION_ROW (row), 2);
      adw_combo_row_set_model (ADW_COMBO_ROW (row), G_LIST_MODEL (labels));
      adw_combo_row_set_selected (ADW_COMBO_ROW (row), selected);
      g_object_set_data_full (G_OBJECT (row), "pl-slot", g_strdup (*slot), g_free);
      g_object_set_data_full (G_OBJECT (row), "pl-ids", ids, g_object_unref);
      g_object_unref (labels);
      g_signal_connect (row, "notify::selected", G_CALLBACK (on_slot_selected), self);
      add_technique_row (self, row);
      g_hash_table_insert (self->slot_rows, g_strdup (*slot), row);

      for (guint i = 0; chosen_info && i < chosen_info->options->len; i++)
        {
          const PlPluginOption *opt = g_ptr_array_index (chosen_info->options, i);
          Field *f = build_option_field (self, section, opt);
          add_technique_row (self, f->row);
          g_hash_table_insert (self->option_fields, g_strdup_printf ("%s.%s", section, opt->name), f);
        }
      if (chosen_info && g_str_equal (*slot, "prune-schedule"))
        add_preview_row (self);
    }
  schedule_preview (self);
  self->building = building;
}

/* ---- the pruning schedule preview --------------------------------------------- */

/* Training rows of the experiment's data, counted once per data setting.
 * FALSE with @error when the data cannot be read. */
static gboolean
count_train_rows (PlExperimentEditor *self,
                  PlExperiment       *exp,
                  gsize              *n_train,
                  GError            **error)
{
  g_autofree char *key = g_strdup_printf ("%d|%s|%s|%.17g|%d", exp->data.dataset,
                                          exp->data.train_path ? exp->data.train_path : "",
                                          exp->data.val_path ? exp->data.val_path : "",
                                          exp->data.val_fraction, exp->data.label_column);
  if (g_strcmp0 (key, self->data_key) != 0)
    {
      PlRunData data;
      if (!pl_run_data_load (exp, NULL, &data, error))
        return FALSE;
      self->n_train = data.train->n;
      pl_run_data_clear (&data);
      g_free (self->data_key);
      self->data_key = g_steal_pointer (&key);
    }
  *n_train = self->n_train;
  return TRUE;
}

static void
set_preview_note (PlExperimentEditor *self,
                  const char         *text,
                  gboolean            warning)
{
  gtk_label_set_text (self->preview_note, text);
  if (warning)
    gtk_widget_add_css_class (GTK_WIDGET (self->preview_note), "warning");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->preview_note), "warning");
}

/* Draws the target sparsity of the chosen schedule over the run's steps. Only
 * the schedules shipped with Paramlab are loaded into the window (a third
 * party's plugin runs in the training process only, where a crash takes down
 * one run and not the window). */
static void
update_preview (PlExperimentEditor *self)
{
  g_autofree char *id = slot_choice (self, "prune-schedule");
  const PlPluginInfo *info = id && self->catalog
                               ? pl_plugin_catalog_lookup (self->catalog, "prune-schedule", id) : NULL;
  if (!self->preview_row || !info)
    return;
  pl_plot_clear (self->preview_plot);
  if (!info->builtin)
    {
      set_preview_note (self, _("The preview covers the schedules that come with Paramlab."), FALSE);
      return;
    }

  g_autofree char *text = compose_text (self);
  g_autoptr (GError) error = NULL;
  g_autoptr (PlExperiment) exp = pl_experiment_load_data (text, -1, self->display_name, &error);
  gsize n_train = 0;
  if (!exp || !count_train_rows (self, exp, &n_train, &error))
    {
      g_autofree char *msg = g_strdup_printf (_("No preview: %s"), error->message);
      set_preview_note (self, msg, FALSE);
      return;
    }
  /* the engine's length: ceil (rows / batch) steps per epoch, then max-steps */
  gint64 per_epoch = (n_train + exp->train.batch_size - 1) / MAX (exp->train.batch_size, 1);
  gint64 total = per_epoch * exp->train.epochs;
  if (exp->train.max_steps > 0)
    total = MIN (total, exp->train.max_steps);
  if (total <= 0)
    return;

  if (!self->engine)
    self->engine = pl_plugin_engine_new ();
  g_autoptr (GObject) schedule = pl_plugin_engine_create (self->engine, "prune-schedule", id, &error);
  for (guint i = 0; schedule && i < info->options->len; i++)
    {
      const PlPluginOption *opt = g_ptr_array_index (info->options, i);
      g_autofree char *value = g_key_file_get_value (self->slots, "prune", opt->name, NULL);
      if (value && !pl_plugin_set_option (schedule, id, opt->name, g_strstrip (value), "editor",
                                          &error))
        g_clear_object (&schedule);
    }
  if (!schedule || !PL_IS_PRUNING_SCHEDULE (schedule))
    {
      g_autofree char *msg = g_strdup_printf (_("No preview: %s"),
                                              error ? error->message : id);
      set_preview_note (self, msg, FALSE);
      return;
    }

  /* target_at (step) is the target after optimizer step @step (0-based) */
  enum { N_POINTS = 400 };
  gint64 n = MIN (total, N_POINTS);
  g_autofree double *xs = g_new (double, n);
  g_autofree double *ys = g_new (double, n);
  for (gint64 k = 0; k < n; k++)
    {
      gint64 step = n > 1 ? k * (total - 1) / (n - 1) : 0;
      xs[k] = (double) (step + 1);
      ys[k] = pl_pruning_schedule_target_at (PL_PRUNING_SCHEDULE (schedule), step, total);
    }
  guint sid = pl_plot_add_series (self->preview_plot, _("Target sparsity"), NULL);
  pl_plot_set_points (self->preview_plot, sid, xs, ys, n);

  double want = 0;
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (schedule), "final-sparsity"))
    g_object_get (schedule, "final-sparsity", &want, NULL);
  double reached = pl_pruning_schedule_target_at (PL_PRUNING_SCHEDULE (schedule), total - 1, total);
  g_autofree char *want_text = pl_gui_format_percent (want);
  g_autofree char *reached_text = pl_gui_format_percent (reached);
  g_autofree char *msg = NULL;
  if (reached + 1e-6 < want)
    {
      msg = g_strdup_printf (_("The run is too short: it ends at %s sparsity, before the schedule "
                               "reaches its target of %s. Train longer or end the schedule earlier."),
                             reached_text, want_text);
      set_preview_note (self, msg, TRUE);
    }
  else
    {
      gint64 at = total;
      for (gint64 s = 0; s < total; s++)
        if (pl_pruning_schedule_target_at (PL_PRUNING_SCHEDULE (schedule), s, total) + 1e-6 >= want)
          {
            at = s + 1;
            break;
          }
      msg = g_strdup_printf (_("Reaches %s sparsity at step %lld of %lld."),
                             want_text, (long long) at, (long long) total);
      set_preview_note (self, msg, FALSE);
    }
}

static gboolean
on_preview_timeout (gpointer data)
{
  PlExperimentEditor *self = data;
  self->preview_timeout = 0;
  update_preview (self);
  return G_SOURCE_REMOVE;
}

/* Updates the preview a moment after the last edit. */
static void
schedule_preview (PlExperimentEditor *self)
{
  if (!self->preview_row)
    return;
  g_clear_handle_id (&self->preview_timeout, g_source_remove);
  self->preview_timeout = g_timeout_add (150, on_preview_timeout, self);
}

/* The preview row, added after the schedule's options. */
static void
add_preview_row (PlExperimentEditor *self)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  gtk_widget_add_css_class (box, "schedule-preview");
  self->preview_plot = PL_PLOT (pl_plot_new (_("Pruning schedule")));
  pl_plot_set_y_label (self->preview_plot, _("target sparsity"));
  gtk_widget_set_size_request (GTK_WIDGET (self->preview_plot), -1, 170);
  self->preview_note = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_wrap (self->preview_note, TRUE);
  gtk_label_set_xalign (self->preview_note, 0);
  gtk_widget_add_css_class (GTK_WIDGET (self->preview_note), "caption");
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (self->preview_plot));
  gtk_box_append (GTK_BOX (box), GTK_WIDGET (self->preview_note));
  /* a preferences row, so that the group puts it in its list, in order */
  GtkWidget *row = adw_preferences_row_new ();
  gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), FALSE);
  gtk_widget_set_margin_start (box, 12);
  gtk_widget_set_margin_end (box, 12);
  gtk_widget_set_margin_top (box, 8);
  gtk_widget_set_margin_bottom (box, 10);
  gtk_list_box_row_set_child (GTK_LIST_BOX_ROW (row), box);
  self->preview_row = row;
  add_technique_row (self, row);
}

/* ---- loading, composing, validating ------------------------------------------ */

/* The experiment text: the table keys of self->exp, then self->slots. */
static char *
compose_text (PlExperimentEditor *self)
{
  g_autofree char *base = pl_experiment_to_text (self->exp);
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  if (!g_key_file_load_from_data (kf, base, -1, G_KEY_FILE_NONE, NULL))
    return g_steal_pointer (&base);
  for (const char * const *s = pl_experiment_get_slot_sections (); *s; s++)
    g_key_file_remove_group (kf, *s, NULL);
  g_auto (GStrv) groups = g_key_file_get_groups (self->slots, NULL);
  for (guint i = 0; groups[i]; i++)
    {
      g_auto (GStrv) keys = g_key_file_get_keys (self->slots, groups[i], NULL, NULL);
      for (guint k = 0; keys && keys[k]; k++)
        {
          g_autofree char *v = g_key_file_get_value (self->slots, groups[i], keys[k], NULL);
          g_key_file_set_value (kf, groups[i], keys[k], v);
        }
    }
  return g_key_file_to_data (kf, NULL, NULL);
}

/* Strips the "name:line: " a loader message starts with. */
static char *
strip_location (const char *line)
{
  const char *p = strstr (line, ": ");
  while (p)
    {
      const char *c = p - 1;
      while (c > line && g_ascii_isdigit (*c))
        c--;
      if (*c == ':' && c < p - 1)
        return g_strdup (p + 2);
      p = strstr (p + 1, ": ");
    }
  return g_strdup (line);
}

static void
revalidate (PlExperimentEditor *self)
{
  g_autoptr (GString) rules = g_string_new (NULL);
  g_autofree char *text = compose_text (self);
  g_autoptr (GError) error = NULL;
  g_autoptr (PlExperiment) composed = pl_experiment_load_data (text, -1, self->display_name, &error);
  if (composed && !pl_experiment_validate (composed, &error))
    g_clear_pointer (&composed, pl_experiment_unref);
  if (error)
    {
      g_auto (GStrv) lines = g_strsplit (error->message, "\n", -1);
      for (guint i = 0; lines[i]; i++)
        if (*lines[i])
          {
            g_autofree char *msg = strip_location (lines[i]);
            g_string_append_printf (rules, "%s%s", rules->len ? "\n" : "", msg);
          }
    }
  g_free (self->rule_problems);
  self->rule_problems = rules->len ? g_strdup (rules->str) : NULL;

  g_autofree char *problems = pl_experiment_editor_dup_problems (self);
  self->valid = problems == NULL;
  if (problems)
    {
      g_autofree char *markup = g_markup_printf_escaped ("<b>%s</b>\n%s",
                                                         _("This experiment cannot run yet:"),
                                                         problems);
      gtk_label_set_markup (self->banner_label, markup);
    }
  gtk_revealer_set_reveal_child (self->banner, problems != NULL);
  schedule_preview (self);
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
}

/* Fills every table row from self->exp. */
static void
fill_fields (PlExperimentEditor *self)
{
  self->building = TRUE;
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, self->fields);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Field *f = value;
      g_autofree char *text = NULL;
      if (f->info->type == PL_EXPERIMENT_KEY_PATH)
        text = g_strdup (pl_experiment_get_raw (self->exp, f->section, f->key));
      else
        text = pl_experiment_get_value_text (self->exp, f->section, f->key);
      field_set_text (f, text);
      field_show_problem (f, NULL);
    }
  self->building = FALSE;
}

static gboolean
take_experiment (PlExperimentEditor *self,
                 PlExperiment       *exp,
                 const char         *display_name)
{
  g_clear_pointer (&self->exp, pl_experiment_unref);
  self->exp = exp;
  g_free (self->display_name);
  self->display_name = g_strdup (display_name ? display_name : "experiment.ini");

  g_key_file_unref (self->slots);
  self->slots = g_key_file_new ();
  for (const char * const *s = pl_experiment_get_slot_sections (); *s; s++)
    {
      if (!pl_experiment_has_section (exp, *s))
        continue;
      g_auto (GStrv) keys = pl_experiment_get_slot_keys (exp, *s);
      for (guint k = 0; keys[k]; k++)
        g_key_file_set_value (self->slots, *s, keys[k], pl_experiment_get_raw (exp, *s, keys[k]));
    }
  fill_fields (self);
  rebuild_techniques (self);
  update_visibility (self);
  self->modified = FALSE;
  revalidate (self);
  return TRUE;
}

gboolean
pl_experiment_editor_load_file (PlExperimentEditor *self,
                                const char         *path,
                                gboolean            is_preset,
                                GError            **error)
{
  g_return_val_if_fail (PL_IS_EXPERIMENT_EDITOR (self), FALSE);
  PlExperiment *exp = pl_experiment_load_file (path, error);
  if (!exp)
    return FALSE;
  g_autofree char *base = g_path_get_basename (path);
  take_experiment (self, exp, base);
  g_free (self->path);
  self->path = g_strdup (path);
  self->is_preset = is_preset;
  revalidate (self);
  return TRUE;
}

gboolean
pl_experiment_editor_load_text (PlExperimentEditor *self,
                                const char         *text,
                                const char         *display_name,
                                GError            **error)
{
  g_return_val_if_fail (PL_IS_EXPERIMENT_EDITOR (self), FALSE);
  PlExperiment *exp = pl_experiment_load_data (text, -1, display_name, error);
  if (!exp)
    return FALSE;
  take_experiment (self, exp, display_name);
  g_clear_pointer (&self->path, g_free);
  self->is_preset = FALSE;
  self->modified = TRUE;
  revalidate (self);
  return TRUE;
}

gboolean
pl_experiment_editor_save (PlExperimentEditor *self,
                           const char         *path,
                           GError            **error)
{
  g_return_val_if_fail (PL_IS_EXPERIMENT_EDITOR (self), FALSE);
  g_autofree char *text = compose_text (self);
  g_autofree char *name = g_path_get_basename (path);
  g_autofree char *content = g_strdup_printf ("# %s: saved by Paramlab\n\n%s", name, text);
  if (!g_file_set_contents (path, content, -1, error))
    return FALSE;
  g_free (self->path);
  self->path = g_strdup (path);
  self->is_preset = FALSE;
  self->modified = FALSE;
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
  return TRUE;
}

char *
pl_experiment_editor_dup_text (PlExperimentEditor *self)
{
  g_return_val_if_fail (PL_IS_EXPERIMENT_EDITOR (self), NULL);
  return self->exp ? compose_text (self) : NULL;
}

const char *
pl_experiment_editor_get_path (PlExperimentEditor *self)
{
  g_return_val_if_fail (PL_IS_EXPERIMENT_EDITOR (self), NULL);
  return self->path;
}

gboolean
pl_experiment_editor_is_preset (PlExperimentEditor *self)
{
  g_return_val_if_fail (PL_IS_EXPERIMENT_EDITOR (self), FALSE);
  return self->is_preset;
}

gboolean
pl_experiment_editor_get_modified (PlExperimentEditor *self)
{
  g_return_val_if_fail (PL_IS_EXPERIMENT_EDITOR (self), FALSE);
  return self->modified;
}

const char *
pl_experiment_editor_get_name (PlExperimentEditor *self)
{
  g_return_val_if_fail (PL_IS_EXPERIMENT_EDITOR (self), NULL);
  return self->exp ? self->exp->experiment.name : NULL;
}

gboolean
pl_experiment_editor_is_valid (PlExperimentEditor *self)
{
  g_return_val_if_fail (PL_IS_EXPERIMENT_EDITOR (self), FALSE);
  return self->exp && self->valid;
}

static void
append_field_problems (GString    *out,
                       GHashTable *fields)
{
  GHashTableIter iter;
  gpointer value;
  g_hash_table_iter_init (&iter, fields);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Field *f = value;
      if (!f->problem || !gtk_widget_get_visible (f->row))
        continue;
      const char *title = adw_preferences_row_get_title (ADW_PREFERENCES_ROW (f->row));
      if (out->len)
        g_string_append_c (out, '\n');
      /* Translators: a setting's title and what is wrong with its value */
      g_string_append_printf (out, _("%s: %s"), title, f->problem);
    }
}

char *
pl_experiment_editor_dup_problems (PlExperimentEditor *self)
{
  g_return_val_if_fail (PL_IS_EXPERIMENT_EDITOR (self), NULL);
  if (!self->exp)
    return g_strdup (_("No experiment is loaded."));
  g_autoptr (GString) out = g_string_new (NULL);
  append_field_problems (out, self->fields);
  append_field_problems (out, self->option_fields);
  if (self->rule_problems)
    g_string_append_printf (out, "%s%s", out->len ? "\n" : "", self->rule_problems);
  return out->len ? g_string_free (g_steal_pointer (&out), FALSE) : NULL;
}

static Field *
lookup_field (PlExperimentEditor *self,
              const char         *section,
              const char         *key)
{
  g_autofree char *id = g_strdup_printf ("%s.%s", section, key);
  Field *f = g_hash_table_lookup (self->fields, id);
  return f ? f : g_hash_table_lookup (self->option_fields, id);
}

gboolean
pl_experiment_editor_set_value (PlExperimentEditor *self,
                                const char         *section,
                                const char         *key,
                                const char         *text)
{
  g_return_val_if_fail (PL_IS_EXPERIMENT_EDITOR (self), FALSE);
  Field *f = lookup_field (self, section, key);
  if (!f)
    return FALSE;
  field_set_text (f, text);
  /* a spin button clamps; make sure the edit is applied even if the value
   * did not change */
  field_changed (f);
  return TRUE;
}

const char *
pl_experiment_editor_get_problem (PlExperimentEditor *self,
                                  const char         *section,
                                  const char         *key)
{
  g_return_val_if_fail (PL_IS_EXPERIMENT_EDITOR (self), NULL);
  Field *f = lookup_field (self, section, key);
  return f ? f->problem : NULL;
}

GtkWidget *
pl_experiment_editor_get_row (PlExperimentEditor *self,
                              const char         *section,
                              const char         *key)
{
  g_return_val_if_fail (PL_IS_EXPERIMENT_EDITOR (self), NULL);
  Field *f = lookup_field (self, section, key);
  if (f)
    reveal_all (self);
  return f ? f->row : NULL;
}

gboolean
pl_experiment_editor_set_plugin (PlExperimentEditor *self,
                                 const char         *slot,
                                 const char         *id)
{
  g_return_val_if_fail (PL_IS_EXPERIMENT_EDITOR (self), FALSE);
  const char *key = NULL;
  const char *section = pl_slot_section (slot, &key);
  if (!section)
    return FALSE;
  g_autofree char *old = slot_choice (self, slot);
  if (g_strcmp0 (old, id) == 0)
    return TRUE;

  /* drop the options of the plugin that leaves */
  const PlPluginInfo *old_info = old && self->catalog
                                   ? pl_plugin_catalog_lookup (self->catalog, slot, old) : NULL;
  for (guint i = 0; old_info && i < old_info->options->len; i++)
    {
      const PlPluginOption *opt = g_ptr_array_index (old_info->options, i);
      g_key_file_remove_key (self->slots, section, opt->name, NULL);
    }
  if (id)
    g_key_file_set_value (self->slots, section, key, id);
  else
    {
      g_key_file_remove_key (self->slots, section, key, NULL);
      g_auto (GStrv) left = g_key_file_get_keys (self->slots, section, NULL, NULL);
      if (left && !left[0])
        g_key_file_remove_group (self->slots, section, NULL);
    }
  self->modified = TRUE;
  rebuild_techniques (self);
  revalidate (self);
  /* keep the keyboard where it was: on this slot's picker */
  GtkWidget *row = g_hash_table_lookup (self->slot_rows, slot);
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  if (row && root && !gtk_root_get_focus (root))
    gtk_widget_grab_focus (row);
  return TRUE;
}

const char *
pl_experiment_editor_get_schedule_note (PlExperimentEditor *self)
{
  g_return_val_if_fail (PL_IS_EXPERIMENT_EDITOR (self), NULL);
  return self->preview_note ? gtk_label_get_text (self->preview_note) : NULL;
}

void
pl_experiment_editor_flush_preview (PlExperimentEditor *self)
{
  g_return_if_fail (PL_IS_EXPERIMENT_EDITOR (self));
  if (self->preview_timeout)
    {
      g_clear_handle_id (&self->preview_timeout, g_source_remove);
      update_preview (self);
    }
}

/* ---- construction ---------------------------------------------------------- */

static void
on_catalog_changed (PlPluginCatalog    *catalog,
                    PlExperimentEditor *self)
{
  rebuild_techniques (self);
  revalidate (self);
}

static void
pl_experiment_editor_dispose (GObject *object)
{
  PlExperimentEditor *self = PL_EXPERIMENT_EDITOR (object);
  if (self->catalog)
    g_signal_handlers_disconnect_by_data (self->catalog, self);
  g_clear_object (&self->catalog);
  g_clear_object (&self->settings);
  g_clear_handle_id (&self->preview_timeout, g_source_remove);
  g_clear_object (&self->engine);
  g_queue_clear (&self->hidden_groups);
  GtkWidget *child;
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self))))
    gtk_widget_unparent (child);
  g_clear_pointer (&self->fields, g_hash_table_unref);
  g_clear_pointer (&self->option_fields, g_hash_table_unref);
  g_clear_pointer (&self->slot_rows, g_hash_table_unref);
  g_clear_pointer (&self->technique_rows, g_ptr_array_unref);
  G_OBJECT_CLASS (pl_experiment_editor_parent_class)->dispose (object);
}

static void
pl_experiment_editor_finalize (GObject *object)
{
  PlExperimentEditor *self = PL_EXPERIMENT_EDITOR (object);
  g_clear_pointer (&self->exp, pl_experiment_unref);
  g_key_file_unref (self->slots);
  g_free (self->path);
  g_free (self->display_name);
  g_free (self->rule_problems);
  g_free (self->data_key);
  G_OBJECT_CLASS (pl_experiment_editor_parent_class)->finalize (object);
}

static void
pl_experiment_editor_class_init (PlExperimentEditorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  object_class->dispose = pl_experiment_editor_dispose;
  object_class->finalize = pl_experiment_editor_finalize;
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BOX_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "experimenteditor");

  /* The validity, the modified flag or a value changed. */
  signals[SIGNAL_CHANGED] =
    g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
pl_experiment_editor_init (PlExperimentEditor *self)
{
  self->slots = g_key_file_new ();
  self->fields = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, field_free);
  self->option_fields = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, field_free);
  self->slot_rows = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->technique_rows = g_ptr_array_new ();
  g_queue_init (&self->hidden_groups);
  gtk_orientable_set_orientation (GTK_ORIENTABLE (gtk_widget_get_layout_manager (GTK_WIDGET (self))),
                                  GTK_ORIENTATION_VERTICAL);

  self->banner = GTK_REVEALER (gtk_revealer_new ());
  self->banner_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_wrap (self->banner_label, TRUE);
  gtk_label_set_xalign (self->banner_label, 0);
  gtk_widget_add_css_class (GTK_WIDGET (self->banner_label), "error-box");
  gtk_widget_set_margin_start (GTK_WIDGET (self->banner_label), 12);
  gtk_widget_set_margin_end (GTK_WIDGET (self->banner_label), 12);
  gtk_widget_set_margin_top (GTK_WIDGET (self->banner_label), 12);
  gtk_revealer_set_child (self->banner, GTK_WIDGET (self->banner_label));
  gtk_widget_set_parent (GTK_WIDGET (self->banner), GTK_WIDGET (self));

  self->page = ADW_PREFERENCES_PAGE (adw_preferences_page_new ());
  gtk_widget_set_vexpand (GTK_WIDGET (self->page), TRUE);
  gtk_widget_set_parent (GTK_WIDGET (self->page), GTK_WIDGET (self));

  const char * const *sections = pl_experiment_get_table_sections ();
  for (guint s = 0; sections[s]; s++)
    {
      AdwPreferencesGroup *group = ADW_PREFERENCES_GROUP (adw_preferences_group_new ());
      adw_preferences_group_set_title (group, section_title (sections[s]));
      for (guint i = 0; i < pl_experiment_get_n_keys (); i++)
        {
          const PlExperimentKeyInfo *info = pl_experiment_get_key_info (i);
          if (!g_str_equal (info->section, sections[s]))
            continue;
          Field *f = build_table_field (self, info);
          adw_preferences_group_add (group, f->row);
          g_hash_table_insert (self->fields, g_strdup_printf ("%s.%s", info->section, info->key), f);
        }
      adw_preferences_page_add (self->page, group);
      if (s >= FIRST_FRAME_GROUPS)
        hide_until_shown (self, GTK_WIDGET (group));
    }

  self->techniques = ADW_PREFERENCES_GROUP (adw_preferences_group_new ());
  adw_preferences_group_set_title (self->techniques, _("Techniques"));
  adw_preferences_group_set_description (self->techniques,
                                         _("Plugins for each step of training, and their options."));
  adw_preferences_page_add (self->page, self->techniques);
  hide_until_shown (self, GTK_WIDGET (self->techniques));
}

GtkWidget *
pl_experiment_editor_new (PlPluginCatalog *catalog,
                          GSettings       *settings)
{
  PlExperimentEditor *self = g_object_new (PL_TYPE_EXPERIMENT_EDITOR, NULL);
  if (catalog)
    {
      self->catalog = g_object_ref (catalog);
      g_signal_connect (catalog, "changed", G_CALLBACK (on_catalog_changed), self);
    }
  if (settings)
    {
      self->settings = g_object_ref (settings);
      g_signal_connect_object (settings, "changed::disabled-plugins",
                               G_CALLBACK (rebuild_techniques), self, G_CONNECT_SWAPPED);
    }
  rebuild_techniques (self);
  return GTK_WIDGET (self);
}
