/* pl-npy.c: NumPy .npy and .npz loaders of the data room (see
 * pl_dataset_load_npy and pl_dataset_load_npz).
 *
 * Files are mapped, never trusted: every size and offset is checked against the
 * bytes that are there before it is used, and every error names the file (and the
 * archive member). */
#include "pl-dataset.h"
#include "pl-error.h"

#include <gio/gio.h>
#include <math.h>
#include <string.h>

/* Class ids above this are taken for a mistake (a regression target, an id column). */
#define MAX_CLASS_ID 1048576
#define NPY_MAX_DIMS 32
/* A deflated .npz member is inflated into memory; larger ones are refused before
 * anything is allocated (a small archive may declare gigabytes: a zip bomb).
 * Stored members are mapped, not copied, and have no such limit. */
#define NPZ_MAX_INFLATED (G_GUINT64_CONSTANT (2) << 30)

typedef enum {
  KIND_FLOAT,
  KIND_INT,
  KIND_UINT,
  KIND_BOOL,
} NpyKind;

typedef struct {
  const char *what;  /* file name for messages, "a.npz:x.npy" for a member */
  char descr[16];
  NpyKind kind;
  int itemsize;
  int ndim;
  gsize shape[NPY_MAX_DIMS];
  gsize count;       /* product of shape */
  const guint8 *data;
} NpyArray;

static inline guint16
rd16 (const guint8 *p)
{
  return (guint16) (p[0] | (p[1] << 8));
}

static inline guint32
rd32 (const guint8 *p)
{
  return (guint32) p[0] | ((guint32) p[1] << 8) | ((guint32) p[2] << 16)
         | ((guint32) p[3] << 24);
}

static inline guint64
rd64 (const guint8 *p)
{
  return (guint64) rd32 (p) | ((guint64) rd32 (p + 4) << 32);
}

static char *
shape_to_string (const NpyArray *a)
{
  GString *s = g_string_new ("(");
  for (int i = 0; i < a->ndim; i++)
    g_string_append_printf (s, i ? ", %" G_GSIZE_FORMAT : "%" G_GSIZE_FORMAT,
                            a->shape[i]);
  g_string_append (s, a->ndim == 1 ? ",)" : ")");
  return g_string_free (s, FALSE);
}

/* --- the header dict: {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), } */

typedef struct {
  const char *p, *e;
  const char *start;
} Lex;

static void
lex_ws (Lex *l)
{
  while (l->p < l->e && (*l->p == ' ' || *l->p == '\t' || *l->p == '\n'
                         || *l->p == '\r'))
    l->p++;
}

static gboolean
lex_char (Lex *l, char c)
{
  lex_ws (l);
  if (l->p < l->e && *l->p == c)
    {
      l->p++;
      return TRUE;
    }
  return FALSE;
}

/* A Python string literal without escapes, in ' or " quotes. */
static gboolean
lex_string (Lex *l, char *out, gsize size)
{
  lex_ws (l);
  if (l->p >= l->e || (*l->p != '\'' && *l->p != '"'))
    return FALSE;
  char q = *l->p++;
  gsize n = 0;
  while (l->p < l->e && *l->p != q)
    {
      if (*l->p == '\\' || n + 1 >= size)
        return FALSE;
      out[n++] = *l->p++;
    }
  if (l->p >= l->e)
    return FALSE;
  l->p++;
  out[n] = '\0';
  return TRUE;
}

static gboolean
lex_word (Lex *l, const char *word)
{
  lex_ws (l);
  gsize n = strlen (word);
  if ((gsize) (l->e - l->p) >= n && memcmp (l->p, word, n) == 0
      && (l->p + n == l->e || !g_ascii_isalnum (l->p[n])))
    {
      l->p += n;
      return TRUE;
    }
  return FALSE;
}

static gboolean
header_fail (GError **error, const NpyArray *a, const Lex *l, const char *expected)
{
  g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
               "%s: the .npy header is not a dict literal of descr, fortran_order "
               "and shape: expected %s at header byte %d", a->what, expected,
               (int) (l->p - l->start));
  return FALSE;
}

