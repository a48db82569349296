/* paramlab-cli evaluate FILE.safetensors [--db PATH]: the validation accuracy of a
 * checkpoint or export, fp32 or int8, recomputed from the file alone.
 *
 * The model is rebuilt from the experiment in the file's metadata
 * (paramlab.experiment) with its plugins, the data reloaded with the same split
 * and normalization (checked against paramlab.normalize.*), the weights loaded
 * (int8: dequantized, w = scale * (q - zero_point), with the quantizer replaying
 * the exported activation ranges), and the validation split evaluated. An fp32
 * file is evaluated as a float model, without the experiment's [quant] fake
 * quantization. */
#include "pl-config.h"

#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pl-cli.h"

#define EXIT_FAILED 1
#define EXIT_USAGE 2

/* @text without its [quant] section. (transfer full) */
static char *
experiment_without_quant (const char *text, const char *path, GError **error)
{
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  if (!g_key_file_load_from_data (kf, text, -1, G_KEY_FILE_KEEP_COMMENTS, error))
    {
      g_prefix_error (error, "%s: __metadata__ paramlab.experiment: ", path);
      return NULL;
    }
  g_key_file_remove_group (kf, "quant", NULL);
  return g_key_file_to_data (kf, NULL, NULL);
}

/* The run's normalization statistics (metadata) against the reloaded data's. */
static gboolean
check_normalization (const PlSafetensors *st, const char *path, const PlNormalizer *norm,
                     GError **error)
{
  const char *kind = pl_safetensors_get_metadata (st, "paramlab.normalize");
  if (kind && !g_str_equal (kind, pl_normalize_to_string (pl_normalizer_get_kind (norm))))
    {
      g_set_error (error, PL_ERROR, PL_ERROR_DATA,
                   "%s: paramlab.normalize is \"%s\" but the experiment normalizes with \"%s\"",
                   path, kind, pl_normalize_to_string (pl_normalizer_get_kind (norm)));
      return FALSE;
    }
  static const char *const keys[] = { "paramlab.normalize.offset", "paramlab.normalize.scale" };
  for (guint k = 0; k < G_N_ELEMENTS (keys); k++)
    {
      const char *text = pl_safetensors_get_metadata (st, keys[k]);
      if (!text)
        continue;
      const float *have = k == 0 ? pl_normalizer_get_mean (norm) : pl_normalizer_get_scale (norm);
      gsize n = pl_normalizer_get_n_features (norm);
      g_auto (GStrv) parts = text[0] ? g_strsplit (text, ",", -1) : g_new0 (char *, 1);
      if (g_strv_length (parts) != n)
        {
          g_set_error (error, PL_ERROR, PL_ERROR_DATA,
                       "%s: %s has %u values but the data has %zu features", path, keys[k],
                       g_strv_length (parts), (size_t) n);
          return FALSE;
        }
      for (gsize i = 0; i < n; i++)
        {
          /* written with %.9g: a float reads back exactly */
          float want = (float) g_ascii_strtod (parts[i], NULL);
          if (want != have[i])
            {
              g_set_error (error, PL_ERROR, PL_ERROR_DATA,
                           "%s: %s[%zu] is %s but the reloaded data gives %.9g: the data "
                           "changed since the run", path, keys[k], (size_t) i, parts[i],
                           have[i]);
              return FALSE;
            }
        }
    }
  return TRUE;
}

/* The checkpoint record of @path in the store, printed when there is one. */
static void
print_recorded (const char *db, const PlSafetensors *st, const char *path)
{
  const char *run_text = pl_safetensors_get_metadata (st, "paramlab.run");
  gint64 run_id;
  if (!run_text || !pl_cli_parse_run_id (run_text, &run_id))
    return;
  g_autoptr (GError) error = NULL;
  g_autoptr (PlRunStore) store = pl_cli_open_store (db, &error);
  g_autoptr (GPtrArray) ckpts = store ? pl_run_store_list_checkpoints (store, run_id, &error)
                                      : NULL;
  if (!ckpts)
    {
      fprintf (stderr, "paramlab-cli: evaluate: %s\n", error->message);
      return;
    }
  g_autofree char *abs = g_canonicalize_filename (path, NULL);
  for (guint i = 0; i < ckpts->len; i++)
    {
      PlCheckpointInfo *c = ckpts->pdata[i];
      if (!g_str_equal (c->path, abs) || !c->metric_key)
        continue;
      printf ("recorded: %s %.4f (run %" G_GINT64_FORMAT ", %s %s checkpoint at step %"
              G_GINT64_FORMAT ")\n", c->metric_key, c->metric_value, run_id, c->kind,
              c->format, c->step);
      return;
    }
}

