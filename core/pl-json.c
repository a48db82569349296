#include "pl-json.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pl-error.h"

/* Deeper limits would only risk the C stack: the parser is recursive. */
#define MAX_DEPTH_LIMIT 1024

/* Objects look keys up linearly until they have this many members, then through
 * a hash table (safetensors headers hold thousands of keys). */
#define INDEX_THRESHOLD 8

typedef struct {
  char *key;      /* NUL-terminated; may hold NULs, key_len is authoritative */
  gsize key_len;
  gsize offset;   /* byte offset of the key in the document */
  PlJson *value;
} Member;

struct _PlJson {
  PlJsonType type;
  union {
    gboolean boolean;
    struct {
      double d;
      gint64 i;
      gboolean is_int;
    } number;
    struct {
      char *s;
      gsize len;
    } string;
    GPtrArray *items;      /* PlJson *, owned */
    struct {
      GPtrArray *members;  /* Member *, owned, document order */
      GHashTable *index;   /* Member * set, hashed on the key bytes, or NULL */
    } object;
  } v;
};

typedef struct {
  const guchar *p;
  gsize len;
  gsize pos;
  guint max_depth;
  GError **error;
} Parser;

static void
member_free (gpointer data)
{
  Member *m = data;
  g_free (m->key);
  pl_json_free (m->value);
  g_free (m);
}

static guint
member_hash (gconstpointer data)
{
  const Member *m = data;
  guint32 h = 2166136261u;  /* FNV-1a over the key bytes */
  for (gsize i = 0; i < m->key_len; i++)
    h = (h ^ (guchar) m->key[i]) * 16777619u;
  return h;
}

static gboolean
member_equal (gconstpointer a, gconstpointer b)
{
  const Member *x = a, *y = b;
  return x->key_len == y->key_len && memcmp (x->key, y->key, x->key_len) == 0;
}

static PlJson *
node_new (PlJsonType type)
{
  PlJson *node = g_new0 (PlJson, 1);
  node->type = type;
  return node;
}

void
pl_json_free (PlJson *node)
{
  if (!node)
    return;
  switch (node->type)
    {
    case PL_JSON_STRING:
      g_free (node->v.string.s);
      break;
    case PL_JSON_ARRAY:
      g_ptr_array_unref (node->v.items);
      break;
    case PL_JSON_OBJECT:
      g_clear_pointer (&node->v.object.index, g_hash_table_unref);
      g_ptr_array_unref (node->v.object.members);
      break;
    case PL_JSON_NULL:
    case PL_JSON_BOOL:
    case PL_JSON_NUMBER:
    default:
      break;
    }
  g_free (node);
}

/* Length of the valid UTF-8 sequence at p (avail > 0 bytes there), or 0 when it
 * is not valid: overlong forms, UTF-16 surrogates and code points above U+10FFFF
 * are not. */
static gsize
utf8_sequence_length (const guchar *p, gsize avail)
{
  guchar c = p[0];
  gunichar cp, min;
  gsize n;

  if (c < 0x80)
    return 1;
  else if (c >= 0xc2 && c <= 0xdf)
    n = 2, cp = c & 0x1f, min = 0x80;
  else if ((c & 0xf0) == 0xe0)
    n = 3, cp = c & 0x0f, min = 0x800;
  else if (c >= 0xf0 && c <= 0xf4)
    n = 4, cp = c & 0x07, min = 0x10000;
  else
    return 0;
  if (avail < n)
    return 0;
  for (gsize i = 1; i < n; i++)
    {
      if ((p[i] & 0xc0) != 0x80)
        return 0;
      cp = (cp << 6) | (p[i] & 0x3f);
    }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return n;
}

static void append_string_len (GString *out, const char *utf8, gsize len);

/* A short description of what sits at pos, for "found ..." in messages. */
static char *
describe_at (Parser *ps, gsize pos)
{
  if (pos >= ps->len)
    return g_strdup ("end of input");
  guchar c = ps->p[pos];
  if (c >= 0x20 && c < 0x7f)
    return g_strdup_printf ("'%c'", c);
  return g_strdup_printf ("byte 0x%02x", c);
}

/* Quoted, escaped and shortened form of a key for messages. */
static char *
describe_key (const char *key, gsize len)
{
  GString *out = g_string_new (NULL);
  append_string_len (out, key, MIN (len, 64));
  if (len > 64)
    g_string_append (out, "...");
  return g_string_free (out, FALSE);
}