static gboolean
parse_descr (NpyArray *a, GError **error)
{
  const char *d = a->descr;
  char order = d[0];
  char kind = d[0] ? d[1] : '\0';
  int size = 0;
  gboolean ok = kind != '\0' && d[2] != '\0';
  for (const char *q = d + 2; ok && *q; q++)
    {
      ok = g_ascii_isdigit (*q) && size < 1000;
      size = size * 10 + (*q - '0');
    }
  ok = ok && (order == '<' || order == '>' || order == '|' || order == '=');
  if (ok)
    switch (kind)
      {
      case 'f': ok = size == 4 || size == 8; a->kind = KIND_FLOAT; break;
      case 'i': ok = size == 1 || size == 2 || size == 4 || size == 8;
        a->kind = KIND_INT; break;
      case 'u': ok = size == 1 || size == 2 || size == 4 || size == 8;
        a->kind = KIND_UINT; break;
      case 'b': ok = size == 1; a->kind = KIND_BOOL; break;
      default: ok = FALSE;
      }
  if (!ok)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                   "%s: dtype '%s' is not supported, expected one of <f4 <f8 <i1 "
                   "<u1 <i2 <u2 <i4 <u4 <i8 <u8 |b1", a->what, d);
      return FALSE;
    }
  a->itemsize = size;
  gboolean big = order == '>' || (order == '=' && G_BYTE_ORDER == G_BIG_ENDIAN);
  if (big && size > 1)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                   "%s: dtype '%s' is big-endian, expected little-endian data "
                   "(save with arr.astype('<%c%d'))", a->what, d, kind, size);
      return FALSE;
    }
  if (order == '|' && size > 1)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                   "%s: dtype '%s' has no byte order, expected '<' for a %d-byte "
                   "type", a->what, d, size);
      return FALSE;
    }
  return TRUE;
}

static gboolean
parse_header (NpyArray *a, const char *h, gsize len, GError **error)
{
  Lex l = { h, h + len, h };
  gboolean have_descr = FALSE, have_fortran = FALSE, have_shape = FALSE;
  gboolean fortran = FALSE;

  if (!lex_char (&l, '{'))
    return header_fail (error, a, &l, "'{'");
  for (;;)
    {
      char key[32];
      if (lex_char (&l, '}'))
        break;
      if (!lex_string (&l, key, sizeof key))
        return header_fail (error, a, &l, "a quoted key or '}'");
      if (!lex_char (&l, ':'))
        return header_fail (error, a, &l, "':'");
      if (strcmp (key, "descr") == 0 && !have_descr)
        {
          lex_ws (&l);
          if (l.p < l.e && *l.p == '[')
            {
              g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                           "%s: structured dtype (a record array) is not "
                           "supported, expected a plain numeric array", a->what);
              return FALSE;
            }
          if (!lex_string (&l, a->descr, sizeof a->descr))
            return header_fail (error, a, &l, "a dtype string for 'descr'");
          have_descr = TRUE;
        }
      else if (strcmp (key, "fortran_order") == 0 && !have_fortran)
        {
          if (lex_word (&l, "True"))
            fortran = TRUE;
          else if (lex_word (&l, "False"))
            fortran = FALSE;
          else
            return header_fail (error, a, &l, "True or False for 'fortran_order'");
          have_fortran = TRUE;
        }
      else if (strcmp (key, "shape") == 0 && !have_shape)
        {
          if (!lex_char (&l, '('))
            return header_fail (error, a, &l, "a tuple for 'shape'");
          a->ndim = 0;
          for (;;)
            {
              lex_ws (&l);
              if (lex_char (&l, ')'))
                break;
              if (l.p >= l.e || !g_ascii_isdigit (*l.p))
                return header_fail (error, a, &l, "a dimension or ')' in 'shape'");
              guint64 v = 0;
              while (l.p < l.e && g_ascii_isdigit (*l.p))
                {
                  if (v > G_MAXUINT64 / 10 - 10)
                    return header_fail (error, a, &l, "a smaller dimension");
                  v = v * 10 + (guint64) (*l.p++ - '0');
                }
              if (l.p < l.e && *l.p == 'L')
                l.p++;
              if (a->ndim == NPY_MAX_DIMS)
                return header_fail (error, a, &l, "at most 32 dimensions");
              a->shape[a->ndim++] = (gsize) v;
              if (lex_char (&l, ')'))
                break;
              if (!lex_char (&l, ','))
                return header_fail (error, a, &l, "',' or ')' in 'shape'");
            }
          have_shape = TRUE;
        }
      else
        {
          g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                       "%s: unexpected or repeated key '%s' in the .npy header, "
                       "expected descr, fortran_order and shape once each", a->what,
                       key);
          return FALSE;
        }
      if (lex_char (&l, '}'))
        break;
      if (!lex_char (&l, ','))
        return header_fail (error, a, &l, "',' or '}'");
    }
  lex_ws (&l);
  if (l.p != l.e)
    return header_fail (error, a, &l, "only padding after '}'");
  if (!have_descr || !have_fortran || !have_shape)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                   "%s: the .npy header lacks '%s', expected descr, fortran_order "
                   "and shape", a->what,
                   !have_descr ? "descr" : !have_fortran ? "fortran_order" : "shape");
      return FALSE;
    }
  if (!parse_descr (a, error))
    return FALSE;
  if (fortran)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                   "%s: fortran_order is True, expected C order (save "
                   "np.ascontiguousarray(arr))", a->what);
      return FALSE;
    }
  return TRUE;
}

