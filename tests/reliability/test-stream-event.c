/* The event stream decoder (pl_stream_event_parse) that the window applies to
 * each line of `paramlab-cli run --events`: fields of every kind the engine
 * writes, missing and mistyped members, and lines that are not events. */
#include <math.h>
#include <string.h>

#include "paramlab.h"

static PlStreamEvent *
parse (const char *line)
{
  return pl_stream_event_parse (line, strlen (line));
}

static void
test_kinds (void)
{
  g_autoptr (PlStreamEvent) s =
    parse ("{\"event\":\"started\",\"run\":3,\"step\":0,\"epoch\":0,\"name\":\"digits\","
           "\"epochs\":2,\"total_steps\":10,\"parameters\":1234,\"architecture\":\"mlp\","
           "\"dataset\":\"digits\"}");
  g_assert_nonnull (s);
  g_assert_true (s->known);
  g_assert_cmpint (s->kind, ==, PL_RUN_EVENT_STARTED);
  g_assert_true (s->has_run && s->run == 3 && s->has_step && s->step == 0);
  g_assert_cmpstr (s->u.started.name, ==, "digits");
  g_assert_cmpstr (s->u.started.architecture, ==, "mlp");
  g_assert_true (s->u.started.has_epochs && s->u.started.epochs == 2);
  g_assert_true (s->u.started.has_total_steps && s->u.started.total_steps == 10);
  g_assert_true (s->u.started.has_parameters && s->u.started.parameters == 1234);

  g_autoptr (PlStreamEvent) m =
    parse ("{\"event\":\"metrics\",\"step\":7,\"epoch\":1,"
           "\"values\":{\"train/loss\":2.5,\"lr\":null,\"x\":\"y\"}}");
  g_assert_cmpint (m->kind, ==, PL_RUN_EVENT_METRICS);
  g_assert_true (m->has_step && m->step == 7 && !m->has_run);
  g_assert_cmpuint (m->u.metrics.n_values, ==, 3);
  g_assert_cmpstr (m->u.metrics.values[0].key, ==, "train/loss");
  g_assert_cmpfloat (m->u.metrics.values[0].value, ==, 2.5);
  g_assert_true (isnan (m->u.metrics.values[1].value));   /* null: NaN or Inf */
  g_assert_true (isnan (m->u.metrics.values[2].value));   /* not a number */

  g_autoptr (PlStreamEvent) c =
    parse ("{\"event\":\"checkpoint\",\"step\":5,\"kind\":\"best\",\"path\":\"/x.safetensors\"}");
  g_assert_cmpint (c->kind, ==, PL_RUN_EVENT_CHECKPOINT);
  g_assert_cmpstr (c->u.checkpoint.kind, ==, "best");
  g_assert_cmpstr (c->u.checkpoint.path, ==, "/x.safetensors");

  g_autoptr (PlStreamEvent) f = parse ("{\"event\":\"finished\",\"status\":\"stopped\"}");
  g_assert_cmpint (f->kind, ==, PL_RUN_EVENT_FINISHED);
  g_assert_cmpstr (f->u.finished.status, ==, "stopped");
  g_autoptr (PlStreamEvent) e = parse ("{\"event\":\"failed\",\"error\":\"boom\"}");
  g_assert_cmpstr (e->u.failed.error, ==, "boom");
  g_autoptr (PlStreamEvent) l = parse ("{\"event\":\"log\",\"message\":\"caf\\u00e9\"}");
  g_assert_cmpstr (l->u.log.message, ==, "caf\xc3\xa9");
  g_autoptr (PlStreamEvent) p = parse ("{\"event\":\"paused\"}");
  g_assert_cmpint (p->kind, ==, PL_RUN_EVENT_PAUSED);
  g_assert_cmpstr (pl_stream_event_kind_to_string (PL_RUN_EVENT_RESUMED), ==, "resumed");
}

static void
test_odd_lines (void)
{
  /* not events: the window logs them as text */
  static const char * const not_events[] = {
    "", "Training 10 steps", "{\"event\":1}", "[\"event\"]", "{\"event\":\"x\"",
    "{\"event\":\"metrics\"} trailing", "\"event\"", "{\"step\":3}",
  };
  for (guint i = 0; i < G_N_ELEMENTS (not_events); i++)
    g_assert_null (parse (not_events[i]));
  g_assert_null (pl_stream_event_parse ("{\"event\":\"log\"}", 5));  /* cut */
  g_assert_null (pl_stream_event_parse ("{\"event\":\"l\xff\"}", 14));

  /* unknown names are events, with the position and nothing else */
  g_autoptr (PlStreamEvent) u = parse ("{\"event\":\"telemetry\",\"step\":4}");
  g_assert_nonnull (u);
  g_assert_false (u->known);
  g_assert_cmpstr (u->name, ==, "telemetry");
  g_assert_true (u->has_step && u->step == 4);

  /* members of the wrong type are absent, not misread */
  g_autoptr (PlStreamEvent) w =
    parse ("{\"event\":\"started\",\"run\":\"3\",\"step\":1.5,\"epoch\":1e30,\"name\":7,"
           "\"epochs\":-1}");
  g_assert_false (w->has_run);
  g_assert_false (w->has_step);
  g_assert_false (w->has_epoch);
  g_assert_null (w->u.started.name);
  g_assert_true (w->u.started.has_epochs && w->u.started.epochs == -1);
  g_autoptr (PlStreamEvent) v = parse ("{\"event\":\"epoch\",\"values\":[1,2]}");
  g_assert_cmpuint (v->u.metrics.n_values, ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/reliability/stream-event/kinds", test_kinds);
  g_test_add_func ("/reliability/stream-event/odd-lines", test_odd_lines);
  return g_test_run ();
}