static void
fail (Parser *ps, gsize pos, const char *format, ...) G_GNUC_PRINTF (3, 4);

static void
fail (Parser *ps, gsize pos, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  g_autofree char *what = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (ps->error, PL_ERROR, PL_ERROR_FORMAT, "JSON at byte %" G_GSIZE_FORMAT ": %s",
               pos, what);
}

/* "expected X, found Y" at the current position */
static void
fail_expected (Parser *ps, const char *expected)
{
  g_autofree char *found = describe_at (ps, ps->pos);
  fail (ps, ps->pos, "expected %s, found %s", expected, found);
}

static void
skip_ws (Parser *ps)
{
  while (ps->pos < ps->len)
    {
      guchar c = ps->p[ps->pos];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
        break;
      ps->pos++;
    }
}

static gboolean
at (Parser *ps, guchar c)
{
  return ps->pos < ps->len && ps->p[ps->pos] == c;
}

static gboolean
at_digit (Parser *ps)
{
  return ps->pos < ps->len && g_ascii_isdigit (ps->p[ps->pos]);
}

static PlJson *parse_value (Parser *ps, guint depth);

static PlJson *
parse_literal (Parser *ps, const char *word, PlJsonType type, gboolean value)
{
  gsize n = strlen (word);
  for (gsize i = 0; i < n; i++)
    {
      if (!at (ps, word[i]))
        {
          g_autofree char *expected = g_strdup_printf ("'%s'", word);
          fail_expected (ps, expected);
          return NULL;
        }
      ps->pos++;
    }
  PlJson *node = node_new (type);
  node->v.boolean = value;
  return node;
}

/* number = [ '-' ] ( '0' / [1-9] *DIGIT ) [ '.' 1*DIGIT ] [ ('e'/'E') ['+'/'-'] 1*DIGIT ] */
static PlJson *
parse_number (Parser *ps)
{
  gsize start = ps->pos;
  gboolean neg = FALSE, is_int = TRUE, overflow = FALSE;
  guint64 mag = 0;

  if (at (ps, '-'))
    {
      neg = TRUE;
      ps->pos++;
    }
  if (!at_digit (ps))
    {
      fail_expected (ps, "a digit after '-'");
      return NULL;
    }
  if (at (ps, '0'))
    {
      ps->pos++;
      if (at_digit (ps))
        {
          fail (ps, ps->pos, "expected '.', 'e' or the end of the number after a "
                "leading 0, found '%c' (leading zeros are not allowed)",
                ps->p[ps->pos]);
          return NULL;
        }
    }
  else
    while (at_digit (ps))
      {
        guint d = ps->p[ps->pos++] - '0';
        if (mag > (G_MAXUINT64 - d) / 10)
          overflow = TRUE;
        else
          mag = mag * 10 + d;
      }
  if (at (ps, '.'))
    {
      is_int = FALSE;
      ps->pos++;
      if (!at_digit (ps))
        {
          fail_expected (ps, "a digit after the decimal point");
          return NULL;
        }
      while (at_digit (ps))
        ps->pos++;
    }
  if (at (ps, 'e') || at (ps, 'E'))
    {
      is_int = FALSE;
      ps->pos++;
      if (at (ps, '+') || at (ps, '-'))
        ps->pos++;
      if (!at_digit (ps))
        {
          fail_expected (ps, "a digit in the exponent");
          return NULL;
        }
      while (at_digit (ps))
        ps->pos++;
    }

  /* The literal is ASCII and fully matched the grammar, so strtod reads all of it. */
  gsize n = ps->pos - start;
  char small[64];
  g_autofree char *big = NULL;
  char *lit = small;
  if (n >= sizeof small)
    lit = big = g_malloc (n + 1);
  memcpy (lit, ps->p + start, n);
  lit[n] = '\0';
  double d = g_ascii_strtod (lit, NULL);
  if (isinf (d))
    {
      fail (ps, start, "number %.*s%s is out of the range of a double", (int) MIN (n, 32),
            lit, n > 32 ? "..." : "");
      return NULL;
    }

  PlJson *node = node_new (PL_JSON_NUMBER);
  node->v.number.d = d;
  if (is_int && !overflow)
    {
      if (!neg && mag <= (guint64) G_MAXINT64)
        {
          node->v.number.is_int = TRUE;
          node->v.number.i = (gint64) mag;
        }
      else if (neg && mag <= (guint64) G_MAXINT64 + 1)
        {
          node->v.number.is_int = TRUE;
          /* -mag computed in unsigned arithmetic, exact for INT64_MIN too */
          node->v.number.i = (gint64) (0 - mag);
        }
    }
  return node;
}

