"""The peak of the memory NumPy and Python allocate inside a block, as tracemalloc sees it."""

import tracemalloc
from contextlib import contextmanager


class Trace:
    peak = 0  # bytes, set when the block ends


@contextmanager
def traced():
    """``with traced() as trace: ...`` then ``trace.peak`` is the block's peak in bytes."""
    trace = Trace()
    tracemalloc.start()
    try:
        yield trace
    finally:
        trace.peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