/* Parses one .npy image buf[0..len). a->data points into buf. */
static gboolean
parse_npy (const char *what, const guint8 *buf, gsize len, NpyArray *a,
           GError **error)
{
  static const guint8 magic[6] = { 0x93, 'N', 'U', 'M', 'P', 'Y' };

  memset (a, 0, sizeof *a);
  a->what = what;
  if (memcmp (buf, magic, MIN (len, sizeof magic)) != 0)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                   "%s: bad magic, expected a NumPy .npy file starting with "
                   "\"\\x93NUMPY\"", what);
      return FALSE;
    }
  if (len < 10)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                   "%s: truncated: %" G_GSIZE_FORMAT " bytes, expected at least 10 "
                   "for the .npy preamble", what, len);
      return FALSE;
    }
  int major = buf[6], minor = buf[7];
  gsize hstart, hlen;
  if (major == 1 && minor == 0)
    {
      hstart = 10;
      hlen = rd16 (buf + 8);
    }
  else if ((major == 2 || major == 3) && minor == 0)
    {
      if (len < 12)
        {
          g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                       "%s: truncated: %" G_GSIZE_FORMAT " bytes, expected at "
                       "least 12 for a version %d.0 preamble", what, len, major);
          return FALSE;
        }
      hstart = 12;
      hlen = rd32 (buf + 8);
    }
  else
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                   "%s: .npy format version %d.%d, expected 1.0, 2.0 or 3.0", what,
                   major, minor);
      return FALSE;
    }
  if (hlen > len - hstart)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                   "%s: truncated header: %" G_GSIZE_FORMAT " bytes, expected %"
                   G_GSIZE_FORMAT, what, len - hstart, hlen);
      return FALSE;
    }
  /* quoted header text (dtype, keys) goes into messages: it must be text */
  const char *hbad = NULL;
  if (!g_utf8_validate_len ((const char *) buf + hstart, hlen, &hbad))
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                   "%s: the .npy header has byte 0x%02x at header byte %d, expected "
                   "the text of a Python dict literal", what, (guint8) *hbad,
                   (int) (hbad - ((const char *) buf + hstart)));
      return FALSE;
    }
  if (!parse_header (a, (const char *) buf + hstart, hlen, error))
    return FALSE;

  gsize count = 1;
  for (int i = 0; i < a->ndim; i++)
    if (!g_size_checked_mul (&count, count, a->shape[i]))
      {
        g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                     "%s: shape is too large to address", what);
        return FALSE;
      }
  a->count = count;
  gsize bytes, have = len - hstart - hlen;
  if (!g_size_checked_mul (&bytes, count, a->itemsize) || bytes > have)
    {
      g_autofree char *shape = shape_to_string (a);
      g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                   "%s: truncated data: %" G_GSIZE_FORMAT " bytes, expected %"
                   G_GSIZE_FORMAT " x %d bytes for shape %s of %s", what, have,
                   count, a->itemsize, shape, a->descr);
      return FALSE;
    }
  if (bytes < have)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                   "%s: %" G_GSIZE_FORMAT " bytes after the array data, expected "
                   "the file to end", what, have - bytes);
      return FALSE;
    }
  a->data = buf + hstart + hlen;
  return TRUE;
}