static gboolean
parse_hex4 (Parser *ps, gunichar *out)
{
  gunichar v = 0;
  for (int i = 0; i < 4; i++)
    {
      if (ps->pos >= ps->len || !g_ascii_isxdigit (ps->p[ps->pos]))
        {
          fail_expected (ps, "4 hex digits after \\u");
          return FALSE;
        }
      v = (v << 4) | g_ascii_xdigit_value (ps->p[ps->pos++]);
    }
  *out = v;
  return TRUE;
}

/* Parses the string starting at the '"' under ps->pos into a new NUL-terminated
 * buffer (escapes decoded, so it may hold NULs); *len_out gets its length. */
static char *
parse_string (Parser *ps, gsize *len_out)
{
  gsize start = ps->pos;
  GString *s = g_string_new (NULL);

  ps->pos++;
  for (;;)
    {
      /* copy the run of plain ASCII at once */
      gsize run = ps->pos;
      while (run < ps->len && ps->p[run] >= 0x20 && ps->p[run] < 0x80
             && ps->p[run] != '"' && ps->p[run] != '\\')
        run++;
      g_string_append_len (s, (const char *) ps->p + ps->pos, run - ps->pos);
      ps->pos = run;

      if (ps->pos >= ps->len)
        {
          fail (ps, ps->pos, "expected '\"' to close the string that starts at byte %"
                G_GSIZE_FORMAT ", found end of input", start);
          goto error;
        }
      guchar c = ps->p[ps->pos];
      if (c == '"')
        {
          ps->pos++;
          break;
        }
      else if (c < 0x20)
        {
          fail (ps, ps->pos, "expected a character or '\"', found control character "
                "0x%02x (it must be escaped as \\u%04x)", c, c);
          goto error;
        }
      else if (c >= 0x80)
        {
          gsize n = utf8_sequence_length (ps->p + ps->pos, ps->len - ps->pos);
          if (n == 0)
            {
              fail (ps, ps->pos, "expected UTF-8 text in the string, found invalid "
                    "UTF-8 byte 0x%02x", c);
              goto error;
            }
          g_string_append_len (s, (const char *) ps->p + ps->pos, n);
          ps->pos += n;
          continue;
        }

      /* c == '\\' */
      gsize esc = ps->pos++;
      if (ps->pos >= ps->len)
        {
          fail_expected (ps, "an escape character after '\\'");
          goto error;
        }
      c = ps->p[ps->pos++];
      switch (c)
        {
        case '"': g_string_append_c (s, '"'); break;
        case '\\': g_string_append_c (s, '\\'); break;
        case '/': g_string_append_c (s, '/'); break;
        case 'b': g_string_append_c (s, '\b'); break;
        case 'f': g_string_append_c (s, '\f'); break;
        case 'n': g_string_append_c (s, '\n'); break;
        case 'r': g_string_append_c (s, '\r'); break;
        case 't': g_string_append_c (s, '\t'); break;
        case 'u':
          {
            gunichar u;
            if (!parse_hex4 (ps, &u))
              goto error;
            if (u >= 0xdc00 && u <= 0xdfff)
              {
                fail (ps, esc, "lone low surrogate \\u%04X (expected a high surrogate "
                      "\\uD800-\\uDBFF before it)", u);
                goto error;
              }
            if (u >= 0xd800 && u <= 0xdbff)
              {
                gunichar lo = 0;
                gsize lo_pos = ps->pos;
                if (ps->pos + 1 < ps->len && ps->p[ps->pos] == '\\'
                    && ps->p[ps->pos + 1] == 'u')
                  {
                    ps->pos += 2;
                    if (!parse_hex4 (ps, &lo))
                      goto error;
                  }
                if (lo < 0xdc00 || lo > 0xdfff)
                  {
                    g_autofree char *found = NULL;
                    if (ps->pos > lo_pos)
                      found = g_strdup_printf ("\\u%04X", lo);
                    else if (lo_pos + 1 == ps->len && ps->p[lo_pos] == '\\')
                      {
                        found = g_strdup ("end of input");
                        lo_pos = ps->len;
                      }
                    else
                      found = describe_at (ps, lo_pos);
                    fail (ps, lo_pos, "expected a low surrogate \\uDC00-\\uDFFF after the "
                          "high surrogate \\u%04X, found %s (a lone surrogate is not a "
                          "character)", u, found);
                    goto error;
                  }
                /* UTF-16 pair -> code point */
                u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
              }
            char buf[8];
            gint n = g_unichar_to_utf8 (u, buf);
            g_string_append_len (s, buf, n);
            break;
          }
        default:
          ps->pos--;
          fail_expected (ps, "one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u after '\\'");
          goto error;
        }
    }
  *len_out = s->len;
  return g_string_free (s, FALSE);

error:
  g_string_free (s, TRUE);
  return NULL;
}

