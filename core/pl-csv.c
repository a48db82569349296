/* pl-csv.c: the CSV loader of the data room (see pl_dataset_load_csv).
 *
 * The whole file is read into one buffer and parsed in place: each cell is
 * unquoted and NUL-terminated inside the buffer, numbers go straight into the
 * preallocated feature matrix, and labels are interned once per distinct value.
 * No allocation happens per cell. */
#include "pl-dataset.h"
#include "pl-error.h"

#include <math.h>
#include <string.h>

/* Class ids above this are taken for a mistake (a regression target, an id column). */
#define MAX_CLASS_ID 1048576

typedef struct {
  char *s;     /* NUL-terminated, inside the file buffer */
  gsize len;
} Cell;

typedef struct {
  const char *path;
  char *p;          /* cursor */
  char *end;        /* one past the last byte; *end == '\0' */
  int line;         /* 1-based line of the cursor */
  Cell *cells;
  int n_cells;
  int cap_cells;
} CsvReader;

static inline gboolean
is_blank (char c)
{
  return c == ' ' || c == '\t';
}

static void
reader_push (CsvReader *r, char *s, gsize len)
{
  if (r->n_cells == r->cap_cells)
    {
      r->cap_cells = r->cap_cells ? 2 * r->cap_cells : 64;
      r->cells = g_renew (Cell, r->cells, r->cap_cells);
    }
  r->cells[r->n_cells].s = s;
  r->cells[r->n_cells].len = len;
  r->n_cells++;
}

/* Reads the next non-empty row into r->cells. Returns 1 for a row (its first
 * line in *row_line), 0 at the end of the file, -1 with error set. */
static int
reader_next_row (CsvReader *r, int *row_line, GError **error)
{
  char *p = r->p, *end = r->end;

  for (;;)
    {
      while (p < end && is_blank (*p))
        p++;
      if (p == end)
        {
          r->p = p;
          return 0;
        }
      if (*p == '\n' || *p == '\r')
        {
          if (*p == '\r' && p + 1 < end && p[1] == '\n')
            p++;
          p++;
          r->line++;
          continue;
        }
      break;
    }

  *row_line = r->line;
  r->n_cells = 0;
  for (;;)
    {
      char *start, *stop;

      while (p < end && is_blank (*p))
        p++;
      if (p < end && *p == '"')
        {
          /* RFC 4180 quoted field, unescaped in place: "" -> " */
          int quote_line = r->line;
          char *rd = p + 1, *w = p + 1;
          start = w;
          for (;;)
            {
              if (rd == end)
                {
                  g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                               "%s:%d: column %d: quoted field is never closed, "
                               "expected a closing '\"'", r->path, quote_line,
                               r->n_cells + 1);
                  return -1;
                }
              if (*rd == '"')
                {
                  if (rd + 1 < end && rd[1] == '"')
                    {
                      *w++ = '"';
                      rd += 2;
                      continue;
                    }
                  rd++;
                  break;
                }
              if (*rd == '\n')
                r->line++;
              *w++ = *rd++;
            }
          stop = w;
          p = rd;
          while (p < end && is_blank (*p))
            p++;
          if (p < end && *p != ',' && *p != '\n' && *p != '\r')
            {
              g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                           "%s:%d: column %d: unexpected character '%.*s' after a "
                           "closing quote, expected ',' or the end of the line",
                           r->path, r->line, r->n_cells + 1,
                           (int) MIN ((gsize) g_utf8_skip[(guchar) *p],
                                      (gsize) (end - p)), p);
              return -1;
            }
        }
      else
        {
          start = p;
          while (p < end && *p != ',' && *p != '\n' && *p != '\r')
            p++;
          stop = p;
          while (stop > start && is_blank (stop[-1]))
            stop--;
        }

      /* stop may be the delimiter itself: read it before terminating the cell */
      char delim = p < end ? *p : '\0';
      *stop = '\0';
      reader_push (r, start, stop - start);
      if (delim == ',')
        {
          p++;
          continue;
        }
      if (delim == '\r')
        {
          p++;
          if (p < end && *p == '\n')
            p++;
          r->line++;
        }
      else if (delim == '\n')
        {
          p++;
          r->line++;
        }
      break;
    }
  r->p = p;
  return 1;
}

