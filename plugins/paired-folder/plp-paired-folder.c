/* paired-folder: real paired scans and reports from a folder.
 *
 *   FOLDER/labels.csv         one "id,label" line per sample; an optional header
 *                             line "id,label"; labels are class ids 0, 1, ... or
 *                             names (classes in order of first appearance)
 *   FOLDER/images/<id>.png    8-bit grayscale, not interlaced (plp-image-decode.h)
 *         or images/<id>.pgm  P5 or P2; every image of the folder has one size
 *   FOLDER/reports/<id>.txt   UTF-8 text
 *
 * Ids are plain file names (no '/', not "." or ".."). The rows are split with
 * [data] val-fraction and the experiment's seed, stratified per class
 * (pl_dataset_split). Reports are lowercased and cut at whitespace; ASCII
 * punctuation around a word is dropped. The vocabulary comes from the training
 * split only: its words by descending count (ties in byte order), at most
 * vocab-size - 2 of them, take ids 2, 3, ...; 0 pads, 1 is any other word. Each
 * report keeps its first report-length words. The rows are packed as
 * pl-paired-layout.h says, so [data] normalize must be none. */
#include <libpeas/peas.h>
#include <string.h>

#include "paramlab.h"
#include "plp-image-decode.h"

#define PLP_TYPE_PAIRED_FOLDER (plp_paired_folder_get_type ())
G_DECLARE_FINAL_TYPE (PlpPairedFolder, plp_paired_folder, PLP, PAIRED_FOLDER, GObject)

struct _PlpPairedFolder {
  GObject parent_instance;
  char *folder;
  int report_length;
  int vocab_size;
};

enum { PROP_0, PROP_FOLDER, PROP_REPORT_LENGTH, PROP_VOCAB_SIZE, N_PROPS };

static void plp_paired_folder_iface_init (PlDatasetSourceInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (PlpPairedFolder, plp_paired_folder, G_TYPE_OBJECT,
                                G_TYPE_FLAG_FINAL,
                                G_IMPLEMENT_INTERFACE_DYNAMIC (PL_TYPE_DATASET_SOURCE,
                                                               plp_paired_folder_iface_init))

/* One sample as read, before the split. */
typedef struct {
  char *id;
  int line;          /* in labels.csv */
  int32_t label;
  float *pixels;     /* [H * W] */
  char **words;      /* NULL-terminated */
} Sample;

static void
sample_clear (gpointer data)
{
  Sample *s = data;
  g_free (s->id);
  g_free (s->pixels);
  g_strfreev (s->words);
}

static gboolean
is_int (const char *s, gint64 *out)
{
  char *end = NULL;
  if (!*s)
    return FALSE;
  gint64 v = g_ascii_strtoll (s, &end, 10);
  if (*end != '\0')
    return FALSE;
  *out = v;
  return TRUE;
}

/* Reads labels.csv into @samples (ids, lines, labels). @class_names gets the
 * label names when the labels are names. */
static gboolean
read_labels (const char *path, GArray *samples, GPtrArray *class_names, int *n_classes,
             GError **error)
{
  g_autofree char *text = NULL;
  g_autoptr (GError) io = NULL;
  if (!g_file_get_contents (path, &text, NULL, &io))
    {
      g_set_error (error, PL_ERROR, PL_ERROR_IO, "%s", io->message);
      return FALSE;
    }
  if (!g_utf8_validate (text, -1, NULL))
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FORMAT, "%s: not UTF-8 text", path);
      return FALSE;
    }
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GHashTable) names = g_hash_table_new (g_str_hash, g_str_equal);
  gboolean first = TRUE, by_name = FALSE, by_number = FALSE;
  int max_label = -1;
  for (int i = 0; lines[i]; i++)
    {
      int line = i + 1;
      g_strstrip (lines[i]);
      if (!*lines[i])
        continue;
      g_auto (GStrv) f = g_strsplit (lines[i], ",", -1);
      if (g_strv_length (f) != 2)
        {
          g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                       "%s:%d: expected two comma-separated fields \"id,label\", got %u",
                       path, line, g_strv_length (f));
          return FALSE;
        }
      const char *id = g_strstrip (f[0]);
      const char *label = g_strstrip (f[1]);
      if (first && g_ascii_strcasecmp (id, "id") == 0 && g_ascii_strcasecmp (label, "label") == 0)
        {
          first = FALSE;
          continue;
        }
      first = FALSE;
      if (!*id || strchr (id, '/') || strchr (id, '\\') || strcmp (id, ".") == 0
          || strcmp (id, "..") == 0)
        {
          g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                       "%s:%d: id \"%s\" must be a plain, non-empty file name (no '/', not "
                       "\".\" or \"..\")", path, line, id);
          return FALSE;
        }
      gpointer prev = g_hash_table_lookup (seen, id);
      if (prev)
        {
          g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                       "%s:%d: id \"%s\" is listed again (first at line %d)", path, line, id,
                       GPOINTER_TO_INT (prev));
          return FALSE;
        }
      gint64 v;
      Sample s = { g_strdup (id), line, 0, NULL, NULL };
      if (is_int (label, &v))
        {
          if (v < 0 || v > 1000)
            {
              g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                           "%s:%d: label %s: expected a class id in 0..1000 or a class name",
                           path, line, label);
              sample_clear (&s);
              return FALSE;
            }
          by_number = TRUE;
          s.label = (int32_t) v;
        }
      else if (*label)
        {
          by_name = TRUE;
          gpointer c;
          if (!g_hash_table_lookup_extended (names, label, NULL, &c))
            {
              c = GINT_TO_POINTER (class_names->len);
              g_ptr_array_add (class_names, g_strdup (label));
              g_hash_table_insert (names, g_ptr_array_index (class_names, class_names->len - 1),
                                   c);
            }
          s.label = GPOINTER_TO_INT (c);
        }
      else
        {
          g_set_error (error, PL_ERROR, PL_ERROR_FORMAT, "%s:%d: the label is empty", path,
                       line);
          sample_clear (&s);
          return FALSE;
        }
      if (by_name && by_number)
        {
          g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                       "%s:%d: label \"%s\" mixes class ids and class names; use one kind",
                       path, line, label);
          sample_clear (&s);
          return FALSE;
        }
      max_label = MAX (max_label, s.label);
      g_array_append_val (samples, s);
      g_hash_table_insert (seen, ((Sample *) (gpointer) samples->data)[samples->len - 1].id,
                           GINT_TO_POINTER (line));
    }
  if (samples->len == 0)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_DATA, "%s: lists no samples", path);
      return FALSE;
    }
  if (!by_name)
    g_ptr_array_set_size (class_names, 0);
  *n_classes = by_name ? (int) class_names->len : max_label + 1;
  return TRUE;
}

