/* pl-file-util.h: writing files so that a half-written one is never seen.
 *
 * Every file Paramlab produces for a user (checkpoints, exports) goes through
 * pl_file_write_atomic(): the bytes go to a hidden temporary file in the same
 * directory, ".<name>.tmp-<pid>-XXXXXX", which is flushed to disk (fsync) and
 * then renamed to its name, after which the directory is synced too. A reader
 * (or a crash, or kill -9 at any moment) sees either the old file or the
 * complete new one. The temporary file of a process that died before its rename
 * stays behind, hidden by its leading dot; the next atomic write into that
 * directory removes the temporary files of processes that no longer exist
 * (pl_file_remove_stale_temps()). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  PL_FILE_WRITE_REPLACE    = 0,      /* an existing file is replaced */
  PL_FILE_WRITE_NO_REPLACE = 1 << 0, /* an existing file is an error, and stays */
} PlFileWriteFlags;

/* Writes the file's contents into fd (opened for writing, at offset 0). Returns
 * FALSE with error if it could not; use pl_file_write_all() for the bytes. */
typedef gboolean (*PlFileWriteFunc) (int fd, const char *path, gpointer user_data,
                                     GError **error);

/* Creates path atomically with the contents func writes (see above). With
 * PL_FILE_WRITE_NO_REPLACE an existing path is left untouched and the call fails
 * with a PL_ERROR_IO error saying so (the check and the rename are one atomic
 * step: renameat2 (RENAME_NOREPLACE), or link() where the file system lacks it).
 * On any failure path is as it was, the temporary file is removed and error
 * names path and what failed (a full disk, a file too large, a read-only or
 * missing directory). */
gboolean pl_file_write_atomic (const char *path, PlFileWriteFlags flags,
                               PlFileWriteFunc func, gpointer user_data, GError **error);

/* Writes all n bytes of buf to fd, retrying short writes and EINTR. On failure
 * error names path and errno's reason (ENOSPC, EFBIG, EIO, ...). */
gboolean pl_file_write_all    (int fd, const void *buf, gsize n, const char *path,
                               GError **error);

/* TRUE if name (a file name without directory) is one of the temporary names
 * pl_file_write_atomic() uses. Listings of checkpoint directories skip them. */
gboolean pl_file_is_temp_name (const char *name);

/* Removes the temporary files in dir left by processes that no longer exist on
 * this machine. Returns how many were removed; a missing or unreadable dir
 * removes none. */
guint    pl_file_remove_stale_temps (const char *dir);

G_END_DECLS
