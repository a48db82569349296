/* synthetic-scan-report: SYNTHETIC paired scans and reports for the article's
 * medical fusion scenario (section 3.2). Nothing here is patient data.
 *
 * Each sample is a small grayscale "scan" with one lesion-like blob and a short
 * "report", packed as pl-paired-layout.h says (H*W pixels in [0, 1], then L token
 * ids). The label is benign (0) or malignant (1), and both modalities depend on
 * it, each only partly:
 *
 *   image   a background level, a low-frequency texture (three random plane
 *           waves) and white noise N(0, image-noise^2); one blob at a random
 *           place with random size (radius 0.16..0.24 of the side) and contrast
 *           (0.35..0.7). Its shape comes from a malignancy score s: U(0.3, 1) for
 *           malignant, U(0, 0.45) for benign (the ranges overlap, so the shape
 *           alone cannot be certain). The blob is elongated by aspect 1 + 1.5 s
 *           (area kept) and its border spiculated, r(phi) = 1 + 0.6 s
 *           cos(k phi + phase) with k in 5..7; s = 0 is round.
 *   report  L token ids of a 40-word vocabulary: 0 <pad>, 1 <unk>, 30 neutral
 *           words, 4 malignant keywords (spiculated irregular suspicious
 *           malignant) and 4 benign ones (smooth round benign calcified). A
 *           report has 60..100% of L words, 1 to 3 of them keywords; each keyword
 *           comes from the other class's list with probability report-noise,
 *           the rest are neutral words, and the tail is padding.
 *
 * Labels: round(positive-rate * n) malignant samples per split, in random order.
 * The splits are drawn from independent streams of the seed (data-seed, or the
 * experiment's seed when it is -1), so the same seed gives the same data. */
#include <libpeas/peas.h>
#include <math.h>
#include <string.h>

#include "paramlab.h"

#define PLP_TYPE_SYNTHETIC_SCAN_REPORT (plp_synthetic_scan_report_get_type ())
G_DECLARE_FINAL_TYPE (PlpSyntheticScanReport, plp_synthetic_scan_report, PLP,
                      SYNTHETIC_SCAN_REPORT, GObject)

struct _PlpSyntheticScanReport {
  GObject parent_instance;
  int image_size;
  int report_length;
  int n_train;
  int n_val;
  double positive_rate;
  double image_noise;
  double report_noise;
  gint64 data_seed;
};

enum {
  PROP_0,
  PROP_IMAGE_SIZE,
  PROP_REPORT_LENGTH,
  PROP_N_TRAIN,
  PROP_N_VAL,
  PROP_POSITIVE_RATE,
  PROP_IMAGE_NOISE,
  PROP_REPORT_NOISE,
  PROP_DATA_SEED,
  N_PROPS
};

