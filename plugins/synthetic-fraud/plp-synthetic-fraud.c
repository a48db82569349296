/* synthetic-fraud: a documented SYNTHETIC card-transaction generator for the
 * article's few-shot fraud scenario (section 3.1). No real transactions are
 * involved; every number comes from the seeded simulation below.
 *
 * Two populations ("banks") are simulated from the run's seed + seed-offset: a
 * large source (n-source rows, used for pretraining) and a target (n-target rows)
 * that differs from it by `shift`. `split` picks the one this run trains on; its
 * rows are split at random into validation ([data] val-fraction, all labelled)
 * and training; on the target only label-fraction of the training rows keep their
 * label (the article's "1% of the labels"), and only those are returned for
 * training.
 *
 * Cards. Each card has a home country (0 for 85% of cards), a typical log amount
 * mu_c ~ N(3.3 + 0.5 shift, 0.6) with spread U(0.3, 0.7), a daily rate
 * exp(N(log 1.2 + 0.4 shift, 0.5)), an active hour ~ N(14 + 2 shift, 2.5), three
 * usual merchant categories of 16, and a travel propensity. Over 30 days it makes
 * ordinary transactions (a usual category with probability 0.9 - 0.1 shift, its own
 * amounts and hours; 5% start a short legitimate burst), and a card may have one
 * anomalous episode (probability 0.3 (1 + 0.5 shift)) of 1-5 transactions minutes
 * apart with large amounts, random (often high-risk) categories, random hours and
 * often a foreign country.
 *
 * Features, from the card's own history before each transaction (13, fixed
 * scaling, the same for both populations, so use [data] normalize = none to keep
 * a pretrained base's input coordinates):
 *   0 log_amount       log1p(amount) - 3.5
 *   1 amount_z         (log amount - the card's mean) / its std (2 prior pseudo-
 *                      observations at the population mean), clipped to [-5, 10]
 *   2 log_gap_hours    (log1p(hours since the card's last transaction) - 2.5) / 1.5
 *   3 merchant_new     1 if the category was never used by the card before
 *   4 country_change   1 if the country differs from the last transaction's
 *   5 foreign          1 if the country is not the card's home
 *   6 tx_last_hour     log1p(transactions of the card in the previous hour)
 *   7 tx_last_day      log1p(transactions in the previous 24 hours)
 *   8 hour_sin         sin(2 pi hour / 24)
 *   9 hour_cos         cos(2 pi hour / 24)
 *  10 log_history      log1p(earlier transactions of the card) / 3
 *  11 amount_over_max  log(amount / the card's largest earlier amount), in [-5, 5]
 *  12 merchant_risk    the category's risk score in [0, 1]
 *
 * Fraud. A score of the features with interactions,
 *   r = 1.0 max(0, amount_z - 1) + 1.6 merchant_new [1h count >= 1]
 *     + 1.8 (1 - 0.7 shift_t) country_change night + 2.0 foreign merchant_risk
 *     + 0.9 (1 + 0.8 shift_t) log1p(1h count) + 0.8 merchant_new [amount_over_max > 0]
 *     - 0.35 log1p(history) + 1.5 shift_t night merchant_risk
 * (night: hour < 6; shift_t = shift on the target, 0 on the source), plus
 * unobserved noise: P(fraud) = sigmoid(signal r + noise N(0, 1) + b), with b set by
 * bisection so that the mean probability is fraud-rate. The best possible ranking
 * from the features is by r; the run reports what it reaches on the validation
 * rows (data/oracle_pr_auc, data/oracle_recall_at_pNN, data/oracle_precision_at_rNN),
 * the ceiling for any model.
 *
 * As a PlRunAddin it also logs, after every evaluation, val/recall_at_pNN: the best
 * recall on the validation split among thresholds with precision >= `precision`,
 * and val/precision_at_rNN: the best precision among thresholds with recall >=
 * `recall` (both thresholds are chosen on the validation split itself, so slightly
 * optimistic), and at run start the same for the oracle score. */
#include <libpeas/peas.h>
#include <math.h>
#include <string.h>

#include "paramlab.h"

#define N_FEATURES 13
#define N_CATEGORIES 16
#define N_COUNTRIES 10
#define WINDOW_DAYS 30.0

typedef enum {
  PLP_SYNTHETIC_FRAUD_SOURCE,
  PLP_SYNTHETIC_FRAUD_TARGET,
} PlpSyntheticFraudSplit;

