/* pl-paired-layout.h: how a dataset packs one scan and its report into a row.
 *
 * Paired scan + report data (the synthetic-scan-report and paired-folder dataset
 * plugins) and the models that read it (fusion-shared-attention) agree on this
 * layout, and on nothing else:
 *
 *   row = [ H*W pixels of one grayscale image, row-major, in [0, 1] |
 *           L report token ids, stored as floats holding integers in [0, V) ]
 *
 * Id 0 pads a short report, id 1 stands for a word outside the vocabulary. The
 * dataset describes itself: sample_shape is {1, H, W} (the image part), the pixel
 * columns are named "image.<r>.<c>" and the token columns "report.<i>:vocab=<V>",
 * so a model finds H, W, L and V from the PlDataset alone.
 *
 * Token ids must reach the model as they were written: the engine normalizes
 * every feature with [data] normalize, so paired data needs normalize=none (the
 * pixels are already in [0, 1]). */
#pragma once

#include <glib.h>

#include "pl-dataset.h"
#include "pl-experiment.h"

G_BEGIN_DECLS

#define PL_PAIRED_PAD_ID 0
#define PL_PAIRED_UNK_ID 1

typedef struct {
  int height;          /* image rows */
  int width;           /* image columns; one channel */
  int report_length;   /* token ids after the pixels */
  int vocab_size;      /* ids are integers in [0, vocab_size) */
} PlPairedLayout;

/* H*W + L */
int       pl_paired_layout_n_features   (const PlPairedLayout *layout);

/* Marks @ds as paired data laid out as @layout: sets sample_shape to {1, H, W} and
 * replaces the feature names. ds->n_features must be H*W + L. */
void      pl_paired_layout_describe     (const PlPairedLayout *layout, PlDataset *ds);

/* Reads the layout back from @ds's shape and feature names. Fails with
 * PL_ERROR_DATA naming the dataset when it is not paired scan + report data. */
gboolean  pl_paired_layout_from_dataset (const PlDataset *ds, PlPairedLayout *out,
                                         GError **error);

/* Checks that every token column of @ds holds an integer id in [0, V) and every
 * pixel is finite. The PL_ERROR_DATA error names the dataset, the row, the token
 * position and the value. */
gboolean  pl_paired_layout_check_ids    (const PlPairedLayout *layout, const PlDataset *ds,
                                         GError **error);

/* Fails with PL_ERROR_CONFIG naming the [data] normalize line when @exp would
 * normalize the features (anything but normalize=none); @who names the plugin
 * asking. */
gboolean  pl_paired_layout_check_normalize (const PlExperiment *exp, const char *who,
                                            GError **error);

G_END_DECLS