/* lowercased whitespace-separated words with surrounding ASCII punctuation dropped */
static char **
tokenize (const char *text)
{
  g_autofree char *lower = g_utf8_strdown (text, -1);
  g_autoptr (GStrvBuilder) b = g_strv_builder_new ();
  const char *p = lower;
  while (*p)
    {
      while (*p && g_ascii_isspace (*p))
        p++;
      const char *start = p;
      while (*p && !g_ascii_isspace (*p))
        p++;
      const char *end = p;
      while (start < end && g_ascii_ispunct (*start))
        start++;
      while (end > start && g_ascii_ispunct (end[-1]))
        end--;
      if (end > start)
        {
          g_autofree char *w = g_strndup (start, end - start);
          g_strv_builder_add (b, w);
        }
    }
  return g_strv_builder_end (b);
}

static gboolean
read_sample (const char *folder, const char *labels_path, Sample *s, int *width,
             int *height, char **first_image, GError **error)
{
  g_autofree char *png_name = g_strconcat (s->id, ".png", NULL);
  g_autofree char *pgm_name = g_strconcat (s->id, ".pgm", NULL);
  g_autofree char *png = g_build_filename (folder, "images", png_name, NULL);
  g_autofree char *pgm = g_build_filename (folder, "images", pgm_name, NULL);
  const char *image = g_file_test (png, G_FILE_TEST_EXISTS) ? png
                      : g_file_test (pgm, G_FILE_TEST_EXISTS) ? pgm : NULL;
  if (!image)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_NOT_FOUND,
                   "%s:%d: sample \"%s\" has no image: neither %s nor %s exists",
                   labels_path, s->line, s->id, png, pgm);
      return FALSE;
    }
  int w, h;
  if (!plp_image_load (image, &w, &h, &s->pixels, error))
    return FALSE;
  if (!*first_image)
    {
      *width = w;
      *height = h;
      *first_image = g_strdup (image);
    }
  else if (w != *width || h != *height)
    {
      g_set_error (error, PL_ERROR, PL_ERROR_DATA,
                   "%s is %dx%d, but %s (the first image) is %dx%d; every image of the "
                   "folder must have one size", image, w, h, *first_image, *width, *height);
      return FALSE;
    }

  g_autofree char *txt_name = g_strconcat (s->id, ".txt", NULL);
  g_autofree char *txt = g_build_filename (folder, "reports", txt_name, NULL);
  g_autofree char *text = NULL;
  g_autoptr (GError) io = NULL;
  if (!g_file_get_contents (txt, &text, NULL, &io))
    {
      g_set_error (error, PL_ERROR, g_error_matches (io, G_FILE_ERROR, G_FILE_ERROR_NOENT)
                                      ? PL_ERROR_NOT_FOUND : PL_ERROR_IO,
                   "%s:%d: sample \"%s\" has no readable report: %s", labels_path, s->line,
                   s->id, io->message);
      return FALSE;
    }
  const char *bad = NULL;
  if (!g_utf8_validate (text, -1, &bad))
    {
      g_set_error (error, PL_ERROR, PL_ERROR_FORMAT,
                   "%s: not UTF-8 text (invalid byte at offset %zu)", txt,
                   (size_t) (bad - text));
      return FALSE;
    }
  s->words = tokenize (text);
  return TRUE;
}