static void plp_synthetic_scan_report_iface_init (PlDatasetSourceInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (PlpSyntheticScanReport, plp_synthetic_scan_report,
                                G_TYPE_OBJECT, G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (PL_TYPE_DATASET_SOURCE,
                                                               plp_synthetic_scan_report_iface_init))

/* The vocabulary, by id. */
static const char *const vocabulary[] = {
  "<pad>", "<unk>",
  /* 2..31 neutral */
  "the", "a", "scan", "shows", "lesion", "nodule", "in", "left", "right", "upper",
  "lower", "lobe", "mm", "measuring", "with", "margin", "density", "noted", "patient",
  "region", "compared", "prior", "study", "follow", "up", "recommended", "no", "change",
  "chest", "ct",
  /* 32..35 malignant keywords */
  "spiculated", "irregular", "suspicious", "malignant",
  /* 36..39 benign keywords */
  "smooth", "round", "benign", "calcified",
};

#define VOCAB_SIZE ((int) G_N_ELEMENTS (vocabulary))
#define FIRST_NEUTRAL 2
#define N_NEUTRAL 30
#define FIRST_KEYWORD_MALIGNANT 32
#define FIRST_KEYWORD_BENIGN 36
#define N_KEYWORDS 4

G_STATIC_ASSERT (G_N_ELEMENTS (vocabulary) == 40);

static double
uniform (PlRng *rng, double lo, double hi)
{
  return lo + (hi - lo) * pl_rng_uniform (rng);
}

/* pixels [S, S] in [0, 1] of one scan of class @label */
static void
draw_image (PlRng *rng, int label, int size, double noise, float *pixels)
{
  double s_px = size;
  double level = uniform (rng, 0.12, 0.25);
  double wave_a[3], wave_fx[3], wave_fy[3], wave_ph[3];
  for (int k = 0; k < 3; k++)
    {
      wave_a[k] = uniform (rng, 0.02, 0.05);
      wave_fx[k] = uniform (rng, -2.5, 2.5) * 2.0 * G_PI / s_px;
      wave_fy[k] = uniform (rng, -2.5, 2.5) * 2.0 * G_PI / s_px;
      wave_ph[k] = uniform (rng, 0.0, 2.0 * G_PI);
    }
  double cx = uniform (rng, 0.35, 0.65) * s_px, cy = uniform (rng, 0.35, 0.65) * s_px;
  double r0 = uniform (rng, 0.16, 0.24) * s_px;
  double contrast = uniform (rng, 0.35, 0.7);
  double score = label ? uniform (rng, 0.3, 1.0) : uniform (rng, 0.0, 0.45);
  double aspect = 1.0 + 1.5 * score, sa = sqrt (aspect);
  double spike = 0.6 * score;
  int k_spikes = 5 + (int) pl_rng_below (rng, 3);
  double theta = uniform (rng, 0.0, G_PI), phase = uniform (rng, 0.0, 2.0 * G_PI);
  double ct = cos (theta), st = sin (theta);
  for (int y = 0; y < size; y++)
    for (int x = 0; x < size; x++)
      {
        double px = x + 0.5, py = y + 0.5;
        double v = level;
        for (int k = 0; k < 3; k++)
          v += wave_a[k] * sin (wave_fx[k] * px + wave_fy[k] * py + wave_ph[k]);
        double dx = px - cx, dy = py - cy;
        double u = dx * ct + dy * st, w = -dx * st + dy * ct;
        double rho = hypot (u / (r0 * sa), w * sa / r0);
        double border = 1.0 + spike * cos (k_spikes * atan2 (w, u) + phase);
        /* a soft edge about half a pixel wide */
        v += contrast / (1.0 + exp (-(border - rho) / (0.15)));
        v += noise * pl_rng_normal (rng);
        pixels[y * size + x] = (float) CLAMP (v, 0.0, 1.0);
      }
}

/* ids [L] of one report of class @label */
static void
draw_report (PlRng *rng, int label, int length, double noise, float *ids)
{
  int lo = (int) ceil (0.6 * length);
  int n_words = lo + (int) pl_rng_below (rng, (uint64_t) (length - lo + 1));
  int n_kw = MIN (1 + (int) pl_rng_below (rng, 3), n_words);
  for (int i = 0; i < length; i++)
    ids[i] = i < n_words ? (float) (FIRST_NEUTRAL + pl_rng_below (rng, N_NEUTRAL))
                         : (float) PL_PAIRED_PAD_ID;
  /* keywords at n_kw distinct places among the words (partial Fisher-Yates) */
  int pos[64];
  for (int i = 0; i < n_words; i++)
    pos[i] = i;
  for (int k = 0; k < n_kw; k++)
    {
      int j = k + (int) pl_rng_below (rng, (uint64_t) (n_words - k));
      int t = pos[k];
      pos[k] = pos[j];
      pos[j] = t;
      gboolean flip = pl_rng_uniform (rng) < noise;
      gboolean malignant = (label == 1) != flip;
      int first = malignant ? FIRST_KEYWORD_MALIGNANT : FIRST_KEYWORD_BENIGN;
      ids[pos[k]] = (float) (first + pl_rng_below (rng, N_KEYWORDS));
    }
}

static PlDataset *
generate (PlpSyntheticScanReport *self, guint64 seed, const char *split, int n)
{
  PlPairedLayout lay = { self->image_size, self->image_size, self->report_length,
                         VOCAB_SIZE };
  int hw = self->image_size * self->image_size;
  PlDataset *ds = pl_dataset_new ((gsize) n, (gsize) pl_paired_layout_n_features (&lay), 2);
  ds->name = g_strdup ("synthetic-scan-report");
  const char *classes[] = { "benign", "malignant", NULL };
  ds->class_names = g_strdupv ((char **) classes);
  pl_paired_layout_describe (&lay, ds);

  g_autofree char *stream = g_strdup_printf ("synthetic-scan-report/%s", split);
  PlRng rng;
  pl_rng_init_stream (&rng, seed, stream);
  int n_pos = (int) lround (self->positive_rate * n);
  n_pos = CLAMP (n_pos, 1, n - 1);
  g_autofree uint32_t *order = g_new (uint32_t, n);
  for (int i = 0; i < n; i++)
    order[i] = (uint32_t) i;
  pl_rng_shuffle_u32 (&rng, order, (gsize) n);
  for (int i = 0; i < n; i++)
    ds->y[order[i]] = i < n_pos ? 1 : 0;
  for (int i = 0; i < n; i++)
    {
      float *row = ds->x + (gsize) i * ds->n_features;
      draw_image (&rng, ds->y[i], self->image_size, self->image_noise, row);
      draw_report (&rng, ds->y[i], self->report_length, self->report_noise, row + hw);
    }
  return ds;
}

static gboolean
synthetic_load (PlDatasetSource *source, const PlExperiment *exp, PlDataset **train,
                PlDataset **val, GError **error)
{
  PlpSyntheticScanReport *self = PLP_SYNTHETIC_SCAN_REPORT (source);
  if (!pl_paired_layout_check_normalize (exp, "synthetic-scan-report", error))
    return FALSE;
  guint64 seed = self->data_seed >= 0 ? (guint64) self->data_seed : exp->experiment.seed;
  *train = generate (self, seed, "train", self->n_train);
  *val = generate (self, seed, "val", self->n_val);
  return TRUE;
}

static void
plp_synthetic_scan_report_iface_init (PlDatasetSourceInterface *iface)
{
  iface->load = synthetic_load;
}

static void
plp_synthetic_scan_report_get_property (GObject *object, guint id, GValue *value,
                                        GParamSpec *pspec)
{
  PlpSyntheticScanReport *self = PLP_SYNTHETIC_SCAN_REPORT (object);
  switch (id)
    {
    case PROP_IMAGE_SIZE: g_value_set_int (value, self->image_size); break;
    case PROP_REPORT_LENGTH: g_value_set_int (value, self->report_length); break;
    case PROP_N_TRAIN: g_value_set_int (value, self->n_train); break;
    case PROP_N_VAL: g_value_set_int (value, self->n_val); break;
    case PROP_POSITIVE_RATE: g_value_set_double (value, self->positive_rate); break;
    case PROP_IMAGE_NOISE: g_value_set_double (value, self->image_noise); break;
    case PROP_REPORT_NOISE: g_value_set_double (value, self->report_noise); break;
    case PROP_DATA_SEED: g_value_set_int64 (value, self->data_seed); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
plp_synthetic_scan_report_set_property (GObject *object, guint id, const GValue *value,
                                        GParamSpec *pspec)
{
  PlpSyntheticScanReport *self = PLP_SYNTHETIC_SCAN_REPORT (object);
  switch (id)
    {
    case PROP_IMAGE_SIZE: self->image_size = g_value_get_int (value); break;
    case PROP_REPORT_LENGTH: self->report_length = g_value_get_int (value); break;
    case PROP_N_TRAIN: self->n_train = g_value_get_int (value); break;
    case PROP_N_VAL: self->n_val = g_value_get_int (value); break;
    case PROP_POSITIVE_RATE: self->positive_rate = g_value_get_double (value); break;
    case PROP_IMAGE_NOISE: self->image_noise = g_value_get_double (value); break;
    case PROP_REPORT_NOISE: self->report_noise = g_value_get_double (value); break;
    case PROP_DATA_SEED: self->data_seed = g_value_get_int64 (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

#define PARAM_FLAGS (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS)

static void
plp_synthetic_scan_report_class_init (PlpSyntheticScanReportClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->get_property = plp_synthetic_scan_report_get_property;
  object_class->set_property = plp_synthetic_scan_report_set_property;
  g_object_class_install_property (object_class, PROP_IMAGE_SIZE,
    g_param_spec_int ("image-size", "Image size",
                      "Side of the square grayscale scans, in pixels", 8, 64, 16,
                      PARAM_FLAGS));
  g_object_class_install_property (object_class, PROP_REPORT_LENGTH,
    g_param_spec_int ("report-length", "Report length",
                      "Tokens per report (short reports are padded with id 0)", 4, 64, 12,
                      PARAM_FLAGS));
  g_object_class_install_property (object_class, PROP_N_TRAIN,
    g_param_spec_int ("n-train", "Training samples", "Samples in the training split",
                      2, 1000000, 4000, PARAM_FLAGS));
  g_object_class_install_property (object_class, PROP_N_VAL,
    g_param_spec_int ("n-val", "Validation samples", "Samples in the validation split",
                      2, 1000000, 1000, PARAM_FLAGS));
  g_object_class_install_property (object_class, PROP_POSITIVE_RATE,
    g_param_spec_double ("positive-rate", "Positive rate",
                         "Share of malignant (label 1) samples in each split", 0.01, 0.99,
                         0.3, PARAM_FLAGS));
  g_object_class_install_property (object_class, PROP_IMAGE_NOISE,
    g_param_spec_double ("image-noise", "Image noise",
                         "Standard deviation of the white pixel noise (the lesion's "
                         "contrast is 0.35 to 0.7)", 0.0, 1.0, 0.05, PARAM_FLAGS));
  g_object_class_install_property (object_class, PROP_REPORT_NOISE,
    g_param_spec_double ("report-noise", "Report noise",
                         "Probability that each keyword of a report comes from the other "
                         "class's keywords (0.5: the words carry no information)",
                         0.0, 0.5, 0.25, PARAM_FLAGS));
  g_object_class_install_property (object_class, PROP_DATA_SEED,
    g_param_spec_int64 ("data-seed", "Data seed",
                        "Seed of the generator; -1 takes the experiment's seed", -1,
                        G_MAXINT32, -1, PARAM_FLAGS));
}

static void
plp_synthetic_scan_report_class_finalize (PlpSyntheticScanReportClass *klass)
{
}

static void
plp_synthetic_scan_report_init (PlpSyntheticScanReport *self)
{
  self->image_size = 16;
  self->report_length = 12;
  self->n_train = 4000;
  self->n_val = 1000;
  self->positive_rate = 0.3;
  self->image_noise = 0.05;
  self->report_noise = 0.25;
  self->data_seed = -1;
}

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  plp_synthetic_scan_report_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, PL_TYPE_DATASET_SOURCE,
                                              PLP_TYPE_SYNTHETIC_SCAN_REPORT);
}
