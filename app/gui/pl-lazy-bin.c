/* pl-lazy-bin.c: a page of the view stack that costs nothing while hidden. */
#include "pl-lazy-bin.h"

struct _PlLazyBin {
  GtkWidget parent_instance;
  GtkWidget *child;
};

G_DEFINE_FINAL_TYPE (PlLazyBin, pl_lazy_bin, GTK_TYPE_WIDGET)

static void
pl_lazy_bin_measure (GtkWidget      *widget,
                     GtkOrientation  orientation,
                     int             for_size,
                     int            *minimum,
                     int            *natural,
                     int            *minimum_baseline,
                     int            *natural_baseline)
{
  PlLazyBin *self = PL_LAZY_BIN (widget);
  *minimum = *natural = 0;
  *minimum_baseline = *natural_baseline = -1;
  if (self->child && gtk_widget_get_child_visible (widget))
    gtk_widget_measure (self->child, orientation, for_size, minimum, natural,
                        minimum_baseline, natural_baseline);
}

static void
pl_lazy_bin_size_allocate (GtkWidget *widget,
                           int        width,
                           int        height,
                           int        baseline)
{
  PlLazyBin *self = PL_LAZY_BIN (widget);
  if (self->child && gtk_widget_get_child_visible (widget))
    gtk_widget_allocate (self->child, width, height, baseline, NULL);
}

/* Shown by the stack: its size counts from now on. */
static void
pl_lazy_bin_map (GtkWidget *widget)
{
  GTK_WIDGET_CLASS (pl_lazy_bin_parent_class)->map (widget);
  gtk_widget_queue_resize (widget);
}

static void
pl_lazy_bin_dispose (GObject *object)
{
  PlLazyBin *self = PL_LAZY_BIN (object);
  g_clear_pointer (&self->child, gtk_widget_unparent);
  G_OBJECT_CLASS (pl_lazy_bin_parent_class)->dispose (object);
}

static void
pl_lazy_bin_class_init (PlLazyBinClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  object_class->dispose = pl_lazy_bin_dispose;
  widget_class->measure = pl_lazy_bin_measure;
  widget_class->size_allocate = pl_lazy_bin_size_allocate;
  widget_class->map = pl_lazy_bin_map;
}

static void
pl_lazy_bin_init (PlLazyBin *self)
{
}

GtkWidget *
pl_lazy_bin_new (GtkWidget *child)
{
  g_return_val_if_fail (GTK_IS_WIDGET (child), NULL);
  PlLazyBin *self = g_object_new (PL_TYPE_LAZY_BIN, NULL);
  self->child = child;
  gtk_widget_set_parent (child, GTK_WIDGET (self));
  gtk_widget_set_hexpand (GTK_WIDGET (self), TRUE);
  gtk_widget_set_vexpand (GTK_WIDGET (self), TRUE);
  return GTK_WIDGET (self);
}

GtkWidget *
pl_lazy_bin_get_child (PlLazyBin *self)
{
  g_return_val_if_fail (PL_IS_LAZY_BIN (self), NULL);
  return self->child;
}