static const GEnumValue split_values[] = {
  { PLP_SYNTHETIC_FRAUD_SOURCE, "PLP_SYNTHETIC_FRAUD_SOURCE", "source" },
  { PLP_SYNTHETIC_FRAUD_TARGET, "PLP_SYNTHETIC_FRAUD_TARGET", "target" },
  { 0, NULL, NULL },
};

static GType split_type;

static const char *const feature_names[] = {
  "log_amount", "amount_z", "log_gap_hours", "merchant_new", "country_change", "foreign",
  "tx_last_hour", "tx_last_day", "hour_sin", "hour_cos", "log_history", "amount_over_max",
  "merchant_risk", NULL,
};

static const char *const class_names[] = { "legit", "fraud", NULL };

/* risk score of each merchant category; the last four are the high-risk ones */
static const float category_risk[N_CATEGORIES] = {
  0.05f, 0.05f, 0.1f, 0.1f, 0.15f, 0.15f, 0.2f, 0.2f,
  0.3f, 0.3f, 0.4f, 0.5f, 0.8f, 0.9f, 0.95f, 1.0f,
};

#define PLP_TYPE_SYNTHETIC_FRAUD (plp_synthetic_fraud_get_type ())
G_DECLARE_FINAL_TYPE (PlpSyntheticFraud, plp_synthetic_fraud, PLP, SYNTHETIC_FRAUD, GObject)

struct _PlpSyntheticFraud {
  GObject parent_instance;
  double fraud_rate;
  int seed_offset;
  int n_source;
  int n_target;
  double label_fraction;
  PlpSyntheticFraudSplit split;
  double shift;
  double signal;
  double noise;
  double precision;
  double recall;

  /* from the last load, for the run's reports */
  float *val_oracle;         /* [n_val] oracle score of each validation row */
  gsize n_val;
  gsize train_rows, train_frauds, val_frauds;
  /* allocated at run start, used every epoch */
  float *scores;             /* [n_val] */
  uint32_t *scratch;         /* [n_val] */
  char *recall_key;          /* "val/recall_at_p90" */
  char *oracle_recall_key;   /* "data/oracle_recall_at_p90" */
  char *precision_key;       /* "val/precision_at_r95" */
  char *oracle_precision_key;
};

enum {
  PROP_0,
  PROP_FRAUD_RATE,
  PROP_SEED_OFFSET,
  PROP_N_SOURCE,
  PROP_N_TARGET,
  PROP_LABEL_FRACTION,
  PROP_SPLIT,
  PROP_SHIFT,
  PROP_SIGNAL,
  PROP_NOISE,
  PROP_PRECISION,
  PROP_RECALL,
  N_PROPS
};

#define PARAM_FLAGS (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS)

