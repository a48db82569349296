/* pl-gui.c: small helpers the window's files share. */
#include "pl-gui.h"

#include <glib/gi18n.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pl-config.h"
#include "pl-window.h"

void
pl_gui_init_i18n (void)
{
  setlocale (LC_ALL, "");
  const char *dir = g_getenv ("PARAMLAB_LOCALEDIR");
  bindtextdomain (GETTEXT_PACKAGE, dir && *dir ? dir : PL_LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
}

/* Seconds since boot when this process started (field 22 of /proc/self/stat,
 * in clock ticks), or 0. */
static double
process_start_seconds (void)
{
  g_autofree char *stat = NULL;
  if (!g_file_get_contents ("/proc/self/stat", &stat, NULL, NULL))
    return 0;
  const char *p = strrchr (stat, ')');
  for (int field = 2; p && field < 22; field++)
    p = strchr (p + 1, ' ');
  return p ? g_ascii_strtod (p + 1, NULL) / sysconf (_SC_CLK_TCK) : 0;
}

void
pl_gui_trace (const char *what)
{
  static int enabled = -1;
  static double t0;
  if (enabled < 0)
    {
      enabled = g_getenv ("PARAMLAB_DEBUG_STARTUP") != NULL;
      if (enabled)
        {
          struct timespec now;
          clock_gettime (CLOCK_BOOTTIME, &now);
          double start = process_start_seconds ();
          t0 = start > 0 ? start : now.tv_sec + now.tv_nsec / 1e9;
        }
    }
  if (!enabled)
    return;
  struct timespec now, cpu;
  clock_gettime (CLOCK_BOOTTIME, &now);
  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &cpu);
  fprintf (stderr, "startup: %7.1f ms wall %7.1f ms CPU  %s\n",
           (now.tv_sec + now.tv_nsec / 1e9 - t0) * 1e3, (cpu.tv_sec + cpu.tv_nsec / 1e9) * 1e3,
           what);
}

char *
pl_gui_format_percent (double fraction)
{
  if (!isfinite (fraction))
    return g_strdup ("–");
  return g_strdup_printf ("%.1f%%", fraction * 100.0);
}

char *
pl_gui_format_value (double value)
{
  if (isnan (value))
    return g_strdup ("–");
  return g_strdup_printf ("%.4g", value);
}

char *
pl_gui_format_duration (double seconds)
{
  if (!isfinite (seconds) || seconds < 0)
    return g_strdup ("–");
  long s = lround (seconds);
  if (seconds < 1)
    /* Translators: a duration shorter than a second */
    return g_strdup (_("< 1 s"));
  if (s < 60)
    /* Translators: a duration in seconds */
    return g_strdup_printf (_("%ld s"), s);
  if (s < 3600)
    /* Translators: a duration in minutes and seconds */
    return g_strdup_printf (_("%ld min %02ld s"), s / 60, s % 60);
  /* Translators: a duration in hours and minutes */
  return g_strdup_printf (_("%ld h %02ld min"), s / 3600, (s % 3600) / 60);
}

char *
pl_gui_format_time (double unix_time)
{
  if (!isfinite (unix_time) || unix_time <= 0)
    return g_strdup ("–");
  g_autoptr (GDateTime) t = g_date_time_new_from_unix_local ((gint64) unix_time);
  g_autoptr (GDateTime) now = g_date_time_new_now_local ();
  if (!t)
    return g_strdup ("–");
  if (g_date_time_get_year (t) == g_date_time_get_year (now)
      && g_date_time_get_day_of_year (t) == g_date_time_get_day_of_year (now))
    return g_date_time_format (t, "%H:%M");
  /* Translators: a date and time in the run list, in g_date_time_format() syntax */
  return g_date_time_format (t, _("%Y-%m-%d %H:%M"));
}

const char *
pl_gui_metric_title (const char *key)
{
  static const struct { const char *key; const char *title; } titles[] = {
    { "train/loss", N_("Training loss") },
    { "val/loss", N_("Validation loss") },
    { "train/acc", N_("Training accuracy") },
    { "val/acc", N_("Validation accuracy") },
    { "lr", N_("Learning rate") },
    { "lr/min", N_("Learning rate (min)") },
    { "lr/median", N_("Learning rate (median)") },
    { "lr/max", N_("Learning rate (max)") },
    { "sparsity/total", N_("Sparsity (total)") },
    { "gate/active", N_("Active units") },
    { "perf/samples_per_s", N_("Samples per second") },
  };
  for (guint i = 0; i < G_N_ELEMENTS (titles); i++)
    if (g_strcmp0 (key, titles[i].key) == 0)
      return _(titles[i].title);
  return key;
}

void
pl_gui_toast (GtkWidget  *widget,
              const char *message)
{
  GtkRoot *root = gtk_widget_get_root (widget);
  GtkWindow *window = GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL;
  while (window && !PL_IS_WINDOW (window))
    window = gtk_window_get_transient_for (window);
  if (!window)
    {
      g_message ("%s", message);
      return;
    }
  AdwToast *toast = adw_toast_new (message);
  adw_toast_set_timeout (toast, 5);
  pl_window_add_toast (PL_WINDOW (window), toast);
}

void
pl_gui_show_error (GtkWidget  *parent,
                   const char *heading,
                   const char *body)
{
  GtkRoot *root = parent ? gtk_widget_get_root (parent) : NULL;
  GtkWidget *dialog = adw_message_dialog_new (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                              heading, body);
  adw_message_dialog_add_response (ADW_MESSAGE_DIALOG (dialog), "close", _("_Close"));
  gtk_window_present (GTK_WINDOW (dialog));
}
