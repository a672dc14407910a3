"""Publishers and their loans: messages written once, in place, in the process's segment."""

import ctypes
import errno
import threading
import weakref

from ._capi import Error, call, lib
from ._views import Hold, release_views

TRANSIENT_LOCAL = 1 << 0
RELIABLE = 1 << 1
IGNORE_LOCAL = 1 << 2


def qos_flags(transient_local=False, reliable=False, ignore_local=False):
    return ((TRANSIENT_LOCAL if transient_local else 0) | (RELIABLE if reliable else 0)
            | (IGNORE_LOCAL if ignore_local else 0))


class Publisher:
    """A publisher on `topic` keeping the last `depth` messages (1..1024). Made by
    Context.publisher() or Publisher(ctx, ...); lives until close() or the context's close.
    Any thread."""

    def __init__(self, ctx, topic, depth=10, *, transient_local=False, reliable=False):
        handle = ctypes.c_void_p()
        call("agnocast_publisher_new", ctx._live(), topic.encode(), depth,
             qos_flags(transient_local, reliable), ctypes.byref(handle))
        self._handle = handle.value
        self._ctx = ctx
        self.topic = topic
        self._loans = weakref.WeakSet()
        self._lock = threading.Lock()
        ctx._publishers.append(self)

    def _live(self):
        if self._handle is None:
            raise Error(errno.EBADF, "the publisher on %s is closed" % self.topic, None)
        return self._handle

    @property
    def closed(self):
        return self._handle is None

    def _drop_loans(self):
        for loan in list(self._loans):
            loan.drop()

    def _live_loans(self):
        return sum(1 for loan in list(self._loans) if loan._hold.live)

    def close(self):
        """Drops the outstanding loans and destroys the publisher. Raises Error(EBUSY) while a
        view of a loan is still alive (it would write into memory handed back)."""
        if self._handle is None:
            return
        self._drop_loans()
        if self._live_loans():
            raise Error(errno.EBUSY,
                        "cannot close the publisher on %s: views of its loans are still alive "
                        "(slices, casts, ctypes objects): delete them first" % self.topic, None)
        lib.agnocast_publisher_free(self._handle)
        self._handle = None
        if self in self._ctx._publishers:
            self._ctx._publishers.remove(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def published(self):
        """How many messages this publisher has published (the number of the last one)."""
        return lib.agnocast_publisher_published(self._live())

    @property
    def subscription_count(self):
        """How many subscriptions it reaches now, in every process."""
        return call("agnocast_publisher_subscription_count", self._live())

    def wait_matched(self, n=1, timeout=None):
        """Waits until it reaches at least `n` subscriptions, up to `timeout` seconds (None: no
        limit). Returns the count; raises Error(ETIMEDOUT) at the timeout."""
        from .context import _timeout_ms
        return call("agnocast_publisher_wait_matched", self._live(), n, _timeout_ms(timeout))

    def loan(self, size):
        """Loans `size` bytes (> 0) of the own segment for one message: a Loan, to fill through
        loan.view and publish(). Raises Error(ENOMEM) when the pool is full."""
        return Loan(self, size)

    def publish(self, data):
        """Publishes a Loan (consuming it), or copies `data` (bytes, bytearray, memoryview or
        any buffer) into a new loan and publishes that: one copy, no more. Returns the
        message's sequence number."""
        if isinstance(data, Loan):
            if data._pub is not self:
                raise Error(errno.EINVAL, "the loan belongs to the publisher on %s, not to this "
                            "one on %s" % (data._pub.topic, self.topic), None)
            return data.publish()
        src = memoryview(data)
        if not src.c_contiguous:
            src = memoryview(src.tobytes())
        if src.format != "B" or src.ndim != 1:
            src = src.cast("B")
        n = src.nbytes
        loan = Loan(self, n)
        try:
            with loan._private_view() as dst:
                dst[:] = src
            return loan.publish()
        finally:
            if not loan.done:
                loan.drop()


class Loan:
    """Memory loaned for one message: fill it through `view` (a writable memoryview) and
    nested allocations (alloc()), then publish() it, or drop() it. A context manager: leaving
    the block drops it unless published (also on an exception).

    publish() refuses (Error EBUSY) while a view made from the loan is still alive besides
    those this object handed out: a slice, cast, ctypes object or numpy array over it could
    write into a message subscribers already read. The loan then stays outstanding: delete
    them and publish again. A dropped loan returns to the pool only once no view reaches it."""

    def __init__(self, pub, size):
        data = ctypes.c_void_p()
        call("agnocast_publisher_loan", pub._live(), size, ctypes.byref(data))
        self._pub = pub
        self._pub_handle = pub._handle
        self.address = data.value
        self.size = size
        self._hold = Hold()
        self._views = []
        self._view = None
        self.done = False
        pub._loans.add(self)

    def _check(self):
        if self.done:
            raise Error(errno.EINVAL, "the loan was already published or dropped", None)

    def _private_view(self):
        """A writable view this module uses and releases at once."""
        return self._hold.view(self.address, self.size, readonly=False)

    @property
    def view(self):
        """The loan's bytes, a writable memoryview (format 'B'); released at publish or drop."""
        self._check()
        if self._view is None:
            self._view = self._hold.view(self.address, self.size, readonly=False)
            self._views.append(self._view)
        return self._view

    def alloc(self, size):
        """Allocates `size` bytes that belong to this message (nested buffers, strings) and
        are freed with it: returns (address, writable memoryview). Store the address in the
        message: it is valid in every subscriber."""
        self._check()
        ptr = ctypes.c_void_p()
        call("agnocast_loan_alloc", self._pub._live(), self.address, size, ctypes.byref(ptr))
        view = self._hold.view(ptr.value, size, readonly=False)
        self._views.append(view)
        return ptr.value, view

    def publish(self):
        """Publishes the message and consumes the loan; returns its sequence number."""
        self._check()
        self._pub._live()
        stuck = release_views(self._views)
        self._view = None
        if stuck or self._hold.live:
            raise Error(errno.EBUSY,
                        "cannot publish the loan on %s: %d view(s) made from it are still alive "
                        "(slices, casts, ctypes objects or buffers over loan.view or an "
                        "allocation): delete them and publish again"
                        % (self._pub.topic, self._hold.live), None)
        with self._pub._lock:
            call("agnocast_publisher_publish", self._pub_handle, self.address)
            seq = lib.agnocast_publisher_published(self._pub_handle)
        self._hold.forget()
        self.done = True
        return seq

    def drop(self):
        """Gives the loan back unpublished (once no view of it is alive). Idempotent."""
        if self.done:
            return
        self.done = True
        release_views(self._views)
        self._view = None
        pub, address = self._pub, self.address

        def give_back():
            if pub._handle is not None:
                lib.agnocast_publisher_drop(pub._handle, address)

        self._hold.close(give_back)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.drop()

    def __del__(self):
        try:
            self.drop()
        except Exception:
            pass