static void plp_synthetic_fraud_source_init (PlDatasetSourceInterface *iface);
static void plp_synthetic_fraud_addin_init (PlRunAddinInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (PlpSyntheticFraud, plp_synthetic_fraud, G_TYPE_OBJECT,
                                G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (PL_TYPE_DATASET_SOURCE,
                                                               plp_synthetic_fraud_source_init)
                                G_IMPLEMENT_INTERFACE_DYNAMIC (PL_TYPE_RUN_ADDIN,
                                                               plp_synthetic_fraud_addin_init))

/* ---- the simulation -------------------------------------------------------- */

/* What differs between the source and the target population. */
typedef struct {
  double amount_mu;       /* mean of the cards' typical log amount */
  double rate_mu;         /* mean log transactions per day */
  double hour_mu;         /* mean active hour */
  double abroad;          /* median probability of a foreign transaction */
  double other_category;  /* probability of a category outside the usual three */
  double episode_p;       /* probability that a card has an anomalous episode */
  double shift;           /* shift_t of the fraud score */
} Population;

static Population
population (double shift)
{
  Population p;
  p.amount_mu = 3.3 + 0.5 * shift;
  p.rate_mu = log (1.2) + 0.4 * shift;
  p.hour_mu = 14.0 + 2.0 * shift;
  p.abroad = 0.03 * (1.0 + shift);
  p.other_category = 0.1 + 0.1 * shift;
  p.episode_p = MIN (0.3 * (1.0 + 0.5 * shift), 1.0);
  p.shift = shift;
  return p;
}

typedef struct {
  double t;          /* days */
  float amount;
  int category;
  int country;
} Event;

static int
event_cmp (gconstpointer a, gconstpointer b)
{
  double ta = ((const Event *) a)->t, tb = ((const Event *) b)->t;
  return ta < tb ? -1 : ta > tb;
}

static double
exponential (PlRng *rng, double mean)
{
  return -mean * log (1.0 - pl_rng_uniform (rng));
}

static int
other_country (PlRng *rng, int home)
{
  int c = 1 + (int) pl_rng_below (rng, N_COUNTRIES - 1);
  return c == home ? 0 : c;
}

/* The transactions of one card over the window, in time order, into @events. */
static void
simulate_card (PlRng *rng, const Population *pop, GArray *events, int *home_out)
{
  g_array_set_size (events, 0);
  int home = pl_rng_uniform (rng) < 0.85 ? 0 : 1 + (int) pl_rng_below (rng, N_COUNTRIES - 1);
  double mu = pop->amount_mu + 0.6 * pl_rng_normal (rng);
  double sd = 0.3 + 0.4 * pl_rng_uniform (rng);
  double rate = exp (pop->rate_mu + 0.5 * pl_rng_normal (rng));
  double hour_c = pop->hour_mu + 2.5 * pl_rng_normal (rng);
  double abroad = MIN (pop->abroad * exp (0.8 * pl_rng_normal (rng)), 0.5);
  int usual[3];
  for (int k = 0; k < 3; k++)
    {
      gboolean dup;
      do
        {
          usual[k] = (int) pl_rng_below (rng, N_CATEGORIES);
          dup = FALSE;
          for (int j = 0; j < k; j++)
            dup |= usual[j] == usual[k];
        }
      while (dup);
    }
  *home_out = home;

  for (double t = exponential (rng, 1.0 / rate); t < WINDOW_DAYS;
       t += exponential (rng, 1.0 / rate))
    {
      /* the time of day follows the card's habits */
      double hour = fmod (hour_c + 3.5 * pl_rng_normal (rng) + 48.0, 24.0);
      Event e;
      e.t = floor (t) + hour / 24.0;
      e.amount = (float) exp (mu + sd * pl_rng_normal (rng));
      double u = pl_rng_uniform (rng);
      e.category = pl_rng_uniform (rng) < pop->other_category
                     ? (int) pl_rng_below (rng, N_CATEGORIES)
                     : usual[u < 0.5 ? 0 : u < 0.8 ? 1 : 2];
      e.country = pl_rng_uniform (rng) < abroad ? other_country (rng, home) : home;
      g_array_append_val (events, e);
      if (pl_rng_uniform (rng) < 0.05)
        {
          /* a legitimate burst: 1-2 more purchases within the hour, same place */
          int extra = 1 + (int) pl_rng_below (rng, 2);
          for (int k = 0; k < extra; k++)
            {
              Event b = e;
              b.t = e.t + (5.0 + 55.0 * pl_rng_uniform (rng)) / 1440.0;
              b.amount = (float) exp (mu + sd * pl_rng_normal (rng));
              g_array_append_val (events, b);
            }
        }
    }

  if (pl_rng_uniform (rng) < pop->episode_p)
    {
      /* an anomalous episode: large amounts, unusual places, minutes apart */
      int len = 1 + (int) pl_rng_below (rng, 5);
      double t = floor (WINDOW_DAYS * pl_rng_uniform (rng)) + pl_rng_uniform (rng);
      int country = pl_rng_uniform (rng) < 0.5 ? other_country (rng, home) : home;
      for (int k = 0; k < len; k++)
        {
          Event e;
          e.t = t;
          e.amount = (float) exp (mu + 1.5 + 0.8 * pl_rng_normal (rng));
          e.category = pl_rng_uniform (rng) < 0.5 ? 12 + (int) pl_rng_below (rng, 4)
                                                  : (int) pl_rng_below (rng, N_CATEGORIES);
          e.country = country;
          g_array_append_val (events, e);
          t += exponential (rng, 20.0 / 1440.0);
        }
    }
  g_array_sort (events, event_cmp);
}

/* The fraud score r of one row (see the header), from its unscaled values. */
typedef struct {
  double amount_z, merchant_new, country_change, foreign, n_hour, amount_over_max,
         history, merchant_risk, hour;
} Raw;

static double
fraud_score (const Raw *r, double shift)
{
  double night = r->hour < 6.0;
  return 1.0 * MAX (0.0, r->amount_z - 1.0)
         + 1.6 * r->merchant_new * (r->n_hour >= 1)
         + 1.8 * (1.0 - 0.7 * shift) * r->country_change * night
         + 2.0 * r->foreign * r->merchant_risk
         + 0.9 * (1.0 + 0.8 * shift) * log1p (r->n_hour)
         + 0.8 * r->merchant_new * (r->amount_over_max > 0)
         - 0.35 * log1p (r->history)
         + 1.5 * shift * night * r->merchant_risk;
}

static double
sigmoid (double z)
{
  return 1.0 / (1.0 + exp (-z));
}

/* A whole population of @n rows: features, labels, and the oracle score of each
 * row in @oracle [n]. Deterministic in (@seed, @stream). */
static PlDataset *
generate (guint64 seed, const char *stream, gsize n, double shift, double fraud_rate,
          double signal, double noise, float *oracle)
{
  Population pop = population (shift);
  PlRng rng, lrng;
  pl_rng_init_stream (&rng, seed, stream);
  g_autofree char *lstream = g_strconcat (stream, "-labels", NULL);
  pl_rng_init_stream (&lrng, seed, lstream);

  PlDataset *ds = pl_dataset_new (n, N_FEATURES, 2);
  ds->feature_names = g_strdupv ((char **) feature_names);
  ds->class_names = g_strdupv ((char **) class_names);
  g_autofree double *score = g_new (double, n);
  g_autoptr (GArray) events = g_array_new (FALSE, FALSE, sizeof (Event));
  g_autoptr (GArray) times = g_array_new (FALSE, FALSE, sizeof (double));

  gsize row = 0;
  while (row < n)
    {
      int home;
      simulate_card (&rng, &pop, events, &home);
      /* running history of the card */
      double s1 = 0, s2 = 0, max_amount = 0;
      guint seen = 0;
      int last_country = -1;
      const double k0 = 2.0, mu0 = pop.amount_mu, var0 = 0.25;
      g_array_set_size (times, 0);
      for (guint i = 0; i < events->len && row < n; i++, row++)
        {
          const Event *e = &g_array_index (events, Event, i);
          double la = log (e->amount);
          int hist = (int) i;
          /* mean and variance with k0 pseudo-observations at (mu0, var0) */
          double m = (s1 + k0 * mu0) / (hist + k0);
          double ex2 = (s2 + k0 * (mu0 * mu0 + var0)) / (hist + k0);
          double sd = sqrt (MAX (ex2 - m * m, 1e-4));
          double gap_h = hist ? 24.0 * (e->t - g_array_index (times, double, hist - 1)) : 168.0;
          int n_hour = 0, n_day = 0;
          for (int j = hist - 1; j >= 0; j--)
            {
              double dt = e->t - g_array_index (times, double, j);
              if (dt > 1.0)
                break;
              n_day++;
              n_hour += dt <= 1.0 / 24.0;
            }
          double hour = fmod (e->t, 1.0) * 24.0;
          Raw r = {
            .amount_z = CLAMP ((la - m) / sd, -5.0, 10.0),
            .merchant_new = !(seen & (1u << e->category)),
            .country_change = last_country >= 0 && e->country != last_country,
            .foreign = e->country != home,
            .n_hour = n_hour,
            .amount_over_max = hist ? CLAMP (la - log (max_amount), -5.0, 5.0) : 0.0,
            .history = hist,
            .merchant_risk = category_risk[e->category],
            .hour = hour,
          };
          float *x = ds->x + row * N_FEATURES;
          x[0] = (float) (log1p (e->amount) - 3.5);
          x[1] = (float) r.amount_z;
          x[2] = (float) ((log1p (gap_h) - 2.5) / 1.5);
          x[3] = (float) r.merchant_new;
          x[4] = (float) r.country_change;
          x[5] = (float) r.foreign;
          x[6] = (float) log1p (n_hour);
          x[7] = (float) log1p (n_day);
          x[8] = (float) sin (2.0 * G_PI * hour / 24.0);
          x[9] = (float) cos (2.0 * G_PI * hour / 24.0);
          x[10] = (float) (log1p (hist) / 3.0);
          x[11] = (float) r.amount_over_max;
          x[12] = (float) r.merchant_risk;
          score[row] = fraud_score (&r, shift);

          s1 += la;
          s2 += la * la;
          max_amount = MAX (max_amount, e->amount);
          seen |= 1u << e->category;
          last_country = e->country;
          g_array_append_val (times, e->t);
        }
    }

  /* unobserved noise, then the offset b that makes the mean probability
   * fraud_rate: mean_i sigmoid (r_i + noise_i + b) is increasing in b */
  g_autofree double *z = g_new (double, n);
  for (gsize i = 0; i < n; i++)
    z[i] = signal * score[i] + noise * pl_rng_normal (&lrng);
  double lo = -40.0, hi = 20.0;
  for (int it = 0; it < 80; it++)
    {
      double b = 0.5 * (lo + hi), mean = 0;
      for (gsize i = 0; i < n; i++)
        mean += sigmoid (z[i] + b);
      if (mean / (double) n < fraud_rate)
        lo = b;
      else
        hi = b;
    }
  double b = 0.5 * (lo + hi);
  for (gsize i = 0; i < n; i++)
    {
      ds->y[i] = pl_rng_uniform (&lrng) < sigmoid (z[i] + b);
      oracle[i] = (float) sigmoid (signal * score[i] + b);
    }
  return ds;
}

static int
u32_cmp (gconstpointer a, gconstpointer b)
{
  uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
  return x < y ? -1 : x > y;
}

static void
state_clear (PlpSyntheticFraud *self)
{
  g_clear_pointer (&self->val_oracle, g_free);
  g_clear_pointer (&self->scores, g_free);
  g_clear_pointer (&self->scratch, g_free);
  g_clear_pointer (&self->recall_key, g_free);
  g_clear_pointer (&self->oracle_recall_key, g_free);
  g_clear_pointer (&self->precision_key, g_free);
  g_clear_pointer (&self->oracle_precision_key, g_free);
  self->n_val = self->train_rows = self->train_frauds = self->val_frauds = 0;
}

static gsize
count_frauds (const PlDataset *ds)
{
  gsize n = 0;
  for (gsize i = 0; i < ds->n; i++)
    n += ds->y[i] == 1;
  return n;
}

/* ---- PlDatasetSource ------------------------------------------------------- */

/* Generates the population `split` names from the run's seed + seed-offset and
 * returns its validation part ([data] val-fraction of the rows) and its training
 * part (on the target, only label-fraction of the remaining rows); keeps the
 * validation rows' oracle scores for the run's reports. PL_ERROR_CONFIG, naming the
 * options, when a part would be empty. */
static gboolean
synthetic_fraud_load (PlDatasetSource *source, const PlExperiment *exp, PlDataset **train,
                      PlDataset **val, GError **error)
{
  PlpSyntheticFraud *self = PLP_SYNTHETIC_FRAUD (source);
  gboolean target = self->split == PLP_SYNTHETIC_FRAUD_TARGET;
  const char *which = target ? "target" : "source";
  gsize n = (gsize) (target ? self->n_target : self->n_source);
  double vf = exp->data.val_fraction;
  gsize n_val = (gsize) llround (vf * (double) n);
  gsize pool = n - MIN (n_val, n);
  if (n_val == 0 || pool == 0)
    {
      g_autofree char *key = g_strconcat ("n-", which, NULL);
      g_autofree char *where = pl_experiment_get_location (exp, "dataset", key);
      g_set_error (error, PL_ERROR, PL_ERROR_CONFIG,
                   "%s: [dataset] plugin=synthetic-fraud: n-%s = %zu rows with [data] "
                   "val-fraction = %g leaves an empty %s split; raise n-%s", where,
                   which, (size_t) n, vf, n_val == 0 ? "validation" : "training", which);
      return FALSE;
    }
  gsize n_train = target ? (gsize) llround (self->label_fraction * (double) pool) : pool;
  if (n_train == 0)
    {
      g_autofree char *where = pl_experiment_get_location (exp, "dataset", "label-fraction");
      g_set_error (error, PL_ERROR, PL_ERROR_CONFIG,
                   "%s: [dataset] plugin=synthetic-fraud: label-fraction = %g of the "
                   "target's %zu training rows keeps no labelled row; raise label-fraction "
                   "or n-target", where, self->label_fraction, (size_t) pool);
      return FALSE;
    }

  state_clear (self);
  guint64 seed = exp->experiment.seed + (guint64) self->seed_offset;
  g_autofree float *oracle = g_new (float, n);
  g_autoptr (PlDataset) all = generate (seed, target ? "fraud-target" : "fraud-source", n,
                                        target ? self->shift : 0.0, self->fraud_rate,
                                        self->signal, self->noise, oracle);
  /* a random validation part, then (on the target) the labelled part of the rest;
   * both keep the generation order */
  g_autofree uint32_t *idx = g_new (uint32_t, n);
  for (gsize i = 0; i < n; i++)
    idx[i] = (uint32_t) i;
  PlRng rng;
  g_autofree char *stream = g_strconcat ("fraud-split-", which, NULL);
  pl_rng_init_stream (&rng, seed, stream);
  pl_rng_shuffle_u32 (&rng, idx, n);
  qsort (idx, n_val, sizeof (uint32_t), u32_cmp);
  qsort (idx + n_val, n_train, sizeof (uint32_t), u32_cmp);

  *val = pl_dataset_subset (all, idx, n_val);
  *train = pl_dataset_subset (all, idx + n_val, n_train);
  g_free ((*val)->name);
  g_free ((*train)->name);
  (*val)->name = g_strdup_printf ("synthetic-fraud %s (validation)", which);
  (*train)->name = target ? g_strdup_printf ("synthetic-fraud target (%g of the labels)",
                                             self->label_fraction)
                          : g_strdup ("synthetic-fraud source (training)");

  self->n_val = n_val;
  self->val_oracle = g_new (float, n_val);
  for (gsize i = 0; i < n_val; i++)
    self->val_oracle[i] = oracle[idx[i]];
  self->train_rows = n_train;
  self->train_frauds = count_frauds (*train);
  self->val_frauds = count_frauds (*val);
  return TRUE;
}

static void
plp_synthetic_fraud_source_init (PlDatasetSourceInterface *iface)
{
  iface->load = synthetic_fraud_load;
}

/* ---- PlRunAddin ------------------------------------------------------------ */

static int
score_desc (gconstpointer a, gconstpointer b, gpointer user_data)
{
  const float *s = user_data;
  float x = s[*(const uint32_t *) a], y = s[*(const uint32_t *) b];
  return x > y ? -1 : x < y;
}

/* The best precision tp / (tp + fp) among thresholds (ties of scores form one)
 * whose recall tp / positives is at least @min_recall; 0 without positives.
 * @order [n] is scratch. The mirror of pl_metrics_recall_at_precision(). */
static double
precision_at_recall (const float *scores, const int32_t *labels, gsize n, uint32_t *order,
                     double min_recall)
{
  gsize pos = 0;
  for (gsize i = 0; i < n; i++)
    {
      pos += labels[i] == 1;
      order[i] = (uint32_t) i;
    }
  if (!pos)
    return 0.0;
  g_qsort_with_data (order, (gint) n, sizeof (uint32_t), score_desc, (gpointer) scores);
  double best = 0;
  gsize tp = 0, fp = 0;
  for (gsize i = 0; i < n;)
    {
      float s = scores[order[i]];
      for (; i < n && scores[order[i]] == s; i++)
        {
          if (labels[order[i]] == 1)
            tp++;
          else
            fp++;
        }
      if ((double) tp / (double) pos >= min_recall)
        best = MAX (best, (double) tp / (double) (tp + fp));
    }
  return best;
}

/* Allocates the buffers of the per-epoch report and logs the training split's size
 * and frauds and the oracle's ceiling on the validation split. */
static gboolean
synthetic_fraud_run_start (PlRunAddin *addin, PlRun *run, GError **error)
{
  PlpSyntheticFraud *self = PLP_SYNTHETIC_FRAUD (addin);
  const PlDataset *val = pl_run_get_data (run)->val;
  if (!self->val_oracle || val->n != self->n_val)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_DATA,
                   "[dataset] plugin=synthetic-fraud: the run's validation split (%zu "
                   "rows) is not the one this plugin made (%zu rows)", (size_t) val->n,
                   (size_t) self->n_val);
      return FALSE;
    }
  g_clear_pointer (&self->scores, g_free);
  g_clear_pointer (&self->scratch, g_free);
  g_clear_pointer (&self->recall_key, g_free);
  g_clear_pointer (&self->oracle_recall_key, g_free);
  g_clear_pointer (&self->precision_key, g_free);
  g_clear_pointer (&self->oracle_precision_key, g_free);
  self->scores = g_new (float, self->n_val);
  self->scratch = g_new (uint32_t, self->n_val);
  char pct[G_ASCII_DTOSTR_BUF_SIZE];
  g_ascii_formatd (pct, sizeof pct, "%g", 100.0 * self->precision);
  self->recall_key = g_strconcat ("val/recall_at_p", pct, NULL);
  self->oracle_recall_key = g_strconcat ("data/oracle_recall_at_p", pct, NULL);
  g_ascii_formatd (pct, sizeof pct, "%g", 100.0 * self->recall);
  self->precision_key = g_strconcat ("val/precision_at_r", pct, NULL);
  self->oracle_precision_key = g_strconcat ("data/oracle_precision_at_r", pct, NULL);

  PlBinaryMetrics bm;
  pl_metrics_binary (self->val_oracle, val->y, val->n, self->scratch, &bm);
  pl_run_log_metric (run, "data/train_rows", (double) self->train_rows);
  pl_run_log_metric (run, "data/train_frauds", (double) self->train_frauds);
  pl_run_log_metric (run, "data/val_frauds", (double) self->val_frauds);
  if (!isnan (bm.pr_auc))
    pl_run_log_metric (run, "data/oracle_pr_auc", bm.pr_auc);
  pl_run_log_metric (run, self->oracle_recall_key,
                     pl_metrics_recall_at_precision (self->val_oracle, val->y, val->n,
                                                     self->scratch, self->precision));
  pl_run_log_metric (run, self->oracle_precision_key,
                     precision_at_recall (self->val_oracle, val->y, val->n, self->scratch,
                                          self->recall));
  return TRUE;
}