static const double pow10_exact[] = {
  1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* Parses all of s[0..len) (NUL at s[len]), surrounding blanks allowed, as a double.
 * Plain decimals take Clinger's fast path: a mantissa below 2^53 times an exact
 * power of ten below 1e23 rounds correctly in one operation. Everything else
 * (long mantissas, large exponents, inf, nan) goes through g_ascii_strtod. */
static gboolean
parse_double (const char *s, gsize len, double *out)
{
  const char *p = s, *e = s + len;
  while (p < e && is_blank (*p))
    p++;
  while (e > p && is_blank (e[-1]))
    e--;
  if (p == e)
    return FALSE;

  const char *q = p;
  gboolean neg = FALSE;
  if (*q == '-' || *q == '+')
    neg = *q++ == '-';
  guint64 m = 0;
  int digits = 0, exp10 = 0;
  while (q < e && g_ascii_isdigit (*q))
    {
      m = m * 10 + (guint64) (*q++ - '0');
      digits++;
    }
  if (q < e && *q == '.')
    {
      q++;
      while (q < e && g_ascii_isdigit (*q))
        {
          m = m * 10 + (guint64) (*q++ - '0');
          digits++;
          exp10--;
        }
    }
  gboolean fast = digits > 0 && digits <= 19;
  if (fast && q < e && (*q == 'e' || *q == 'E'))
    {
      q++;
      gboolean eneg = FALSE;
      if (q < e && (*q == '-' || *q == '+'))
        eneg = *q++ == '-';
      int ev = 0, edigits = 0;
      while (q < e && g_ascii_isdigit (*q) && ev < 10000)
        {
          ev = ev * 10 + (*q++ - '0');
          edigits++;
        }
      fast = edigits > 0;
      exp10 += eneg ? -ev : ev;
    }
  if (fast && q == e && m <= (G_GUINT64_CONSTANT (1) << 53))
    {
      double v;
      if (m == 0)
        v = 0.0;
      else if (exp10 >= 0 && exp10 <= 22)
        v = (double) m * pow10_exact[exp10];
      else if (exp10 < 0 && exp10 >= -22)
        v = (double) m / pow10_exact[-exp10];
      else
        goto slow;
      *out = neg ? -v : v;
      return TRUE;
    }

slow:
  {
    /* g_ascii_strtod needs the number to end at a NUL or a non-number byte */
    char tmp[64];
    gsize n = e - p;
    g_autofree char *heap = NULL;
    char *buf = tmp;
    if (n >= sizeof tmp)
      buf = heap = g_malloc (n + 1);
    memcpy (buf, p, n);
    buf[n] = '\0';
    char *endp = NULL;
    double v = g_ascii_strtod (buf, &endp);
    if (endp != buf + n || n == 0)
      return FALSE;
    *out = v;
    return TRUE;
  }
}

typedef struct {
  const char *text;  /* inside the file buffer */
  int first_line;
  gsize count;
  gboolean numeric;
  double value;
} LabelInfo;

typedef struct {
  const char *path;
  char **header;     /* all columns of the header row, or NULL */
} ColNames;

/* "column 3", "column 3 (\"mean area\")", "column 31 (\"y\", the label)", 1-based.
 * (transfer full) */
static char *
col_desc (const ColNames *names, int col, gboolean label)
{
  const char *what = label ? "the label" : NULL;
  if (names->header && names->header[col] && names->header[col][0])
    return g_strdup_printf ("column %d (\"%s\"%s%s)", col + 1, names->header[col],
                            what ? ", " : "", what ? what : "");
  if (what)
    return g_strdup_printf ("column %d (%s)", col + 1, what);
  return g_strdup_printf ("column %d", col + 1);
}

/* The cell text for an error message, shortened. */
#define SHOW_MAX 40

/* The length of s[0..len) cut to at most SHOW_MAX bytes on a character boundary
 * (the file is valid UTF-8), for "%.*s". */
static int
show_len (const char *s, gsize len)
{
  if (len <= SHOW_MAX)
    return (int) len;
  return (int) (g_utf8_find_prev_char (s, s + SHOW_MAX + 1) - s);
}

static gboolean
store_value (const ColNames *names, int line, int col, const Cell *cell, float *dst,
             GError **error)
{
  double v;
  if (G_LIKELY (parse_double (cell->s, cell->len, &v) && isfinite (v)
                && fabs (v) <= G_MAXFLOAT))
    {
      *dst = (float) v;
      return TRUE;
    }

  g_autofree char *where = col_desc (names, col, FALSE);
  if (cell->len == 0)
    g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                 "%s:%d: %s: empty value, expected a number", names->path, line,
                 where);
  else if (parse_double (cell->s, cell->len, &v) && isnan (v))
    g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                 "%s:%d: %s: value is NaN, expected a finite number", names->path,
                 line, where);
  else if (parse_double (cell->s, cell->len, &v))
    g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                 "%s:%d: %s: value '%.*s' is infinite or out of float range, "
                 "expected a finite number", names->path, line, where,
                 show_len (cell->s, cell->len), cell->s);
  else
    g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                 "%s:%d: %s: expected a number, got '%.*s%s'", names->path, line,
                 where, show_len (cell->s, cell->len), cell->s,
                 cell->len > SHOW_MAX ? "..." : "");
  return FALSE;
}