int
pl_cli_cmd_evaluate (int argc, char **argv)
{
  g_autofree char *db = NULL;
  GOptionEntry entries[] = {
    { "db", 0, 0, G_OPTION_ARG_FILENAME, &db,
      "Run store: also print the metric recorded with this file", "PATH" },
    { NULL }
  };
  g_autoptr (GOptionContext) oc = g_option_context_new ("FILE.safetensors");
  g_option_context_add_main_entries (oc, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (oc, &argc, &argv, &error))
    return pl_cli_usage_error ("evaluate: %s", error->message);
  if (argc != 2)
    return pl_cli_usage_error ("evaluate: expected one .safetensors file, got %d", argc - 1);
  const char *path = argv[1];

  g_autoptr (PlSafetensors) st = pl_safetensors_load (path, &error);
  if (!st)
    return pl_cli_error (EXIT_FAILED, error);
  const char *text = pl_safetensors_get_metadata (st, "paramlab.experiment");
  if (!text)
    {
      fprintf (stderr, "paramlab-cli: evaluate: %s has no __metadata__ paramlab.experiment; "
               "evaluate reads checkpoints and exports written by Paramlab runs\n", path);
      return EXIT_USAGE;
    }
  const char *format = pl_safetensors_get_metadata (st, "paramlab.format");
  gboolean int8 = g_strcmp0 (format, "int8") == 0;
  if (format && !int8 && !g_str_equal (format, "fp32"))
    {
      fprintf (stderr, "paramlab-cli: evaluate: %s: paramlab.format is \"%s\"; expected "
               "\"fp32\" or \"int8\"\n", path, format);
      return EXIT_USAGE;
    }

  g_autofree char *float_text = int8 ? NULL : experiment_without_quant (text, path, &error);
  if (!int8 && !float_text)
    return pl_cli_error (EXIT_USAGE, error);
  g_autofree char *display = g_strdup_printf ("%s [paramlab.experiment]", path);
  g_autoptr (PlExperiment) exp = pl_experiment_load_data (int8 ? text : float_text, -1,
                                                          display, &error);
  if (!exp || !pl_experiment_validate (exp, &error))
    return pl_cli_error (EXIT_USAGE, error);
  g_autoptr (PlPluginEngine) plugins = pl_plugin_engine_new ();
  g_autoptr (PlPluginSelection) sel = pl_plugin_selection_new (plugins, exp, &error);
  if (!sel)
    return pl_cli_error (EXIT_USAGE, error);

  PlRunData data = { 0 };
  int code = 0;
  PlModel *model = NULL;
  if (!pl_run_data_load (exp, sel, &data, &error)
      || !check_normalization (st, path, data.normalizer, &error))
    {
      code = pl_cli_error (EXIT_FAILED, error);
      goto out;
    }
  /* the run's batch: the same sums in the same order give the recorded accuracy */
  int batch = (int) MIN ((gsize) exp->train.batch_size, data.train->n);
  model = pl_model_new_for_experiment (exp, sel, data.train, batch, &error);
  GObject *quant = pl_plugin_selection_get (sel, PL_SLOT_QUANT);
  gboolean loaded = model
                    && (int8 ? pl_model_load_int8_from (model, st, path, &error)
                               && (!quant || pl_quantizer_load_int8 (PL_QUANTIZER (quant),
                                                                      model, st, path, &error))
                             : pl_model_load_safetensors (model, path, FALSE, &error));
  PlEvalResult r;
  if (!loaded || !pl_model_evaluate (model, data.val, &r, &error))
    {
      code = pl_cli_error (EXIT_FAILED, error);
      goto out;
    }

  GStatBuf sb;
  gint64 size = g_stat (path, &sb) == 0 ? (gint64) sb.st_size : -1;
  printf ("file: %s\n", path);
  if (int8)
    {
      const char *scheme = pl_safetensors_get_metadata (st, "paramlab.int8.scheme");
      const char *gran = pl_safetensors_get_metadata (st, "paramlab.int8.granularity");
      printf ("format: int8 (scheme %s, %s)\n", scheme ? scheme : "not given",
              gran ? gran : "granularity not given");
    }
  else
    printf ("format: fp32 (evaluated in float%s)\n",
            g_strrstr (text, "[quant]") ? ", without the experiment's [quant] fake quantization"
                                        : "");
  printf ("size: %" G_GINT64_FORMAT " bytes (%.1f KiB)\n", size, size / 1024.0);
  printf ("val rows: %zu\n", (size_t) data.val->n);
  printf ("val/loss: %.4f\n", r.loss);
  printf ("val/acc: %.4f\n", r.acc);
  if (r.binary)
    {
      printf ("val/f1: %.4f\n", r.bm.f1);
      if (!isnan (r.bm.roc_auc))
        printf ("val/roc_auc: %.4f\n", r.bm.roc_auc);
    }
  if (db)
    print_recorded (db, st, path);

out:
  pl_model_free (model);
  pl_run_data_clear (&data);
  return code;
}
