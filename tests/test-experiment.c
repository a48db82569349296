#include "paramlab.h"
#include "pl-test-util.h"

#include <string.h>

/* Writes @text to @name inside the test's temporary directory; returns the path. */
static char *
write_file (const char *name,
            const char *text,
            gssize      len)
{
  char *path = g_build_filename (pl_test_tmpdir (), name, NULL);
  g_autofree char *dir = g_path_get_dirname (path);
  g_mkdir_with_parents (dir, 0700);
  GError *error = NULL;
  g_file_set_contents (path, text, len, &error);
  g_assert_no_error (error);
  return path;
}

static void
assert_contains (const char *haystack,
                 const char *needle)
{
  if (!strstr (haystack, needle))
    g_error ("expected to find\n  %s\nin\n  %s", needle, haystack);
}

/* Every typed field, compared one by one. */
static void
assert_same_fields (const PlExperiment *a,
                    const PlExperiment *b)
{
  g_assert_cmpstr (a->experiment.name, ==, b->experiment.name);
  g_assert_cmpuint (a->experiment.seed, ==, b->experiment.seed);
  g_assert_cmpstr (a->experiment.description, ==, b->experiment.description);
  g_assert_cmpstr (a->experiment.base_dir_path, ==, b->experiment.base_dir_path);

  g_assert_cmpint (a->data.dataset, ==, b->data.dataset);
  g_assert_cmpstr (a->data.train, ==, b->data.train);
  g_assert_cmpstr (a->data.train_path, ==, b->data.train_path);
  g_assert_cmpstr (a->data.val, ==, b->data.val);
  g_assert_cmpstr (a->data.val_path, ==, b->data.val_path);
  g_assert_cmpfloat (a->data.val_fraction, ==, b->data.val_fraction);
  g_assert_cmpint (a->data.label_column, ==, b->data.label_column);
  g_assert_cmpint (a->data.normalize, ==, b->data.normalize);
  g_assert_cmpint (a->data.shuffle, ==, b->data.shuffle);

  g_assert_cmpint (a->model.architecture, ==, b->model.architecture);
  g_assert_cmpmem (a->model.hidden, a->model.n_hidden * sizeof (int),
                   b->model.hidden, b->model.n_hidden * sizeof (int));
  g_assert_cmpint (a->model.activation, ==, b->model.activation);
  g_assert_cmpstr (a->model.init_from, ==, b->model.init_from);
  g_assert_cmpstr (a->model.init_from_path, ==, b->model.init_from_path);
  g_assert_cmpfloat (a->model.dropout, ==, b->model.dropout);
  g_assert_cmpmem (a->model.channels, a->model.n_channels * sizeof (int),
                   b->model.channels, b->model.n_channels * sizeof (int));
  g_assert_cmpint (a->model.kernel_size, ==, b->model.kernel_size);
  g_assert_cmpint (a->model.layers, ==, b->model.layers);
  g_assert_cmpint (a->model.heads, ==, b->model.heads);
  g_assert_cmpint (a->model.width, ==, b->model.width);
  g_assert_cmpint (a->model.tokens, ==, b->model.tokens);

  g_assert_cmpint (a->train.epochs, ==, b->train.epochs);
  g_assert_cmpint (a->train.batch_size, ==, b->train.batch_size);
  g_assert_cmpint (a->train.optimizer, ==, b->train.optimizer);
  g_assert_cmpfloat (a->train.lr, ==, b->train.lr);
  g_assert_cmpfloat (a->train.momentum, ==, b->train.momentum);
  g_assert_cmpint (a->train.nesterov, ==, b->train.nesterov);
  g_assert_cmpfloat (a->train.weight_decay, ==, b->train.weight_decay);
  g_assert_cmpfloat (a->train.beta1, ==, b->train.beta1);
  g_assert_cmpfloat (a->train.beta2, ==, b->train.beta2);
  g_assert_cmpfloat (a->train.eps, ==, b->train.eps);
  g_assert_cmpint (a->train.schedule, ==, b->train.schedule);
  g_assert_cmpint (a->train.step_size, ==, b->train.step_size);
  g_assert_cmpfloat (a->train.gamma, ==, b->train.gamma);
  g_assert_cmpint (a->train.warmup_steps, ==, b->train.warmup_steps);
  g_assert_cmpint (a->train.freeze, ==, b->train.freeze);
  g_assert_cmpint (a->train.loss, ==, b->train.loss);
  g_assert_cmpint (a->train.eval_every, ==, b->train.eval_every);
  g_assert_cmpint (a->train.max_steps, ==, b->train.max_steps);

  for (const char * const *s = pl_experiment_get_slot_sections (); *s; s++)
    {
      g_auto(GStrv) ka = pl_experiment_get_slot_keys (a, *s);
      g_auto(GStrv) kb = pl_experiment_get_slot_keys (b, *s);
      g_assert_cmpstrv (ka, kb);
      g_assert_cmpint (pl_experiment_has_section (a, *s), ==,
                       pl_experiment_has_section (b, *s));
      for (guint i = 0; ka[i]; i++)
        g_assert_cmpstr (pl_experiment_get_raw (a, *s, ka[i]), ==,
                         pl_experiment_get_raw (b, *s, ka[i]));
    }
  g_assert_true (pl_experiment_equal (a, b));
}

/* ---------------------------------------------------------------- presets */

static void
test_presets (void)
{
  g_autofree char *dir = g_build_filename (pl_test_srcdir (), "data", "experiments", NULL);
  GError *error = NULL;
  g_autoptr(GDir) d = g_dir_open (dir, 0, &error);
  g_assert_no_error (error);
  g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  while ((name = g_dir_read_name (d)))
    {
      if (!g_str_has_suffix (name, ".ini"))
        continue;
      g_autofree char *path = g_build_filename (dir, name, NULL);
      g_test_message ("preset %s", path);
      g_autoptr(PlExperiment) exp = pl_experiment_load_file (path, &error);
      g_assert_no_error (error);
      g_assert_nonnull (exp);
      g_assert_true (pl_experiment_validate (exp, &error));
      g_assert_no_error (error);

      /* named after its file, and opens with a comment that says what it shows */
      g_autofree char *stem = g_strndup (name, strlen (name) - 4);
      g_assert_cmpstr (exp->experiment.name, ==, stem);
      g_autofree char *text = NULL;
      g_file_get_contents (path, &text, NULL, &error);
      g_assert_no_error (error);
      g_assert_true (g_str_has_prefix (text, "# "));
      g_assert_cmpint (pl_experiment_get_line (exp, "experiment", "name"), >, 1);
      g_ptr_array_add (seen, g_strdup (name));
    }

  const char *expected[] = { "digits-mlp.ini", "breast-cancer-mlp.ini",
                             "digits-cnn.ini", "digits-attention.ini" };
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    g_assert_true (g_ptr_array_find_with_equal_func (seen, expected[i], g_str_equal, NULL));
}

