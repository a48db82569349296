/* pl-json.h: a small, strict JSON reader (RFC 8259) and writer helpers.
 *
 * The reader builds a read-only tree. It accepts exactly the RFC 8259 grammar:
 * no comments, no trailing commas, no leading zeros, no NaN, no bare control
 * characters in strings, only valid UTF-8. Beyond the RFC it refuses duplicate
 * object keys, numbers that overflow a double, nesting deeper than a limit and
 * documents larger than a limit. A refusal is a PL_ERROR_FORMAT GError whose
 * message gives the byte offset and what was expected there, e.g.
 * "JSON at byte 12: expected ',' or '}' after an object member, found ']'".
 *
 * The writer helpers append JSON text to a GString; they are what the JSON-lines
 * event stream and file headers are made of. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Append only. */
typedef enum {
  PL_JSON_NULL,
  PL_JSON_BOOL,
  PL_JSON_NUMBER,
  PL_JSON_STRING,
  PL_JSON_ARRAY,
  PL_JSON_OBJECT,
} PlJsonType;

typedef struct _PlJson PlJson;

/* Limits used by pl_json_parse (). */
#define PL_JSON_DEFAULT_MAX_DEPTH 64
#define PL_JSON_DEFAULT_MAX_SIZE  (100 * 1024 * 1024)

/* Parses the len bytes at text (no NUL terminator needed; a NUL byte inside is an
 * error) as one JSON value, optionally surrounded by whitespace. Nesting is limited
 * to PL_JSON_DEFAULT_MAX_DEPTH arrays/objects and len to PL_JSON_DEFAULT_MAX_SIZE.
 * Returns the root, or NULL with a PL_ERROR_FORMAT error. (transfer full) */
PlJson     *pl_json_parse          (const char *text, gsize len, GError **error);

/* As pl_json_parse () with explicit limits: documents longer than max_size bytes
 * and values nested deeper than max_depth (a bare scalar has depth 0, "[1]"
 * depth 1; at most 1024, the parser recurses) are refused. (transfer full) */
PlJson     *pl_json_parse_full     (const char *text, gsize len, gsize max_size,
                                    guint max_depth, GError **error);

/* Frees a tree returned by a parse function; every node pointer obtained from it
 * becomes invalid. Accepts NULL. */
void        pl_json_free           (PlJson *root);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PlJson, pl_json_free)

PlJsonType  pl_json_type           (const PlJson *node);
/* "null", "boolean", "number", "string", "array", "object": for error messages. */
const char *pl_json_type_name      (PlJsonType type);

/* Objects. Members keep the order of the document. pl_json_object_get returns
 * NULL for a missing key or when node is not an object. (transfer none) */
guint         pl_json_object_size     (const PlJson *node);
const PlJson *pl_json_object_get      (const PlJson *node, const char *key);
const char   *pl_json_object_key_at   (const PlJson *node, guint i);
const PlJson *pl_json_object_value_at (const PlJson *node, guint i);

/* Arrays. (transfer none) */
guint         pl_json_array_length    (const PlJson *node);
const PlJson *pl_json_array_get       (const PlJson *node, guint i);

/* The UTF-8 string of a string node, NUL-terminated, or NULL for any other node.
 * A string may hold NUL characters (written "\u0000"); length, when not NULL,
 * receives its byte length so callers can tell. (transfer none) */
const char *pl_json_get_string     (const PlJson *node, gsize *length);

/* The value of a number node, or NaN for any other node. */
double      pl_json_get_double     (const PlJson *node);

/* TRUE and *out set when node is a number written as an integer literal (no
 * fraction, no exponent) that fits in gint64; FALSE otherwise ("1.0", "1e3",
 * "9223372036854775808" are not). */
gboolean    pl_json_get_int64      (const PlJson *node, gint64 *out);

/* The value of a boolean node; FALSE for any other node. */
gboolean    pl_json_get_bool       (const PlJson *node);

/* Appends utf8 as a quoted JSON string: '"' and '\' are escaped, control
 * characters are written as \u00XX, and any byte sequence that is not valid UTF-8
 * becomes U+FFFD, so the output is always valid JSON. NULL is written as null. */
void        pl_json_append_string  (GString *out, const char *utf8);

/* Appends v as a JSON number in its shortest round-trip form: a value that is
 * exactly a float (every float32 metric) is written with the fewest digits (at
 * most 9) that read back as the same float, any other value with the fewest digits
 * (at most 17) that read back as the same double. NaN and infinities, which JSON
 * cannot express, are written as null. */
void        pl_json_append_double  (GString *out, double v);

G_END_DECLS
