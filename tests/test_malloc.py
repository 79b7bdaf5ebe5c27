import resource

import numpy as np
import pytest

from zsc import malloc


def _faults_freeing_and_allocating(times: int = 8, mib: int = 64) -> int:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(times):
        a = np.ones(mib << 17)  # mib MiB of float64, touched
        del a
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


@pytest.mark.skipif(malloc._LIBC is None, reason="not glibc: keep_freed_memory does nothing")
def test_freed_buffers_are_reused_inside_the_block_only():
    """A 64 MiB buffer freed and allocated again: outside the block each one is mapped afresh
    (a page fault per page), inside it is the same memory."""
    outside = _faults_freeing_and_allocating()
    with malloc.keep_freed_memory() as applied, malloc.keep_freed_memory():  # nested: one block
        assert applied
        _faults_freeing_and_allocating(1)  # the first one grows the heap
        inside = _faults_freeing_and_allocating()
    assert malloc._depth == 0
    after = _faults_freeing_and_allocating()
    assert inside < outside / 10
    assert after > outside / 2  # the defaults are back


def test_the_setting_is_undone_after_an_error():
    with pytest.raises(RuntimeError), malloc.keep_freed_memory():
        raise RuntimeError
    assert malloc._depth == 0