typedef struct {
  const char *word;
  guint count;
} WordCount;

static int
by_count (gconstpointer a, gconstpointer b)
{
  const WordCount *x = a, *y = b;
  if (x->count != y->count)
    return x->count > y->count ? -1 : 1;
  return strcmp (x->word, y->word);
}

/* word -> id for the training rows' words (the strings stay owned by @samples) */
static GHashTable *
build_vocabulary (const GArray *samples, const PlDataset *train_idx, int max_size,
                  int *size)
{
  g_autoptr (GHashTable) counts = g_hash_table_new (g_str_hash, g_str_equal);
  for (gsize r = 0; r < train_idx->n; r++)
    {
      const Sample *s = &g_array_index (samples, Sample, (guint) train_idx->x[r]);
      for (char **w = s->words; *w; w++)
        g_hash_table_insert (counts, *w,
                             GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (counts, *w)) + 1));
    }
  g_autoptr (GArray) list = g_array_new (FALSE, FALSE, sizeof (WordCount));
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, counts);
  while (g_hash_table_iter_next (&it, &k, &v))
    {
      WordCount wc = { k, GPOINTER_TO_UINT (v) };
      g_array_append_val (list, wc);
    }
  g_array_sort (list, by_count);
  guint keep = MIN (list->len, (guint) (max_size - 2));
  GHashTable *ids = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < keep; i++)
    g_hash_table_insert (ids, (gpointer) g_array_index (list, WordCount, i).word,
                         GINT_TO_POINTER ((int) i + 2));
  *size = (int) keep + 2;
  return ids;
}

static PlDataset *
pack (const GArray *samples, const PlDataset *idx, const PlPairedLayout *lay,
      GHashTable *vocab, const char *name, GPtrArray *class_names, int n_classes)
{
  int hw = lay->height * lay->width;
  PlDataset *ds = pl_dataset_new (idx->n, (gsize) pl_paired_layout_n_features (lay),
                                  n_classes);
  ds->name = g_strdup (name);
  if (class_names->len)
    {
      ds->class_names = g_new0 (char *, class_names->len + 1);
      for (guint c = 0; c < class_names->len; c++)
        ds->class_names[c] = g_strdup (g_ptr_array_index (class_names, c));
    }
  pl_paired_layout_describe (lay, ds);
  for (gsize r = 0; r < idx->n; r++)
    {
      const Sample *s = &g_array_index (samples, Sample, (guint) idx->x[r]);
      float *row = ds->x + r * ds->n_features;
      memcpy (row, s->pixels, sizeof (float) * hw);
      int t = 0;
      for (char **w = s->words; *w && t < lay->report_length; w++, t++)
        {
          gpointer id = g_hash_table_lookup (vocab, *w);
          row[hw + t] = id ? (float) GPOINTER_TO_INT (id) : (float) PL_PAIRED_UNK_ID;
        }
      for (; t < lay->report_length; t++)
        row[hw + t] = (float) PL_PAIRED_PAD_ID;
      ds->y[r] = s->label;
    }
  return ds;
}

