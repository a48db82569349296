/* pl-plot.c: the PlPlot widget. Drawing, layout and zoom arithmetic live in
 * PlPlotData; this file turns GTK events into calls on it and paints it. */
#include "pl-plot.h"

#include <math.h>

struct _PlPlot {
  GtkWidget   parent_instance;

  PlPlotData *data;
  double      pointer_x, pointer_y;
  gboolean    has_pointer;
  double      drag_x, drag_y;
};

G_DEFINE_FINAL_TYPE (PlPlot, pl_plot, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_TITLE,
  PROP_Y_LABEL,
  PROP_X_LABEL,
  PROP_LOG_Y,
  PROP_SMOOTHING,
  N_PROPS
};

enum {
  SERIES_TOGGLED,
  N_SIGNALS
};

static GParamSpec *props[N_PROPS];
static guint signals[N_SIGNALS];

static void
rgba_to_color (const GdkRGBA *in, PlPlotColor *out)
{
  *out = (PlPlotColor) { in->red, in->green, in->blue, in->alpha };
}

void
pl_plot_run_rgba (gint64 run_id, GdkRGBA *out)
{
  g_return_if_fail (out != NULL);
  PlPlotColor c;
  pl_plot_run_color (run_id, &c);
  *out = (GdkRGBA) { c.red, c.green, c.blue, c.alpha };
}

/* The widget's text colour and font from its GTK style; dark when the text is
 * light (so it follows AdwStyleManager and high-contrast themes alike). */
static void
style_from_widget (PlPlot *self, PlPlotStyle *style, char **family_out)
{
  GtkWidget *widget = GTK_WIDGET (self);
  GdkRGBA fg;

  G_GNUC_BEGIN_IGNORE_DEPRECATIONS
  gtk_style_context_get_color (gtk_widget_get_style_context (widget), &fg);
  G_GNUC_END_IGNORE_DEPRECATIONS

  /* relative luminance, Rec. 709 weights */
  double lum = 0.2126 * fg.red + 0.7152 * fg.green + 0.0722 * fg.blue;
  pl_plot_style_init (style, lum > 0.5);
  rgba_to_color (&fg, &style->foreground);
  style->background.alpha = 0.0;  /* CSS paints the background */

  PangoContext *pc = gtk_widget_get_pango_context (widget);
  const PangoFontDescription *desc = pango_context_get_font_description (pc);
  *family_out = NULL;
  if (desc != NULL)
    {
      const char *family = pango_font_description_get_family (desc);
      double size = pango_font_description_get_size (desc) / (double) PANGO_SCALE;
      if (size > 0 && !pango_font_description_get_size_is_absolute (desc))
        size *= 96.0 / 72.0;  /* points to pixels */
      if (size > 0)
        style->font_size = size * 0.9;
      if (family != NULL)
        {
          /* a family list "Cantarell, Sans" names the first one */
          char **parts = g_strsplit (family, ",", 2);
          *family_out = g_strdup (g_strstrip (parts[0]));
          g_strfreev (parts);
        }
    }
  style->font_family = *family_out;
}

static void
pl_plot_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  PlPlot *self = PL_PLOT (widget);
  int width = gtk_widget_get_width (widget);
  int height = gtk_widget_get_height (widget);
  if (width <= 0 || height <= 0)
    return;

  PlPlotStyle style;
  g_autofree char *family = NULL;
  style_from_widget (self, &style, &family);

  cairo_t *cr = gtk_snapshot_append_cairo (snapshot,
                                           &GRAPHENE_RECT_INIT (0, 0, width, height));
  pl_plot_data_draw (self->data, cr, width, height, &style);
  cairo_destroy (cr);
}

static void
pl_plot_measure (GtkWidget *widget, GtkOrientation orientation, int for_size,
                 int *minimum, int *natural, int *minimum_baseline, int *natural_baseline)
{
  if (orientation == GTK_ORIENTATION_HORIZONTAL)
    {
      *minimum = 200;
      *natural = 480;
    }
  else
    {
      *minimum = 140;
      *natural = 280;
    }
}

static void
pl_plot_css_changed (GtkWidget *widget, GtkCssStyleChange *change)
{
  GTK_WIDGET_CLASS (pl_plot_parent_class)->css_changed (widget, change);
  gtk_widget_queue_draw (widget);
}

static void
update_cursor (PlPlot *self, double x, double y)
{
  const char *name = NULL;
  if (pl_plot_data_legend_hit (self->data, x, y) != 0)
    name = "pointer";
  else if (pl_plot_data_in_plot_area (self->data, x, y))
    name = "crosshair";
  gtk_widget_set_cursor_from_name (GTK_WIDGET (self), name);
}

