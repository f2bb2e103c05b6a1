"""Row sampling on native kernels: weighted and stratified.

The kernels draw from the caller's ``numpy.random.Generator``; one seed gives
the same rows whatever the input container.
"""

from skfast.sampling._functions import stratified_sample, weighted_sample

__all__ = ["stratified_sample", "weighted_sample"]