/* Spot checks that each preset shows what its name says. */
static void
test_preset_contents (void)
{
  struct { const char *file; PlDatasetKind dataset; PlArchitectureKind arch; } cases[] = {
    { "digits-mlp.ini", PL_DATASET_KIND_DIGITS, PL_ARCHITECTURE_KIND_MLP },
    { "breast-cancer-mlp.ini", PL_DATASET_KIND_BREAST_CANCER, PL_ARCHITECTURE_KIND_MLP },
    { "digits-cnn.ini", PL_DATASET_KIND_DIGITS, PL_ARCHITECTURE_KIND_CNN },
    { "digits-attention.ini", PL_DATASET_KIND_DIGITS, PL_ARCHITECTURE_KIND_ATTENTION },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_build_filename (pl_test_srcdir (), "data", "experiments",
                                                cases[i].file, NULL);
      GError *error = NULL;
      g_autoptr(PlExperiment) exp = pl_experiment_load_file (path, &error);
      g_assert_no_error (error);
      g_assert_cmpint (exp->data.dataset, ==, cases[i].dataset);
      g_assert_cmpint (exp->model.architecture, ==, cases[i].arch);
    }
}

/* --------------------------------------------------------------- defaults */

static void
check_defaults (const PlExperiment *exp)
{
  g_assert_cmpstr (exp->experiment.name, ==, "untitled");
  g_assert_cmpuint (exp->experiment.seed, ==, 0);
  g_assert_cmpstr (exp->experiment.description, ==, "");
  g_assert_null (exp->experiment.base_dir);
  g_assert_true (g_path_is_absolute (exp->experiment.base_dir_path));

  g_assert_cmpint (exp->data.dataset, ==, PL_DATASET_KIND_DIGITS);
  g_assert_null (exp->data.train);
  g_assert_null (exp->data.train_path);
  g_assert_null (exp->data.val);
  g_assert_null (exp->data.val_path);
  g_assert_cmpfloat (exp->data.val_fraction, ==, 0.2);
  g_assert_cmpint (exp->data.label_column, ==, -1);
  g_assert_cmpint (exp->data.normalize, ==, PL_NORMALIZE_CHOICE_STANDARD);
  g_assert_true (exp->data.shuffle);

  g_assert_cmpint (exp->model.architecture, ==, PL_ARCHITECTURE_KIND_MLP);
  g_assert_cmpuint (exp->model.n_hidden, ==, 1);
  g_assert_cmpint (exp->model.hidden[0], ==, 128);
  g_assert_cmpint (exp->model.activation, ==, PL_ACTIVATION_CHOICE_RELU);
  g_assert_null (exp->model.init_from);
  g_assert_null (exp->model.init_from_path);
  g_assert_cmpfloat (exp->model.dropout, ==, 0);
  g_assert_cmpuint (exp->model.n_channels, ==, 2);
  g_assert_cmpint (exp->model.channels[0], ==, 16);
  g_assert_cmpint (exp->model.channels[1], ==, 32);
  g_assert_cmpint (exp->model.kernel_size, ==, 3);
  g_assert_cmpint (exp->model.layers, ==, 2);
  g_assert_cmpint (exp->model.heads, ==, 4);
  g_assert_cmpint (exp->model.width, ==, 64);
  g_assert_cmpint (exp->model.tokens, ==, 8);

  g_assert_cmpint (exp->train.epochs, ==, 10);
  g_assert_cmpint (exp->train.batch_size, ==, 32);
  g_assert_cmpint (exp->train.optimizer, ==, PL_OPTIMIZER_KIND_ADAM);
  g_assert_cmpfloat (exp->train.lr, ==, 1e-3);
  g_assert_cmpfloat (exp->train.momentum, ==, 0);
  g_assert_false (exp->train.nesterov);
  g_assert_cmpfloat (exp->train.weight_decay, ==, 0);
  g_assert_cmpfloat (exp->train.beta1, ==, 0.9);
  g_assert_cmpfloat (exp->train.beta2, ==, 0.999);
  g_assert_cmpfloat (exp->train.eps, ==, 1e-8);
  g_assert_cmpint (exp->train.schedule, ==, PL_SCHEDULE_KIND_CONSTANT);
  g_assert_cmpint (exp->train.step_size, ==, 10);
  g_assert_cmpfloat (exp->train.gamma, ==, 0.1);
  g_assert_cmpint (exp->train.warmup_steps, ==, 0);
  g_assert_cmpint (exp->train.freeze, ==, PL_FREEZE_NONE);
  g_assert_cmpint (exp->train.loss, ==, PL_LOSS_KIND_CROSS_ENTROPY);
  g_assert_cmpint (exp->train.eval_every, ==, 0);
  g_assert_cmpint (exp->train.max_steps, ==, 0);
}

static void
test_defaults (void)
{
  GError *error = NULL;
  g_autoptr(PlExperiment) def = pl_experiment_new_default ();
  check_defaults (def);
  g_assert_true (pl_experiment_validate (def, &error));
  g_assert_no_error (error);

  /* an empty file and a file of comments are the defaults too */
  g_autoptr(PlExperiment) empty = pl_experiment_load_data ("", 0, "empty.ini", &error);
  g_assert_no_error (error);
  check_defaults (empty);
  g_autoptr(PlExperiment) comments =
    pl_experiment_load_data ("# nothing\n\n   # here\n[train]\n", -1, "c.ini", &error);
  g_assert_no_error (error);
  check_defaults (comments);

  /* defaults report the table's text and no line */
  g_assert_cmpstr (pl_experiment_get_raw (def, "train", "lr"), ==, "1e-3");
  g_assert_cmpint (pl_experiment_get_line (def, "train", "lr"), ==, 0);
  g_autofree char *where = pl_experiment_get_location (empty, "train", "lr");
  g_assert_cmpstr (where, ==, "empty.ini");

  /* the table itself: every key the brief names, with its default */
  struct { const char *section, *key, *def; PlExperimentKeyType type; } keys[] = {
    { "experiment", "name", "untitled", PL_EXPERIMENT_KEY_STRING },
    { "experiment", "seed", "0", PL_EXPERIMENT_KEY_UINT64 },
    { "data", "dataset", "digits", PL_EXPERIMENT_KEY_ENUM },
    { "data", "train", "", PL_EXPERIMENT_KEY_PATH },
    { "data", "val-fraction", "0.2", PL_EXPERIMENT_KEY_DOUBLE },
    { "data", "shuffle", "true", PL_EXPERIMENT_KEY_BOOL },
    { "model", "hidden", "128", PL_EXPERIMENT_KEY_INT_LIST },
    { "model", "channels", "16,32", PL_EXPERIMENT_KEY_INT_LIST },
    { "model", "init-from", "", PL_EXPERIMENT_KEY_PATH },
    { "train", "eval-every", "0", PL_EXPERIMENT_KEY_INT },
    { "train", "freeze", "none", PL_EXPERIMENT_KEY_ENUM },
  };
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    {
      const PlExperimentKeyInfo *info = pl_experiment_lookup_key (keys[i].section,
                                                                  keys[i].key);
      g_assert_nonnull (info);
      g_assert_cmpstr (info->default_text, ==, keys[i].def);
      g_assert_cmpint (info->type, ==, keys[i].type);
      g_assert_true (info->blurb && *info->blurb);
    }
  g_assert_null (pl_experiment_lookup_key ("train", "learning-rate"));
}

/* ---------------------------------------------------------------- parsing */