static PlJson *
parse_array (Parser *ps, guint depth)
{
  g_autoptr (PlJson) node = node_new (PL_JSON_ARRAY);
  node->v.items = g_ptr_array_new_with_free_func ((GDestroyNotify) pl_json_free);

  ps->pos++;
  skip_ws (ps);
  if (at (ps, ']'))
    {
      ps->pos++;
      return g_steal_pointer (&node);
    }
  for (;;)
    {
      PlJson *item = parse_value (ps, depth);
      if (!item)
        return NULL;
      g_ptr_array_add (node->v.items, item);
      skip_ws (ps);
      if (at (ps, ']'))
        {
          ps->pos++;
          return g_steal_pointer (&node);
        }
      if (!at (ps, ','))
        {
          fail_expected (ps, "',' or ']' after an array element");
          return NULL;
        }
      ps->pos++;
      skip_ws (ps);
      if (at (ps, ']'))
        {
          fail (ps, ps->pos, "expected a value after ',', found ']' (trailing commas "
                "are not allowed)");
          return NULL;
        }
    }
}

static Member *
object_find (const PlJson *node, const Member *probe)
{
  if (node->v.object.index)
    return g_hash_table_lookup (node->v.object.index, probe);
  GPtrArray *members = node->v.object.members;
  for (guint i = 0; i < members->len; i++)
    if (member_equal (members->pdata[i], probe))
      return members->pdata[i];
  return NULL;
}

static PlJson *
parse_object (Parser *ps, guint depth)
{
  g_autoptr (PlJson) node = node_new (PL_JSON_OBJECT);
  GPtrArray *members = g_ptr_array_new_with_free_func (member_free);
  node->v.object.members = members;

  ps->pos++;
  skip_ws (ps);
  if (at (ps, '}'))
    {
      ps->pos++;
      return g_steal_pointer (&node);
    }
  for (;;)
    {
      if (!at (ps, '"'))
        {
          fail_expected (ps, members->len ? "a string key" : "a string key or '}'");
          return NULL;
        }
      Member probe = { .offset = ps->pos };
      probe.key = parse_string (ps, &probe.key_len);
      if (!probe.key)
        return NULL;
      Member *first = object_find (node, &probe);
      if (first)
        {
          g_autofree char *k = describe_key (probe.key, probe.key_len);
          fail (ps, probe.offset, "duplicate key %s (first at byte %" G_GSIZE_FORMAT ")",
                k, first->offset);
          g_free (probe.key);
          return NULL;
        }
      Member *m = g_new (Member, 1);
      *m = probe;
      m->value = NULL;
      g_ptr_array_add (members, m);
      if (node->v.object.index)
        g_hash_table_add (node->v.object.index, m);
      else if (members->len >= INDEX_THRESHOLD)
        {
          node->v.object.index = g_hash_table_new (member_hash, member_equal);
          for (guint i = 0; i < members->len; i++)
            g_hash_table_add (node->v.object.index, members->pdata[i]);
        }

      skip_ws (ps);
      if (!at (ps, ':'))
        {
          fail_expected (ps, "':' after the object key");
          return NULL;
        }
      ps->pos++;
      skip_ws (ps);
      m->value = parse_value (ps, depth);
      if (!m->value)
        return NULL;
      skip_ws (ps);
      if (at (ps, '}'))
        {
          ps->pos++;
          return g_steal_pointer (&node);
        }
      if (!at (ps, ','))
        {
          fail_expected (ps, "',' or '}' after an object member");
          return NULL;
        }
      ps->pos++;
      skip_ws (ps);
      if (at (ps, '}'))
        {
          fail (ps, ps->pos, "expected a string key after ',', found '}' (trailing "
                "commas are not allowed)");
          return NULL;
        }
    }
}