/* Element i as a double; data is little-endian and may be unaligned. */
static double
npy_get (const NpyArray *a, gsize i)
{
  const guint8 *p = a->data + i * a->itemsize;
  switch (a->kind)
    {
    case KIND_FLOAT:
      if (a->itemsize == 4)
        {
          guint32 u = rd32 (p);
          float f;
          memcpy (&f, &u, 4);
          return f;
        }
      else
        {
          guint64 u = rd64 (p);
          double f;
          memcpy (&f, &u, 8);
          return f;
        }
    case KIND_INT:
      switch (a->itemsize)
        {
        case 1: return (gint8) p[0];
        case 2: return (gint16) rd16 (p);
        case 4: return (gint32) rd32 (p);
        default: return (double) (gint64) rd64 (p);
        }
    case KIND_UINT:
      switch (a->itemsize)
        {
        case 1: return p[0];
        case 2: return rd16 (p);
        case 4: return rd32 (p);
        default: return (double) rd64 (p);
        }
    case KIND_BOOL:
    default:
      return p[0] != 0;
    }
}

/* dst[k] = (float) src element (first + k * stride + j) for j < width, k < rows:
 * a strided block copy with conversion. Checks that every value is finite. */
static gboolean
copy_features (const NpyArray *a, float *dst, gsize rows, gsize width, gsize stride,
               GError **error)
{
  gboolean fast = a->kind == KIND_FLOAT && a->itemsize == 4
                  && G_BYTE_ORDER == G_LITTLE_ENDIAN;
  for (gsize i = 0; i < rows; i++)
    {
      float *out = dst + i * width;
      if (fast)
        memcpy (out, a->data + i * stride * 4, width * 4);
      else
        for (gsize j = 0; j < width; j++)
          out[j] = (float) npy_get (a, i * stride + j);
      for (gsize j = 0; j < width; j++)
        if (G_UNLIKELY (!isfinite (out[j])))
          {
            double v = npy_get (a, i * stride + j);
            g_set_error (error, PL_ERROR, PL_ERROR_DATA,
                         "%s: sample %" G_GSIZE_FORMAT " feature %" G_GSIZE_FORMAT
                         " is %s, expected a finite number", a->what, i, j,
                         isnan (v) ? "NaN" : isinf (v) ? "infinite"
                                                       : "out of float range");
            return FALSE;
          }
    }
  return TRUE;
}

/* y[i] = element (i * stride + offset) of a, checked to be a class id. */
static gboolean
copy_labels (const NpyArray *a, int32_t *y, gsize n, gsize stride, gsize offset,
             int *n_classes, GError **error)
{
  int k = 0;
  for (gsize i = 0; i < n; i++)
    {
      double v = npy_get (a, i * stride + offset);
      if (!(isfinite (v) && v == floor (v) && v >= 0 && v <= MAX_CLASS_ID))
        {
          g_set_error (error, PL_ERROR, PL_ERROR_DATA,
                       "%s: label %g of sample %" G_GSIZE_FORMAT " is not a class "
                       "id, expected an integer in 0..%d", a->what, v, i,
                       MAX_CLASS_ID);
          return FALSE;
        }
      y[i] = (int32_t) v;
      k = MAX (k, y[i] + 1);
    }
  *n_classes = k;
  return TRUE;
}

/* Builds a dataset from features xa and labels ya, or the last column of a 2-D xa
 * when ya is NULL. (transfer full) */
