"""One rule for turning ``random_state`` into a ``numpy.random.Generator``."""

import numbers

import numpy as np


def check_generator(random_state=None):
    """Return a ``numpy.random.Generator`` for ``random_state``.

    Parameters
    ----------
    random_state : None, int, numpy.random.Generator or numpy.random.RandomState
        ``None`` gives fresh entropy; an int seeds a new PCG64 generator; a
        Generator is used as is, so its stream advances; a legacy
        ``RandomState`` seeds a new Generator from one draw of its stream,
        which keeps results reproducible for a seeded ``RandomState``.

    Returns
    -------
    generator : numpy.random.Generator

    Examples
    --------
    >>> from skfast.utils import check_generator
    >>> a = check_generator(0).random()
    >>> b = check_generator(0).random()
    >>> a == b
    True
    """
    if random_state is None or isinstance(random_state, numbers.Integral):
        if random_state is not None and random_state < 0:
            raise ValueError(
                f"random_state={random_state} is negative; pass a seed >= 0, "
                "a numpy.random.Generator or None."
            )
        return np.random.default_rng(random_state)
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1))
    raise TypeError(
        f"random_state={random_state!r} is not a seed: pass None, an int, a "
        "numpy.random.Generator or a numpy.random.RandomState."
    )