/* val/recall_at_pNN of the model after each evaluation */
static gboolean
synthetic_fraud_epoch_end (PlRunAddin *addin, PlRun *run, int epoch, GError **error)
{
  PlpSyntheticFraud *self = PLP_SYNTHETIC_FRAUD (addin);
  const PlDataset *val = pl_run_get_data (run)->val;
  if (!pl_model_predict_scores (pl_run_get_model (run), val, 1, self->scores, error))
    return FALSE;
  pl_run_log_metric (run, self->recall_key,
                     pl_metrics_recall_at_precision (self->scores, val->y, val->n,
                                                     self->scratch, self->precision));
  pl_run_log_metric (run, self->precision_key,
                     precision_at_recall (self->scores, val->y, val->n, self->scratch,
                                          self->recall));
  return TRUE;
}

static void
plp_synthetic_fraud_addin_init (PlRunAddinInterface *iface)
{
  iface->run_start = synthetic_fraud_run_start;
  iface->epoch_end = synthetic_fraud_epoch_end;
}

/* ---- GObject --------------------------------------------------------------- */

static void
plp_synthetic_fraud_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  PlpSyntheticFraud *self = PLP_SYNTHETIC_FRAUD (object);
  switch (id)
    {
    case PROP_FRAUD_RATE: g_value_set_double (value, self->fraud_rate); break;
    case PROP_SEED_OFFSET: g_value_set_int (value, self->seed_offset); break;
    case PROP_N_SOURCE: g_value_set_int (value, self->n_source); break;
    case PROP_N_TARGET: g_value_set_int (value, self->n_target); break;
    case PROP_LABEL_FRACTION: g_value_set_double (value, self->label_fraction); break;
    case PROP_SPLIT: g_value_set_enum (value, self->split); break;
    case PROP_SHIFT: g_value_set_double (value, self->shift); break;
    case PROP_SIGNAL: g_value_set_double (value, self->signal); break;
    case PROP_NOISE: g_value_set_double (value, self->noise); break;
    case PROP_PRECISION: g_value_set_double (value, self->precision); break;
    case PROP_RECALL: g_value_set_double (value, self->recall); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
plp_synthetic_fraud_set_property (GObject *object, guint id, const GValue *value,
                                  GParamSpec *pspec)
{
  PlpSyntheticFraud *self = PLP_SYNTHETIC_FRAUD (object);
  switch (id)
    {
    case PROP_FRAUD_RATE: self->fraud_rate = g_value_get_double (value); break;
    case PROP_SEED_OFFSET: self->seed_offset = g_value_get_int (value); break;
    case PROP_N_SOURCE: self->n_source = g_value_get_int (value); break;
    case PROP_N_TARGET: self->n_target = g_value_get_int (value); break;
    case PROP_LABEL_FRACTION: self->label_fraction = g_value_get_double (value); break;
    case PROP_SPLIT: self->split = g_value_get_enum (value); break;
    case PROP_SHIFT: self->shift = g_value_get_double (value); break;
    case PROP_SIGNAL: self->signal = g_value_get_double (value); break;
    case PROP_NOISE: self->noise = g_value_get_double (value); break;
    case PROP_PRECISION: self->precision = g_value_get_double (value); break;
    case PROP_RECALL: self->recall = g_value_get_double (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
plp_synthetic_fraud_finalize (GObject *object)
{
  state_clear (PLP_SYNTHETIC_FRAUD (object));
  G_OBJECT_CLASS (plp_synthetic_fraud_parent_class)->finalize (object);
}

static void
plp_synthetic_fraud_class_init (PlpSyntheticFraudClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->get_property = plp_synthetic_fraud_get_property;
  object_class->set_property = plp_synthetic_fraud_set_property;
  object_class->finalize = plp_synthetic_fraud_finalize;
  g_object_class_install_property (object_class, PROP_FRAUD_RATE,
    g_param_spec_double ("fraud-rate", "Fraud rate",
                         "Expected share of fraudulent transactions in both populations",
                         1e-4, 0.5, 0.02, PARAM_FLAGS));
  g_object_class_install_property (object_class, PROP_SEED_OFFSET,
    g_param_spec_int ("seed-offset", "Seed offset",
                      "Added to [experiment] seed for the simulation (same seed and offset, "
                      "same transactions; the pretraining and the transfer run must agree)",
                      0, 1000000, 0, PARAM_FLAGS));
  g_object_class_install_property (object_class, PROP_N_SOURCE,
    g_param_spec_int ("n-source", "Source rows",
                      "Transactions of the source population (pretraining)", 100, 10000000,
                      20000, PARAM_FLAGS));
  g_object_class_install_property (object_class, PROP_N_TARGET,
    g_param_spec_int ("n-target", "Target rows",
                      "Transactions of the target population; with the default 1% of "
                      "labels and val-fraction 0.2, 50000 rows leave 400 labelled training "
                      "rows (about 8 frauds)", 100, 10000000, 50000, PARAM_FLAGS));
  g_object_class_install_property (object_class, PROP_LABEL_FRACTION,
    g_param_spec_double ("label-fraction", "Label fraction",
                         "Share of the target's training rows whose label is used (the "
                         "article's 1%); the others are left out of training", 1e-4, 1.0,
                         0.01, PARAM_FLAGS));
  g_object_class_install_property (object_class, PROP_SPLIT,
    g_param_spec_enum ("split", "Split",
                       "source: train and validate on the source population; target: on "
                       "the shifted target, with label-fraction of its training labels",
                       split_type, PLP_SYNTHETIC_FRAUD_SOURCE, PARAM_FLAGS));
  g_object_class_install_property (object_class, PROP_SHIFT,
    g_param_spec_double ("shift", "Shift",
                         "How much the target differs from the source: larger amounts, more "
                         "transactions and travel, later hours, and a fraud pattern that "
                         "leans more on velocity and night-time risky merchants (0: same "
                         "distribution)", 0.0, 1.0, 0.5, PARAM_FLAGS));
  g_object_class_install_property (object_class, PROP_SIGNAL,
    g_param_spec_double ("signal", "Signal",
                         "Multiplies the fraud score of the features in the fraud logit: "
                         "higher makes fraud easier to tell from the features (the best "
                         "possible recall is reported as data/oracle_recall_at_p90)",
                         0.0, 20.0, 3.0, PARAM_FLAGS));
  g_object_class_install_property (object_class, PROP_NOISE,
    g_param_spec_double ("noise", "Noise",
                         "Standard deviation of the unobserved part of the fraud logit: "
                         "higher makes fraud less predictable from the features", 0.0, 10.0,
                         1.0, PARAM_FLAGS));
  g_object_class_install_property (object_class, PROP_PRECISION,
    g_param_spec_double ("precision", "Precision",
                         "Precision at which recall is reported after each evaluation "
                         "(val/recall_at_p90 for 0.9)", 0.01, 1.0, 0.9, PARAM_FLAGS));
  g_object_class_install_property (object_class, PROP_RECALL,
    g_param_spec_double ("recall", "Recall",
                         "Recall at which the best precision is reported after each "
                         "evaluation (val/precision_at_r95 for 0.95, the article's recall)",
                         0.01, 1.0, 0.95, PARAM_FLAGS));
}

static void
plp_synthetic_fraud_class_finalize (PlpSyntheticFraudClass *klass)
{
}

static void
plp_synthetic_fraud_init (PlpSyntheticFraud *self)
{
  self->fraud_rate = 0.02;
  self->seed_offset = 0;
  self->n_source = 20000;
  self->n_target = 50000;
  self->label_fraction = 0.01;
  self->split = PLP_SYNTHETIC_FRAUD_SOURCE;
  self->shift = 0.5;
  self->signal = 3.0;
  self->noise = 1.0;
  self->precision = 0.9;
  self->recall = 0.95;
}

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  GTypeModule *tm = G_TYPE_MODULE (module);
  split_type = g_type_module_register_enum (tm, "PlpSyntheticFraudSplit", split_values);
  plp_synthetic_fraud_register_type (tm);
  peas_object_module_register_extension_type (module, PL_TYPE_DATASET_SOURCE,
                                              PLP_TYPE_SYNTHETIC_FRAUD);
}
