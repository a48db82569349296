#include "paramlab.h"
#include "pl-test-util.h"

static void
test_same_seed_same_stream (void)
{
  PlRng a, b;
  pl_rng_init (&a, 42);
  pl_rng_init (&b, 42);
  for (int i = 0; i < 1000; i++)
    g_assert_cmpuint (pl_rng_next_u64 (&a), ==, pl_rng_next_u64 (&b));
  pl_rng_init (&b, 43);
  g_assert_cmpuint (pl_rng_next_u64 (&a), !=, pl_rng_next_u64 (&b));
}

static void
test_streams_differ (void)
{
  PlRng a, b;
  pl_rng_init_stream (&a, 7, "shuffle");
  pl_rng_init_stream (&b, 7, "dropout");
  g_assert_cmpuint (pl_rng_next_u64 (&a), !=, pl_rng_next_u64 (&b));
}

static void
test_normal_moments (void)
{
  PlRng r;
  pl_rng_init (&r, 1);
  double s = 0, s2 = 0;
  int n = 200000;
  for (int i = 0; i < n; i++)
    {
      double x = pl_rng_normal (&r);
      s += x;
      s2 += x * x;
    }
  pl_assert_close (s / n, 0.0, 0.01, 0);
  pl_assert_close (s2 / n, 1.0, 0.02, 0);
}

static void
test_shuffle_is_permutation (void)
{
  PlRng r;
  pl_rng_init (&r, 3);
  uint32_t idx[100];
  gboolean seen[100] = { 0 };
  for (int i = 0; i < 100; i++)
    idx[i] = i;
  pl_rng_shuffle_u32 (&r, idx, 100);
  int moved = 0;
  for (int i = 0; i < 100; i++)
    {
      g_assert_cmpuint (idx[i], <, 100);
      g_assert_false (seen[idx[i]]);
      seen[idx[i]] = TRUE;
      moved += idx[i] != (uint32_t) i;
    }
  g_assert_cmpint (moved, >, 50);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/core/rng/same-seed", test_same_seed_same_stream);
  g_test_add_func ("/core/rng/streams", test_streams_differ);
  g_test_add_func ("/core/rng/normal", test_normal_moments);
  g_test_add_func ("/core/rng/shuffle", test_shuffle_is_permutation);
  return g_test_run ();
}
