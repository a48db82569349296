/* paramlab-cli infer MODEL.safetensors [--data SPLIT | --input FILE] [--batch N]
 *                    [--repeat K] [--kernel c|avx2|vnni] [--predictions]
 *
 * Runs an exported mlp of any format (fp32, int8, sparse; from __metadata__
 * paramlab.format) with the inference kernels of core/pl-infer.h, and prints the
 * accuracy (and with --predictions or --input, each row's predicted class) and
 * the throughput.
 *
 * --data SPLIT (default val): the run's data, reloaded from the experiment in the
 *   file's metadata with the same split and normalization, as `evaluate` does.
 * --input FILE: a .csv, .npy or .npz of raw rows with the label in the last column
 *   (as [data] train files), normalized with the file's paramlab.normalize.*. */
#include "pl-config.h"

#include <stdio.h>
#include <string.h>

#include "pl-cli.h"

#define EXIT_FAILED 1
#define EXIT_USAGE 2

/* The split @name of the data the experiment in @st describes. (transfer full) */
static PlDataset *
load_split (const PlSafetensors *st, const char *path, const char *name, GError **error)
{
  const char *text = pl_safetensors_get_metadata (st, "paramlab.experiment");
  if (!text)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_NOT_FOUND,
                   "%s has no __metadata__ paramlab.experiment, so its data is unknown; "
                   "give the rows with --input FILE", path);
      return NULL;
    }
  g_autofree char *display = g_strdup_printf ("%s [paramlab.experiment]", path);
  g_autoptr (PlExperiment) exp = pl_experiment_load_data (text, -1, display, error);
  if (!exp || !pl_experiment_validate (exp, error))
    return NULL;
  g_autoptr (PlPluginEngine) plugins = pl_plugin_engine_new ();
  g_autoptr (PlPluginSelection) sel = pl_plugin_selection_new (plugins, exp, error);
  if (!sel)
    return NULL;
  PlRunData data = { 0 };
  if (!pl_run_data_load (exp, sel, &data, error))
    return NULL;
  PlDataset **pick = g_str_equal (name, "train") ? &data.train : &data.val;
  PlDataset *ds = g_steal_pointer (pick);
  pl_run_data_clear (&data);
  return ds;
}

