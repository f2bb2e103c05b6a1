# A counter-based random stream: the value at position ``index`` of stream
# ``seed`` is a hash of the two, so any position can be computed alone, in any
# order, on any thread, and a file read in batches sees the same values as the
# same rows held in memory. The hash is SplitMix64's output function (Steele,
# Lea and Flood, "Fast splittable pseudorandom number generators", OOPSLA
# 2014), so position i of stream s is the i-th output of SplitMix64 started
# at state s. The seed itself is drawn from the caller's numpy Generator.

from libc.stdint cimport uint64_t

cdef extern from *:
    """
    #define SKFAST_GOLDEN 0x9E3779B97F4A7C15ULL
    #define SKFAST_MIX1 0xBF58476D1CE4E5B9ULL
    #define SKFAST_MIX2 0x94D049BB133111EBULL
    """
    uint64_t SKFAST_GOLDEN
    uint64_t SKFAST_MIX1
    uint64_t SKFAST_MIX2


cdef inline uint64_t random_bits(uint64_t seed, uint64_t index) noexcept nogil:
    """64 random bits at position ``index`` of stream ``seed``."""
    cdef uint64_t z = seed + (index + 1) * SKFAST_GOLDEN
    z = (z ^ (z >> 30)) * SKFAST_MIX1
    z = (z ^ (z >> 27)) * SKFAST_MIX2
    return z ^ (z >> 31)


cdef inline double random_open(uint64_t seed, uint64_t index) noexcept nogil:
    """A uniform double in the open interval (0, 1), from the top 53 bits."""
    return ((random_bits(seed, index) >> 11) + 0.5) * (1.0 / 9007199254740992.0)