static gboolean
folder_load (PlDatasetSource *source, const PlExperiment *exp, PlDataset **train,
             PlDataset **val, GError **error)
{
  PlpPairedFolder *self = PLP_PAIRED_FOLDER (source);
  if (!pl_paired_layout_check_normalize (exp, "paired-folder", error))
    return FALSE;
  if (!self->folder || !*self->folder)
    {
      g_autofree char *where = pl_experiment_get_location (exp, "dataset", "plugin");
      g_set_error (error, PL_ERROR, PL_ERROR_CONFIG,
                   "%s: [dataset] folder: paired-folder needs folder = PATH, a folder with "
                   "labels.csv, images/ and reports/", where);
      return FALSE;
    }
  g_autofree char *folder = g_path_is_absolute (self->folder)
                              ? g_strdup (self->folder)
                              : g_build_filename (exp->experiment.base_dir_path, self->folder,
                                                  NULL);
  if (!g_file_test (folder, G_FILE_TEST_IS_DIR))
    {
      g_autofree char *where = pl_experiment_get_location (exp, "dataset", "folder");
      g_set_error (error, PL_ERROR, PL_ERROR_NOT_FOUND,
                   "%s: [dataset] folder: %s is not a folder", where, folder);
      return FALSE;
    }
  g_autofree char *labels = g_build_filename (folder, "labels.csv", NULL);
  g_autoptr (GArray) samples = g_array_new (FALSE, TRUE, sizeof (Sample));
  g_array_set_clear_func (samples, sample_clear);
  g_autoptr (GPtrArray) class_names = g_ptr_array_new_with_free_func (g_free);
  int n_classes = 0;
  if (!read_labels (labels, samples, class_names, &n_classes, error))
    return FALSE;

  int width = 0, height = 0;
  g_autofree char *first_image = NULL;
  for (guint i = 0; i < samples->len; i++)
    if (!read_sample (folder, labels, &g_array_index (samples, Sample, i), &width, &height,
                      &first_image, error))
      return FALSE;

  /* split row numbers with core's stratified split */
  g_autoptr (PlDataset) all = pl_dataset_new (samples->len, 1, MAX (n_classes, 1));
  for (guint i = 0; i < samples->len; i++)
    {
      all->x[i] = (float) i;
      all->y[i] = g_array_index (samples, Sample, i).label;
    }
  g_autoptr (PlDataset) tr = NULL;
  g_autoptr (PlDataset) va = NULL;
  if (!pl_dataset_split (all, exp->data.val_fraction, exp->experiment.seed, &tr, &va, error))
    {
      g_prefix_error (error, "%s: ", labels);
      return FALSE;
    }
  int vocab_size;
  g_autoptr (GHashTable) vocab = build_vocabulary (samples, tr, self->vocab_size, &vocab_size);
  PlPairedLayout lay = { height, width, self->report_length, vocab_size };
  g_autofree char *name = g_path_get_basename (folder);
  *train = pack (samples, tr, &lay, vocab, name, class_names, n_classes);
  *val = pack (samples, va, &lay, vocab, name, class_names, n_classes);
  return TRUE;
}

static void
plp_paired_folder_iface_init (PlDatasetSourceInterface *iface)
{
  iface->load = folder_load;
}

static void
plp_paired_folder_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  PlpPairedFolder *self = PLP_PAIRED_FOLDER (object);
  switch (id)
    {
    case PROP_FOLDER: g_value_set_string (value, self->folder); break;
    case PROP_REPORT_LENGTH: g_value_set_int (value, self->report_length); break;
    case PROP_VOCAB_SIZE: g_value_set_int (value, self->vocab_size); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
plp_paired_folder_set_property (GObject *object, guint id, const GValue *value,
                                GParamSpec *pspec)
{
  PlpPairedFolder *self = PLP_PAIRED_FOLDER (object);
  switch (id)
    {
    case PROP_FOLDER:
      g_free (self->folder);
      self->folder = g_value_dup_string (value);
      break;
    case PROP_REPORT_LENGTH: self->report_length = g_value_get_int (value); break;
    case PROP_VOCAB_SIZE: self->vocab_size = g_value_get_int (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
plp_paired_folder_finalize (GObject *object)
{
  g_free (PLP_PAIRED_FOLDER (object)->folder);
  G_OBJECT_CLASS (plp_paired_folder_parent_class)->finalize (object);
}

#define PARAM_FLAGS (G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS)

static void
plp_paired_folder_class_init (PlpPairedFolderClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  object_class->get_property = plp_paired_folder_get_property;
  object_class->set_property = plp_paired_folder_set_property;
  object_class->finalize = plp_paired_folder_finalize;
  g_object_class_install_property (object_class, PROP_FOLDER,
    g_param_spec_string ("folder", "Folder",
                         "Folder with labels.csv (id,label), images/<id>.png or .pgm "
                         "(grayscale) and reports/<id>.txt; relative to the experiment "
                         "file", NULL, PARAM_FLAGS));
  g_object_class_install_property (object_class, PROP_REPORT_LENGTH,
    g_param_spec_int ("report-length", "Report length",
                      "Words kept per report (shorter reports are padded with id 0)", 1,
                      512, 32, PARAM_FLAGS));
  g_object_class_install_property (object_class, PROP_VOCAB_SIZE,
    g_param_spec_int ("vocab-size", "Vocabulary size",
                      "At most this many token ids: padding, unknown, and the most frequent "
                      "words of the training reports", 3, 1000000, 5000, PARAM_FLAGS));
}

static void
plp_paired_folder_class_finalize (PlpPairedFolderClass *klass)
{
}

static void
plp_paired_folder_init (PlpPairedFolder *self)
{
  self->report_length = 32;
  self->vocab_size = 5000;
}

G_MODULE_EXPORT void
peas_register_types (PeasObjectModule *module)
{
  plp_paired_folder_register_type (G_TYPE_MODULE (module));
  peas_object_module_register_extension_type (module, PL_TYPE_DATASET_SOURCE,
                                              PLP_TYPE_PAIRED_FOLDER);
}
