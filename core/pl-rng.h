/* pl-rng.h: a small deterministic random number generator (xoshiro256**, seeded
 * through splitmix64). Same seed, same stream, on every machine: runs are
 * reproducible from their seed. Not for cryptography. */
#pragma once

#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

typedef struct {
  uint64_t s[4];
  /* Box-Muller produces normals in pairs; the second one waits here. */
  gboolean has_spare;
  double spare;
} PlRng;

void     pl_rng_init     (PlRng *rng, uint64_t seed);
/* A generator for a named sub-stream of a seed, so that e.g. data shuffling and
 * dropout draw from independent streams whatever order they are used in. */
void     pl_rng_init_stream (PlRng *rng, uint64_t seed, const char *stream);
uint64_t pl_rng_next_u64 (PlRng *rng);
/* uniform in [0, 1) */
double   pl_rng_uniform  (PlRng *rng);
/* uniform integer in [0, n); n > 0 */
uint64_t pl_rng_below    (PlRng *rng, uint64_t n);
/* standard normal N(0, 1) */
double   pl_rng_normal   (PlRng *rng);
/* Fisher-Yates shuffle of idx[0..n) */
void     pl_rng_shuffle_u32 (PlRng *rng, uint32_t *idx, gsize n);

G_END_DECLS
