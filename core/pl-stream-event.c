/* pl-stream-event.c: see pl-stream-event.h. */
#include "pl-stream-event.h"

#include <math.h>
#include <string.h>

/* Indexed by PlRunEventKind. */
static const char * const kind_names[] = {
  [PL_RUN_EVENT_STARTED] = "started",
  [PL_RUN_EVENT_METRICS] = "metrics",
  [PL_RUN_EVENT_EPOCH] = "epoch",
  [PL_RUN_EVENT_CHECKPOINT] = "checkpoint",
  [PL_RUN_EVENT_PAUSED] = "paused",
  [PL_RUN_EVENT_RESUMED] = "resumed",
  [PL_RUN_EVENT_FINISHED] = "finished",
  [PL_RUN_EVENT_FAILED] = "failed",
  [PL_RUN_EVENT_LOG] = "log",
};

const char *
pl_stream_event_kind_to_string (PlRunEventKind kind)
{
  g_return_val_if_fail ((guint) kind < G_N_ELEMENTS (kind_names), NULL);
  return kind_names[kind];
}

/* The string member @key of object @root, or NULL. */
static const char *
member_string (const PlJson *root, const char *key)
{
  const PlJson *node = pl_json_object_get (root, key);
  return node ? pl_json_get_string (node, NULL) : NULL;
}

/* The integer member @key of object @root into *@out; FALSE when it is absent or
 * not an integer. */
static gboolean
member_int64 (const PlJson *root, const char *key, gint64 *out)
{
  const PlJson *node = pl_json_object_get (root, key);
  return node && pl_json_get_int64 (node, out);
}

void
pl_stream_event_free (PlStreamEvent *event)
{
  if (!event)
    return;
  if (event->known && (event->kind == PL_RUN_EVENT_METRICS
                       || event->kind == PL_RUN_EVENT_EPOCH))
    g_free (event->u.metrics.values);
  pl_json_free (event->root);
  g_free (event);
}

PlStreamEvent *
pl_stream_event_parse (const char *line, gsize len)
{
  g_return_val_if_fail (line != NULL || len == 0, NULL);

  PlJson *root = pl_json_parse (line ? line : "", len, NULL);
  if (!root)
    return NULL;
  const char *name = pl_json_type (root) == PL_JSON_OBJECT ? member_string (root, "event")
                                                           : NULL;
  if (!name)
    {
      pl_json_free (root);
      return NULL;
    }

  PlStreamEvent *ev = g_new0 (PlStreamEvent, 1);
  ev->root = root;
  ev->name = name;
  for (guint k = 0; k < G_N_ELEMENTS (kind_names); k++)
    if (strcmp (name, kind_names[k]) == 0)
      {
        ev->known = TRUE;
        ev->kind = (PlRunEventKind) k;
      }
  ev->has_run = member_int64 (root, "run", &ev->run);
  ev->has_step = member_int64 (root, "step", &ev->step);
  ev->has_epoch = member_int64 (root, "epoch", &ev->epoch);
  if (!ev->known)
    return ev;

  switch (ev->kind)
    {
    case PL_RUN_EVENT_STARTED:
      ev->u.started.name = member_string (root, "name");
      ev->u.started.dataset = member_string (root, "dataset");
      ev->u.started.architecture = member_string (root, "architecture");
      ev->u.started.has_epochs = member_int64 (root, "epochs", &ev->u.started.epochs);
      ev->u.started.has_total_steps = member_int64 (root, "total_steps",
                                                    &ev->u.started.total_steps);
      ev->u.started.has_parameters = member_int64 (root, "parameters",
                                                   &ev->u.started.parameters);
      break;
    case PL_RUN_EVENT_METRICS:
    case PL_RUN_EVENT_EPOCH:
      {
        const PlJson *values = pl_json_object_get (root, "values");
        if (!values || pl_json_type (values) != PL_JSON_OBJECT)
          break;
        guint n = pl_json_object_size (values);
        ev->u.metrics.n_values = n;
        ev->u.metrics.values = g_new (PlStreamEventValue, n + 1);
        for (guint i = 0; i < n; i++)
          {
            const PlJson *node = pl_json_object_value_at (values, i);
            /* null stands for NaN or an infinity, which JSON cannot write */
            ev->u.metrics.values[i].key = pl_json_object_key_at (values, i);
            ev->u.metrics.values[i].value = pl_json_type (node) == PL_JSON_NUMBER
                                            ? pl_json_get_double (node) : NAN;
          }
        break;
      }
    case PL_RUN_EVENT_CHECKPOINT:
      ev->u.checkpoint.kind = member_string (root, "kind");
      ev->u.checkpoint.path = member_string (root, "path");
      break;
    case PL_RUN_EVENT_FINISHED:
      ev->u.finished.status = member_string (root, "status");
      break;
    case PL_RUN_EVENT_FAILED:
      ev->u.failed.error = member_string (root, "error");
      break;
    case PL_RUN_EVENT_LOG:
      ev->u.log.message = member_string (root, "message");
      break;
    case PL_RUN_EVENT_PAUSED:
    case PL_RUN_EVENT_RESUMED:
    default:
      break;
    }
  return ev;
}