static PlDataset *
dataset_from_arrays (const char *name, const NpyArray *xa, const NpyArray *ya,
                     GError **error)
{
  g_autofree char *xshape = shape_to_string (xa);
  if (xa->ndim == 0 || xa->shape[0] == 0)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_DATA,
                   "%s: features have shape %s, expected [n_samples, ...] with "
                   "n_samples > 0", xa->what, xshape);
      return NULL;
    }
  gsize n = xa->shape[0];
  gsize width = xa->count / n, nf;
  if (ya)
    {
      nf = width;
      if (nf == 0)
        {
          g_set_error (error, PL_ERROR, PL_ERROR_DATA,
                       "%s: features have shape %s, expected at least one feature "
                       "per sample", xa->what, xshape);
          return NULL;
        }
      gboolean col = ya->ndim == 2 && ya->shape[1] == 1;
      if (!((ya->ndim == 1 || col) && ya->shape[0] == n))
        {
          g_autofree char *yshape = shape_to_string (ya);
          g_set_error (error, PL_ERROR, PL_ERROR_SHAPE,
                       "%s: labels have shape %s, expected (%" G_GSIZE_FORMAT ",) "
                       "to match features of shape %s in %s", ya->what, yshape, n,
                       xshape, xa->what);
          return NULL;
        }
    }
  else
    {
      if (xa->ndim != 2 || xa->shape[1] < 2)
        {
          g_set_error (error, PL_ERROR, PL_ERROR_SHAPE,
                       "%s: array has shape %s, expected 2-D [n_samples, features + "
                       "label] with the label in the last column (or pass a labels "
                       "file)", xa->what, xshape);
          return NULL;
        }
      nf = width - 1;
    }
  if (nf > G_MAXINT)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_SHAPE,
                   "%s: %" G_GSIZE_FORMAT " features per sample, expected at most %d",
                   xa->what, nf, G_MAXINT);
      return NULL;
    }

  g_autoptr(PlDataset) ds = pl_dataset_new (n, nf, 0);
  ds->name = g_strdup (name);
  if (!copy_features (xa, ds->x, n, nf, width, error))
    return NULL;
  if (!(ya ? copy_labels (ya, ds->y, n, 1, 0, &ds->n_classes, error)
           : copy_labels (xa, ds->y, n, width, nf, &ds->n_classes, error)))
    return NULL;
  if (xa->ndim == 3 && xa->shape[1] <= G_MAXINT && xa->shape[2] <= G_MAXINT)
    {
      ds->sample_shape[0] = 1;
      ds->sample_shape[1] = (int) xa->shape[1];
      ds->sample_shape[2] = (int) xa->shape[2];
    }
  else if (xa->ndim == 4)
    for (int i = 0; i < 3; i++)
      ds->sample_shape[i] = (int) xa->shape[i + 1];
  return g_steal_pointer (&ds);
}

static GMappedFile *
map_file (const char *path, const guint8 **data, gsize *len, GError **error)
{
  static const guint8 empty[1];
  g_autoptr(GError) local = NULL;
  GMappedFile *map = g_mapped_file_new (path, FALSE, &local);
  if (!map)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_IO, "%s: cannot read the file: %s",
                   path, local->message);
      return NULL;
    }
  *len = g_mapped_file_get_length (map);
  *data = *len ? (const guint8 *) g_mapped_file_get_contents (map) : empty;
  return map;
}

static char *
name_from_path (const char *path)
{
  g_autofree char *base = g_path_get_basename (path);
  char *dot = strrchr (base, '.');
  if (dot && dot != base)
    *dot = '\0';
  return g_steal_pointer (&base);
}

PlDataset *
pl_dataset_load_npy (const char *x_path, const char *y_path, GError **error)
{
  g_return_val_if_fail (x_path != NULL, NULL);

  const guint8 *xbuf, *ybuf;
  gsize xlen, ylen;
  NpyArray xa, ya;
  g_autoptr(GMappedFile) xmap = map_file (x_path, &xbuf, &xlen, error);
  if (!xmap || !parse_npy (x_path, xbuf, xlen, &xa, error))
    return NULL;
  g_autoptr(GMappedFile) ymap = NULL;
  if (y_path)
    {
      ymap = map_file (y_path, &ybuf, &ylen, error);
      if (!ymap || !parse_npy (y_path, ybuf, ylen, &ya, error))
        return NULL;
    }
  g_autofree char *name = name_from_path (x_path);
  return dataset_from_arrays (name, &xa, y_path ? &ya : NULL, error);
}

/* --- .npz: a zip archive of .npy members ----------------------------------- */

