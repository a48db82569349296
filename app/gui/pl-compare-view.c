/* pl-compare-view.c: two or more runs side by side. */
#include "pl-compare-view.h"

#include <glib/gi18n.h>

#include "pl-config.h"
#include <math.h>
#include <string.h>

#include "paramlab.h"
#include "pl-gui-json.h"
#include "pl-gui.h"
#include "pl-plot.h"
#include "pl-plugin-catalog.h"

/* The metrics drawn, in plot order. */
static const char * const plot_keys[] = {
  "val/acc", "train/loss", "val/loss", "train/acc", "sparsity/total", "lr",
};
#define N_PLOTS G_N_ELEMENTS (plot_keys)

typedef struct {
  gint64 id;
  PlRunInfo *info;
  GHashTable *config;       /* "section.key" -> value */
  GPtrArray *summaries;     /* PlMetricSummary */
} RunData;

struct _PlCompareView {
  GtkWidget parent_instance;

  PlRunStore *store;
  GArray *ids;              /* gint64 */
  GPtrArray *runs;          /* RunData */
  GPtrArray *config_keys;   /* all keys, in first-seen order */
  GPtrArray *differing;     /* char * (into config_keys) */
  guint n_identical;
  char *error;

  GtkStack *stack;
  GtkLabel *heading;
  GtkBox *legend;
  GtkWidget *plot_grid;
  PlPlot *plots[N_PLOTS];
  GtkWidget *diff_box;      /* replaced on every load */
  GtkWidget *results_box;
  GtkExpander *same_expander;
  GtkLabel *error_label;
};

G_DEFINE_FINAL_TYPE (PlCompareView, pl_compare_view, GTK_TYPE_WIDGET)

static void
run_data_free (gpointer data)
{
  RunData *r = data;
  g_clear_pointer (&r->info, pl_run_info_free);
  g_clear_pointer (&r->config, g_hash_table_unref);
  g_clear_pointer (&r->summaries, g_ptr_array_unref);
  g_free (r);
}

/* ---- reading the runs ------------------------------------------------------- */

static void
add_config (PlCompareView *self,
            RunData       *r,
            const char    *key,
            const char    *value)
{
  if (g_hash_table_contains (r->config, key))
    return;
  g_hash_table_insert (r->config, g_strdup (key), g_strdup (value));
  for (guint i = 0; i < self->config_keys->len; i++)
    if (g_str_equal (g_ptr_array_index (self->config_keys, i), key))
      return;
  g_ptr_array_add (self->config_keys, g_strdup (key));
}

/* The experiment's flat keys, then the effective options of the plugins it used
 * that the file left at their defaults. */
static gboolean
read_config (PlCompareView  *self,
             RunData        *r,
             GError        **error)
{
  r->config = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  if (r->info->experiment && *r->info->experiment)
    {
      g_autofree char *name = g_strdup_printf ("run %" G_GINT64_FORMAT, r->id);
      g_autoptr (PlExperiment) exp = pl_experiment_load_data (r->info->experiment, -1, name, error);
      if (!exp)
        return FALSE;
      g_autoptr (GPtrArray) flat = pl_experiment_flatten (exp);
      for (guint i = 0; i < flat->len; i++)
        {
          const char *line = g_ptr_array_index (flat, i);
          const char *eq = strchr (line, '=');
          if (!eq)
            continue;
          g_autofree char *key = g_strndup (line, eq - line);
          add_config (self, r, key, eq + 1);
        }
    }

  g_autoptr (GPtrArray) plugins = pl_run_store_get_run_plugins (self->store, r->id, error);
  if (!plugins)
    return FALSE;
  for (guint i = 0; i < plugins->len; i++)
    {
      PlRunPlugin *p = g_ptr_array_index (plugins, i);
      const char *section = pl_slot_section (p->slot, NULL);
      if (!section)
        section = p->slot;
      g_autoptr (PlJson) opts = p->options_json
                                  ? pl_json_parse (p->options_json, strlen (p->options_json), NULL)
                                  : NULL;
      for (guint k = 0; k < pl_gui_json_object_size (opts); k++)
        {
          const PlJson *v = pl_json_object_value_at (opts, k);
          g_autofree char *key = g_strdup_printf ("%s.%s", section, pl_json_object_key_at (opts, k));
          g_autofree char *text = NULL;
          switch (pl_gui_json_type (v))
            {
            case PL_JSON_STRING:
              text = g_strdup (pl_gui_json_get_string (v, NULL));
              break;
            case PL_JSON_BOOL:
              text = g_strdup (pl_gui_json_get_bool (v) ? "true" : "false");
              break;
            case PL_JSON_NUMBER:
              {
                g_autoptr (GString) s = g_string_new (NULL);
                pl_json_append_double (s, pl_gui_json_get_double (v));
                text = g_strdup (s->str);
              }
              break;
            default:
              text = g_strdup ("");
              break;
            }
          add_config (self, r, key, text);
        }
    }
  return TRUE;
}