/* Parses one value at ps->pos (no leading whitespace); depth is the number of
 * arrays/objects around it. */
static PlJson *
parse_value (Parser *ps, guint depth)
{
  if (ps->pos >= ps->len)
    {
      fail_expected (ps, "a value");
      return NULL;
    }
  switch (ps->p[ps->pos])
    {
    case '{':
    case '[':
      if (depth + 1 > ps->max_depth)
        {
          fail (ps, ps->pos, "expected a scalar value, found '%c': nesting deeper "
                "than %u levels", ps->p[ps->pos], ps->max_depth);
          return NULL;
        }
      return ps->p[ps->pos] == '{' ? parse_object (ps, depth + 1)
                                   : parse_array (ps, depth + 1);
    case '"':
      {
        gsize len;
        char *s = parse_string (ps, &len);
        if (!s)
          return NULL;
        PlJson *node = node_new (PL_JSON_STRING);
        node->v.string.s = s;
        node->v.string.len = len;
        return node;
      }
    case 't':
      return parse_literal (ps, "true", PL_JSON_BOOL, TRUE);
    case 'f':
      return parse_literal (ps, "false", PL_JSON_BOOL, FALSE);
    case 'n':
      return parse_literal (ps, "null", PL_JSON_NULL, FALSE);
    case '-':
    case '0': case '1': case '2': case '3': case '4':
    case '5': case '6': case '7': case '8': case '9':
      return parse_number (ps);
    default:
      fail_expected (ps, "a value (object, array, string, number, true, false or null)");
      return NULL;
    }
}

PlJson *
pl_json_parse_full (const char *text, gsize len, gsize max_size, guint max_depth,
                    GError **error)
{
  g_return_val_if_fail (text != NULL || len == 0, NULL);
  g_return_val_if_fail (max_depth <= MAX_DEPTH_LIMIT, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (len > max_size)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                   "JSON document of %" G_GSIZE_FORMAT " bytes is larger than the limit "
                   "of %" G_GSIZE_FORMAT " bytes", len, max_size);
      return NULL;
    }
  Parser ps = {
    .p = (const guchar *) text,
    .len = len,
    .max_depth = max_depth,
    .error = error,
  };
  skip_ws (&ps);
  g_autoptr (PlJson) root = parse_value (&ps, 0);
  if (!root)
    return NULL;
  skip_ws (&ps);
  if (ps.pos != ps.len)
    {
      fail_expected (&ps, "end of input after the value");
      return NULL;
    }
  return g_steal_pointer (&root);
}

PlJson *
pl_json_parse (const char *text, gsize len, GError **error)
{
  return pl_json_parse_full (text, len, PL_JSON_DEFAULT_MAX_SIZE,
                             PL_JSON_DEFAULT_MAX_DEPTH, error);
}

PlJsonType
pl_json_type (const PlJson *node)
{
  g_return_val_if_fail (node != NULL, PL_JSON_NULL);
  return node->type;
}

const char *
pl_json_type_name (PlJsonType type)
{
  switch (type)
    {
    case PL_JSON_NULL: return "null";
    case PL_JSON_BOOL: return "boolean";
    case PL_JSON_NUMBER: return "number";
    case PL_JSON_STRING: return "string";
    case PL_JSON_ARRAY: return "array";
    case PL_JSON_OBJECT: return "object";
    default: return "unknown";
    }
}

guint
pl_json_object_size (const PlJson *node)
{
  g_return_val_if_fail (node != NULL, 0);
  return node->type == PL_JSON_OBJECT ? node->v.object.members->len : 0;
}

const PlJson *
pl_json_object_get (const PlJson *node, const char *key)
{
  g_return_val_if_fail (node != NULL, NULL);
  g_return_val_if_fail (key != NULL, NULL);
  if (node->type != PL_JSON_OBJECT)
    return NULL;
  Member probe = { .key = (char *) key, .key_len = strlen (key) };
  Member *m = object_find (node, &probe);
  return m ? m->value : NULL;
}

const char *
pl_json_object_key_at (const PlJson *node, guint i)
{
  g_return_val_if_fail (i < pl_json_object_size (node), NULL);
  return ((Member *) node->v.object.members->pdata[i])->key;
}

const PlJson *
pl_json_object_value_at (const PlJson *node, guint i)
{
  g_return_val_if_fail (i < pl_json_object_size (node), NULL);
  return ((Member *) node->v.object.members->pdata[i])->value;
}

