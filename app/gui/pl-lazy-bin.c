/* pl-lazy-bin.c: a page of the view stack that costs nothing while hidden. */
#include "pl-lazy-bin.h"

struct _PlLazyBin {
  GtkWidget parent_instance;
  GtkWidget *child;
  gboolean adopted;   /* the child is in the tree (the bin was shown once) */
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
  if (self->adopted && gtk_widget_get_child_visible (widget))
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
  if (self->adopted && gtk_widget_get_child_visible (widget))
    gtk_widget_allocate (self->child, width, height, baseline, NULL);
}

void
pl_lazy_bin_adopt (PlLazyBin *self)
{
  g_return_if_fail (PL_IS_LAZY_BIN (self));
  if (!self->child || self->adopted)
    return;
  self->adopted = TRUE;
  gtk_widget_set_parent (self->child, GTK_WIDGET (self));
  g_object_unref (self->child);   /* the tree holds it now */
}

/* Shown by the stack: the child joins the tree the first time, and its size
 * counts from now on. */
static void
pl_lazy_bin_map (GtkWidget *widget)
{
  pl_lazy_bin_adopt (PL_LAZY_BIN (widget));
  GTK_WIDGET_CLASS (pl_lazy_bin_parent_class)->map (widget);
  gtk_widget_queue_resize (widget);
}

static void
pl_lazy_bin_dispose (GObject *object)
{
  PlLazyBin *self = PL_LAZY_BIN (object);
  if (self->adopted)
    g_clear_pointer (&self->child, gtk_widget_unparent);
  else
    g_clear_object (&self->child);
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
  self->child = g_object_ref_sink (child);
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
