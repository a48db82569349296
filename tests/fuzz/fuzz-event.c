/* fuzz-event.c: fuzz target for the decoder of the run event stream
 * (pl_stream_event_parse), which the window applies to every line a
 * `paramlab-cli run --events` child writes. Each input is split at newlines
 * like the stream; every line decodes to an event or to NULL, and every string
 * of an event is valid UTF-8. */
#include <math.h>

#include "fuzz-common.h"
#include "pl-stream-event.h"

static void
check_string (const char *s)
{
  if (s)
    g_assert (g_utf8_validate (s, -1, NULL));
}

static void
check_line (const char *line, size_t len)
{
  g_autoptr (PlStreamEvent) ev = pl_stream_event_parse (line, len);
  if (!ev)
    {
      fuzz_n_refused++;
      return;
    }
  fuzz_n_accepted++;
  check_string (ev->name);
  if (!ev->known)
    return;
  g_assert_cmpstr (pl_stream_event_kind_to_string (ev->kind), ==, ev->name);
  switch (ev->kind)
    {
    case PL_RUN_EVENT_STARTED:
      check_string (ev->u.started.name);
      check_string (ev->u.started.dataset);
      check_string (ev->u.started.architecture);
      break;
    case PL_RUN_EVENT_METRICS:
    case PL_RUN_EVENT_EPOCH:
      for (guint i = 0; i < ev->u.metrics.n_values; i++)
        {
          check_string (ev->u.metrics.values[i].key);
          g_assert (!isinf (ev->u.metrics.values[i].value));
        }
      break;
    case PL_RUN_EVENT_CHECKPOINT:
      check_string (ev->u.checkpoint.kind);
      check_string (ev->u.checkpoint.path);
      break;
    case PL_RUN_EVENT_FINISHED:
      check_string (ev->u.finished.status);
      break;
    case PL_RUN_EVENT_FAILED:
      check_string (ev->u.failed.error);
      break;
    case PL_RUN_EVENT_LOG:
      check_string (ev->u.log.message);
      break;
    case PL_RUN_EVENT_PAUSED:
    case PL_RUN_EVENT_RESUMED:
    default:
      break;
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *p = (const char *) data, *end = p + size;
  /* the whole input as one line, then line by line */
  check_line (p, size);
  while (p < end)
    {
      const char *nl = memchr (p, '\n', end - p);
      const char *eol = nl ? nl : end;
      check_line (p, eol - p);
      p = eol + (nl ? 1 : 0);
    }
  return 0;
}
