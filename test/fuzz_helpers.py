# Copyright 2026 eunet_ros developers
# Licensed under the Apache License, Version 2.0

"""Byte-level mutations of files for the hypothesis property tests (test_fuzz_*.py)."""

from hypothesis import strategies as st

OPS = ('flip', 'set', 'cut', 'insert', 'delete')


def byte_edits(ops=OPS, max_blob: int = 16, max_edits: int = 4):
    """Strategy of (op, relative position, value, bytes) edits for :func:`mutate`."""
    return st.lists(st.tuples(st.sampled_from(list(ops)), st.floats(0, 1, exclude_max=True),
                              st.integers(0, 255), st.binary(min_size=1, max_size=max_blob)),
                    min_size=1, max_size=max_edits)


def mutate(buf: bytes, edits) -> bytes:
    """Apply (op, relative position, value, bytes) edits to ``buf``."""
    out = bytearray(buf)
    for op, pos, value, blob in edits:
        if not out:
            break
        i = int(pos * len(out))
        if op == 'flip':
            out[i] ^= 1 << (value % 8)
        elif op == 'set':
            out[i] = value
        elif op == 'cut':
            del out[i:]
        elif op == 'insert':
            out[i:i] = blob
        else:
            del out[i:i + 1 + value % 16]
    return bytes(out)
