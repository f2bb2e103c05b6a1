"""Whether the native kernels were built with OpenMP, and with how many threads."""

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    static int skfast_openmp_enabled(void) { return 1; }
    static int skfast_max_threads(void) { return omp_get_max_threads(); }
    #else
    static int skfast_openmp_enabled(void) { return 0; }
    static int skfast_max_threads(void) { return 1; }
    #endif
    """
    int skfast_openmp_enabled() nogil
    int skfast_max_threads() nogil


def openmp_enabled():
    """Return True when the extension was compiled with OpenMP."""
    return bool(skfast_openmp_enabled())


def max_threads():
    """Return the number of threads an OpenMP parallel region would use."""
    return skfast_max_threads()