static gboolean
load_runs (PlCompareView  *self,
           GError        **error)
{
  g_ptr_array_set_size (self->runs, 0);
  g_ptr_array_set_size (self->config_keys, 0);
  g_ptr_array_set_size (self->differing, 0);
  self->n_identical = 0;
  for (guint i = 0; i < self->ids->len; i++)
    {
      RunData *r = g_new0 (RunData, 1);
      r->id = g_array_index (self->ids, gint64, i);
      g_ptr_array_add (self->runs, r);
      r->info = pl_run_store_get_run (self->store, r->id, error);
      if (!r->info || !read_config (self, r, error))
        return FALSE;
      r->summaries = pl_run_store_get_summary (self->store, r->id, error);
      if (!r->summaries)
        return FALSE;
    }
  for (guint k = 0; k < self->config_keys->len; k++)
    {
      const char *key = g_ptr_array_index (self->config_keys, k);
      const char *first = NULL;
      gboolean same = TRUE;
      for (guint i = 0; i < self->runs->len; i++)
        {
          RunData *r = g_ptr_array_index (self->runs, i);
          const char *v = g_hash_table_lookup (r->config, key);
          if (i == 0)
            first = v;
          else if (g_strcmp0 (first, v) != 0)
            same = FALSE;
        }
      if (same)
        self->n_identical++;
      else
        g_ptr_array_add (self->differing, (gpointer) key);
    }
  return TRUE;
}

/* ---- building the page ------------------------------------------------------------- */

static char *
color_markup (gint64      id,
              const char *text)
{
  GdkRGBA c;
  pl_plot_run_rgba (id, &c);
  return g_markup_printf_escaped ("<span foreground=\"#%02x%02x%02x\">●</span> %s",
                                  (int) (c.red * 255), (int) (c.green * 255),
                                  (int) (c.blue * 255), text);
}

static char *
run_label (RunData *r)
{
  return g_strdup_printf ("%s #%" G_GINT64_FORMAT, r->info ? r->info->name : "?", r->id);
}

static GtkWidget *
cell (const char *text,
      gboolean    markup,
      const char *css)
{
  GtkWidget *label = gtk_label_new (NULL);
  if (markup)
    gtk_label_set_markup (GTK_LABEL (label), text);
  else
    gtk_label_set_text (GTK_LABEL (label), text ? text : "–");
  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_MIDDLE);
  if (!markup && text)
    gtk_widget_set_tooltip_text (label, text);
  gtk_label_set_max_width_chars (GTK_LABEL (label), 40);
  gtk_widget_set_hexpand (label, TRUE);
  if (css)
    gtk_widget_add_css_class (label, css);
  return label;
}

/* A table: a header row with a coloured name per run, then @keys rows. */
static GtkWidget *
config_table (PlCompareView *self,
              GPtrArray     *keys,
              const char    *first_header)
{
  GtkWidget *grid = gtk_grid_new ();
  gtk_grid_set_column_spacing (GTK_GRID (grid), 18);
  gtk_grid_set_row_spacing (GTK_GRID (grid), 6);
  gtk_widget_add_css_class (grid, "compare-table");
  gtk_grid_attach (GTK_GRID (grid), cell (first_header, FALSE, "heading"), 0, 0, 1, 1);
  for (guint i = 0; i < self->runs->len; i++)
    {
      RunData *r = g_ptr_array_index (self->runs, i);
      g_autofree char *label = run_label (r);
      g_autofree char *markup = color_markup (r->id, label);
      gtk_grid_attach (GTK_GRID (grid), cell (markup, TRUE, "heading"), i + 1, 0, 1, 1);
    }
  for (guint k = 0; k < keys->len; k++)
    {
      const char *key = g_ptr_array_index (keys, k);
      gtk_grid_attach (GTK_GRID (grid), cell (key, FALSE, "monospace"), 0, k + 1, 1, 1);
      for (guint i = 0; i < self->runs->len; i++)
        {
          RunData *r = g_ptr_array_index (self->runs, i);
          const char *v = g_hash_table_lookup (r->config, key);
          gtk_grid_attach (GTK_GRID (grid), cell (v, FALSE, NULL), i + 1, k + 1, 1, 1);
        }
    }
  return grid;
}