#define ZIP_LOCAL_SIG   0x04034b50u
#define ZIP_CENTRAL_SIG 0x02014b50u
#define ZIP_EOCD_SIG    0x06054b50u
#define ZIP64_EOCD_SIG  0x06064b50u
#define ZIP64_LOC_SIG   0x07064b50u

typedef struct {
  char *name;
  guint16 flags, method;
  guint32 crc;
  guint64 csize, usize, offset;
} ZipEntry;

static void
zip_entry_clear (gpointer p)
{
  g_free (((ZipEntry *) p)->name);
}

static guint32
crc32_ieee (const guint8 *p, gsize n)
{
  static guint32 table[256];
  static gsize once = 0;
  if (g_once_init_enter (&once))
    {
      for (guint32 i = 0; i < 256; i++)
        {
          guint32 c = i;
          for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
          table[i] = c;
        }
      g_once_init_leave (&once, 1);
    }
  guint32 c = 0xffffffffu;
  for (gsize i = 0; i < n; i++)
    c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

static gboolean
zip_fail (GError **error, const char *path, const char *what)
{
  g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
               "%s: not a valid .npz (zip) archive: %s", path, what);
  return FALSE;
}

/* Reads the central directory of buf[0..len) into entries (ZipEntry); *cd_start
 * gets its offset, the end of the member data. */
static gboolean
zip_read_directory (const char *path, const guint8 *buf, gsize len, GArray *entries,
                    gsize *cd_start, GError **error)
{
  if (len < 22)
    return zip_fail (error, path, "too short for an end-of-central-directory record");
  gsize eocd = G_MAXSIZE;
  gsize lowest = len - 22 > 65535 ? len - 22 - 65535 : 0;
  for (gsize i = len - 22 + 1; i-- > lowest;)
    if (rd32 (buf + i) == ZIP_EOCD_SIG && i + 22 + rd16 (buf + i + 20) == len)
      {
        eocd = i;
        break;
      }
  if (eocd == G_MAXSIZE)
    return zip_fail (error, path, "no end-of-central-directory record");

  const guint8 *e = buf + eocd;
  guint64 n_entries = rd16 (e + 10);
  guint64 cd_size = rd32 (e + 12);
  guint64 cd_off = rd32 (e + 16);
  gsize cd_limit = eocd;
  if (n_entries == 0xffff || cd_size == 0xffffffffu || cd_off == 0xffffffffu)
    {
      if (eocd < 20 || rd32 (buf + eocd - 20) != ZIP64_LOC_SIG)
        return zip_fail (error, path, "missing zip64 end-of-central-directory locator");
      guint64 z = rd64 (buf + eocd - 20 + 8);
      if (z > eocd - 20 || eocd - 20 - z < 56 || rd32 (buf + z) != ZIP64_EOCD_SIG)
        return zip_fail (error, path, "bad zip64 end-of-central-directory record");
      n_entries = rd64 (buf + z + 32);
      cd_size = rd64 (buf + z + 40);
      cd_off = rd64 (buf + z + 48);
      cd_limit = z;
    }
  else if (rd16 (e + 4) != 0 || rd16 (e + 6) != 0)
    return zip_fail (error, path, "multi-disk archives are not supported");
  if (cd_off > cd_limit || cd_size > cd_limit - cd_off)
    return zip_fail (error, path, "central directory lies outside the file");
  *cd_start = cd_off;

  gsize pos = cd_off, cd_end = cd_off + cd_size;
  for (guint64 k = 0; k < n_entries; k++)
    {
      if (cd_end - pos < 46 || rd32 (buf + pos) != ZIP_CENTRAL_SIG)
        return zip_fail (error, path, "truncated or corrupt central directory entry");
      const guint8 *c = buf + pos;
      gsize nlen = rd16 (c + 28), elen = rd16 (c + 30), clen = rd16 (c + 32);
      if (cd_end - pos - 46 < nlen + elen + clen)
        return zip_fail (error, path, "central directory entry overruns the directory");
      ZipEntry ent = {
        .flags = rd16 (c + 8),
        .method = rd16 (c + 10),
        .crc = rd32 (c + 16),
        .csize = rd32 (c + 20),
        .usize = rd32 (c + 24),
        .offset = rd32 (c + 42),
      };
      /* zip64 extended information: the 64-bit sizes that are 0xffffffff above */
      const guint8 *x = c + 46 + nlen, *xe = x + elen;
      while (xe - x >= 4)
        {
          guint16 id = rd16 (x), sz = rd16 (x + 2);
          if ((gsize) (xe - x - 4) < sz)
            return zip_fail (error, path, "extra field overruns its entry");
          if (id == 0x0001)
            {
              const guint8 *f = x + 4, *fe = x + 4 + sz;
              guint64 *slots[] = { &ent.usize, &ent.csize, &ent.offset };
              for (int s = 0; s < 3; s++)
                if (*slots[s] == 0xffffffffu)
                  {
                    if (fe - f < 8)
                      return zip_fail (error, path, "short zip64 extra field");
                    *slots[s] = rd64 (f);
                    f += 8;
                  }
            }
          x += 4 + sz;
        }
      /* names go into messages; an invalid byte cannot be part of a name we match */
      ent.name = g_utf8_make_valid ((const char *) c + 46, nlen);
      g_array_append_val (entries, ent);
      pos += 46 + nlen + elen + clen;
    }
  return TRUE;
}

