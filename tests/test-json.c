#include "paramlab.h"
#include "pl-test-util.h"

#include <float.h>
#include <string.h>

static PlJson *
parse_ok (const char *text)
{
  g_autoptr (GError) error = NULL;
  PlJson *root = pl_json_parse (text, strlen (text), &error);
  g_assert_no_error (error);
  g_assert_nonnull (root);
  return root;
}

static void
test_document (void)
{
  const char *text =
    " {\"name\": \"mlp\", \"layers\": [4, 8, 2], \"lr\": 1.5e-3,\n"
    "  \"nested\": {\"z\": null, \"a\": [], \"m\": {}}, \"on\": true, \"off\": false,\n"
    "  \"neg\": -12, \"\": \"empty key\"}\r\n\t";
  g_autoptr (PlJson) root = parse_ok (text);

  g_assert_cmpint (pl_json_type (root), ==, PL_JSON_OBJECT);
  g_assert_cmpuint (pl_json_object_size (root), ==, 8);
  const char *keys[] = { "name", "layers", "lr", "nested", "on", "off", "neg", "" };
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      g_assert_cmpstr (pl_json_object_key_at (root, i), ==, keys[i]);
      g_assert_true (pl_json_object_value_at (root, i) == pl_json_object_get (root, keys[i]));
    }
  g_assert_null (pl_json_object_get (root, "missing"));
  g_assert_cmpstr (pl_json_get_string (pl_json_object_get (root, "name"), NULL), ==, "mlp");
  g_assert_cmpstr (pl_json_get_string (pl_json_object_get (root, ""), NULL), ==, "empty key");

  const PlJson *layers = pl_json_object_get (root, "layers");
  g_assert_cmpint (pl_json_type (layers), ==, PL_JSON_ARRAY);
  g_assert_cmpuint (pl_json_array_length (layers), ==, 3);
  gint64 v;
  g_assert_true (pl_json_get_int64 (pl_json_array_get (layers, 1), &v));
  g_assert_cmpint (v, ==, 8);

  const PlJson *lr = pl_json_object_get (root, "lr");
  g_assert_cmpfloat (pl_json_get_double (lr), ==, 1.5e-3);
  g_assert_false (pl_json_get_int64 (lr, &v));

  const PlJson *nested = pl_json_object_get (root, "nested");
  g_assert_cmpint (pl_json_type (pl_json_object_get (nested, "z")), ==, PL_JSON_NULL);
  g_assert_cmpuint (pl_json_array_length (pl_json_object_get (nested, "a")), ==, 0);
  g_assert_cmpint (pl_json_type (pl_json_object_get (nested, "m")), ==, PL_JSON_OBJECT);
  g_assert_cmpuint (pl_json_object_size (pl_json_object_get (nested, "m")), ==, 0);

  g_assert_true (pl_json_get_bool (pl_json_object_get (root, "on")));
  g_assert_cmpint (pl_json_type (pl_json_object_get (root, "off")), ==, PL_JSON_BOOL);
  g_assert_false (pl_json_get_bool (pl_json_object_get (root, "off")));
  g_assert_true (pl_json_get_int64 (pl_json_object_get (root, "neg"), &v));
  g_assert_cmpint (v, ==, -12);

  /* accessors of the wrong type answer "nothing" instead of crashing */
  g_assert_null (pl_json_get_string (layers, NULL));
  g_assert_true (isnan (pl_json_get_double (layers)));
  g_assert_false (pl_json_get_int64 (layers, &v));
  g_assert_null (pl_json_object_get (layers, "x"));
  g_assert_cmpuint (pl_json_array_length (root), ==, 0);
  g_assert_cmpstr (pl_json_type_name (pl_json_type (layers)), ==, "array");
}

/* many keys: lookups and duplicate detection go through the object's index */
static void
test_big_object (void)
{
  GString *s = g_string_new ("{");
  for (int i = 0; i < 500; i++)
    g_string_append_printf (s, "%s\"k%d\": %d", i ? "," : "", i, i * 3);
  g_string_append (s, "}");
  g_autoptr (PlJson) root = parse_ok (s->str);
  g_assert_cmpuint (pl_json_object_size (root), ==, 500);
  for (int i = 0; i < 500; i++)
    {
      char key[16];
      gint64 v;
      g_snprintf (key, sizeof key, "k%d", i);
      g_assert_true (pl_json_get_int64 (pl_json_object_get (root, key), &v));
      g_assert_cmpint (v, ==, i * 3);
      g_assert_cmpstr (pl_json_object_key_at (root, i), ==, key);
    }

  g_string_truncate (s, s->len - 1);
  g_string_append (s, ", \"k250\": 0}");
  g_autoptr (GError) error = NULL;
  g_autoptr (PlJson) dup = pl_json_parse (s->str, s->len, &error);
  g_assert_null (dup);
  g_assert_error (error, PL_ERROR, PL_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "duplicate key \"k250\""));
  g_string_free (s, TRUE);
}

