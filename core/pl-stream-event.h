/* pl-stream-event.h: decoding one line of a run's JSON-lines event stream.
 *
 * pl-engine.c writes the stream (`paramlab-cli run --events`); the window reads
 * it from a child process. The decoder is pure (no I/O, no GTK) so that it can be
 * tested and fuzzed on its own: any bytes decode to an event or to NULL, never
 * to a crash. */
#pragma once

#include <glib.h>

#include "pl-engine.h"
#include "pl-json.h"

G_BEGIN_DECLS

/* One member of the "values" object of a metrics or epoch event. */
typedef struct {
  const char *key;   /* cut at a NUL the line may hold */
  double value;      /* NaN where the line has null or a non-number */
} PlStreamEventValue;

/* A decoded event line. Every string points into the event and lives as long
 * as it; a string member is NULL when the line lacks it or it is no string. */
typedef struct {
  const char *name;        /* the "event" member, e.g. "metrics" */
  gboolean known;          /* name is one the engine writes; kind is set */
  PlRunEventKind kind;
  /* where the run was: has_* is FALSE when absent or not an integer */
  gboolean has_run, has_step, has_epoch;
  gint64 run, step, epoch;
  union {
    struct {
      const char *name, *dataset, *architecture;
      gboolean has_epochs, has_total_steps, has_parameters;
      gint64 epochs, total_steps, parameters;
    } started;
    struct {                 /* PL_RUN_EVENT_METRICS and PL_RUN_EVENT_EPOCH */
      guint n_values;
      PlStreamEventValue *values;
    } metrics;
    struct {
      const char *kind, *path;
    } checkpoint;
    struct {
      const char *status;    /* "finished" or "stopped" */
    } finished;
    struct {
      const char *error;
    } failed;
    struct {
      const char *message;
    } log;
  } u;
  /*< private >*/
  PlJson *root;
} PlStreamEvent;

/* Decodes @line (@len bytes, no newline needed). Returns NULL when the line is
 * not a JSON object with a string "event" member (such lines are log text), else
 * the event (transfer full); an unknown event name gives known = FALSE. */
PlStreamEvent *pl_stream_event_parse (const char *line,
                                gsize       len);
void        pl_stream_event_free  (PlStreamEvent *event);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PlStreamEvent, pl_stream_event_free)

/* (transfer none): the event name the engine writes for @kind. */
const char *pl_stream_event_kind_to_string (PlRunEventKind kind);

G_END_DECLS