static const PlMetricSummary *
find_summary (RunData    *r,
              const char *key)
{
  for (guint i = 0; r->summaries && i < r->summaries->len; i++)
    {
      PlMetricSummary *s = g_ptr_array_index (r->summaries, i);
      if (g_str_equal (s->key, key))
        return s;
    }
  return NULL;
}

/* Metric keys of any run, the common ones first. (transfer full) */
static GPtrArray *
metric_keys (PlCompareView *self)
{
  static const char * const first[] = {
    "val/acc", "val/loss", "train/acc", "train/loss", "sparsity/total", "gate/active", "lr",
  };
  GPtrArray *keys = g_ptr_array_new_with_free_func (g_free);
  for (guint f = 0; f < G_N_ELEMENTS (first); f++)
    for (guint i = 0; i < self->runs->len; i++)
      if (find_summary (g_ptr_array_index (self->runs, i), first[f]))
        {
          g_ptr_array_add (keys, g_strdup (first[f]));
          break;
        }
  for (guint i = 0; i < self->runs->len; i++)
    {
      RunData *r = g_ptr_array_index (self->runs, i);
      for (guint j = 0; r->summaries && j < r->summaries->len; j++)
        {
          PlMetricSummary *s = g_ptr_array_index (r->summaries, j);
          gboolean have = FALSE;
          for (guint k = 0; k < keys->len && !have; k++)
            have = g_str_equal (g_ptr_array_index (keys, k), s->key);
          if (!have && !g_str_has_prefix (s->key, "sparsity/") && !g_str_has_prefix (s->key, "perf/"))
            g_ptr_array_add (keys, g_strdup (s->key));
        }
    }
  return keys;
}

static char *
format_metric (const char *key,
               double      v)
{
  if (g_str_has_suffix (key, "acc") || g_str_has_prefix (key, "sparsity/")
      || g_str_equal (key, "gate/active"))
    return pl_gui_format_percent (v);
  return pl_gui_format_value (v);
}

static GtkWidget *
results_table (PlCompareView *self)
{
  GtkWidget *grid = gtk_grid_new ();
  gtk_grid_set_column_spacing (GTK_GRID (grid), 18);
  gtk_grid_set_row_spacing (GTK_GRID (grid), 6);
  gtk_widget_add_css_class (grid, "compare-table");
  gtk_grid_attach (GTK_GRID (grid), cell (_("Metric"), FALSE, "heading"), 0, 0, 1, 1);
  for (guint i = 0; i < self->runs->len; i++)
    {
      RunData *r = g_ptr_array_index (self->runs, i);
      g_autofree char *label = run_label (r);
      g_autofree char *markup = color_markup (r->id, label);
      gtk_grid_attach (GTK_GRID (grid), cell (markup, TRUE, "heading"), i + 1, 0, 1, 1);
    }
  g_autoptr (GPtrArray) keys = metric_keys (self);
  int row = 1;
  for (guint k = 0; k < keys->len; k++)
    {
      const char *key = g_ptr_array_index (keys, k);
      for (int best = 0; best < 2; best++)
        {
          g_autofree char *title = g_strdup_printf (best ? _("%s, best") : _("%s, final"),
                                                    pl_gui_metric_title (key));
          gtk_grid_attach (GTK_GRID (grid), cell (title, FALSE, NULL), 0, row, 1, 1);
          /* the best value across runs is shown in bold */
          gboolean minimize = pl_run_store_metric_minimizes (key);
          double winner = NAN;
          for (guint i = 0; i < self->runs->len; i++)
            {
              const PlMetricSummary *s = find_summary (g_ptr_array_index (self->runs, i), key);
              double v = s ? (best ? s->best : s->last) : NAN;
              if (isfinite (v) && (isnan (winner) || (minimize ? v < winner : v > winner)))
                winner = v;
            }
          for (guint i = 0; i < self->runs->len; i++)
            {
              const PlMetricSummary *s = find_summary (g_ptr_array_index (self->runs, i), key);
              double v = s ? (best ? s->best : s->last) : NAN;
              g_autofree char *text = format_metric (key, v);
              gboolean top = self->runs->len > 1 && isfinite (v) && v == winner;
              gtk_grid_attach (GTK_GRID (grid), cell (text, FALSE, top ? "heading" : "numeric"),
                               i + 1, row, 1, 1);
            }
          row++;
        }
    }
  if (keys->len == 0)
    gtk_grid_attach (GTK_GRID (grid), cell (_("No metrics recorded yet."), FALSE, "dim-label"),
                     0, 1, self->runs->len + 1, 1);
  return grid;
}