static void
test_numbers (void)
{
  static const struct {
    const char *text;
    double d;
    gboolean is_int;
    gint64 i;
  } cases[] = {
    { "0", 0, TRUE, 0 },
    { "-0", -0.0, TRUE, 0 },
    { "42", 42, TRUE, 42 },
    { "-17", -17, TRUE, -17 },
    { "9223372036854775807", 9223372036854775807.0, TRUE, G_MAXINT64 },
    { "-9223372036854775808", -9223372036854775808.0, TRUE, G_MININT64 },
    { "9223372036854775808", 9223372036854775808.0, FALSE, 0 },
    { "-9223372036854775809", -9223372036854775809.0, FALSE, 0 },
    { "123456789012345678901234567890", 1.2345678901234568e29, FALSE, 0 },
    { "1.0", 1.0, FALSE, 0 },
    { "1e3", 1000.0, FALSE, 0 },
    { "2.5E-3", 2.5e-3, FALSE, 0 },
    { "-0.125e+2", -12.5, FALSE, 0 },
    { "1e-400", 0.0, FALSE, 0 },  /* underflow reads as 0 */
    { "0.1", 0.1, FALSE, 0 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("number %s", cases[i].text);
      g_autoptr (PlJson) n = parse_ok (cases[i].text);
      g_assert_cmpint (pl_json_type (n), ==, PL_JSON_NUMBER);
      g_assert_cmpfloat (pl_json_get_double (n), ==, cases[i].d);
      g_assert_cmpint (signbit (pl_json_get_double (n)), ==, signbit (cases[i].d));
      gint64 v = 12345;
      g_assert_cmpint (pl_json_get_int64 (n, &v), ==, cases[i].is_int);
      if (cases[i].is_int)
        g_assert_cmpint (v, ==, cases[i].i);
    }
}

static void
test_string_escapes (void)
{
  static const struct {
    const char *json;
    const char *utf8;
    gsize len;
  } cases[] = {
    { "\"plain\"", "plain", 5 },
    { "\"\"", "", 0 },
    { "\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\"", "\" \\ / \b \f \n \r \t", 15 },
    { "\"\\u0041\\u00e9\\u00E9\"", "A\xc3\xa9\xc3\xa9", 5 },
    { "\"\\u20ac\"", "\xe2\x82\xac", 3 },
    { "\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 4 },           /* U+1F600 */
    { "\"\\uDBFF\\uDFFF\"", "\xf4\x8f\xbf\xbf", 4 },           /* U+10FFFF */
    { "\"a\\u0000b\"", "a\0b", 3 },
    { "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14 },
    { "\"\x7f\"", "\x7f", 1 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("string %s", cases[i].json);
      g_autoptr (PlJson) s = parse_ok (cases[i].json);
      gsize len = 999;
      const char *got = pl_json_get_string (s, &len);
      g_assert_nonnull (got);
      g_assert_cmpuint (len, ==, cases[i].len);
      g_assert_cmpmem (got, len, cases[i].utf8, cases[i].len);
      g_assert_cmpint (got[len], ==, '\0');
    }
}

static void
test_append_string (void)
{
  static const struct {
    const char *in;
    const char *out;
  } cases[] = {
    { "plain", "\"plain\"" },
    { "", "\"\"" },
    { "q\"b\\s/", "\"q\\\"b\\\\s/\"" },
    { "\n\t\r\x01\x1f", "\"\\u000a\\u0009\\u000d\\u0001\\u001f\"" },
    { "caf\xc3\xa9 \xf0\x9f\x98\x80", "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"" },
    /* invalid UTF-8: a stray continuation byte, a truncated sequence, an overlong
     * '/', an encoded surrogate; each bad byte becomes U+FFFD */
    { "a\x80z", "\"a\xef\xbf\xbdz\"" },
    { "a\xe2\x82", "\"a\xef\xbf\xbd\xef\xbf\xbd\"" },
    { "\xc0\xaf", "\"\xef\xbf\xbd\xef\xbf\xbd\"" },
    { "\xed\xa0\x80", "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GString) s = g_string_new ("x");
      pl_json_append_string (s, cases[i].in);
      g_assert_cmpstr (s->str + 1, ==, cases[i].out);

      /* and it reads back: identical for valid input */
      g_autoptr (PlJson) j = parse_ok (s->str + 1);
      if (g_utf8_validate (cases[i].in, -1, NULL))
        g_assert_cmpstr (pl_json_get_string (j, NULL), ==, cases[i].in);
    }

  g_autoptr (GString) s = g_string_new (NULL);
  pl_json_append_string (s, NULL);
  g_assert_cmpstr (s->str, ==, "null");

  /* every character 1..0x7f and a few others round-trip */
  GString *all = g_string_new (NULL);
  for (int c = 1; c < 0x80; c++)
    g_string_append_c (all, c);
  g_string_append (all, "\xc2\x80\xe0\xa0\x80\xef\xbf\xbf\xf4\x8f\xbf\xbf");
  g_string_truncate (s, 0);
  pl_json_append_string (s, all->str);
  g_autoptr (PlJson) j = parse_ok (s->str);
  g_assert_cmpstr (pl_json_get_string (j, NULL), ==, all->str);
  g_string_free (all, TRUE);
}

static void
test_append_double (void)
{
  static const struct {
    double v;
    const char *out;
  } cases[] = {
    { 0.0, "0" },
    { -0.0, "-0" },
    { 1.0, "1" },
    { 100.0, "100" },                            /* not "1e+02" */
    { 1.5e6, "1500000" },                        /* a tie goes to the plain form */
    { 1e5, "1e+05" },                            /* shorter than "100000" */
    { (double) 123456789.0f, "123456792" },      /* the float 123456792 */
    { 1234567891.0, "1234567891" },
    { 0.0001, "0.0001" },
    { 0.1, "0.1" },                              /* double: shortest is 1 digit */
    { (double) 0.1f, "0.1" },                    /* float: shortest that reads as 0.1f */
    { 1.0 / 3.0, "0.3333333333333333" },         /* 16 digits */
    { 0.1 + 0.2, "0.30000000000000004" },        /* needs all 17 */
    { (double) (1.0f / 3.0f), "0.33333334" },    /* float: 8 digits */
    { (double) 1.13137854e-20f, "1.13137854e-20" }, /* float: needs all 9 */
    { 1e300, "1e+300" },
    { -2.5e-8, "-2.5e-08" },
    { (double) FLT_MAX, "3.40282347e+38" },
    { 5e-324, "5e-324" },                        /* smallest subnormal */
    { NAN, "null" },
    { INFINITY, "null" },
    { -INFINITY, "null" },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GString) s = g_string_new (NULL);
      pl_json_append_double (s, cases[i].v);
      g_assert_cmpstr (s->str, ==, cases[i].out);
    }

  /* random doubles and floats read back exactly (floats as floats) */
  PlRng rng;
  pl_rng_init (&rng, 5);
  for (int i = 0; i < 2000; i++)
    {
      guint64 bits = pl_rng_next_u64 (&rng);
      double d;
      memcpy (&d, &bits, sizeof d);
      float f = (float) ((pl_rng_uniform (&rng) - 0.5) * pow (10, (int) pl_rng_below (&rng, 40) - 20));
      g_autoptr (GString) s = g_string_new (NULL);
      pl_json_append_double (s, d);
      if (isfinite (d))
        {
          g_autoptr (PlJson) j = parse_ok (s->str);
          g_assert_cmpfloat (pl_json_get_double (j), ==, d);
        }
      else
        g_assert_cmpstr (s->str, ==, "null");
      g_string_truncate (s, 0);
      pl_json_append_double (s, f);
      g_assert_cmpuint (s->len, <=, 15);
      g_autoptr (PlJson) j = parse_ok (s->str);
      g_assert_cmpfloat ((float) pl_json_get_double (j), ==, f);
    }
}

static void
test_depth_limit (void)
{
  GString *s = g_string_new (NULL);
  for (int i = 0; i < PL_JSON_DEFAULT_MAX_DEPTH; i++)
    g_string_append (s, i % 2 ? "{\"k\":" : "[");
  g_string_append (s, "0");
  for (int i = PL_JSON_DEFAULT_MAX_DEPTH - 1; i >= 0; i--)
    g_string_append (s, i % 2 ? "}" : "]");
  pl_json_free (parse_ok (s->str));
  g_string_free (s, TRUE);

  /* one level deeper is refused */
  s = g_string_new (NULL);
  for (int i = 0; i <= PL_JSON_DEFAULT_MAX_DEPTH; i++)
    g_string_append_c (s, '[');
  for (int i = 0; i <= PL_JSON_DEFAULT_MAX_DEPTH; i++)
    g_string_append_c (s, ']');
  g_autoptr (GError) error = NULL;
  g_autoptr (PlJson) bad = pl_json_parse (s->str, s->len, &error);
  g_assert_null (bad);
  g_assert_error (error, PL_ERROR, PL_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "at byte 64:"));
  g_assert_nonnull (strstr (error->message, "nesting deeper than 64 levels"));
  g_string_free (s, TRUE);

  /* a depth bomb of a megabyte stops at the limit, without recursing through it */
  gsize n = 1 << 20;
  char *bomb = g_malloc (n);
  memset (bomb, '[', n);
  g_clear_error (&error);
  g_assert_null (pl_json_parse (bomb, n, &error));
  g_assert_nonnull (strstr (error->message, "nesting deeper"));
  g_free (bomb);

  /* explicit limits */
  g_clear_error (&error);
  PlJson *j = pl_json_parse_full ("[[1]]", 5, 100, 2, &error);
  g_assert_no_error (error);
  pl_json_free (j);
  g_assert_null (pl_json_parse_full ("[[[1]]]", 7, 100, 2, &error));
  g_assert_nonnull (strstr (error->message, "nesting deeper than 2 levels"));
  g_clear_error (&error);
  g_assert_null (pl_json_parse_full ("[1, 2, 3]", 9, 8, 64, &error));
  g_assert_error (error, PL_ERROR, PL_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "9 bytes is larger than the limit of 8"));
}

static void
test_invalid (void)
{
  static const struct {
    const char *text;
    gssize len;            /* -1: strlen */
    const char *expected;  /* substring of the message */
  } cases[] = {
    { "", -1, "at byte 0: expected a value, found end of input" },
    { "   ", -1, "at byte 3: expected a value" },
    { "[1,2,]", -1, "at byte 5: expected a value after ',', found ']' (trailing commas" },
    { "{\"a\":1,}", -1, "at byte 7: expected a string key after ',', found '}'" },
    { "[1 2]", -1, "at byte 3: expected ',' or ']' after an array element, found '2'" },
    { "{\"a\":1 \"b\":2}", -1, "at byte 7: expected ',' or '}' after an object member" },
    { "{\"a\" 1}", -1, "at byte 5: expected ':' after the object key, found '1'" },
    { "{1:2}", -1, "at byte 1: expected a string key or '}', found '1'" },
    { "{'a':2}", -1, "at byte 1: expected a string key or '}', found '''" },
    { "\"\\x\"", -1, "at byte 2: expected one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u after '\\', found 'x'" },
    { "\"\\u12g4\"", -1, "at byte 5: expected 4 hex digits after \\u, found 'g'" },
    { "\"\\ud800\"", -1, "at byte 7: expected a low surrogate \\uDC00-\\uDFFF after the high surrogate \\uD800, found '\"'" },
    { "\"\\ud800\\u0041\"", -1, "at byte 7: expected a low surrogate \\uDC00-\\uDFFF after the high surrogate \\uD800, found \\u0041" },
    { "\"\\ud800\\ud800\"", -1, "at byte 7: expected a low surrogate" },
    { "\"x\\udc00\"", -1, "at byte 2: lone low surrogate \\uDC00" },
    { "\"a\tb\"", -1, "at byte 2: expected a character or '\"', found control character 0x09" },
    { "\"a\nb\"", -1, "control character 0x0a" },
    { "\"\xc3\x28\"", -1, "at byte 1: expected UTF-8 text in the string, found invalid UTF-8 byte 0xc3" },
    { "\"\xc0\xaf\"", -1, "invalid UTF-8 byte 0xc0" },          /* overlong '/' */
    { "\"\xed\xa0\x80\"", -1, "invalid UTF-8 byte 0xed" },      /* encoded surrogate */
    { "\"\xf4\x90\x80\x80\"", -1, "invalid UTF-8 byte 0xf4" },  /* above U+10FFFF */
    { "\"\xe2\x82\"", -1, "invalid UTF-8 byte 0xe2" },          /* truncated */
    { "\xef\xbb\xbf{}", -1, "at byte 0: expected a value (object, array, string, number, true, false or null), found byte 0xef" },
    { "{\"a\":1,\"a\":2}", -1, "at byte 7: duplicate key \"a\" (first at byte 1)" },
    { "{\"a\\u0000\":1,\"a\\u0000\":2}", -1, "duplicate key \"a\\u0000\"" },
    { "01", -1, "at byte 1: expected '.', 'e' or the end of the number after a leading 0, found '1' (leading zeros" },
    { "-007", -1, "at byte 2: expected '.', 'e' or the end of the number after a leading 0" },
    { "[00]", -1, "leading zeros are not allowed" },
    { "-", -1, "at byte 1: expected a digit after '-', found end of input" },
    { "-a", -1, "at byte 1: expected a digit after '-', found 'a'" },
    { "1.", -1, "at byte 2: expected a digit after the decimal point, found end of input" },
    { ".5", -1, "at byte 0: expected a value" },
    { "+1", -1, "at byte 0: expected a value" },
    { "1e", -1, "at byte 2: expected a digit in the exponent" },
    { "1e+", -1, "at byte 3: expected a digit in the exponent" },
    { "0x10", -1, "at byte 1: expected end of input after the value, found 'x'" },
    { "1e999", -1, "at byte 0: number 1e999 is out of the range of a double" },
    { "-1e400", -1, "out of the range of a double" },
    { "NaN", -1, "at byte 0: expected a value" },
    { "Infinity", -1, "at byte 0: expected a value" },
    { "tru", -1, "at byte 3: expected 'true', found end of input" },
    { "trUe", -1, "at byte 2: expected 'true', found 'U'" },
    { "nul", -1, "expected 'null'" },
    { "falsey", -1, "at byte 5: expected end of input after the value, found 'y'" },
    { "[1] x", -1, "at byte 4: expected end of input after the value, found 'x'" },
    { "{} {}", -1, "at byte 3: expected end of input" },
    { "/* c */ 1", -1, "at byte 0: expected a value" },
    { "[1]\0", 4, "at byte 3: expected end of input after the value, found byte 0x00" },
    { "\"a\0b\"", 5, "control character 0x00" },
    { "[\"abc", -1, "at byte 5: expected '\"' to close the string that starts at byte 1, found end of input" },
    { "\"\\", -1, "at byte 2: expected an escape character after '\\', found end of input" },
    { "[1,\n2,\n", -1, "at byte 7: expected a value" },
    { "\x0c" "1", -1, "at byte 0: expected a value" },            /* form feed is not whitespace */
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      gsize len = cases[i].len < 0 ? strlen (cases[i].text) : (gsize) cases[i].len;
      g_autoptr (GError) error = NULL;
      g_autoptr (PlJson) j = pl_json_parse (cases[i].text, len, &error);
      g_test_message ("case %u: %s", i, error ? error->message : "(accepted)");
      g_assert_null (j);
      g_assert_error (error, PL_ERROR, PL_ERROR_FORMAT);
      if (!strstr (error->message, cases[i].expected))
        g_error ("case %u: message \"%s\" lacks \"%s\"", i, error->message,
                 cases[i].expected);
      g_assert_true (g_str_has_prefix (error->message, "JSON at byte "));
    }
}

/* Every proper prefix of a document is refused at its end, never accepted. */
static void
test_truncated (void)
{
  const char *doc = "{\"a\":[1,-2.5e+3,\"x\\u00e9\\ud83d\\ude00\\n\",true,false,null],"
                    " \"b\" : {\"c\":{}}, \"d\":[[]]}";
  gsize n = strlen (doc);
  pl_json_free (parse_ok (doc));
  for (gsize len = 0; len < n; len++)
    {
      char *copy = g_memdup2 (doc, len);  /* exact size: ASan catches over-reads */
      g_autoptr (GError) error = NULL;
      g_autoptr (PlJson) j = pl_json_parse (copy, len, &error);
      g_assert_null (j);
      g_assert_error (error, PL_ERROR, PL_ERROR_FORMAT);
      g_autofree char *at = g_strdup_printf ("at byte %" G_GSIZE_FORMAT ":", len);
      if (!strstr (error->message, at) || !strstr (error->message, "end of input"))
        g_error ("prefix of %" G_GSIZE_FORMAT " bytes: unexpected message \"%s\"", len,
                 error->message);
      g_free (copy);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/core/json/document", test_document);
  g_test_add_func ("/core/json/big-object", test_big_object);
  g_test_add_func ("/core/json/numbers", test_numbers);
  g_test_add_func ("/core/json/string-escapes", test_string_escapes);
  g_test_add_func ("/core/json/append-string", test_append_string);
  g_test_add_func ("/core/json/append-double", test_append_double);
  g_test_add_func ("/core/json/depth-limit", test_depth_limit);
  g_test_add_func ("/core/json/invalid", test_invalid);
  g_test_add_func ("/core/json/truncated", test_truncated);
  return g_test_run ();
}
