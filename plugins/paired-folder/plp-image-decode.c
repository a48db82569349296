#include "plp-image-decode.h"

#include <gio/gio.h>
#include <string.h>

/* images larger than this on a side are refused (a scan of a few hundred pixels
 * is plenty for this workbench; the limit keeps a corrupt header from asking for
 * gigabytes) */
#define MAX_SIDE 4096

static gboolean
format_error (GError **error, const char *path, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

static gboolean
format_error (GError **error, const char *path, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  g_autofree char *msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, PL_ERROR, PL_ERROR_FORMAT, "%s: %s", path, msg);
  return FALSE;
}

static gboolean
check_size (const char *path, gint64 w, gint64 h, GError **error)
{
  if (w < 1 || h < 1 || w > MAX_SIDE || h > MAX_SIDE)
    return format_error (error, path, "image size %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT
                         " is outside 1..%d on a side", w, h, MAX_SIDE);
  return TRUE;
}

/* ---- PGM ------------------------------------------------------------------- */

/* the next header or P2 number, skipping whitespace and # comments */
static gboolean
pgm_number (const guint8 *d, gsize len, gsize *pos, gint64 *out)
{
  while (*pos < len)
    {
      if (d[*pos] == '#')
        while (*pos < len && d[*pos] != '\n' && d[*pos] != '\r')
          (*pos)++;
      else if (g_ascii_isspace (d[*pos]))
        (*pos)++;
      else
        break;
    }
  if (*pos >= len || !g_ascii_isdigit (d[*pos]))
    return FALSE;
  gint64 v = 0;
  while (*pos < len && g_ascii_isdigit (d[*pos]))
    {
      v = v * 10 + (d[*pos] - '0');
      if (v > G_MAXINT32)
        return FALSE;
      (*pos)++;
    }
  *out = v;
  return TRUE;
}

gboolean
plp_image_decode_pgm (const guint8 *d, gsize len, const char *path, int *width,
                      int *height, float **pixels, GError **error)
{
  if (len < 2 || d[0] != 'P' || (d[1] != '5' && d[1] != '2'))
    return format_error (error, path, "not a PGM file (expected the magic P5 or P2)");
  gboolean plain = d[1] == '2';
  gsize pos = 2;
  gint64 w, h, maxval;
  if (!pgm_number (d, len, &pos, &w) || !pgm_number (d, len, &pos, &h)
      || !pgm_number (d, len, &pos, &maxval))
    return format_error (error, path, "PGM header: expected width, height and maxval");
  if (!check_size (path, w, h, error))
    return FALSE;
  if (maxval < 1 || maxval > 65535)
    return format_error (error, path, "PGM maxval %" G_GINT64_FORMAT " is outside 1..65535",
                         maxval);
  gsize n = (gsize) w * (gsize) h;
  g_autofree float *px = g_new (float, n);
  if (plain)
    {
      for (gsize i = 0; i < n; i++)
        {
          gint64 v;
          if (!pgm_number (d, len, &pos, &v))
            return format_error (error, path, "P2 data: expected %zu samples, sample %zu is "
                                 "missing or not a number", (size_t) n, (size_t) i);
          if (v > maxval)
            return format_error (error, path, "sample %zu is %" G_GINT64_FORMAT
                                 ", above maxval %" G_GINT64_FORMAT, (size_t) i, v, maxval);
          px[i] = (float) ((double) v / maxval);
        }
    }
  else
    {
      /* exactly one whitespace byte ends the header */
      if (pos >= len || !g_ascii_isspace (d[pos]))
        return format_error (error, path, "PGM header: expected whitespace after maxval");
      pos++;
      gsize bps = maxval < 256 ? 1 : 2;
      if (len - pos < n * bps)
        return format_error (error, path, "P5 data is truncated: %zu bytes for %" G_GINT64_FORMAT
                             "x%" G_GINT64_FORMAT " samples of %zu byte(s), expected %zu",
                             (size_t) (len - pos), w, h, (size_t) bps, (size_t) (n * bps));
      for (gsize i = 0; i < n; i++)
        {
          guint v = bps == 1 ? d[pos + i] : (guint) d[pos + 2 * i] << 8 | d[pos + 2 * i + 1];
          if (v > maxval)
            return format_error (error, path, "sample %zu is %u, above maxval %" G_GINT64_FORMAT,
                                 (size_t) i, v, maxval);
          px[i] = (float) ((double) v / maxval);
        }
    }
  *width = (int) w;
  *height = (int) h;
  *pixels = g_steal_pointer (&px);
  return TRUE;
}

