#include "pl-rng.h"

#include <math.h>

static uint64_t
splitmix64 (uint64_t *x)
{
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void
pl_rng_init (PlRng *rng, uint64_t seed)
{
  uint64_t x = seed;
  for (int i = 0; i < 4; i++)
    rng->s[i] = splitmix64 (&x);
  rng->has_spare = FALSE;
  rng->spare = 0.0;
}

void
pl_rng_init_stream (PlRng *rng, uint64_t seed, const char *stream)
{
  /* FNV-1a of the stream name, mixed into the seed */
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const char *p = stream; p && *p; p++)
    h = (h ^ (guchar) *p) * 0x100000001b3ULL;
  pl_rng_init (rng, seed ^ h);
}

static inline uint64_t
rotl (uint64_t x, int k)
{
  return (x << k) | (x >> (64 - k));
}

uint64_t
pl_rng_next_u64 (PlRng *rng)
{
  uint64_t *s = rng->s;
  uint64_t result = rotl (s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl (s[3], 45);
  return result;
}

double
pl_rng_uniform (PlRng *rng)
{
  return (pl_rng_next_u64 (rng) >> 11) * 0x1.0p-53;
}

uint64_t
pl_rng_below (PlRng *rng, uint64_t n)
{
  g_assert (n > 0);
  /* rejection sampling keeps the result unbiased */
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t r;
  do
    r = pl_rng_next_u64 (rng);
  while (r >= limit);
  return r % n;
}

double
pl_rng_normal (PlRng *rng)
{
  if (rng->has_spare)
    {
      rng->has_spare = FALSE;
      return rng->spare;
    }
  double u1, u2;
  do
    u1 = pl_rng_uniform (rng);
  while (u1 <= 0.0);
  u2 = pl_rng_uniform (rng);
  double r = sqrt (-2.0 * log (u1));
  rng->spare = r * sin (2.0 * G_PI * u2);
  rng->has_spare = TRUE;
  return r * cos (2.0 * G_PI * u2);
}

void
pl_rng_shuffle_u32 (PlRng *rng, uint32_t *idx, gsize n)
{
  for (gsize i = n; i > 1; i--)
    {
      gsize j = pl_rng_below (rng, i);
      uint32_t t = idx[i - 1];
      idx[i - 1] = idx[j];
      idx[j] = t;
    }
}
