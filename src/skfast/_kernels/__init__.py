"""Numba kernels: the compute-bound, data-parallel work.

Policy, applied to every module in this package:

- nothing is compiled and numba is not imported when ``skfast`` is imported;
  a dispatcher imports a kernel module inside the function that needs it;
- serial kernels are compiled with ``cache=True``; parallel kernels are
  cached only where a test shows the cache reloads safely;
- explicit signatures only on the few hot kernels;
- numba's global configuration is never changed by the library;
- each kernel has a plain NumPy reference that the tests compare it with.
"""
