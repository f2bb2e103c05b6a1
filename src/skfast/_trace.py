"""A record of which native kernels ran, so a report can name them.

Dispatchers call :func:`record` with a kernel's dotted name each time they
hand work to it. :func:`trace_kernels` collects the names recorded inside a
``with`` block; blocks may nest, and each sees every call made inside it.
Calls made in worker processes are not seen by the parent.
"""

import threading
from collections import Counter
from contextlib import contextmanager

_lock = threading.Lock()
_active: list[Counter] = []


def record(kernel: str) -> None:
    """Count one call of ``kernel`` in every active trace."""
    with _lock:
        for counter in _active:
            counter[kernel] += 1


@contextmanager
def trace_kernels():
    """Collect the kernels that run inside the block.

    Yields
    ------
    calls : collections.Counter
        Maps each kernel's dotted name to the number of calls, filled while
        the block runs.

    Examples
    --------
    >>> from skfast._trace import record, trace_kernels
    >>> with trace_kernels() as calls:
    ...     record("native._sampling.exponential_keys")
    >>> dict(calls)
    {'native._sampling.exponential_keys': 1}
    """
    counter: Counter = Counter()
    with _lock:
        _active.append(counter)
    try:
        yield counter
    finally:
        with _lock:
            _active.remove(counter)