static char *
dataset_name_from_path (const char *path)
{
  g_autofree char *base = g_path_get_basename (path);
  char *dot = strrchr (base, '.');
  if (dot && dot != base)
    *dot = '\0';
  return g_steal_pointer (&base);
}

PlDataset *
pl_dataset_load_csv (const char *path, int label_column, GError **error)
{
  g_return_val_if_fail (path != NULL, NULL);

  g_autofree char *buf = NULL;
  gsize len = 0;
  g_autoptr(GError) local = NULL;
  if (!g_file_get_contents (path, &buf, &len, &local))
    {
      g_set_error (error, PL_ERROR, PL_ERROR_IO, "%s: cannot read the file: %s",
                   path, local->message);
      return NULL;
    }

  /* Text is UTF-8 without NULs: cells become names and labels that the run
   * store, the event stream and the window show. */
  const char *bad = memchr (buf, '\0', len);
  if (bad || !g_utf8_validate_len (buf, len, &bad))
    {
      int bad_line = 1;
      const char *line_start = buf;
      for (const char *q = buf; q < bad; q++)
        if (*q == '\n')
          bad_line++, line_start = q + 1;
      g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                   "%s:%d: byte %d of the line is %s, expected UTF-8 text", path, bad_line,
                   (int) (bad - line_start) + 1,
                   *bad ? "not valid UTF-8" : "a NUL character");
      return NULL;
    }

  CsvReader r = { .path = path, .p = buf, .end = buf + len, .line = 1 };
  if (len >= 3 && memcmp (buf, "\xef\xbb\xbf", 3) == 0)
    r.p += 3;

  /* state freed at the end whatever happens */
  g_autofree float *x = NULL;
  g_autofree gint32 *lab = NULL;
  g_autoptr(GHashTable) label_ids = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GArray) labels = g_array_new (FALSE, FALSE, sizeof (LabelInfo));
  g_auto(GStrv) first_row = NULL;
  ColNames names = { .path = path };
  PlDataset *result = NULL;

  int line;
  int rc = reader_next_row (&r, &line, error);
  if (rc < 0)
    goto out;
  if (rc == 0)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_DATA,
                   "%s:%d: empty file, expected comma-separated rows of features "
                   "and a label", path, r.line);
      goto out;
    }

  int ncols = r.n_cells;
  int first_line = line;
  if (ncols < 2)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                   "%s:%d: row has 1 column, expected at least 2 (features and a "
                   "label)", path, line);
      goto out;
    }
  if (label_column < -1 || label_column >= ncols)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_DATA,
                   "%s:%d: label column %d is out of range: the row has %d columns, "
                   "expected -1 (the last) or 0..%d", path, line, label_column,
                   ncols, ncols - 1);
      goto out;
    }
  int lc = label_column < 0 ? ncols - 1 : label_column;
  gsize nf = ncols - 1;

  first_row = g_new0 (char *, ncols + 1);
  for (int c = 0; c < ncols; c++)
    first_row[c] = g_strdup (r.cells[c].s);

  /* A header when some feature cell is not a number. When only the label cell is
   * not a number, the row is kept as data for now: labels may be strings; it is
   * taken for a header at the end if every other label turns out numeric. */
  gboolean header = FALSE, maybe_header = FALSE;
  double dummy;
  for (int c = 0; c < ncols && !header; c++)
    if (c != lc && !parse_double (r.cells[c].s, r.cells[c].len, &dummy))
      header = TRUE;
  if (!header)
    maybe_header = !parse_double (r.cells[lc].s, r.cells[lc].len, &dummy);
  if (header)
    names.header = first_row;

  /* An upper bound on the rows left: every stored row spans at least ncols bytes
   * and ends at a line break or the end of the file. */
  gsize breaks = 0;
  for (const char *q = r.p; (q = memchr (q, '\n', r.end - q)); q++)
    breaks++;
  if (breaks == 0)
    for (const char *q = r.p; (q = memchr (q, '\r', r.end - q)); q++)
      breaks++;
  gsize cap = MIN (breaks + 2, (gsize) (r.end - r.p) / ncols + 2);
  x = g_new (float, cap * nf);
  lab = g_new (gint32, cap);

  gsize n = 0;
  gboolean have_row = !header;
  for (;;)
    {
      if (!have_row)
        {
          rc = reader_next_row (&r, &line, error);
          if (rc < 0)
            goto out;
          if (rc == 0)
            break;
          if (r.n_cells != ncols)
            {
              g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                           "%s:%d: row has %d columns, expected %d as on line %d "
                           "(column %d is %s)", path, line, r.n_cells, ncols,
                           first_line, MIN (r.n_cells, ncols) + 1,
                           r.n_cells < ncols ? "missing" : "extra");
              goto out;
            }
        }
      have_row = FALSE;

      if (n == cap)
        {
          cap *= 2;
          x = g_renew (float, x, cap * nf);
          lab = g_renew (gint32, lab, cap);
        }
      float *row = x + n * nf;
      for (int c = 0, j = 0; c < ncols; c++)
        {
          if (c == lc)
            continue;
          if (G_UNLIKELY (!store_value (&names, line, c, &r.cells[c], row + j, error)))
            goto out;
          j++;
        }

      const Cell *lcell = &r.cells[lc];
      if (lcell->len == 0)
        {
          g_autofree char *where = col_desc (&names, lc, TRUE);
          g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                       "%s:%d: %s: empty value, expected a class label",
                       path, line, where);
          goto out;
        }
      gpointer id;
      if (!g_hash_table_lookup_extended (label_ids, lcell->s, NULL, &id))
        {
          LabelInfo info = { .text = lcell->s, .first_line = line };
          info.numeric = parse_double (lcell->s, lcell->len, &info.value);
          id = GINT_TO_POINTER (labels->len);
          g_array_append_val (labels, info);
          g_hash_table_insert (label_ids, lcell->s, id);
        }
      g_array_index (labels, LabelInfo, GPOINTER_TO_INT (id)).count++;
      lab[n++] = GPOINTER_TO_INT (id);
    }

  /* The deferred header: a first row whose label never recurs among numbers. */
  gsize skip = 0;
  if (maybe_header && n > 1 && g_array_index (labels, LabelInfo, 0).count == 1)
    {
      gboolean others_numeric = TRUE;
      for (guint i = 1; i < labels->len; i++)
        others_numeric &= g_array_index (labels, LabelInfo, i).numeric;
      if (others_numeric)
        {
          header = TRUE;
          names.header = first_row;
          skip = 1;
        }
    }
  if (n == skip)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_DATA,
                   "%s:%d: no data rows after the header on line %d, expected at "
                   "least one", path, r.line, first_line);
      goto out;
    }

  gboolean numeric = TRUE;
  for (guint i = skip; i < labels->len; i++)
    numeric &= g_array_index (labels, LabelInfo, i).numeric;

  int n_classes = 0;
  if (numeric)
    {
      for (guint i = skip; i < labels->len; i++)
        {
          LabelInfo *li = &g_array_index (labels, LabelInfo, i);
          g_autofree char *where = col_desc (&names, lc, TRUE);
          const char *why = NULL;
          if (!isfinite (li->value) || li->value != floor (li->value))
            why = "is not an integer class id";
          else if (li->value < 0)
            why = "is negative, expected a class id of 0 or more";
          else if (li->value > MAX_CLASS_ID)
            why = "is too large for a class id (at most " G_STRINGIFY (MAX_CLASS_ID)
                  ")";
          if (why)
            {
              g_set_error (error, PL_ERROR, PL_ERROR_DATA,
                           "%s:%d: %s: '%.*s' %s", path, li->first_line,
                           where, show_len (li->text, strlen (li->text)), li->text,
                           why);
              goto out;
            }
          n_classes = MAX (n_classes, (int) li->value + 1);
        }
    }
  else
    n_classes = (int) labels->len;

  gsize rows = n - skip;
  result = g_new0 (PlDataset, 1);
  result->name = dataset_name_from_path (path);
  result->n = rows;
  result->n_features = nf;
  result->sample_shape[0] = (int) nf;
  result->sample_shape[1] = 1;
  result->sample_shape[2] = 1;
  result->n_classes = n_classes;
  if (skip)
    memmove (x, x + nf, rows * nf * sizeof (float));
  result->x = g_renew (float, g_steal_pointer (&x), MAX (rows * nf, 1));
  result->y = g_new (int32_t, rows);
  for (gsize i = 0; i < rows; i++)
    {
      const LabelInfo *li = &g_array_index (labels, LabelInfo, lab[i + skip]);
      result->y[i] = numeric ? (int32_t) li->value : lab[i + skip];
    }
  if (!numeric)
    {
      result->class_names = g_new0 (char *, labels->len + 1);
      for (guint i = 0; i < labels->len; i++)
        result->class_names[i] = g_strdup (g_array_index (labels, LabelInfo, i).text);
    }
  if (header)
    {
      result->feature_names = g_new0 (char *, nf + 1);
      for (int c = 0, j = 0; c < ncols; c++)
        if (c != lc)
          result->feature_names[j++] = g_strdup (first_row[c]);
    }

out:
  g_free (r.cells);
  return result;
}
