"""Memoryviews over shared memory that keep it: the one mechanism behind received messages
and loans.

A view is a memoryview over a ctypes array made at the block's address. Every memoryview
derived from it (slices, casts, toreadonly(), ctypes objects made with from_buffer, a numpy
array) keeps that array alive, and nothing else does: so the array's death, seen through
weakref.finalize, is the moment no Python object can reach the memory any more. A Hold counts
the live arrays of one block (a message and the views made at its nested pointers, or a loan
and its nested allocations) and runs its `on_free` (release the message, drop the loan) only
when it is closed and the count is zero. Python's memoryview cannot revoke a derived view, so
this is how a stale view never reads memory the publisher got back: the memory is held as long
as a view exists."""

import ctypes
import threading
import weakref

_types = {}


def _array_type(size):
    """A ctypes array type at least `size` bytes long. Rounded up to a power of two so that a
    stream of distinct sizes creates a bounded number of types (ctypes caches each forever);
    the view handed out is cut to `size`, so the rest is never reachable."""
    n = 1 << max(size - 1, 0).bit_length()
    t = _types.get(n)
    if t is None:
        t = _types[n] = ctypes.c_ubyte * n
    return t


class Hold:
    """Keeps one block while views of it live; runs on_free once closed with none left."""

    __slots__ = ("_lock", "live", "closed", "freed", "on_free", "__weakref__")

    def __init__(self, on_free=None):
        # Reentrant: a finalizer may run (garbage collection) while this thread holds it.
        self._lock = threading.RLock()
        self.live = 0
        self.closed = False
        self.freed = False
        self.on_free = on_free

    def view(self, address, size, readonly):
        """A memoryview (format 'B') of `size` bytes at `address` that holds the block."""
        arr = _array_type(size).from_address(address)
        with self._lock:
            self.live += 1
        fin = weakref.finalize(arr, self._gone)
        fin.atexit = False  # at exit the process is going; the broker cleans up after it
        with memoryview(arr) as whole, whole.cast("B") as flat:
            part = flat[:size]
            view = part.toreadonly() if readonly else part
            if view is not part:
                part.release()
        return view

    def _gone(self):
        with self._lock:
            self.live -= 1
            fire = self.closed and self.live == 0 and not self.freed
            if fire:
                self.freed = True
        if fire and self.on_free:
            self.on_free()

    def close(self, on_free=None):
        """From now on, free the block when the last view is gone (now if none is). Returns
        True if it was freed now."""
        with self._lock:
            if on_free is not None:
                self.on_free = on_free
            self.closed = True
            fire = self.live == 0 and not self.freed
            if fire:
                self.freed = True
        if fire and self.on_free:
            self.on_free()
        return fire

    def forget(self):
        """The block went elsewhere (published, or released by the C library): never free it."""
        with self._lock:
            self.freed = True
            self.closed = True


def release_views(views):
    """Releases the memoryviews this module handed out. One with exported buffers (a numpy
    array over it, say) cannot be released: it is left to its exporter, and the block stays
    held until that is gone too. Returns how many could not be released."""
    stuck = 0
    for v in views:
        try:
            v.release()
        except BufferError:
            stuck += 1
    views.clear()
    return stuck