/* Puts @child in place of *@slot, first in its card. */
static void
replace_child (GtkWidget **slot,
               GtkWidget  *child)
{
  GtkWidget *card = gtk_widget_get_parent (*slot);
  gtk_box_remove (GTK_BOX (card), *slot);
  *slot = child;
  gtk_box_prepend (GTK_BOX (card), child);
}

static void
fill_plots (PlCompareView *self)
{
  g_autofree gint64 *ids = g_new (gint64, MAX (self->ids->len, 1));
  memcpy (ids, self->ids->data, self->ids->len * sizeof (gint64));
  guint shown = 0;
  for (guint p = 0; p < N_PLOTS; p++)
    {
      pl_plot_clear (self->plots[p]);
      g_autoptr (GError) error = NULL;
      g_autoptr (GPtrArray) series = pl_run_store_get_metrics_for_runs (self->store, ids,
                                                                        self->ids->len,
                                                                        plot_keys[p], &error);
      gsize total = 0;
      for (guint i = 0; series && i < series->len; i++)
        {
          PlSeries *s = g_ptr_array_index (series, i);
          RunData *r = g_ptr_array_index (self->runs, i);
          GdkRGBA color;
          pl_plot_run_rgba (r->id, &color);
          g_autofree char *name = run_label (r);
          guint sid = pl_plot_add_series (self->plots[p], name, &color);
          guint n = s->steps->len;
          g_autofree double *xs = g_new (double, MAX (n, 1));
          for (guint k = 0; k < n; k++)
            xs[k] = (double) g_array_index (s->steps, gint64, k);
          pl_plot_set_points (self->plots[p], sid, xs, (const double *) s->values->data, n);
          total += n;
        }
      /* a metric no run has (sparsity of dense runs) takes no room */
      gtk_widget_set_visible (GTK_WIDGET (self->plots[p]), total > 0);
      if (total > 0)
        {
          GtkWidget *w = GTK_WIDGET (self->plots[p]);
          g_object_ref (w);
          gtk_grid_remove (GTK_GRID (self->plot_grid), w);
          gtk_grid_attach (GTK_GRID (self->plot_grid), w, shown % 3, shown / 3, 1, 1);
          g_object_unref (w);
          shown++;
        }
    }
}

static void
fill_legend (PlCompareView *self)
{
  GtkWidget *child;
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->legend))))
    gtk_box_remove (self->legend, child);
  for (guint i = 0; i < self->runs->len; i++)
    {
      RunData *r = g_ptr_array_index (self->runs, i);
      g_autofree char *label = run_label (r);
      g_autofree char *markup = color_markup (r->id, label);
      GtkWidget *l = gtk_label_new (NULL);
      gtk_label_set_markup (GTK_LABEL (l), markup);
      gtk_widget_add_css_class (l, "legend-chip");
      gtk_box_append (self->legend, l);
    }
}