static void
test_parse (void)
{
  /* comments, blank lines, whitespace around '=', a repeated section, escapes,
   * GKeyFile list and bool spellings, CRLF line ends */
  const char *text =
    "# header\r\n"
    "\r\n"
    "[experiment]\r\n"
    "  name=  my run  \r\n"
    "description = two\\nlines and a trailing space\\s\r\n"
    "seed = 18446744073709551615\r\n"
    "[train]\r\n"
    "lr\t=\t2.5E-2 \t\r\n"
    "   # indented comment\r\n"
    "[model]\r\n"
    "hidden = 256;128;\r\n"
    "activation = gelu\r\n"
    "[train]\r\n"
    "nesterov = 1\r\n"
    "optimizer = sgd\r\n"
    "momentum = .9\r\n"
    "[data]\r\n"
    "shuffle = 0\r\n"
    "label-column = 3\r\n"
    "normalize = minmax\r\n";
  GError *error = NULL;
  g_autoptr(PlExperiment) exp = pl_experiment_load_data (text, -1, "p.ini", &error);
  g_assert_no_error (error);

  /* a string keeps trailing whitespace, as in GKeyFile; other values do not */
  g_assert_cmpstr (exp->experiment.name, ==, "my run  ");
  g_assert_cmpstr (exp->experiment.description, ==, "two\nlines and a trailing space ");
  g_assert_cmpuint (exp->experiment.seed, ==, G_MAXUINT64);
  g_assert_cmpfloat (exp->train.lr, ==, 0.025);
  g_assert_cmpuint (exp->model.n_hidden, ==, 2);
  g_assert_cmpint (exp->model.hidden[0], ==, 256);
  g_assert_cmpint (exp->model.hidden[1], ==, 128);
  g_assert_cmpint (exp->model.activation, ==, PL_ACTIVATION_CHOICE_GELU);
  g_assert_true (exp->train.nesterov);
  g_assert_cmpint (exp->train.optimizer, ==, PL_OPTIMIZER_KIND_SGD);
  g_assert_cmpfloat (exp->train.momentum, ==, 0.9);
  g_assert_false (exp->data.shuffle);
  g_assert_cmpint (exp->data.label_column, ==, 3);
  g_assert_cmpint (exp->data.normalize, ==, PL_NORMALIZE_CHOICE_MINMAX);

  g_assert_cmpint (pl_experiment_get_line (exp, "experiment", "name"), ==, 4);
  g_assert_cmpint (pl_experiment_get_line (exp, "train", "lr"), ==, 8);
  g_assert_cmpint (pl_experiment_get_line (exp, "train", "nesterov"), ==, 14);
  g_assert_cmpint (pl_experiment_get_line (exp, "data", "normalize"), ==, 20);
  g_assert_cmpint (pl_experiment_get_line (exp, "train", "epochs"), ==, 0);
  g_assert_cmpstr (pl_experiment_get_raw (exp, "train", "lr"), ==, "2.5E-2");
  g_autofree char *lr = pl_experiment_get_value_text (exp, "train", "lr");
  g_assert_cmpstr (lr, ==, "0.025");
  g_autofree char *where = pl_experiment_get_location (exp, "train", "lr");
  g_assert_cmpstr (where, ==, "p.ini:8");
  g_assert_true (pl_experiment_validate (exp, &error));
  g_assert_no_error (error);

  /* what the window writes with GKeyFile's own setters reads back the same */
  g_autoptr(GKeyFile) kf = g_key_file_new ();
  const int widths[] = { 300, 20 };
  g_key_file_set_string (kf, "experiment", "name", "  lead\tand trail  ");
  g_key_file_set_integer_list (kf, "model", "hidden", (int *) widths, 2);
  g_key_file_set_double (kf, "train", "lr", 0.0123);
  g_key_file_set_boolean (kf, "data", "shuffle", FALSE);
  g_key_file_set_uint64 (kf, "experiment", "seed", G_MAXUINT64 - 1);
  g_key_file_set_string (kf, "gate", "note", "a\\b");
  g_autofree char *kf_text = g_key_file_to_data (kf, NULL, NULL);
  g_autoptr(PlExperiment) from_kf = pl_experiment_load_data (kf_text, -1, "kf.ini", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (from_kf->experiment.name, ==, "  lead\tand trail  ");
  g_assert_cmpuint (from_kf->model.n_hidden, ==, 2);
  g_assert_cmpint (from_kf->model.hidden[0], ==, 300);
  g_assert_cmpint (from_kf->model.hidden[1], ==, 20);
  g_assert_cmpfloat (from_kf->train.lr, ==, 0.0123);
  g_assert_false (from_kf->data.shuffle);
  g_assert_cmpuint (from_kf->experiment.seed, ==, G_MAXUINT64 - 1);
  g_assert_cmpstr (pl_experiment_get_raw (from_kf, "gate", "note"), ==, "a\\b");

  /* and GKeyFile reads what to_text writes */
  g_autofree char *out = pl_experiment_to_text (from_kf);
  g_autoptr(GKeyFile) back = g_key_file_new ();
  g_assert_true (g_key_file_load_from_data (back, out, -1, G_KEY_FILE_NONE, &error));
  g_assert_no_error (error);
  g_autofree char *back_name = g_key_file_get_string (back, "experiment", "name", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (back_name, ==, "  lead\tand trail  ");

  /* a byte-order mark is skipped; an empty list is allowed until validation */
  g_autoptr(PlExperiment) bom =
    pl_experiment_load_data ("\xef\xbb\xbf[model]\nhidden =\n", -1, "bom.ini", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (bom->model.n_hidden, ==, 0);
  g_assert_null (bom->model.hidden);
}

/* -------------------------------------------------------------- bad files */

typedef struct {
  const char *text;
  const char *expect[4];   /* substrings of the message; "bad.ini:N:" first */
} BadCase;

static const BadCase bad_cases[] = {
  { "# comment\n\n[train]\nepochs = 5\n\n# more\nlr = fast\n",
    { "bad.ini:7: [train] lr: expected a number greater than 0 and at most 10, got \"fast\"" } },
  { "[train]\nlr = 0\n",
    { "bad.ini:2: [train] lr: expected a number greater than 0 and at most 10, got \"0\"" } },
  { "[train]\nlr = 10.5\n", { "bad.ini:2: [train] lr:", "at most 10", "\"10.5\"" } },
  { "[train]\nlr = nan\n", { "bad.ini:2: [train] lr:", "greater than 0", "\"nan\"" } },
  { "[train]\nlr = inf\n", { "bad.ini:2: [train] lr:", "\"inf\"" } },
  { "[train]\nweight-decay = 1e999\n",
    { "bad.ini:2: [train] weight-decay: expected a number of at least 0, got \"1e999\"" } },
  { "[train]\nlr = 0x1p-3\n", { "bad.ini:2: [train] lr:", "\"0x1p-3\"" } },
  { "[train]\nlr = 0.1.\n", { "bad.ini:2: [train] lr:", "\"0.1.\"" } },
  { "[train]\nepochs = 10abc\n",
    { "bad.ini:2: [train] epochs: expected an integer from 1 to 100000, got \"10abc\"" } },
  { "[train]\nepochs = 0\n", { "bad.ini:2: [train] epochs:", "from 1 to 100000" } },
  { "[train]\nepochs = 100001\n", { "bad.ini:2: [train] epochs:", "from 1 to 100000" } },
  { "[train]\nepochs = 99999999999999999999\n", { "bad.ini:2: [train] epochs:" } },
  { "[train]\nepochs = 1.5\n", { "bad.ini:2: [train] epochs:", "an integer" } },
  { "[train]\nbatch-size =\n", { "bad.ini:2: [train] batch-size:", "got \"\"" } },
  { "[experiment]\nseed = -1\n",
    { "bad.ini:2: [experiment] seed: expected an integer from 0 to 18446744073709551615" } },
  { "[data]\nval-fraction = 1\n",
    { "bad.ini:2: [data] val-fraction: expected a number greater than 0 and less than 1" } },
  { "[data]\nlabel-column = -2\n",
    { "bad.ini:2: [data] label-column: expected an integer from -1 to" } },
  { "[data]\ndataset = mnist\n",
    { "bad.ini:2: [data] dataset: expected one of digits, breast-cancer, csv, npy, got \"mnist\"" } },
  { "[data]\ndataset = Digits\n", { "bad.ini:2: [data] dataset:", "one of digits" } },
  { "[data]\nshuffle = yes\n",
    { "bad.ini:2: [data] shuffle: expected true or false, got \"yes\"" } },
  { "[model]\nhidden = 128,abc\n",
    { "bad.ini:2: [model] hidden: expected a comma-separated list of integers from 1 to 65536",
      "(item 2 is \"abc\")" } },
  { "[model]\nhidden = 0\n", { "bad.ini:2: [model] hidden:", "from 1 to 65536" } },
  { "[model]\nchannels = 16,,32\n", { "bad.ini:2: [model] channels:", "item 2" } },
  { "[model]\ndropout = 1\n",
    { "bad.ini:2: [model] dropout: expected a number of at least 0 and less than 1" } },
  { "[model]\nkernel-size = 16\n",
    { "bad.ini:2: [model] kernel-size: expected an integer from 1 to 15, got \"16\"" } },
  { "[model]\nactivation = swish\n",
    { "bad.ini:2: [model] activation:", "one of relu, gelu, tanh, sigmoid" } },
  { "[train]\nfreeze = all\n", { "bad.ini:2: [train] freeze:", "one of none, base" } },
  { "[train]\nepochs = 3\nlearning-rate = 0.1\n",
    { "bad.ini:3: [train] unknown key \"learning-rate\"; known keys: epochs, batch-size, "
      "optimizer, lr," } },
  { "[train]\nepoch = 3\n",
    { "bad.ini:2: [train] unknown key \"epoch\" (did you mean \"epochs\"?)" } },
  { "[experiment]\nname[de] = Lauf\n", { "bad.ini:2: [experiment] unknown key \"name[de]\"" } },
  { "[experiment]\nname = a\n\n[trian]\nlr = 1\n",
    { "bad.ini:4: unknown section [trian] (did you mean [train]?); known sections: "
      "experiment, data, model, train, init, gate, prune, quant, lr-policy, arch" } },
  { "[train]\nlr = 0.1\nepochs = 2\n[model]\n[train]\nlr = 0.2\n",
    { "bad.ini:6: [train] duplicate key \"lr\" (first set on line 2)" } },
  { "[gate]\nthreshold = 1\nthreshold = 2\n",
    { "bad.ini:3: [gate] duplicate key \"threshold\" (first set on line 2)" } },
  { "[gate]\n9lives = 1\n", { "bad.ini:2: [gate] invalid key name \"9lives\"" } },
  { "lr = 0.1\n[train]\n", { "bad.ini:1: key \"lr\" comes before any [section] header" } },
  { "[train]\nlr = 0.1\n\nthis is not ini\n",
    { "bad.ini:4: expected \"key = value\", a [section] header or a # comment, got "
      "\"this is not ini\"" } },
  { "[train]\n= 3\n", { "bad.ini:2: expected \"key = value\"" } },
  { "[experiment]\n[train\nlr = 1\n", { "bad.ini:2: expected a section header", "[train" } },
  { "[train] x\n", { "bad.ini:1: expected a section header" } },
  { "[]\n", { "bad.ini:1: expected a section header" } },
  { "[experiment]\nname = a\\qb\n",
    { "bad.ini:2: [experiment] name: invalid escape sequence \"\\q\"" } },
  { "[experiment]\nname = ab\\\n", { "bad.ini:2: [experiment] name:", "escapes nothing" } },
  { "[experiment]\nname = ok\ndescription = caf\xe9\n",
    { "bad.ini:3: not valid UTF-8" } },
  /* every problem of a file is reported, each on its own line */
  { "[train]\nlr = fast\nepochs = -3\n[model]\nheads = 0\n",
    { "bad.ini:2: [train] lr:", "bad.ini:3: [train] epochs:", "bad.ini:5: [model] heads:" } },
};

static void
test_bad_files (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (bad_cases); i++)
    {
      const BadCase *c = &bad_cases[i];
      g_autofree char *path = write_file ("bad.ini", c->text, -1);
      GError *error = NULL;
      g_autoptr(PlExperiment) exp = pl_experiment_load_file (path, &error);
      g_test_message ("case %u: %s", i, error ? error->message : "(loaded)");
      g_assert_null (exp);
      g_assert_error (error, PL_ERROR, PL_ERROR_CONFIG);
      for (guint j = 0; j < G_N_ELEMENTS (c->expect) && c->expect[j]; j++)
        assert_contains (error->message, c->expect[j]);
      /* messages name the file given, not just its base name; one problem a line */
      g_auto(GStrv) lines = g_strsplit (error->message, "\n", -1);
      for (guint j = 0; lines[j]; j++)
        g_assert_true (g_str_has_prefix (lines[j], path));
      g_clear_error (&error);
    }

  /* a NUL byte, in load_data with an explicit length */
  GError *error = NULL;
  const char nul[] = "[train]\nlr = 0.1\nepochs = 1\0 2\n";
  g_autoptr(PlExperiment) exp = pl_experiment_load_data (nul, sizeof nul - 1, "nul.ini",
                                                         &error);
  g_assert_null (exp);
  g_assert_error (error, PL_ERROR, PL_ERROR_CONFIG);
  assert_contains (error->message, "nul.ini:3: contains a NUL byte");
  g_clear_error (&error);

  /* a missing file is an I/O error naming the path */
  exp = pl_experiment_load_file ("/nonexistent/dir/missing.ini", &error);
  g_assert_null (exp);
  g_assert_error (error, PL_ERROR, PL_ERROR_IO);
  assert_contains (error->message, "/nonexistent/dir/missing.ini");
  g_clear_error (&error);

  /* a flood of problems is cut short, with a count */
  GString *many = g_string_new ("[train]\n");
  for (int i = 0; i < 30; i++)
    g_string_append_printf (many, "bogus%d = 1\n", i);
  exp = pl_experiment_load_data (many->str, many->len, "many.ini", &error);
  g_string_free (many, TRUE);
  g_assert_error (error, PL_ERROR, PL_ERROR_CONFIG);
  assert_contains (error->message, "many.ini:21: [train] unknown key \"bogus19\"");
  assert_contains (error->message, "... and 10 more problems");
  g_assert_null (strstr (error->message, "bogus20"));
  g_clear_error (&error);
}

/* ---------------------------------------------------------------- --set */

static void
test_set (void)
{
  GError *error = NULL;
  g_autoptr(PlExperiment) exp =
    pl_experiment_load_data ("[train]\nlr = 0.5\n", -1, "s.ini", &error);
  g_assert_no_error (error);
  g_assert_cmpint (pl_experiment_get_line (exp, "train", "lr"), ==, 2);

  const char *good[] = {
    "train.lr=0.01", "model.hidden=256, 128", "data.dataset=breast-cancer",
    "train.nesterov=true", "experiment.name=with spaces and = sign",
    "train.max-steps = 100", "gate.threshold=0.5", "gate.sparsity=1e-4",
    "lr-policy.rule=variance",
  };
  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_assert_true (pl_experiment_set (exp, good[i], &error));
      g_assert_no_error (error);
    }
  g_assert_cmpfloat (exp->train.lr, ==, 0.01);
  g_assert_cmpuint (exp->model.n_hidden, ==, 2);
  g_assert_cmpint (exp->model.hidden[0], ==, 256);
  g_assert_cmpint (exp->model.hidden[1], ==, 128);
  g_assert_cmpint (exp->data.dataset, ==, PL_DATASET_KIND_BREAST_CANCER);
  g_assert_true (exp->train.nesterov);
  g_assert_cmpstr (exp->experiment.name, ==, "with spaces and = sign");
  g_assert_cmpint (exp->train.max_steps, ==, 100);
  g_assert_cmpint (pl_experiment_get_line (exp, "train", "lr"), ==, 0);
  g_assert_cmpstr (pl_experiment_get_raw (exp, "train", "lr"), ==, "0.01");
  g_autofree char *where = pl_experiment_get_location (exp, "train", "lr");
  g_assert_cmpstr (where, ==, "--set train.lr=0.01");
  g_assert_true (pl_experiment_has_section (exp, "gate"));
  g_assert_cmpstr (pl_experiment_get_raw (exp, "gate", "threshold"), ==, "0.5");
  g_assert_cmpint (pl_experiment_get_line (exp, "gate", "threshold"), ==, 0);
  g_assert_cmpstr (pl_experiment_get_raw (exp, "lr-policy", "rule"), ==, "variance");

  /* the value is literal: a backslash is a backslash */
  g_assert_true (pl_experiment_set (exp, "experiment.description=a\\nb", &error));
  g_assert_cmpstr (exp->experiment.description, ==, "a\\nb");

  struct { const char *assignment; const char *expect[3]; } bad[] = {
    { "train.lr=abc",
      { "--set train.lr=abc: [train] lr: expected a number greater than 0 and at most 10, "
        "got \"abc\"" } },
    { "train.lr=", { "--set train.lr=: [train] lr:", "got \"\"" } },
    { "train.epochs=10abc", { "--set train.epochs=10abc: [train] epochs:", "from 1 to 100000" } },
    { "train.learning-rate=0.1",
      { "--set train.learning-rate=0.1: [train] unknown key \"learning-rate\"; known keys: "
        "epochs, batch-size" } },
    { "trian.lr=0.1",
      { "--set trian.lr=0.1: unknown section [trian] (did you mean [train]?); known sections:" } },
    { "train.lr", { "--set train.lr: expected section.key=value" } },
    { "lr=0.1", { "--set lr=0.1: expected section.key=value" } },
    { "model.hidden=1,0", { "--set model.hidden=1,0: [model] hidden:", "item 2" } },
    { "data.dataset=mnist", { "--set data.dataset=mnist: [data] dataset:", "one of digits" } },
    { "gate.=1", { "--set gate.=1: [gate] invalid key name \"\"" } },
  };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_assert_false (pl_experiment_set (exp, bad[i].assignment, &error));
      g_assert_error (error, PL_ERROR, PL_ERROR_CONFIG);
      for (guint j = 0; j < G_N_ELEMENTS (bad[i].expect) && bad[i].expect[j]; j++)
        assert_contains (error->message, bad[i].expect[j]);
      g_clear_error (&error);
    }
  /* failed overrides change nothing */
  g_assert_cmpfloat (exp->train.lr, ==, 0.01);
  g_assert_cmpint (exp->train.epochs, ==, 10);
  g_assert_cmpuint (exp->model.n_hidden, ==, 2);
  g_assert_cmpint (exp->data.dataset, ==, PL_DATASET_KIND_BREAST_CANCER);
  g_assert_cmpstr (pl_experiment_get_raw (exp, "train", "lr"), ==, "0.01");
}

