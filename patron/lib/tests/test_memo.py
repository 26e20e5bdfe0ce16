"""Reads shared by a batch: once inside the block, every time outside it."""

from patron.lib.memo import remembered, shared_reads, sharing


def counting_reader():
    reads = []

    def read():
        reads.append(1)
        return len(reads)

    return reads, read


def test_outside_a_block_every_call_reads():
    reads, read = counting_reader()
    assert not sharing()
    assert [remembered("k", read), remembered("k", read)] == [1, 2]
    assert len(reads) == 2


def test_inside_a_block_each_key_is_read_once_and_forgotten_at_its_end():
    reads, read = counting_reader()
    with shared_reads():
        assert sharing()
        assert [remembered("a", read), remembered("a", read), remembered("b", read)] == [1, 1, 2]
        with shared_reads():  # a nested block shares the outer one's reads
            assert remembered("a", read) == 1
    assert not sharing()
    assert remembered("a", read) == 3
    assert len(reads) == 3


def test_a_block_that_raises_forgets_too():
    reads, read = counting_reader()
    try:
        with shared_reads():
            remembered("a", read)
            raise ValueError
    except ValueError:
        pass
    assert remembered("a", read) == 2
    assert len(reads) == 2