/* ---- PNG ------------------------------------------------------------------- */

static guint32
be32 (const guint8 *p)
{
  return (guint32) p[0] << 24 | (guint32) p[1] << 16 | (guint32) p[2] << 8 | p[3];
}

/* CRC-32 of PNG (ISO 3309, polynomial 0xedb88320, reflected) */
static guint32
crc32_update (guint32 crc, const guint8 *p, gsize n)
{
  static guint32 table[256];
  static gsize table_ready;
  if (g_once_init_enter (&table_ready))
    {
      for (guint32 i = 0; i < 256; i++)
        {
          guint32 c = i;
          for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
          table[i] = c;
        }
      g_once_init_leave (&table_ready, 1);
    }
  crc = ~crc;
  for (gsize i = 0; i < n; i++)
    crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

/* Inflates the zlib stream @in into exactly @want bytes of @out. */
static gboolean
inflate_exact (const guint8 *in, gsize in_len, guint8 *out, gsize want, const char *path,
               GError **error)
{
  g_autoptr (GZlibDecompressor) z = g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_ZLIB);
  gsize in_pos = 0, out_pos = 0;
  guint8 spill[64];
  for (;;)
    {
      gsize read = 0, written = 0;
      g_autoptr (GError) zerr = NULL;
      gboolean full = out_pos == want;
      GConverterResult r = g_converter_convert (G_CONVERTER (z), in + in_pos, in_len - in_pos,
                                                full ? spill : out + out_pos,
                                                full ? sizeof spill : want - out_pos,
                                                G_CONVERTER_INPUT_AT_END, &read, &written,
                                                &zerr);
      if (r == G_CONVERTER_ERROR)
        {
          if (g_error_matches (zerr, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT))
            return format_error (error, path, "the compressed image data (IDAT) is "
                                 "truncated: %zu of %zu bytes inflated", (size_t) out_pos,
                                 (size_t) want);
          return format_error (error, path, "the compressed image data (IDAT) is corrupt: %s",
                               zerr->message);
        }
      in_pos += read;
      if (full && written > 0)
        return format_error (error, path, "the image data inflates to more than the %zu "
                             "bytes its header promises", (size_t) want);
      out_pos += written;
      if (r == G_CONVERTER_FINISHED)
        break;
    }
  if (out_pos != want)
    return format_error (error, path, "the image data inflates to %zu bytes, its header "
                         "promises %zu", (size_t) out_pos, (size_t) want);
  return TRUE;
}

