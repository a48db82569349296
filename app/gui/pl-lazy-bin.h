/* pl-lazy-bin.h: a page of the view stack that costs nothing while hidden.
 *
 * AdwViewStack (1.2) measures every page, shown or not, to be homogeneous: a
 * hidden page full of wrapping text (the plugins page, the editor) would be
 * laid out again whenever it changes. A PlLazyBin reports no size while the
 * stack keeps it hidden (not child-visible) and measures its child only once
 * it is shown.
 *
 * Until it is first shown, the child is not even in the widget tree (the bin
 * holds a reference): it is not styled, realized or laid out for the first
 * frame, which then costs only what the visible page costs. The child works
 * all the same while it waits (its owner can fill it); it has no root then. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define PL_TYPE_LAZY_BIN (pl_lazy_bin_get_type ())
G_DECLARE_FINAL_TYPE (PlLazyBin, pl_lazy_bin, PL, LAZY_BIN, GtkWidget)

/* (transfer floating) a bin around @child */
GtkWidget *pl_lazy_bin_new       (GtkWidget *child);
/* (transfer none) */
GtkWidget *pl_lazy_bin_get_child (PlLazyBin *self);
/* Puts the child in the tree now (the page shown first). */
void       pl_lazy_bin_adopt     (PlLazyBin *self);

G_END_DECLS