static void
rebuild (PlCompareView *self)
{
  g_autoptr (GError) error = NULL;
  /* The tables are replaced: take the focus out of them first (GTK 4.8's
   * viewport would keep following a focus widget that is gone). */
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  GtkWidget *focus = root ? gtk_root_get_focus (root) : NULL;
  if (focus && gtk_widget_is_ancestor (focus, GTK_WIDGET (self)))
    gtk_root_set_focus (root, NULL);
  g_clear_pointer (&self->error, g_free);
  if (self->ids->len < 2 || !self->store)
    {
      g_ptr_array_set_size (self->runs, 0);
      g_ptr_array_set_size (self->differing, 0);
      gtk_stack_set_visible_child_name (self->stack, "empty");
      return;
    }
  if (!load_runs (self, &error))
    {
      self->error = g_strdup (error->message);
      gtk_label_set_text (self->error_label, error->message);
      gtk_stack_set_visible_child_name (self->stack, "error");
      return;
    }

  g_autofree char *heading = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "Comparing %u run",
                                                           "Comparing %u runs", self->runs->len),
                                              self->runs->len);
  gtk_label_set_text (self->heading, heading);
  fill_legend (self);
  fill_plots (self);

  GtkWidget *diff;
  if (self->differing->len)
    diff = config_table (self, self->differing, _("Setting"));
  else
    diff = cell (_("These runs have the same settings."), FALSE, "dim-label");
  replace_child (&self->diff_box, diff);

  g_autoptr (GPtrArray) same = g_ptr_array_new ();
  for (guint k = 0; k < self->config_keys->len; k++)
    {
      const char *key = g_ptr_array_index (self->config_keys, k);
      gboolean differs = FALSE;
      for (guint d = 0; d < self->differing->len && !differs; d++)
        differs = g_ptr_array_index (self->differing, d) == key;
      if (!differs)
        g_ptr_array_add (same, (gpointer) key);
    }
  g_autofree char *same_title = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                                              "%u identical setting",
                                                              "%u identical settings",
                                                              self->n_identical),
                                                 self->n_identical);
  gtk_expander_set_label (self->same_expander, same_title);
  GtkWidget *same_table = config_table (self, same, _("Setting"));
  gtk_widget_set_margin_top (same_table, 6);
  gtk_expander_set_child (self->same_expander, same_table);

  replace_child (&self->results_box, results_table (self));
  gtk_stack_set_visible_child_name (self->stack, "compare");
}

/* ---- public --------------------------------------------------------------------------- */

void
pl_compare_view_set_runs (PlCompareView *self,
                          PlRunStore    *store,
                          const gint64  *ids,
                          guint          n_ids)
{
  g_return_if_fail (PL_IS_COMPARE_VIEW (self));
  g_set_object (&self->store, store);
  g_array_set_size (self->ids, 0);
  g_array_append_vals (self->ids, ids, n_ids);
  rebuild (self);
}

void
pl_compare_view_reload (PlCompareView *self)
{
  g_return_if_fail (PL_IS_COMPARE_VIEW (self));
  rebuild (self);
}

guint
pl_compare_view_get_n_runs (PlCompareView *self)
{
  g_return_val_if_fail (PL_IS_COMPARE_VIEW (self), 0);
  return self->runs->len;
}

GPtrArray *
pl_compare_view_get_differing_keys (PlCompareView *self)
{
  g_return_val_if_fail (PL_IS_COMPARE_VIEW (self), NULL);
  return self->differing;
}

guint
pl_compare_view_get_n_identical (PlCompareView *self)
{
  g_return_val_if_fail (PL_IS_COMPARE_VIEW (self), 0);
  return self->n_identical;
}

/* Appends @text as one CSV field (RFC 4180 quoting when needed). */
static void
csv_field (GString    *out,
           const char *text)
{
  if (!text)
    text = "";
  if (strpbrk (text, ",\"\n\r"))
    {
      g_string_append_c (out, '"');
      for (const char *p = text; *p; p++)
        {
          if (*p == '"')
            g_string_append_c (out, '"');
          g_string_append_c (out, *p);
        }
      g_string_append_c (out, '"');
    }
  else
    g_string_append (out, text);
}

