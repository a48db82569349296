/* pl-gui-json.h: the JSON reader's accessors, taking NULL for a missing member
 * (core's accessors treat NULL as a programmer error). */
#pragma once

#include "pl-json.h"

static inline PlJsonType
pl_gui_json_type (const PlJson *node)
{
  return node ? pl_json_type (node) : PL_JSON_NULL;
}

static inline guint
pl_gui_json_array_length (const PlJson *node)
{
  return node ? pl_json_array_length (node) : 0;
}

static inline guint
pl_gui_json_object_size (const PlJson *node)
{
  return node ? pl_json_object_size (node) : 0;
}

static inline const PlJson *
pl_gui_json_object_get (const PlJson *node,
                        const char   *key)
{
  return node ? pl_json_object_get (node, key) : NULL;
}

static inline const char *
pl_gui_json_get_string (const PlJson *node,
                        gsize        *length)
{
  return node ? pl_json_get_string (node, length) : NULL;
}

static inline gboolean
pl_gui_json_get_int64 (const PlJson *node,
                       gint64       *out)
{
  return node ? pl_json_get_int64 (node, out) : FALSE;
}

static inline double
pl_gui_json_get_double (const PlJson *node)
{
  return node ? pl_json_get_double (node) : NAN;
}

static inline gboolean
pl_gui_json_get_bool (const PlJson *node)
{
  return node ? pl_json_get_bool (node) : FALSE;
}
