/* pl-key-texts.h: translatable titles and blurbs of the experiment keys. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  const char *section;
  const char *key;
  const char *title;   /* untranslated; pass through _() */
  const char *blurb;   /* a copy of core's blurb (untranslated) */
} PlKeyText;

/* (transfer none) the entry of @section/@key, or NULL */
const PlKeyText *pl_key_text_lookup (const char *section, const char *key);
guint            pl_key_text_count  (void);
const PlKeyText *pl_key_text_get    (guint i);

G_END_DECLS