char *
pl_compare_view_to_csv (PlCompareView *self)
{
  g_return_val_if_fail (PL_IS_COMPARE_VIEW (self), NULL);
  GString *out = g_string_new ("kind,key");
  for (guint i = 0; i < self->runs->len; i++)
    {
      RunData *r = g_ptr_array_index (self->runs, i);
      g_autofree char *label = run_label (r);
      g_string_append_c (out, ',');
      csv_field (out, label);
    }
  g_string_append (out, "\r\n");

  for (guint k = 0; k < self->config_keys->len; k++)
    {
      const char *key = g_ptr_array_index (self->config_keys, k);
      gboolean differs = FALSE;
      for (guint d = 0; d < self->differing->len && !differs; d++)
        differs = g_ptr_array_index (self->differing, d) == key;
      g_string_append (out, differs ? "setting-differs," : "setting-same,");
      csv_field (out, key);
      for (guint i = 0; i < self->runs->len; i++)
        {
          RunData *r = g_ptr_array_index (self->runs, i);
          g_string_append_c (out, ',');
          csv_field (out, g_hash_table_lookup (r->config, key));
        }
      g_string_append (out, "\r\n");
    }

  g_autoptr (GPtrArray) keys = metric_keys (self);
  for (guint k = 0; k < keys->len; k++)
    for (int best = 0; best < 2; best++)
      {
        const char *key = g_ptr_array_index (keys, k);
        g_string_append (out, best ? "metric-best," : "metric-final,");
        csv_field (out, key);
        for (guint i = 0; i < self->runs->len; i++)
          {
            const PlMetricSummary *s = find_summary (g_ptr_array_index (self->runs, i), key);
            double v = s ? (best ? s->best : s->last) : NAN;
            g_string_append_c (out, ',');
            if (isfinite (v))
              pl_json_append_double (out, v);
          }
        g_string_append (out, "\r\n");
      }
  return g_string_free (out, FALSE);
}

gboolean
pl_compare_view_export_csv (PlCompareView  *self,
                            const char     *path,
                            GError        **error)
{
  g_return_val_if_fail (PL_IS_COMPARE_VIEW (self), FALSE);
  g_autofree char *csv = pl_compare_view_to_csv (self);
  return g_file_set_contents (path, csv, -1, error);
}

/* ---- construction ------------------------------------------------------------------------ */

static void
pl_compare_view_dispose (GObject *object)
{
  PlCompareView *self = PL_COMPARE_VIEW (object);
  GtkWidget *child;
  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self))))
    gtk_widget_unparent (child);
  g_clear_object (&self->store);
  G_OBJECT_CLASS (pl_compare_view_parent_class)->dispose (object);
}

static void
pl_compare_view_finalize (GObject *object)
{
  PlCompareView *self = PL_COMPARE_VIEW (object);
  g_array_unref (self->ids);
  g_ptr_array_unref (self->runs);
  g_ptr_array_unref (self->config_keys);
  g_ptr_array_unref (self->differing);
  g_free (self->error);
  G_OBJECT_CLASS (pl_compare_view_parent_class)->finalize (object);
}

static void
pl_compare_view_class_init (PlCompareViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  object_class->dispose = pl_compare_view_dispose;
  object_class->finalize = pl_compare_view_finalize;
  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "compareview");
}

static GtkWidget *
section_heading (const char *text)
{
  GtkWidget *label = gtk_label_new (text);
  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_widget_add_css_class (label, "title-4");
  gtk_widget_set_margin_top (label, 12);
  return label;
}

static GtkWidget *
card_box (void)
{
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  gtk_widget_add_css_class (box, "card");
  gtk_widget_add_css_class (box, "compare-card");
  return box;
}

