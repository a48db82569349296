/* pl-preferences-window.h: the preferences (GSettings): run database, threads
 * per run, runs at once, plot refresh rate and smoothing, notifications. */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define PL_TYPE_PREFERENCES_WINDOW (pl_preferences_window_get_type ())
G_DECLARE_FINAL_TYPE (PlPreferencesWindow, pl_preferences_window, PL, PREFERENCES_WINDOW,
                      AdwPreferencesWindow)

PlPreferencesWindow *pl_preferences_window_new (GSettings *settings,
                                                GtkWindow *parent);

G_END_DECLS