/* Inflates a raw deflate stream that must produce exactly usize bytes.
 * (transfer full) */
static guint8 *
inflate_raw (const char *what, const guint8 *in, gsize csize, gsize usize,
             GError **error)
{
  /* deflate expands at most ~1032:1; refuse sizes that could only be a lie */
  if (usize / 1032 > csize + 64)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                   "%s: declares %" G_GSIZE_FORMAT " bytes inflated from %"
                   G_GSIZE_FORMAT " compressed, more than deflate can produce",
                   what, usize, csize);
      return NULL;
    }
  g_autofree guint8 *out = g_malloc (usize + 1);
  g_autoptr(GZlibDecompressor) z = g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_RAW);
  gsize in_pos = 0, out_pos = 0;
  for (;;)
    {
      gsize nread = 0, nwritten = 0;
      g_autoptr(GError) local = NULL;
      GConverterResult res = g_converter_convert (G_CONVERTER (z), in + in_pos,
                                                  csize - in_pos, out + out_pos,
                                                  usize + 1 - out_pos,
                                                  G_CONVERTER_INPUT_AT_END, &nread,
                                                  &nwritten, &local);
      if (res == G_CONVERTER_ERROR)
        {
          g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                       "%s: corrupt or truncated deflate data: %s", what,
                       local->message);
          return NULL;
        }
      in_pos += nread;
      out_pos += nwritten;
      if (out_pos > usize)
        break;
      if (res == G_CONVERTER_FINISHED)
        break;
      if (nread == 0 && nwritten == 0)
        {
          g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                       "%s: truncated deflate data", what);
          return NULL;
        }
    }
  if (out_pos != usize)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                   "%s: inflates to %s%" G_GSIZE_FORMAT " bytes, expected %"
                   G_GSIZE_FORMAT " as the archive declares", what,
                   out_pos > usize ? "more than " : "", MIN (out_pos, usize), usize);
      return NULL;
    }
  return g_steal_pointer (&out);
}

/* The bytes of member ent: a pointer into buf (stored) or a new buffer in
 * *owned (deflated), checked against the CRC. */