static void
pl_compare_view_init (PlCompareView *self)
{
  self->ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  self->runs = g_ptr_array_new_with_free_func (run_data_free);
  self->config_keys = g_ptr_array_new_with_free_func (g_free);
  self->differing = g_ptr_array_new ();

  self->stack = GTK_STACK (gtk_stack_new ());
  gtk_widget_set_parent (GTK_WIDGET (self->stack), GTK_WIDGET (self));

  GtkWidget *empty = adw_status_page_new ();
  adw_status_page_set_icon_name (ADW_STATUS_PAGE (empty), "view-dual-symbolic");
  adw_status_page_set_title (ADW_STATUS_PAGE (empty), _("Select Two or More Runs"));
  adw_status_page_set_description (ADW_STATUS_PAGE (empty),
                                   _("Hold Ctrl and click runs in the list to compare their "
                                     "curves, settings and results."));
  gtk_stack_add_named (self->stack, empty, "empty");

  GtkWidget *error = adw_status_page_new ();
  adw_status_page_set_icon_name (ADW_STATUS_PAGE (error), "dialog-error-symbolic");
  adw_status_page_set_title (ADW_STATUS_PAGE (error), _("Cannot Compare These Runs"));
  self->error_label = GTK_LABEL (gtk_label_new (NULL));
  gtk_label_set_wrap (self->error_label, TRUE);
  adw_status_page_set_child (ADW_STATUS_PAGE (error), GTK_WIDGET (self->error_label));
  gtk_stack_add_named (self->stack, error, "error");

  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 12);
  gtk_widget_set_margin_start (box, 18);
  gtk_widget_set_margin_end (box, 18);
  gtk_widget_set_margin_top (box, 12);
  gtk_widget_set_margin_bottom (box, 18);

  GtkWidget *header = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  self->heading = GTK_LABEL (gtk_label_new (NULL));
  gtk_widget_add_css_class (GTK_WIDGET (self->heading), "title-2");
  gtk_box_append (GTK_BOX (header), GTK_WIDGET (self->heading));
  self->legend = GTK_BOX (gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12));
  gtk_widget_set_hexpand (GTK_WIDGET (self->legend), TRUE);
  gtk_widget_set_valign (GTK_WIDGET (self->legend), GTK_ALIGN_CENTER);
  gtk_box_append (GTK_BOX (header), GTK_WIDGET (self->legend));
  GtkWidget *csv = gtk_button_new_with_mnemonic (_("Export _CSV…"));
  gtk_actionable_set_action_name (GTK_ACTIONABLE (csv), "win.export-comparison");
  gtk_widget_set_valign (csv, GTK_ALIGN_CENTER);
  gtk_box_append (GTK_BOX (header), csv);
  gtk_box_append (GTK_BOX (box), header);

  self->plot_grid = gtk_grid_new ();
  gtk_grid_set_row_spacing (GTK_GRID (self->plot_grid), 12);
  gtk_grid_set_column_spacing (GTK_GRID (self->plot_grid), 12);
  gtk_grid_set_column_homogeneous (GTK_GRID (self->plot_grid), TRUE);
  for (guint p = 0; p < N_PLOTS; p++)
    {
      self->plots[p] = PL_PLOT (pl_plot_new (pl_gui_metric_title (plot_keys[p])));
      gtk_widget_set_size_request (GTK_WIDGET (self->plots[p]), -1, 230);
      gtk_widget_set_hexpand (GTK_WIDGET (self->plots[p]), TRUE);
      gtk_widget_add_css_class (GTK_WIDGET (self->plots[p]), "card");
      gtk_grid_attach (GTK_GRID (self->plot_grid), GTK_WIDGET (self->plots[p]), p % 3, p / 3, 1, 1);
    }
  gtk_box_append (GTK_BOX (box), self->plot_grid);

  gtk_box_append (GTK_BOX (box), section_heading (_("Settings That Differ")));
  GtkWidget *diff_card = card_box ();
  self->same_expander = GTK_EXPANDER (gtk_expander_new (NULL));
  gtk_box_append (GTK_BOX (diff_card), GTK_WIDGET (self->same_expander));
  /* the differences go before the expander */
  self->diff_box = gtk_label_new (NULL);
  gtk_box_prepend (GTK_BOX (diff_card), self->diff_box);
  gtk_box_append (GTK_BOX (box), diff_card);

  gtk_box_append (GTK_BOX (box), section_heading (_("Results")));
  GtkWidget *results_card = card_box ();
  self->results_box = gtk_label_new (NULL);
  gtk_box_append (GTK_BOX (results_card), self->results_box);
  gtk_box_append (GTK_BOX (box), results_card);

  GtkWidget *scroller = gtk_scrolled_window_new ();
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scroller), GTK_POLICY_NEVER,
                                  GTK_POLICY_AUTOMATIC);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scroller), box);
  gtk_stack_add_named (self->stack, scroller, "compare");
  gtk_stack_set_visible_child_name (self->stack, "empty");
}

GtkWidget *
pl_compare_view_new (void)
{
  return g_object_new (PL_TYPE_COMPARE_VIEW, NULL);
}
