/* pl-file-util.c: atomic file writes (see pl-file-util.h). */
#define _GNU_SOURCE /* renameat2, RENAME_NOREPLACE */
#include "pl-file-util.h"

#include "pl-error.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <glib/gstdio.h>

#define TEMP_TAG ".tmp-"

gboolean
pl_file_write_all (int fd, const void *buf, gsize n, const char *path, GError **error)
{
  const guint8 *p = buf;
  while (n > 0)
    {
      ssize_t done = write (fd, p, MIN (n, (gsize) 1 << 30));
      if (done < 0 && errno == EINTR)
        continue;
      if (done <= 0)
        {
          int e = done == 0 ? ENOSPC : errno;
          g_set_error (error, PL_ERROR, PL_ERROR_IO, "%s: cannot write: %s", path,
                       g_strerror (e));
          return FALSE;
        }
      p += done;
      n -= done;
    }
  return TRUE;
}

/* The pid in a temporary name ".<name>.tmp-<pid>-XXXXXX", or 0 if name is not
 * one. */
static pid_t
temp_name_pid (const char *name)
{
  if (name[0] != '.')
    return 0;
  const char *tag = g_strrstr (name, TEMP_TAG);
  if (!tag || tag == name)
    return 0;
  const char *p = tag + strlen (TEMP_TAG);
  char *end = NULL;
  guint64 pid = g_ascii_strtoull (p, &end, 10);
  if (end == p || pid == 0 || pid > G_MAXINT32 || *end != '-' || strlen (end + 1) != 6)
    return 0;
  for (const char *c = end + 1; *c; c++)
    if (!g_ascii_isalnum (*c))
      return 0;
  return (pid_t) pid;
}

gboolean
pl_file_is_temp_name (const char *name)
{
  g_return_val_if_fail (name != NULL, FALSE);
  return temp_name_pid (name) != 0;
}

guint
pl_file_remove_stale_temps (const char *dir)
{
  g_return_val_if_fail (dir != NULL, 0);
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  if (!d)
    return 0;
  guint n = 0;
  const char *name;
  while ((name = g_dir_read_name (d)))
    {
      pid_t pid = temp_name_pid (name);
      /* only a process that is certainly gone: kill () says "no such process";
       * EPERM means it exists under another user */
      if (pid == 0 || pid == getpid () || kill (pid, 0) == 0 || errno != ESRCH)
        continue;
      g_autofree char *path = g_build_filename (dir, name, NULL);
      if (g_unlink (path) == 0)
        n++;
    }
  return n;
}

/* Renames tmp to path without replacing an existing path: renameat2 where the
 * file system supports it, else link + unlink (also atomic, also refusing an
 * existing target). Sets errno and returns -1 on failure. */
static int
rename_noreplace (const char *tmp, const char *path)
{
#ifdef RENAME_NOREPLACE
  if (renameat2 (AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
    return 0;
  if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
    return -1;
#endif
  if (link (tmp, path) != 0)
    return -1;
  g_unlink (tmp);
  return 0;
}

gboolean
pl_file_write_atomic (const char *path, PlFileWriteFlags flags, PlFileWriteFunc func,
                      gpointer user_data, GError **error)
{
  g_return_val_if_fail (path != NULL && *path != '\0', FALSE);
  g_return_val_if_fail (func != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  gboolean no_replace = (flags & PL_FILE_WRITE_NO_REPLACE) != 0;
  if (no_replace && g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, PL_ERROR, PL_ERROR_IO, "%s: the file already exists; it was "
                   "left as it is", path);
      return FALSE;
    }

  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *base = g_path_get_basename (path);
  pl_file_remove_stale_temps (dir);

  g_autofree char *tmp_base = g_strdup_printf (".%s" TEMP_TAG "%d-XXXXXX", base,
                                               (int) getpid ());
  g_autofree char *tmp = g_build_filename (dir, tmp_base, NULL);
  /* 0666: the new file gets the umask's permissions, not mkstemp's 0600 */
  int fd = g_mkstemp_full (tmp, O_RDWR | O_CLOEXEC, 0666);
  if (fd < 0)
    {
      int e = errno;
      g_set_error (error, PL_ERROR, PL_ERROR_IO, "%s: cannot create a temporary file "
                   "in %s: %s", path, dir, g_strerror (e));
      return FALSE;
    }

  GError *local = NULL;
  gboolean ok = func (fd, path, user_data, &local);
  int e = 0;
  if (ok && fsync (fd) != 0)
    {
      ok = FALSE;
      e = errno;
    }
  if (close (fd) != 0 && ok)
    {
      ok = FALSE;
      e = errno;
    }
  if (!ok)
    {
      g_unlink (tmp);
      if (local)
        {
          /* func's message starts with path; say where the bytes were going */
          g_set_error (error, local->domain, local->code, "%s (temporary file %s)",
                       local->message, tmp);
          g_error_free (local);
        }
      else
        g_set_error (error, PL_ERROR, PL_ERROR_IO, "%s: cannot write (temporary file "
                     "%s): %s", path, tmp, g_strerror (e));
      return FALSE;
    }

  if ((no_replace ? rename_noreplace (tmp, path) : g_rename (tmp, path)) != 0)
    {
      e = errno;
      g_unlink (tmp);
      if (no_replace && e == EEXIST)
        g_set_error (error, PL_ERROR, PL_ERROR_IO, "%s: the file already exists; it was "
                     "left as it is", path);
      else
        g_set_error (error, PL_ERROR, PL_ERROR_IO, "%s: cannot replace with %s: %s", path,
                     tmp, g_strerror (e));
      return FALSE;
    }

  /* make the rename itself durable; some file systems cannot sync directories */
  int dfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0 || (fsync (dfd) != 0 && errno != EINVAL && errno != ENOTSUP))
    {
      e = errno;
      if (dfd >= 0)
        close (dfd);
      g_set_error (error, PL_ERROR, PL_ERROR_IO, "%s: written, but its directory %s "
                   "could not be synced: %s", path, dir, g_strerror (e));
      return FALSE;
    }
  close (dfd);
  return TRUE;
}
