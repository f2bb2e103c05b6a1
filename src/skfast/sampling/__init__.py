"""Row sampling on native kernels: random, stratified and weighted.

Every function draws one seed from ``random_state`` and derives each row's
random numbers from it and the row's position, so one seed gives the same
rows whatever the container, the thread count or the batches a file is
read in.
"""

from skfast.sampling._estimate import Estimate, estimate
from skfast.sampling._functions import (
    InclusionProbabilities,
    inclusion_probabilities,
    random_sample,
    stratified_sample,
    weighted_sample,
)
from skfast.sampling._importance import importance_sample, loss, margin, uncertainty
from skfast.sampling._kernels import CertaintyWarning
from skfast.sampling._reservoir import reservoir_sample
from skfast.sampling._sampler import Sampler

__all__ = [
    "CertaintyWarning",
    "Estimate",
    "InclusionProbabilities",
    "Sampler",
    "estimate",
    "importance_sample",
    "inclusion_probabilities",
    "loss",
    "margin",
    "random_sample",
    "reservoir_sample",
    "stratified_sample",
    "uncertainty",
    "weighted_sample",
]