/* ------------------------------------------------------------- validation */

static void
test_validate (void)
{
  g_autofree char *ckpt = write_file ("v/base.safetensors", "not really", -1);
  g_autofree char *csv = write_file ("v/train.csv", "1,2,0\n", -1);
  g_autofree char *vdir = g_build_filename (pl_test_tmpdir (), "v", NULL);
  g_autofree char *display = g_build_filename (vdir, "v.ini", NULL);

  struct { const char *text; const char *expect[3]; } cases[] = {
    { "[data]\ndataset = csv\n",
      { "v.ini:2: [data] dataset: csv needs [data] train" } },
    { "[data]\ndataset = npy\n", { "v.ini:2: [data] dataset: npy needs [data] train" } },
    { "[data]\ndataset = csv\ntrain = train.csv\n", { NULL } },
    { "[data]\ndataset = csv\ntrain = missing.csv\n",
      { "v.ini:3: [data] train: cannot read \"", "missing.csv\"" } },
    { "[data]\ndataset = csv\ntrain = train.csv\nval = nope.csv\n",
      { "v.ini:4: [data] val: cannot read", "nope.csv" } },
    { "[data]\ndataset = csv\ntrain = .\n", { "v.ini:3: [data] train:", "directory" } },
    /* val given: val-fraction is ignored, not an error */
    { "[data]\ndataset = csv\ntrain = train.csv\nval = train.csv\nval-fraction = 0.5\n",
      { NULL } },
    { "[model]\ninit-from = base.safetensors\n", { NULL } },
    { "[model]\ninit-from = gone.safetensors\n",
      { "v.ini:2: [model] init-from: cannot read", "gone.safetensors" } },
    { "[model]\nhidden =\n", { "v.ini:2: [model] hidden:", "at least one" } },
    { "[model]\narchitecture = cnn\nhidden =\n", { NULL } },
    { "[model]\narchitecture = cnn\nchannels =\n", { "v.ini:3: [model] channels:" } },
    { "[model]\narchitecture = attention\nwidth = 60\nheads = 8\n",
      { "v.ini:3: [model] width: 60 is not divisible by [model] heads (8)" } },
    { "[model]\narchitecture = mlp\nwidth = 60\nheads = 8\n", { NULL } },
    { "[train]\nnesterov = true\n",
      { "v.ini:2: [train] nesterov: needs optimizer = sgd and momentum > 0",
        "optimizer is adam, momentum 0" } },
    { "[train]\noptimizer = sgd\nnesterov = true\nmomentum = 0.9\n", { NULL } },
    /* two problems at once */
    { "[data]\ndataset = csv\n[model]\nhidden =\n",
      { "v.ini:2: [data] dataset", "v.ini:4: [model] hidden" } },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      GError *error = NULL;
      g_autoptr(PlExperiment) exp = pl_experiment_load_data (cases[i].text, -1, display,
                                                             &error);
      g_assert_no_error (error);
      gboolean ok = pl_experiment_validate (exp, &error);
      g_test_message ("validate case %u: %s", i, error ? error->message : "ok");
      if (!cases[i].expect[0])
        {
          g_assert_no_error (error);
          g_assert_true (ok);
          continue;
        }
      g_assert_false (ok);
      g_assert_error (error, PL_ERROR, PL_ERROR_CONFIG);
      for (guint j = 0; j < G_N_ELEMENTS (cases[i].expect) && cases[i].expect[j]; j++)
        assert_contains (error->message, cases[i].expect[j]);
      g_clear_error (&error);
    }

  /* a rule broken by an override names the override */
  GError *error = NULL;
  g_autoptr(PlExperiment) exp = pl_experiment_new_default ();
  g_assert_true (pl_experiment_set (exp, "data.dataset=csv", &error));
  g_assert_false (pl_experiment_validate (exp, &error));
  assert_contains (error->message, "--set data.dataset=csv: [data] dataset: csv needs");
  g_clear_error (&error);
}

