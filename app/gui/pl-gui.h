/* pl-gui.h: small helpers the window's files share. */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

/* setlocale, and gettext bound to $PARAMLAB_LOCALEDIR (set by the build tree's
 * devenv and tests) or the installed locale dir. */
void        pl_gui_init_i18n          (void);

/* "97.2%", or "–" for NaN. (transfer full) */
char       *pl_gui_format_percent     (double fraction);
/* A metric value with 4 significant digits, or "–" for NaN. (transfer full) */
char       *pl_gui_format_value       (double value);
/* "12 s", "3 min 05 s", "1 h 02 min". (transfer full) */
char       *pl_gui_format_duration    (double seconds);
/* Today's time ("14:02") or a date ("12 Mar 14:02") for a unix time; "–" for NaN.
 * (transfer full) */
char       *pl_gui_format_time        (double unix_time);

/* The human title of a metric key ("val/acc" -> "Validation accuracy"). */
const char *pl_gui_metric_title       (const char *key);

/* Shows @message in a toast on the window that holds @widget (or logs it). */
void        pl_gui_toast              (GtkWidget *widget, const char *message);

/* A modal message with one "Close" button. */
void        pl_gui_show_error         (GtkWidget  *parent,
                                       const char *heading,
                                       const char *body);

/* With PARAMLAB_DEBUG_STARTUP set, prints @what with the wall and CPU time
 * since the process started, to stderr (the startup profile in docs/window.md). */
void        pl_gui_trace              (const char *what);

G_END_DECLS