static void
on_motion (GtkEventControllerMotion *ctrl, double x, double y, PlPlot *self)
{
  self->pointer_x = x;
  self->pointer_y = y;
  self->has_pointer = TRUE;
  pl_plot_data_set_hover (self->data, x, y);
  update_cursor (self, x, y);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
on_leave (GtkEventControllerMotion *ctrl, PlPlot *self)
{
  self->has_pointer = FALSE;
  pl_plot_data_clear_hover (self->data);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static gboolean
on_scroll (GtkEventControllerScroll *ctrl, double dx, double dy, PlPlot *self)
{
  if (!self->has_pointer || dy == 0
      || !pl_plot_data_in_plot_area (self->data, self->pointer_x, self->pointer_y))
    return FALSE;  /* let a surrounding scrolled window have it */
  GdkModifierType state = gtk_event_controller_get_current_event_state (GTK_EVENT_CONTROLLER (ctrl));
  gboolean y_axis = (state & GDK_CONTROL_MASK) != 0;
  /* one wheel notch down zooms out by 20 %, up zooms in */
  double factor = pow (1.2, CLAMP (dy, -5.0, 5.0));
  pl_plot_data_zoom (self->data, y_axis, factor, self->pointer_x, self->pointer_y);
  gtk_widget_queue_draw (GTK_WIDGET (self));
  return TRUE;
}

static void
on_pressed (GtkGestureClick *gesture, int n_press, double x, double y, PlPlot *self)
{
  guint id = pl_plot_data_legend_hit (self->data, x, y);
  if (id != 0)
    {
      if (n_press == 1)
        {
          gboolean visible = !pl_plot_data_get_series_visible (self->data, id);
          pl_plot_data_set_series_visible (self->data, id, visible);
          g_signal_emit (self, signals[SERIES_TOGGLED], 0, id, visible);
          gtk_widget_queue_draw (GTK_WIDGET (self));
        }
      return;
    }
  if (n_press == 2 && pl_plot_data_in_plot_area (self->data, x, y))
    pl_plot_reset_zoom (self);
}

static void
on_drag_begin (GtkGestureDrag *gesture, double x, double y, PlPlot *self)
{
  if (!pl_plot_data_in_plot_area (self->data, x, y))
    {
      gtk_gesture_set_state (GTK_GESTURE (gesture), GTK_EVENT_SEQUENCE_DENIED);
      return;
    }
  self->drag_x = x;
  self->drag_y = y;
}

static void
on_drag_update (GtkGestureDrag *gesture, double ox, double oy, PlPlot *self)
{
  pl_plot_data_set_selection (self->data, self->drag_x, self->drag_y,
                              self->drag_x + ox, self->drag_y + oy);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
on_drag_end (GtkGestureDrag *gesture, double ox, double oy, PlPlot *self)
{
  pl_plot_data_clear_selection (self->data);
  pl_plot_data_zoom_rect (self->data, self->drag_x, self->drag_y,
                          self->drag_x + ox, self->drag_y + oy);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
pl_plot_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  PlPlot *self = PL_PLOT (object);
  switch (prop_id)
    {
    case PROP_TITLE:
      g_value_set_string (value, pl_plot_data_get_title (self->data));
      break;
    case PROP_Y_LABEL:
      g_value_set_string (value, pl_plot_data_get_y_label (self->data));
      break;
    case PROP_X_LABEL:
      g_value_set_string (value, pl_plot_data_get_x_label (self->data));
      break;
    case PROP_LOG_Y:
      g_value_set_boolean (value, pl_plot_data_get_log_y (self->data));
      break;
    case PROP_SMOOTHING:
      g_value_set_double (value, pl_plot_data_get_smoothing (self->data));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pl_plot_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  PlPlot *self = PL_PLOT (object);
  switch (prop_id)
    {
    case PROP_TITLE:
      pl_plot_set_title (self, g_value_get_string (value));
      break;
    case PROP_Y_LABEL:
      pl_plot_set_y_label (self, g_value_get_string (value));
      break;
    case PROP_X_LABEL:
      pl_plot_set_x_label (self, g_value_get_string (value));
      break;
    case PROP_LOG_Y:
      pl_plot_set_log_y (self, g_value_get_boolean (value));
      break;
    case PROP_SMOOTHING:
      pl_plot_set_smoothing (self, g_value_get_double (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
pl_plot_finalize (GObject *object)
{
  PlPlot *self = PL_PLOT (object);
  g_clear_pointer (&self->data, pl_plot_data_free);
  G_OBJECT_CLASS (pl_plot_parent_class)->finalize (object);
}

static void
pl_plot_class_init (PlPlotClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->get_property = pl_plot_get_property;
  object_class->set_property = pl_plot_set_property;
  object_class->finalize = pl_plot_finalize;
  widget_class->snapshot = pl_plot_snapshot;
  widget_class->measure = pl_plot_measure;
  widget_class->css_changed = pl_plot_css_changed;

  props[PROP_TITLE] =
    g_param_spec_string ("title", NULL, "The plot's title", NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  props[PROP_Y_LABEL] =
    g_param_spec_string ("y-label", NULL, "The y axis label", NULL,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  props[PROP_X_LABEL] =
    g_param_spec_string ("x-label", NULL, "The x axis label", "step",
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  props[PROP_LOG_Y] =
    g_param_spec_boolean ("log-y", NULL, "Logarithmic y axis", FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  props[PROP_SMOOTHING] =
    g_param_spec_double ("smoothing", NULL, "EMA smoothing weight", 0.0, 0.999, 0.0,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);

  /**
   * PlPlot::series-toggled:
   * @id: the series
   * @visible: its new visibility
   *
   * The user clicked a legend entry and the series was shown or hidden.
   */
  signals[SERIES_TOGGLED] =
    g_signal_new ("series-toggled", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_UINT, G_TYPE_BOOLEAN);

  gtk_widget_class_set_css_name (widget_class, "plot");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
pl_plot_init (PlPlot *self)
{
  GtkWidget *widget = GTK_WIDGET (self);
  self->data = pl_plot_data_new (NULL);

  GtkEventController *motion = gtk_event_controller_motion_new ();
  g_signal_connect (motion, "enter", G_CALLBACK (on_motion), self);
  g_signal_connect (motion, "motion", G_CALLBACK (on_motion), self);
  g_signal_connect (motion, "leave", G_CALLBACK (on_leave), self);
  gtk_widget_add_controller (widget, motion);

  GtkEventController *scroll = gtk_event_controller_scroll_new (GTK_EVENT_CONTROLLER_SCROLL_VERTICAL);
  g_signal_connect (scroll, "scroll", G_CALLBACK (on_scroll), self);
  gtk_widget_add_controller (widget, scroll);

  GtkGesture *click = gtk_gesture_click_new ();
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (click), GDK_BUTTON_PRIMARY);
  g_signal_connect (click, "pressed", G_CALLBACK (on_pressed), self);
  gtk_widget_add_controller (widget, GTK_EVENT_CONTROLLER (click));

  GtkGesture *drag = gtk_gesture_drag_new ();
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (drag), GDK_BUTTON_PRIMARY);
  g_signal_connect (drag, "drag-begin", G_CALLBACK (on_drag_begin), self);
  g_signal_connect (drag, "drag-update", G_CALLBACK (on_drag_update), self);
  g_signal_connect (drag, "drag-end", G_CALLBACK (on_drag_end), self);
  gtk_widget_add_controller (widget, GTK_EVENT_CONTROLLER (drag));
}

GtkWidget *
pl_plot_new (const char *title)
{
  return g_object_new (PL_TYPE_PLOT, "title", title, NULL);
}

void
pl_plot_set_title (PlPlot *plot, const char *title)
{
  g_return_if_fail (PL_IS_PLOT (plot));
  if (g_strcmp0 (pl_plot_data_get_title (plot->data), title) == 0)
    return;
  pl_plot_data_set_title (plot->data, title);
  const char *now = pl_plot_data_get_title (plot->data);
  gtk_accessible_update_property (GTK_ACCESSIBLE (plot), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  now ? now : "Plot", -1);
  g_object_notify_by_pspec (G_OBJECT (plot), props[PROP_TITLE]);
  gtk_widget_queue_draw (GTK_WIDGET (plot));
}

const char *
pl_plot_get_title (PlPlot *plot)
{
  g_return_val_if_fail (PL_IS_PLOT (plot), NULL);
  return pl_plot_data_get_title (plot->data);
}

void
pl_plot_set_y_label (PlPlot *plot, const char *label)
{
  g_return_if_fail (PL_IS_PLOT (plot));
  if (g_strcmp0 (pl_plot_data_get_y_label (plot->data), label) == 0)
    return;
  pl_plot_data_set_y_label (plot->data, label);
  g_object_notify_by_pspec (G_OBJECT (plot), props[PROP_Y_LABEL]);
  gtk_widget_queue_draw (GTK_WIDGET (plot));
}

const char *
pl_plot_get_y_label (PlPlot *plot)
{
  g_return_val_if_fail (PL_IS_PLOT (plot), NULL);
  return pl_plot_data_get_y_label (plot->data);
}

void
pl_plot_set_x_label (PlPlot *plot, const char *label)
{
  g_return_if_fail (PL_IS_PLOT (plot));
  if (g_strcmp0 (pl_plot_data_get_x_label (plot->data), label) == 0)
    return;
  pl_plot_data_set_x_label (plot->data, label);
  g_object_notify_by_pspec (G_OBJECT (plot), props[PROP_X_LABEL]);
  gtk_widget_queue_draw (GTK_WIDGET (plot));
}

guint
pl_plot_add_series (PlPlot *plot, const char *name, const GdkRGBA *color)
{
  g_return_val_if_fail (PL_IS_PLOT (plot), 0);
  PlPlotColor c;
  if (color != NULL)
    rgba_to_color (color, &c);
  guint id = pl_plot_data_add_series (plot->data, name, color ? &c : NULL);
  gtk_widget_queue_draw (GTK_WIDGET (plot));
  return id;
}

gboolean
pl_plot_remove_series (PlPlot *plot, guint id)
{
  g_return_val_if_fail (PL_IS_PLOT (plot), FALSE);
  gboolean removed = pl_plot_data_remove_series (plot->data, id);
  if (removed)
    gtk_widget_queue_draw (GTK_WIDGET (plot));
  return removed;
}

void
pl_plot_append (PlPlot *plot, guint id, double x, double y)
{
  g_return_if_fail (PL_IS_PLOT (plot));
  pl_plot_data_append (plot->data, id, x, y);
  /* cheap: GTK coalesces to one redraw per frame */
  gtk_widget_queue_draw (GTK_WIDGET (plot));
}

void
pl_plot_set_points (PlPlot *plot, guint id, const double *xs, const double *ys, gsize n)
{
  g_return_if_fail (PL_IS_PLOT (plot));
  pl_plot_data_set_points (plot->data, id, xs, ys, n);
  gtk_widget_queue_draw (GTK_WIDGET (plot));
}

void
pl_plot_clear (PlPlot *plot)
{
  g_return_if_fail (PL_IS_PLOT (plot));
  pl_plot_data_clear (plot->data);
  gtk_widget_queue_draw (GTK_WIDGET (plot));
}

gsize
pl_plot_get_n_points (PlPlot *plot, guint id)
{
  g_return_val_if_fail (PL_IS_PLOT (plot), 0);
  return pl_plot_data_get_n_points (plot->data, id);
}

void
pl_plot_set_series_visible (PlPlot *plot, guint id, gboolean visible)
{
  g_return_if_fail (PL_IS_PLOT (plot));
  pl_plot_data_set_series_visible (plot->data, id, visible);
  gtk_widget_queue_draw (GTK_WIDGET (plot));
}

gboolean
pl_plot_get_series_visible (PlPlot *plot, guint id)
{
  g_return_val_if_fail (PL_IS_PLOT (plot), FALSE);
  return pl_plot_data_get_series_visible (plot->data, id);
}

void
pl_plot_set_log_y (PlPlot *plot, gboolean log_y)
{
  g_return_if_fail (PL_IS_PLOT (plot));
  if (pl_plot_data_get_log_y (plot->data) == !!log_y)
    return;
  pl_plot_data_set_log_y (plot->data, log_y);
  g_object_notify_by_pspec (G_OBJECT (plot), props[PROP_LOG_Y]);
  gtk_widget_queue_draw (GTK_WIDGET (plot));
}

gboolean
pl_plot_get_log_y (PlPlot *plot)
{
  g_return_val_if_fail (PL_IS_PLOT (plot), FALSE);
  return pl_plot_data_get_log_y (plot->data);
}

void
pl_plot_set_smoothing (PlPlot *plot, double weight)
{
  g_return_if_fail (PL_IS_PLOT (plot));
  double before = pl_plot_data_get_smoothing (plot->data);
  pl_plot_data_set_smoothing (plot->data, weight);
  if (pl_plot_data_get_smoothing (plot->data) == before)
    return;
  g_object_notify_by_pspec (G_OBJECT (plot), props[PROP_SMOOTHING]);
  gtk_widget_queue_draw (GTK_WIDGET (plot));
}

double
pl_plot_get_smoothing (PlPlot *plot)
{
  g_return_val_if_fail (PL_IS_PLOT (plot), 0.0);
  return pl_plot_data_get_smoothing (plot->data);
}

void
pl_plot_reset_zoom (PlPlot *plot)
{
  g_return_if_fail (PL_IS_PLOT (plot));
  pl_plot_data_reset_view (plot->data);
  gtk_widget_queue_draw (GTK_WIDGET (plot));
}

gboolean
pl_plot_export (PlPlot *plot, const char *path, int width, int height, GError **error)
{
  g_return_val_if_fail (PL_IS_PLOT (plot), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* the on-screen theme and font, on an opaque page of the theme's colour */
  PlPlotStyle style, page;
  g_autofree char *family = NULL;
  style_from_widget (plot, &style, &family);
  pl_plot_style_init (&page, style.dark);
  style.background = page.background;
  return pl_plot_data_export (plot->data, path, width, height, &style, error);
}

PlPlotData *
pl_plot_get_data (PlPlot *plot)
{
  g_return_val_if_fail (PL_IS_PLOT (plot), NULL);
  return plot->data;
}