/* ------------------------------------------------------------- round trip */

static const char *rich_text =
  "[experiment]\n"
  "name = \\s padded\\s\n"
  "description = tab\\there, backslash \\\\ and # not a comment\n"
  "seed = 12345678901234567890\n"
  "[data]\n"
  "dataset = csv\n"
  "train = data/train.csv\n"
  "val = /abs/val.csv\n"
  "val-fraction = 0.3\n"
  "label-column = 0\n"
  "normalize = none\n"
  "[model]\n"
  "architecture = attention\n"
  "hidden = 512, 256, 3\n"
  "init-from = ../ckpt/base.safetensors\n"
  "dropout = 0.123456789012345\n"
  "channels = 8\n"
  "width = 96\n"
  "heads = 3\n"
  "tokens = 16\n"
  "[train]\n"
  "lr = 3e-4\n"
  "weight-decay = 1e-2\n"
  "beta2 = 0.98\n"
  "eps = 1e-7\n"
  "schedule = step\n"
  "gamma = 0.5\n"
  "freeze = base\n"
  "loss = mse\n"
  "eval-every = 50\n"
  "[gate]\n"
  "threshold = 0.25\n"
  "note =  spaced value\\s\n"
  "[prune]\n"
  "[init]\n"
  "plugin = xavier\n";