static int
paeth (int a, int b, int c)
{
  int p = a + b - c, pa = ABS (p - a), pb = ABS (p - b), pc = ABS (p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

gboolean
plp_image_decode_png (const guint8 *d, gsize len, const char *path, int *width,
                      int *height, float **pixels, GError **error)
{
  static const guint8 signature[8] = { 137, 'P', 'N', 'G', '\r', '\n', 26, '\n' };
  if (len < 8 || memcmp (d, signature, 8) != 0)
    return format_error (error, path, "not a PNG file (bad signature)");
  gsize pos = 8;
  guint32 w = 0, h = 0;
  gboolean have_header = FALSE, have_end = FALSE;
  g_autoptr (GByteArray) idat = g_byte_array_new ();
  while (pos < len && !have_end)
    {
      if (len - pos < 12)
        return format_error (error, path, "truncated chunk at byte %zu", (size_t) pos);
      guint32 n = be32 (d + pos);
      char type[5] = { 0 };
      memcpy (type, d + pos + 4, 4);
      if (n > len - pos - 12)
        return format_error (error, path, "chunk %s at byte %zu claims %u bytes, past the "
                             "end of the file", type, (size_t) pos, n);
      const guint8 *body = d + pos + 8;
      if (crc32_update (0, d + pos + 4, (gsize) n + 4) != be32 (body + n))
        return format_error (error, path, "chunk %s at byte %zu fails its CRC check (the "
                             "file is corrupt)", type, (size_t) pos);
      if (!have_header && strcmp (type, "IHDR") != 0)
        return format_error (error, path, "the first chunk is %s, expected IHDR", type);
      if (strcmp (type, "IHDR") == 0)
        {
          if (have_header || n != 13)
            return format_error (error, path, "bad IHDR chunk");
          w = be32 (body);
          h = be32 (body + 4);
          guint8 depth = body[8], color = body[9], interlace = body[12];
          if (!check_size (path, w, h, error))
            return FALSE;
          if (color != 0 || depth != 8)
            return format_error (error, path, "PNG color type %u with bit depth %u is not "
                                 "supported; expected 8-bit grayscale (color type 0, depth "
                                 "8); convert the image, or save it as PGM", color, depth);
          if (body[10] != 0 || body[11] != 0)
            return format_error (error, path, "unknown PNG compression or filter method");
          if (interlace != 0)
            return format_error (error, path, "interlaced (Adam7) PNG is not supported; "
                                 "save the image without interlacing");
          have_header = TRUE;
        }
      else if (strcmp (type, "IDAT") == 0)
        g_byte_array_append (idat, body, n);
      else if (strcmp (type, "IEND") == 0)
        have_end = TRUE;
      else if (!(type[0] & 0x20))
        return format_error (error, path, "unknown critical chunk %s", type);
      pos += (gsize) n + 12;
    }
  if (!have_header || !have_end)
    return format_error (error, path, "truncated PNG: no %s chunk", have_header ? "IEND" : "IHDR");
  if (idat->len == 0)
    return format_error (error, path, "PNG without image data (no IDAT chunk)");

  gsize stride = (gsize) w + 1;
  g_autofree guint8 *raw = g_malloc ((gsize) h * stride);
  if (!inflate_exact (idat->data, idat->len, raw, (gsize) h * stride, path, error))
    return FALSE;
  g_autofree float *px = g_new (float, (gsize) w * h);
  g_autofree guint8 *prev = g_malloc0 (w);
  g_autofree guint8 *cur = g_malloc (w);
  for (guint32 y = 0; y < h; y++)
    {
      const guint8 *row = raw + y * stride;
      guint8 filter = row[0];
      for (guint32 x = 0; x < w; x++)
        {
          int a = x ? cur[x - 1] : 0, b = prev[x], c = x ? prev[x - 1] : 0, v = row[1 + x];
          switch (filter)
            {
            case 0: break;
            case 1: v += a; break;
            case 2: v += b; break;
            case 3: v += (a + b) / 2; break;
            case 4: v += paeth (a, b, c); break;
            default:
              return format_error (error, path, "row %u has filter type %u, expected 0..4",
                                   y, filter);
            }
          cur[x] = (guint8) v;
          px[(gsize) y * w + x] = cur[x] / 255.0f;
        }
      memcpy (prev, cur, w);
    }
  *width = (int) w;
  *height = (int) h;
  *pixels = g_steal_pointer (&px);
  return TRUE;
}

gboolean
plp_image_load (const char *path, int *width, int *height, float **pixels, GError **error)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  g_autoptr (GError) io = NULL;
  if (!g_file_get_contents (path, &data, &len, &io))
    {
      g_set_error (error, PL_ERROR, PL_ERROR_IO, "%s", io->message);
      return FALSE;
    }
  if (g_str_has_suffix (path, ".png"))
    return plp_image_decode_png ((const guint8 *) data, len, path, width, height, pixels,
                                 error);
  return plp_image_decode_pgm ((const guint8 *) data, len, path, width, height, pixels,
                               error);
}
