/* plp-image-decode.h: the grayscale image formats the paired-folder dataset reads,
 * without an image library.
 *
 *   PGM  binary (P5) and plain (P2), maxval 1..65535; samples / maxval
 *   PNG  8-bit grayscale (color type 0), not interlaced; samples / 255. The
 *        zlib stream is inflated with GIO's GZlibDecompressor, every chunk's
 *        CRC is checked, all five row filters are undone.
 *
 * Errors are PL_ERROR_FORMAT (PL_ERROR_IO when the file cannot be read) and
 * name the file and what was expected. */
#pragma once

#include "paramlab.h"

G_BEGIN_DECLS

/* Decodes @len bytes of @path's contents (the name is for messages) into
 * *pixels [H * W] row-major in [0, 1] (transfer full). */
G_GNUC_INTERNAL
gboolean plp_image_decode_pgm (const guint8 *data, gsize len, const char *path, int *width,
                               int *height, float **pixels, GError **error);
G_GNUC_INTERNAL
gboolean plp_image_decode_png (const guint8 *data, gsize len, const char *path, int *width,
                               int *height, float **pixels, GError **error);

/* Reads @path and decodes it by its extension (.png or .pgm). */
G_GNUC_INTERNAL
gboolean plp_image_load       (const char *path, int *width, int *height, float **pixels,
                               GError **error);

G_END_DECLS