static void
check_round_trip (const PlExperiment *exp)
{
  GError *error = NULL;
  g_autofree char *text1 = pl_experiment_to_text (exp);
  /* reload as if from the run store: a different name in a different directory */
  g_autoptr(PlExperiment) again =
    pl_experiment_load_data (text1, -1, "/somewhere/else/stored.ini", &error);
  if (error)
    g_error ("%s\n--- text ---\n%s", error->message, text1);
  g_autofree char *text2 = pl_experiment_to_text (again);
  g_assert_cmpstr (text1, ==, text2);
  assert_same_fields (exp, again);

  /* every table key is written, in table order */
  const char *pos = text1;
  for (guint i = 0; i < pl_experiment_get_n_keys (); i++)
    {
      const PlExperimentKeyInfo *info = pl_experiment_get_key_info (i);
      g_autofree char *needle = g_strdup_printf ("\n%s =", info->key);
      const char *at = strstr (pos, needle);
      if (!at)
        g_error ("key %s missing or out of order in\n%s", info->key, text1);
      pos = at + 1;
      g_assert_cmpint (pl_experiment_get_line (again, info->section, info->key), >, 0);
    }
}

static void
test_round_trip (void)
{
  GError *error = NULL;
  g_autofree char *dir = g_build_filename (pl_test_tmpdir (), "rt", NULL);
  g_autofree char *display = g_build_filename (dir, "rich.ini", NULL);
  g_autoptr(PlExperiment) rich = pl_experiment_load_data (rich_text, -1, display, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (rich->experiment.name, ==, "  padded ");
  check_round_trip (rich);

  g_autofree char *text = pl_experiment_to_text (rich);
  assert_contains (text, "\nlr = 0.0003\n");
  assert_contains (text, "\nhidden = 512,256,3\n");
  assert_contains (text, "\ntrain = data/train.csv\n");
  g_autofree char *base_line = g_strdup_printf ("\nbase-dir = %s\n", dir);
  assert_contains (text, base_line);
  assert_contains (text, "\n[prune]\n");
  /* slot sections come after the table sections, in slot order */
  g_assert_true (strstr (text, "[init]") > strstr (text, "[train]"));
  g_assert_true (strstr (text, "[gate]") > strstr (text, "[init]"));

  /* with overrides applied, and for every preset and the defaults */
  g_assert_true (pl_experiment_set (rich, "train.lr=0.1", &error));
  g_assert_true (pl_experiment_set (rich, "quant.bits=8", &error));
  g_assert_no_error (error);
  check_round_trip (rich);

  g_autoptr(PlExperiment) def = pl_experiment_new_default ();
  check_round_trip (def);

  const char *presets[] = { "digits-mlp.ini", "breast-cancer-mlp.ini", "digits-cnn.ini",
                            "digits-attention.ini" };
  for (guint i = 0; i < G_N_ELEMENTS (presets); i++)
    {
      g_autofree char *path = g_build_filename (pl_test_srcdir (), "data", "experiments",
                                                presets[i], NULL);
      g_autoptr(PlExperiment) exp = pl_experiment_load_file (path, &error);
      g_assert_no_error (error);
      check_round_trip (exp);
    }

  /* doubles survive exactly, whatever their digits */
  const double values[] = { 0.1, 1.0 / 3.0, 1e-300, 9.999999999999999, 5e-324 * 1e10 };
  for (guint i = 0; i < G_N_ELEMENTS (values); i++)
    {
      g_autofree char *set = g_strdup_printf ("train.weight-decay=%.17g", values[i]);
      g_assert_true (pl_experiment_set (def, set, &error));
      g_assert_no_error (error);
      check_round_trip (def);
    }

  /* a different experiment is not equal */
  g_autoptr(PlExperiment) other = pl_experiment_copy (def);
  assert_same_fields (def, other);
  g_assert_true (pl_experiment_set (other, "train.epochs=11", &error));
  g_assert_false (pl_experiment_equal (def, other));
  g_assert_cmpint (def->train.epochs, ==, 10);
}

/* ------------------------------------------------------------------ paths */

static void
test_paths (void)
{
  GError *error = NULL;
  g_autofree char *root = g_build_filename (pl_test_tmpdir (), "paths", NULL);
  g_autofree char *path = write_file ("paths/exps/sub/p.ini",
                                      "[data]\n"
                                      "dataset = csv\n"
                                      "train = ../../data/train.csv\n"
                                      "val = /abs/./v.csv\n"
                                      "[model]\n"
                                      "init-from = ~/ckpt.safetensors\n", -1);
  g_autoptr(PlExperiment) exp = pl_experiment_load_file (path, &error);
  g_assert_no_error (error);

  g_autofree char *sub = g_build_filename (root, "exps", "sub", NULL);
  g_autofree char *train = g_build_filename (root, "data", "train.csv", NULL);
  g_autofree char *home_ckpt = g_build_filename (g_get_home_dir (), "ckpt.safetensors", NULL);
  g_assert_cmpstr (exp->experiment.base_dir_path, ==, sub);
  g_assert_cmpstr (exp->data.train, ==, "../../data/train.csv");
  g_assert_cmpstr (exp->data.train_path, ==, train);
  g_assert_cmpstr (exp->data.val, ==, "/abs/./v.csv");
  g_assert_cmpstr (exp->data.val_path, ==, "/abs/v.csv");
  g_assert_cmpstr (exp->model.init_from, ==, "~/ckpt.safetensors");
  g_assert_cmpstr (exp->model.init_from_path, ==, home_ckpt);

  /* an override resolves against the same base */
  g_assert_true (pl_experiment_set (exp, "data.train=t2.csv", &error));
  g_autofree char *t2 = g_build_filename (sub, "t2.csv", NULL);
  g_assert_cmpstr (exp->data.train_path, ==, t2);
  /* moving base-dir moves every relative path */
  g_assert_true (pl_experiment_set (exp, "experiment.base-dir=..", &error));
  g_autofree char *exps = g_build_filename (root, "exps", NULL);
  g_autofree char *t2b = g_build_filename (exps, "t2.csv", NULL);
  g_assert_cmpstr (exp->experiment.base_dir_path, ==, exps);
  g_assert_cmpstr (exp->data.train_path, ==, t2b);
  g_assert_cmpstr (exp->data.val_path, ==, "/abs/v.csv");
  /* an empty value unsets */
  g_assert_true (pl_experiment_set (exp, "data.val=", &error));
  g_assert_null (exp->data.val);
  g_assert_null (exp->data.val_path);
  g_assert_no_error (error);

  /* load_data with a bare name resolves against the current directory */
  g_autofree char *cwd = g_get_current_dir ();
  g_autoptr(PlExperiment) bare =
    pl_experiment_load_data ("[data]\ntrain = x.csv\n", -1, "bare.ini", &error);
  g_assert_no_error (error);
  g_autofree char *x = g_build_filename (cwd, "x.csv", NULL);
  g_assert_cmpstr (bare->data.train_path, ==, x);
  g_autoptr(PlExperiment) anon =
    pl_experiment_load_data ("[data]\ntrain = x.csv\n", -1, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (anon->data.train_path, ==, x);
  g_assert_cmpstr (pl_experiment_get_display_name (anon), ==, "<data>");

  /* a relative base-dir in the file is relative to the file */
  g_autofree char *path2 = write_file ("paths/exps/q.ini",
                                       "[experiment]\nbase-dir = ../data\n"
                                       "[data]\ntrain = train.csv\n", -1);
  g_autoptr(PlExperiment) q = pl_experiment_load_file (path2, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (q->data.train_path, ==, train);
}

/* ---------------------------------------------------------------- flatten */

static void
test_flatten (void)
{
  GError *error = NULL;
  g_autofree char *display = g_build_filename (pl_test_tmpdir (), "f", "f.ini", NULL);
  g_autoptr(PlExperiment) exp =
    pl_experiment_load_data ("[model]\nhidden = 64 ,32\n[data]\ntrain = t.csv\n"
                             "[gate]\nthreshold = 0.5\n[init]\nplugin = kaiming\n",
                             -1, display, &error);
  g_assert_no_error (error);
  g_assert_true (pl_experiment_set (exp, "train.lr=0.02", &error));

  g_autoptr(GPtrArray) flat = pl_experiment_flatten (exp);
  /* every table key but base-dir, then the slot keys in slot order */
  g_assert_cmpuint (flat->len, ==, pl_experiment_get_n_keys () - 1 + 2);
  g_assert_cmpstr (flat->pdata[0], ==, "experiment.name=untitled");
  g_assert_cmpstr (flat->pdata[flat->len - 2], ==, "init.plugin=kaiming");
  g_assert_cmpstr (flat->pdata[flat->len - 1], ==, "gate.threshold=0.5");
  g_autofree char *train = g_build_filename (pl_test_tmpdir (), "f", "t.csv", NULL);
  g_autofree char *train_line = g_strdup_printf ("data.train=%s", train);
  const char *expected[] = { "model.hidden=64,32", "train.lr=0.02", "data.val=",
                             "train.eps=1e-08", "data.shuffle=true",
                             "train.loss=cross-entropy", train_line };
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    g_assert_true (g_ptr_array_find_with_equal_func (flat, expected[i], g_str_equal, NULL));
  for (guint i = 0; i < flat->len; i++)
    g_assert_false (g_str_has_prefix (flat->pdata[i], "experiment.base-dir="));

  /* flatten order follows the table */
  for (guint i = 0, j = 0; i < pl_experiment_get_n_keys (); i++)
    {
      const PlExperimentKeyInfo *info = pl_experiment_get_key_info (i);
      if (strcmp (info->key, "base-dir") == 0)
        continue;
      g_autofree char *prefix = g_strdup_printf ("%s.%s=", info->section, info->key);
      g_assert_true (g_str_has_prefix (flat->pdata[j++], prefix));
    }
}

/* ------------------------------------------------------------------ slots */

static void
test_slots (void)
{
  GError *error = NULL;
  const char *text =
    "[gate]\n"                  /* 1 */
    "threshold = 0.5\n"         /* 2 */
    "# the pressure\n"          /* 3 */
    "sparsity_pressure=1e-3\n"  /* 4 */
    "[train]\n"                 /* 5 */
    "lr = 0.1\n"                /* 6 */
    "[prune]\n"                 /* 7 */
    "[gate]\n"                  /* 8 */
    "\n"                        /* 9 */
    "  mode  =  hard  \n"       /* 10 */
    "[arch]\n"                  /* 11 */
    "fusion = shared-attention\n";
  g_autoptr(PlExperiment) exp = pl_experiment_load_data (text, -1, "slots.ini", &error);
  g_assert_no_error (error);

  g_auto(GStrv) gate = pl_experiment_get_slot_keys (exp, "gate");
  const char *gate_keys[] = { "threshold", "sparsity_pressure", "mode", NULL };
  g_assert_cmpstrv (gate, gate_keys);
  g_assert_cmpstr (pl_experiment_get_raw (exp, "gate", "threshold"), ==, "0.5");
  g_assert_cmpstr (pl_experiment_get_raw (exp, "gate", "mode"), ==, "hard");
  g_assert_cmpint (pl_experiment_get_line (exp, "gate", "threshold"), ==, 2);
  g_assert_cmpint (pl_experiment_get_line (exp, "gate", "sparsity_pressure"), ==, 4);
  g_assert_cmpint (pl_experiment_get_line (exp, "gate", "mode"), ==, 10);
  g_assert_cmpint (pl_experiment_get_line (exp, "arch", "fusion"), ==, 12);
  g_autofree char *where = pl_experiment_get_location (exp, "gate", "mode");
  g_assert_cmpstr (where, ==, "slots.ini:10");

  g_assert_true (pl_experiment_has_section (exp, "prune"));
  g_auto(GStrv) prune = pl_experiment_get_slot_keys (exp, "prune");
  g_assert_cmpuint (g_strv_length (prune), ==, 0);
  g_assert_false (pl_experiment_has_section (exp, "quant"));
  g_auto(GStrv) quant = pl_experiment_get_slot_keys (exp, "quant");
  g_assert_cmpuint (g_strv_length (quant), ==, 0);
  g_assert_null (pl_experiment_get_raw (exp, "quant", "bits"));
  g_assert_cmpint (pl_experiment_get_line (exp, "quant", "bits"), ==, 0);

  /* an override replaces a slot value and drops its line */
  g_assert_true (pl_experiment_set (exp, "gate.threshold=0.75", &error));
  g_assert_cmpstr (pl_experiment_get_raw (exp, "gate", "threshold"), ==, "0.75");
  g_assert_cmpint (pl_experiment_get_line (exp, "gate", "threshold"), ==, 0);
  g_auto(GStrv) gate2 = pl_experiment_get_slot_keys (exp, "gate");
  g_assert_cmpstrv (gate2, gate_keys);

  g_autofree char *out = pl_experiment_to_text (exp);
  assert_contains (out, "\n[gate]\nthreshold = 0.75\nsparsity_pressure = 1e-3\n");
  g_assert_null (strstr (out, "[quant]"));

  g_assert_cmpstrv (pl_experiment_get_slot_sections (),
                    ((const char *[]) { "init", "gate", "prune", "quant", "lr-policy",
                                        "arch", "dataset", NULL }));
}

/* ------------------------------------------------------------------- docs */

static const char *
type_name (PlExperimentKeyType t)
{
  static const char *names[] = { "string", "path", "int", "uint64", "double", "bool",
                                 "enum", "int-list" };
  return names[t];
}

/* docs/experiments.md has one row per key of the table, under its section, with
 * the same type, default and allowed values, and no rows for keys that do not
 * exist. */
static void
test_docs (void)
{
  g_autofree char *path = g_build_filename (pl_test_srcdir (), "docs", "experiments.md",
                                            NULL);
  g_autofree char *text = NULL;
  GError *error = NULL;
  g_file_get_contents (path, &text, NULL, &error);
  g_assert_no_error (error);

  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  g_autofree char *section = NULL;
  g_autoptr(GHashTable) documented = g_hash_table_new_full (g_str_hash, g_str_equal,
                                                            g_free, NULL);
  for (guint i = 0; lines[i]; i++)
    {
      const char *l = lines[i];
      if (g_str_has_prefix (l, "## ["))
        {
          g_free (section);
          section = g_strndup (l + 4, strcspn (l + 4, "]"));
          continue;
        }
      if (g_str_has_prefix (l, "## "))
        g_clear_pointer (&section, g_free);
      if (!section || !g_str_has_prefix (l, "| `"))
        continue;

      g_auto(GStrv) cells = g_strsplit (l, "|", -1);
      g_assert_cmpuint (g_strv_length (cells), ==, 7);
      for (guint c = 0; cells[c]; c++)
        g_strstrip (cells[c]);
      g_autofree char *key = g_strndup (cells[1] + 1, strlen (cells[1]) - 2);
      const PlExperimentKeyInfo *info = pl_experiment_lookup_key (section, key);
      if (!info)
        g_error ("docs/experiments.md:%u: [%s] %s is not in the key table", i + 1,
                 section, key);
      g_assert_cmpstr (cells[2], ==, type_name (info->type));
      g_autofree char *def = *info->default_text
        ? g_strdup_printf ("`%s`", info->default_text) : g_strdup ("(empty)");
      g_assert_cmpstr (cells[3], ==, def);
      g_autofree char *allowed = pl_experiment_key_describe (info);
      g_assert_cmpstr (cells[4], ==, allowed);
      g_assert_cmpuint (strlen (cells[5]), >, 10);
      g_hash_table_add (documented, g_strdup_printf ("%s.%s", section, key));
    }

  for (guint i = 0; i < pl_experiment_get_n_keys (); i++)
    {
      const PlExperimentKeyInfo *info = pl_experiment_get_key_info (i);
      g_autofree char *id = g_strdup_printf ("%s.%s", info->section, info->key);
      if (!g_hash_table_contains (documented, id))
        g_error ("docs/experiments.md has no row for [%s] %s", info->section, info->key);
    }
  for (const char * const *s = pl_experiment_get_slot_sections (); *s; s++)
    {
      g_autofree char *needle = g_strdup_printf ("`[%s]`", *s);
      assert_contains (text, needle);
    }
}

/* ------------------------------------------------------------ ownership */

static void
test_ref_copy (void)
{
  GError *error = NULL;
  g_autoptr(PlExperiment) exp =
    pl_experiment_load_data ("[gate]\nthreshold = 1\n[train]\nlr = 0.2\n", -1, "r.ini",
                             &error);
  g_assert_no_error (error);
  PlExperiment *ref = pl_experiment_ref (exp);
  g_assert_true (ref == exp);
  pl_experiment_unref (ref);
  g_assert_cmpfloat (exp->train.lr, ==, 0.2);

  g_autoptr(PlExperiment) copy = pl_experiment_copy (exp);
  assert_same_fields (exp, copy);
  g_assert_cmpint (pl_experiment_get_line (copy, "train", "lr"), ==, 4);
  g_assert_cmpstr (pl_experiment_get_display_name (copy), ==, "r.ini");
  g_assert_true (pl_experiment_set (copy, "gate.threshold=2", &error));
  g_assert_true (pl_experiment_set (copy, "model.hidden=7", &error));
  g_assert_cmpstr (pl_experiment_get_raw (exp, "gate", "threshold"), ==, "1");
  g_assert_cmpint (exp->model.hidden[0], ==, 128);

  g_assert_true (G_TYPE_IS_BOXED (PL_TYPE_EXPERIMENT));
  PlExperiment *boxed = g_boxed_copy (PL_TYPE_EXPERIMENT, exp);
  g_boxed_free (PL_TYPE_EXPERIMENT, boxed);
  pl_experiment_free (NULL);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/core/experiment/presets", test_presets);
  g_test_add_func ("/core/experiment/presets/contents", test_preset_contents);
  g_test_add_func ("/core/experiment/defaults", test_defaults);
  g_test_add_func ("/core/experiment/parse", test_parse);
  g_test_add_func ("/core/experiment/bad-files", test_bad_files);
  g_test_add_func ("/core/experiment/set", test_set);
  g_test_add_func ("/core/experiment/validate", test_validate);
  g_test_add_func ("/core/experiment/round-trip", test_round_trip);
  g_test_add_func ("/core/experiment/paths", test_paths);
  g_test_add_func ("/core/experiment/flatten", test_flatten);
  g_test_add_func ("/core/experiment/slots", test_slots);
  g_test_add_func ("/core/experiment/docs", test_docs);
  g_test_add_func ("/core/experiment/ref-copy", test_ref_copy);
  return g_test_run ();
}
