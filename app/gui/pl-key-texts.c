/* pl-key-texts.c: titles of the experiment keys, and the blurbs of core's key
 * table again, so that xgettext finds them for translation. The editor looks the
 * blurb up by the core's text at run time; tests/test-window.c checks that the
 * copies here still equal the core's. */
#include "pl-key-texts.h"

#include <glib/gi18n.h>

static const PlKeyText texts[] = {
  { "experiment", "name", N_("Name"),
    N_("Short name shown in run lists, compare views and exports.") },
  { "experiment", "seed", N_("Seed"),
    N_("Seeds every random stream of the run (initialization, splits, shuffling, "
       "dropout): the same seed gives the same run.") },
  { "experiment", "description", N_("Description"),
    N_("Free text: what the experiment is meant to show.") },
  { "experiment", "base-dir", N_("Base folder"),
    N_("Directory that relative paths resolve against; empty means the directory "
       "of the experiment file. Normalized experiments record it so that they "
       "reload from anywhere.") },
  { "data", "dataset", N_("Dataset"),
    N_("Where the samples come from: the bundled digits (8x8 images, 10 classes) "
       "or breast-cancer (30 features, 2 classes) data, or a CSV or NumPy file.") },
  { "data", "train", N_("Training file"),
    N_("Training file for csv and npy; required by them, unused by the bundled "
       "datasets.") },
  { "data", "val", N_("Validation file"),
    N_("Validation file for csv and npy; when empty, val-fraction of the "
       "training samples are held out.") },
  { "data", "val-fraction", N_("Validation share"),
    N_("Share of the training samples held out for validation; ignored when val "
       "is given.") },
  { "data", "label-column", N_("Label column"),
    N_("Column of a CSV file that holds the class label; -1 is the last column.") },
  { "data", "normalize", N_("Normalization"),
    N_("Feature scaling fitted on the training split: none, standard (zero mean, "
       "unit variance) or minmax (to [0, 1]).") },
  { "data", "shuffle", N_("Shuffle every epoch"),
    N_("Reshuffle the training samples every epoch (from the seed).") },
  { "model", "architecture", N_("Architecture"),
    N_("mlp: fully connected layers; cnn: convolutions over the image; "
       "attention: a transformer encoder over tokens cut from the features.") },
  { "model", "hidden", N_("Hidden layers"),
    N_("Widths of the hidden layers of the mlp, input side first.") },
  { "model", "activation", N_("Activation"),
    N_("Nonlinearity after each hidden layer.") },
  { "model", "init-from", N_("Initial weights"),
    N_("Checkpoint whose parameters replace the initial values by name; with "
       "freeze = base they form a frozen base.") },
  { "model", "dropout", N_("Dropout"),
    N_("Probability of zeroing each hidden activation while training.") },
  { "model", "channels", N_("Convolution channels"),
    N_("Output channels of each convolution layer of the cnn.") },
  { "model", "kernel-size", N_("Kernel size"),
    N_("Side of the square convolution kernels of the cnn.") },
  { "model", "layers", N_("Encoder layers"),
    N_("Encoder layers of the attention model.") },
  { "model", "heads", N_("Attention heads"),
    N_("Attention heads per encoder layer; width must be divisible by heads.") },
  { "model", "width", N_("Embedding width"),
    N_("Embedding width of the attention model.") },
  { "model", "tokens", N_("Tokens"),
    N_("Sequence length of the attention model: the features are split into this "
       "many tokens.") },
  { "train", "epochs", N_("Epochs"),
    N_("Passes over the training split.") },
  { "train", "batch-size", N_("Batch size"),
    N_("Samples per optimizer step.") },
  { "train", "optimizer", N_("Optimizer"),
    N_("sgd (with momentum and nesterov), adam, or adamw (Adam with decoupled "
       "weight decay).") },
  { "train", "lr", N_("Learning rate"),
    N_("Learning rate; the peak rate when warmup or a schedule is used.") },
  { "train", "momentum", N_("Momentum"),
    N_("Momentum of sgd; ignored by adam and adamw.") },
  { "train", "nesterov", N_("Nesterov momentum"),
    N_("Nesterov momentum for sgd; needs momentum > 0.") },
  { "train", "weight-decay", N_("Weight decay"),
    N_("L2 penalty added to the gradients (sgd, adam) or decoupled decay (adamw).") },
  { "train", "beta1", N_("Adam β₁"),
    N_("Decay rate of Adam's first-moment estimate.") },
  { "train", "beta2", N_("Adam β₂"),
    N_("Decay rate of Adam's second-moment estimate.") },
  { "train", "eps", N_("Adam ε"),
    N_("Term added to Adam's denominator for numerical stability.") },
  { "train", "schedule", N_("Learning-rate schedule"),
    N_("Learning-rate schedule: constant; step (multiply by gamma every "
       "step-size epochs); cosine (anneal towards 0 over the run's steps).") },
  { "train", "step-size", N_("Decay interval (epochs)"),
    N_("Epochs between two decays of the step schedule.") },
  { "train", "gamma", N_("Decay factor"),
    N_("Factor applied at each decay of the step schedule.") },
  { "train", "warmup-steps", N_("Warmup steps"),
    N_("Steps of linear warmup: the scheduled rate is scaled by (step + 1) / "
       "warmup-steps until that reaches 1; 0 means no warmup.") },
  { "train", "freeze", N_("Frozen parameters"),
    N_("none trains every parameter; base keeps the base parameters (e.g. loaded "
       "with init-from) fixed and trains only the task parameters.") },
  { "train", "loss", N_("Loss"),
    N_("cross-entropy on the class logits, or mse against one-hot targets.") },
  { "train", "eval-every", N_("Evaluate every (steps)"),
    N_("Evaluate on the validation split every this many steps; 0 evaluates once "
       "per epoch.") },
  { "train", "max-steps", N_("Step limit"),
    N_("Stop after this many optimizer steps; 0 means no limit (epochs decide).") },
};

const PlKeyText *
pl_key_text_lookup (const char *section,
                    const char *key)
{
  for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
    if (g_str_equal (texts[i].section, section) && g_str_equal (texts[i].key, key))
      return &texts[i];
  return NULL;
}

guint
pl_key_text_count (void)
{
  return G_N_ELEMENTS (texts);
}

const PlKeyText *
pl_key_text_get (guint i)
{
  return i < G_N_ELEMENTS (texts) ? &texts[i] : NULL;
}