static const guint8 *
zip_extract (const char *what, const guint8 *buf, gsize len, gsize cd_start,
             const ZipEntry *ent, guint8 **owned, GError **error)
{
  *owned = NULL;
  if (ent->flags & 1)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                   "%s: member is encrypted, expected a plain archive", what);
      return NULL;
    }
  if (ent->offset > cd_start || cd_start - ent->offset < 30
      || rd32 (buf + ent->offset) != ZIP_LOCAL_SIG)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                   "%s: bad local header offset %" G_GUINT64_FORMAT, what,
                   ent->offset);
      return NULL;
    }
  const guint8 *l = buf + ent->offset;
  guint64 start = ent->offset + 30 + rd16 (l + 26) + rd16 (l + 28);
  if (start > cd_start || ent->csize > cd_start - start)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                   "%s: member data (%" G_GUINT64_FORMAT " bytes at offset %"
                   G_GUINT64_FORMAT ") runs past the end of the archive data",
                   what, ent->csize, start);
      return NULL;
    }

  const guint8 *data;
  if (ent->method == 0)
    {
      if (ent->csize != ent->usize)
        {
          g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                       "%s: stored member has %" G_GUINT64_FORMAT " bytes, expected %"
                       G_GUINT64_FORMAT, what, ent->csize, ent->usize);
          return NULL;
        }
      data = buf + start;
    }
  else if (ent->method == 8)
    {
      if (ent->usize > NPZ_MAX_INFLATED)
        {
          g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                       "%s: deflated member declares %" G_GUINT64_FORMAT " bytes, more "
                       "than the limit of %" G_GUINT64_FORMAT " for a compressed member "
                       "(save large arrays with np.savez, not np.savez_compressed)",
                       what, ent->usize, NPZ_MAX_INFLATED);
          return NULL;
        }
      *owned = inflate_raw (what, buf + start, ent->csize, ent->usize, error);
      if (!*owned)
        return NULL;
      data = *owned;
    }
  else
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                   "%s: compression method %d is not supported, expected stored (0) "
                   "or deflate (8)", what, ent->method);
      return NULL;
    }
  if (crc32_ieee (data, ent->usize) != ent->crc)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                   "%s: CRC-32 mismatch, the member is corrupt", what);
      g_clear_pointer (owned, g_free);
      return NULL;
    }
  return data;
}

static const ZipEntry *
find_member (GArray *entries, const char * const *names)
{
  for (const char * const *n = names; *n; n++)
    for (guint i = 0; i < entries->len; i++)
      {
        const ZipEntry *e = &g_array_index (entries, ZipEntry, i);
        gsize k = strlen (*n);
        if (strncmp (e->name, *n, k) == 0 && strcmp (e->name + k, ".npy") == 0)
          return e;
      }
  return NULL;
}

PlDataset *
pl_dataset_load_npz (const char *path, GError **error)
{
  static const char * const x_names[] = { "x", "X", "data", "features", NULL };
  static const char * const y_names[] = { "y", "Y", "labels", "target", NULL };

  g_return_val_if_fail (path != NULL, NULL);

  const guint8 *buf;
  gsize len;
  g_autoptr(GMappedFile) map = map_file (path, &buf, &len, error);
  if (!map)
    return NULL;
  g_autoptr(GArray) entries = g_array_new (FALSE, TRUE, sizeof (ZipEntry));
  g_array_set_clear_func (entries, zip_entry_clear);
  gsize cd_start = 0;
  if (!zip_read_directory (path, buf, len, entries, &cd_start, error))
    return NULL;

  const ZipEntry *xe = find_member (entries, x_names);
  const ZipEntry *ye = find_member (entries, y_names);
  if (!xe || !ye)
    {
      GString *have = g_string_new (NULL);
      for (guint i = 0; i < entries->len; i++)
        g_string_append_printf (have, "%s%s", i ? ", " : "",
                                g_array_index (entries, ZipEntry, i).name);
      g_set_error (error, PL_ERROR, PL_ERROR_NOT_FOUND,
                   "%s: no %s array, expected one named %s (the archive has: %s)",
                   path, !xe ? "features" : "labels",
                   !xe ? "x, X, data or features" : "y, Y, labels or target",
                   have->len ? have->str : "nothing");
      g_string_free (have, TRUE);
      return NULL;
    }

  g_autofree char *xwhat = g_strdup_printf ("%s:%s", path, xe->name);
  g_autofree char *ywhat = g_strdup_printf ("%s:%s", path, ye->name);
  g_autofree guint8 *xown = NULL, *yown = NULL;
  const guint8 *xd = zip_extract (xwhat, buf, len, cd_start, xe, &xown, error);
  if (!xd)
    return NULL;
  const guint8 *yd = zip_extract (ywhat, buf, len, cd_start, ye, &yown, error);
  if (!yd)
    return NULL;

  NpyArray xa, ya;
  if (!parse_npy (xwhat, xd, xe->usize, &xa, error)
      || !parse_npy (ywhat, yd, ye->usize, &ya, error))
    return NULL;
  g_autofree char *name = name_from_path (path);
  return dataset_from_arrays (name, &xa, &ya, error);
}