guint
pl_json_array_length (const PlJson *node)
{
  g_return_val_if_fail (node != NULL, 0);
  return node->type == PL_JSON_ARRAY ? node->v.items->len : 0;
}

const PlJson *
pl_json_array_get (const PlJson *node, guint i)
{
  g_return_val_if_fail (i < pl_json_array_length (node), NULL);
  return node->v.items->pdata[i];
}

const char *
pl_json_get_string (const PlJson *node, gsize *length)
{
  g_return_val_if_fail (node != NULL, NULL);
  if (node->type != PL_JSON_STRING)
    {
      if (length)
        *length = 0;
      return NULL;
    }
  if (length)
    *length = node->v.string.len;
  return node->v.string.s;
}

double
pl_json_get_double (const PlJson *node)
{
  g_return_val_if_fail (node != NULL, NAN);
  return node->type == PL_JSON_NUMBER ? node->v.number.d : NAN;
}

gboolean
pl_json_get_int64 (const PlJson *node, gint64 *out)
{
  g_return_val_if_fail (node != NULL, FALSE);
  if (node->type != PL_JSON_NUMBER || !node->v.number.is_int)
    return FALSE;
  if (out)
    *out = node->v.number.i;
  return TRUE;
}

gboolean
pl_json_get_bool (const PlJson *node)
{
  g_return_val_if_fail (node != NULL, FALSE);
  return node->type == PL_JSON_BOOL && node->v.boolean;
}

/* Appends the len bytes at utf8 (NULs included) as a quoted JSON string. */
static void
append_string_len (GString *out, const char *utf8, gsize len)
{
  const guchar *p = (const guchar *) utf8;
  g_string_append_c (out, '"');
  for (gsize i = 0; i < len;)
    {
      guchar c = p[i];
      if (c == '"' || c == '\\')
        {
          g_string_append_c (out, '\\');
          g_string_append_c (out, c);
          i++;
        }
      else if (c < 0x20)
        {
          g_string_append_printf (out, "\\u%04x", c);
          i++;
        }
      else if (c < 0x80)
        {
          g_string_append_c (out, c);
          i++;
        }
      else
        {
          gsize n = utf8_sequence_length (p + i, len - i);
          if (n == 0)
            {
              g_string_append (out, "\xef\xbf\xbd");  /* U+FFFD */
              i++;
            }
          else
            {
              g_string_append_len (out, (const char *) p + i, n);
              i += n;
            }
        }
    }
  g_string_append_c (out, '"');
}

void
pl_json_append_string (GString *out, const char *utf8)
{
  g_return_if_fail (out != NULL);
  if (!utf8)
    g_string_append (out, "null");
  else
    append_string_len (out, utf8, strlen (utf8));
}

/* Writes v with `digits` significant digits into buf (locale independent). */
static void
format_g (char *buf, gsize size, int digits, double v)
{
  char fmt[8];
  g_snprintf (fmt, sizeof fmt, "%%.%dg", digits);
  g_ascii_formatd (buf, size, fmt, v);
}

void
pl_json_append_double (GString *out, double v)
{
  g_return_if_fail (out != NULL);
  if (!isfinite (v))
    {
      g_string_append (out, "null");
      return;
    }
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  if (fabs (v) <= FLT_MAX && (double) (float) v == v)
    {
      /* 9 significant digits always identify a float */
      for (int digits = 1; digits <= 9; digits++)
        {
          format_g (buf, sizeof buf, digits, v);
          double r = g_ascii_strtod (buf, NULL);
          if (fabs (r) <= FLT_MAX && (float) r == (float) v)
            break;
        }
    }
  else
    {
      /* 17 significant digits always identify a double */
      for (int digits = 1; digits <= 17; digits++)
        {
          format_g (buf, sizeof buf, digits, v);
          if (g_ascii_strtod (buf, NULL) == v)
            break;
        }
    }
  /* %g switches to an exponent once it has fewer digits than the integer part
   * ("1e+02"); the plain form with more digits reads back the same and is
   * taken when it is no longer ("100"). */
  const char *e = strchr (buf, 'e');
  int exponent = e ? atoi (e + 1) : -1;
  if (exponent >= 0 && exponent < 17)
    {
      char plain[G_ASCII_DTOSTR_BUF_SIZE];
      format_g (plain, sizeof plain, exponent + 1, v);
      if (strlen (plain) <= strlen (buf))
        memcpy (buf, plain, sizeof buf);
    }
  g_string_append (out, buf);
}