int
pl_cli_cmd_infer (int argc, char **argv)
{
  g_autofree char *split = NULL, *input = NULL, *kernel_name = NULL;
  int batch = 0, repeat = 1;
  gboolean predictions = FALSE;
  GOptionEntry entries[] = {
    { "data", 0, 0, G_OPTION_ARG_STRING, &split,
      "The run's data split to run on (default val)", "val|train" },
    { "input", 0, 0, G_OPTION_ARG_FILENAME, &input,
      "Rows to run on: .csv, .npy or .npz, label in the last column", "FILE" },
    { "batch", 0, 0, G_OPTION_ARG_INT, &batch, "Rows per forward pass (default 128)", "N" },
    { "repeat", 0, 0, G_OPTION_ARG_INT, &repeat,
      "Passes over the rows for the throughput (default 1)", "K" },
    { "kernel", 0, 0, G_OPTION_ARG_STRING, &kernel_name,
      "Integer kernel of an int8 file (default: the fastest the CPU has)", "c|avx2|vnni" },
    { "predictions", 0, 0, G_OPTION_ARG_NONE, &predictions,
      "Print each row's predicted class", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) oc = g_option_context_new ("MODEL.safetensors");
  g_option_context_add_main_entries (oc, entries, NULL);
  g_autoptr (GError) error = NULL;
  if (!g_option_context_parse (oc, &argc, &argv, &error))
    return pl_cli_usage_error ("infer: %s", error->message);
  if (argc != 2)
    return pl_cli_usage_error ("infer: expected one .safetensors file, got %d", argc - 1);
  if (split && input)
    return pl_cli_usage_error ("infer: give --data or --input, not both");
  if (split && !g_str_equal (split, "val") && !g_str_equal (split, "train"))
    return pl_cli_usage_error ("infer: --data must be val or train, got \"%s\"", split);
  if (batch < 0 || batch > 65536)
    return pl_cli_usage_error ("infer: --batch must be between 1 and 65536, got %d", batch);
  if (repeat < 1 || repeat > 1000000)
    return pl_cli_usage_error ("infer: --repeat must be between 1 and 1000000, got %d",
                               repeat);
  batch = batch ? batch : 128;
  const char *path = argv[1];

  g_autoptr (PlSafetensors) st = pl_safetensors_load (path, &error);
  g_autoptr (PlInferNet) net = st ? pl_infer_net_load_from (st, path, &error) : NULL;
  if (!net)
    return pl_cli_error (EXIT_FAILED, error);
  PlInt8Kernel used = pl_int8_kernel_best ();
  if (kernel_name)
    {
      int k = -1;
      for (int i = PL_INT8_KERNEL_C; i <= PL_INT8_KERNEL_VNNI; i++)
        if (g_str_equal (kernel_name, pl_int8_kernel_name (i)))
          k = i;
      if (k < 0)
        return pl_cli_usage_error ("infer: --kernel must be c, avx2 or vnni, got \"%s\"",
                                   kernel_name);
      if (!pl_int8_kernel_supported (k))
        {
          fprintf (stderr, "paramlab-cli: infer: this CPU cannot run the %s kernel\n",
                   kernel_name);
          return EXIT_USAGE;
        }
      pl_infer_net_set_int8_kernel (net, k);
      used = k;
    }

  g_autoptr (PlDataset) ds = NULL;
  if (input)
    {
      ds = pl_dataset_load_file (input, &error);
      if (!ds)
        return pl_cli_error (EXIT_FAILED, error);
      if (ds->n_features != (gsize) pl_infer_net_get_in_features (net))
        {
          fprintf (stderr, "paramlab-cli: infer: %s has %zu features per row (plus the label "
                   "column) but %s takes %d\n", input, (size_t) ds->n_features, path,
                   pl_infer_net_get_in_features (net));
          return EXIT_FAILED;
        }
      if (pl_infer_net_get_normalizer (net))
        pl_normalizer_apply (pl_infer_net_get_normalizer (net), ds);
    }
  else
    {
      ds = load_split (st, path, split ? split : "val", &error);
      if (!ds)
        return pl_cli_error (EXIT_FAILED, error);
      if (ds->n_features != (gsize) pl_infer_net_get_in_features (net))
        {
          fprintf (stderr, "paramlab-cli: infer: the data of %s has %zu features per row but "
                   "the model takes %d\n", path, (size_t) ds->n_features,
                   pl_infer_net_get_in_features (net));
          return EXIT_FAILED;
        }
    }

  int nc = pl_infer_net_get_n_classes (net);
  gsize n = ds->n, d = ds->n_features;
  g_autofree float *logits = g_new (float, (gsize) MAX (n, 1) * nc);
  /* one untimed pass grows the buffers; its logits are the ones reported */
  for (gsize i = 0; i < n; i += batch)
    pl_infer_net_forward (net, ds->x + i * d, (int) MIN ((gsize) batch, n - i),
                          logits + i * nc);
  gint64 t0 = g_get_monotonic_time ();
  for (int r = 0; r < repeat; r++)
    for (gsize i = 0; i < n; i += batch)
      pl_infer_net_forward (net, ds->x + i * d, (int) MIN ((gsize) batch, n - i),
                            logits + i * nc);
  double secs = (g_get_monotonic_time () - t0) / 1e6;

  gsize correct = 0;
  if (predictions || input)
    printf ("row,predicted,label\n");
  for (gsize i = 0; i < n; i++)
    {
      const float *l = logits + i * nc;
      int best = 0;
      for (int c = 1; c < nc; c++)
        if (l[c] > l[best])
          best = c;
      correct += best == ds->y[i];
      if (predictions || input)
        printf ("%zu,%d,%d\n", (size_t) i, best, ds->y[i]);
    }
  PlInferFormat format = pl_infer_net_get_format (net);
  printf ("file: %s\n", path);
  printf ("format: %s", pl_infer_format_to_string (format));
  if (format == PL_INFER_FORMAT_SPARSE)
    printf (" (density %.4f, CSR kernels %s)", pl_infer_net_get_density (net),
            pl_csr_kernel_name (pl_infer_net_get_csr_kernel (net)));
  else if (format == PL_INFER_FORMAT_INT8)
    printf (" (kernel %s)", pl_int8_kernel_name (used));
  printf ("\n");
  printf ("rows: %zu (%s)\n", (size_t) n, input ? input : split ? split : "val");
  printf ("accuracy: %.4f\n", n ? (double) correct / n : 0.0);
  printf ("throughput: %.0f samples/s at batch %d (%d pass%s, %.3f ms)\n",
          secs > 0 ? (double) n * repeat / secs : 0.0, batch, repeat, repeat == 1 ? "" : "es",
          secs * 1e3);
  return 0;
}
