"""The process's context: the connection to the broker, the loop that runs callbacks, and the
owner of every publisher, subscription, loan and message made from it."""

import ctypes
import errno
import math
import os
import select
import threading
import time
import weakref

from ._capi import Error, call, lib

# spin() waits in slices so that Python runs its signal handlers (Ctrl-C) and sees stop()
# between them: the C library retries epoll_wait on EINTR and would not return for a signal.
_SLICE_S = 0.1


def _timeout_ms(seconds):
    """Seconds (None: no limit) as the C library's milliseconds (-1: no limit)."""
    if seconds is None:
        return -1
    if seconds <= 0:
        return 0
    return min(int(math.ceil(seconds * 1000)), 2**31 - 1)


class Context:
    """The process's context (one at a time per process): connects to the broker ($AGNOCAST_SOCKET)
    and maps the pool ($MEMPOOL_SIZE). A context manager; close() frees it.

    The thread that calls dispatch(), spin(), spin_once(), or waits in Subscription.take() /
    messages() with a timeout is the dispatching thread: one at a time. Callbacks run there."""

    def __init__(self):
        handle = ctypes.c_void_p()
        call("agnocast_context_new", ctypes.byref(handle))
        self._handle = handle.value
        self._pid = os.getpid()
        self._lock = threading.RLock()
        self._publishers = []
        self._subscriptions = []
        self._holds = set()  # Holds of messages this process must still release
        self._messages = weakref.WeakSet()
        self._pending = None  # the first exception a callback raised, re-raised by the loop
        self._spinning = False
        self._stop_requested = False
        self._busy = False

    # ---- lifetime ----

    def _live(self):
        if self._handle is None:
            raise Error(errno.EBADF, "the agnocast context is closed", None)
        return self._handle

    @property
    def closed(self):
        return self._handle is None

    def close(self):
        """Closes every publisher and subscription, releases every message still held, and
        frees the context. Raises Error(EBUSY) and stays open while a view of a message or a
        loan is still alive (a slice, cast, ctypes object or numpy array made from one): its
        memory would be unmapped under it; delete those first."""
        with self._lock:
            if self._handle is None:
                return
            if os.getpid() != self._pid:
                # A fork child's inherited handles free nothing (agnocast.h, fork()).
                self._handle = None
                return
            for msg in list(self._messages):
                msg.release()
            for pub in list(self._publishers):
                pub._drop_loans()
            busy = sum(1 for h in self._holds if h.live) + sum(
                p._live_loans() for p in self._publishers)
            if busy:
                raise Error(errno.EBUSY,
                            "cannot close the agnocast context: %d message(s) or loan(s) are "
                            "still reachable through views made from them (slices, casts, "
                            "ctypes objects, numpy arrays): delete those first" % busy, None)
            for sub in list(self._subscriptions):
                sub.close()
            for pub in list(self._publishers):
                pub.close()
            lib.agnocast_context_free(self._handle)
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass  # views still alive: leave the context mapped rather than pull memory away

    # ---- factories ----

    def publisher(self, topic, depth=10, **qos):
        """Publisher(self, topic, depth, ...): see Publisher."""
        from .publisher import Publisher
        return Publisher(self, topic, depth, **qos)

    def subscription(self, topic, depth=10, callback=None, **qos):
        """Subscription(self, topic, depth, callback, ...): see Subscription."""
        from .subscription import Subscription
        return Subscription(self, topic, depth, callback, **qos)

    # ---- information ----

    def fileno(self):
        """The context's descriptor (agnocast_context_fd): readable when a subscription may have
        messages. Poll it, then call dispatch(). So a Context works with select/selectors."""
        return call("agnocast_context_fd", self._live())

    fd = fileno

    @property
    def segment(self):
        """(base address, size) of this process's first segment."""
        base, size = ctypes.c_void_p(), ctypes.c_size_t()
        call("agnocast_context_segment", self._live(), ctypes.byref(base), ctypes.byref(size))
        return base.value or 0, size.value

    @property
    def pool_usage(self):
        """(bytes in use, capacity) of the pool."""
        used, cap = ctypes.c_size_t(), ctypes.c_size_t()
        call("agnocast_context_pool_usage", self._live(), ctypes.byref(used), ctypes.byref(cap))
        return used.value, cap.value

    def set_busy_poll(self, enabled):
        """Busy polling in spin (True) or sleeping on the descriptor (False, the default)."""
        call("agnocast_context_set_busy_poll", self._live(), 1 if enabled else 0)
        self._busy = bool(enabled)

    # ---- the loop ----

    def _callback_failed(self, exc):
        """A callback raised: keep the first exception for the loop to re-raise, and make a
        running spin return. Later callbacks of the same round still run (their messages are
        delivered); their exceptions are chained as notes of the first."""
        if self._pending is None:
            self._pending = exc
            if self._spinning:
                lib.agnocast_context_stop(self._handle)
        elif hasattr(self._pending, "add_note"):
            self._pending.add_note("and then a callback raised %r" % (exc,))

    def _raise_pending(self):
        exc = self._pending
        if exc is not None:
            self._pending = None
            raise exc

    def dispatch(self):
        """Runs the callbacks for the messages available now; returns how many ran. Never
        blocks. A callback's exception is re-raised here, after the round."""
        h = self._live()
        try:
            return call("agnocast_context_dispatch", h)
        finally:
            self._raise_pending()

    def _in_slices(self, c_call, timeout, done):
        """Runs the C wait `c_call` in slices of _SLICE_S, so that Ctrl-C and stop() are seen
        even when nothing arrives, until done(its result), stop() or `timeout` seconds (None:
        no limit); re-raises a callback's exception. Returns the last result."""
        h = self._live()
        deadline = None if timeout is None else time.monotonic() + timeout
        self._spinning = True
        try:
            while True:
                wait = _SLICE_S
                if deadline is not None:
                    wait = min(wait, deadline - time.monotonic())
                n = call(c_call, h, _timeout_ms(wait))
                self._raise_pending()
                if done(n) or self._stop_requested or (
                        deadline is not None and time.monotonic() >= deadline):
                    self._stop_requested = False
                    return n
        finally:
            self._spinning = False

    def spin(self, timeout=None):
        """Waits for messages and runs their callbacks until stop(), until a callback raises
        (the exception is re-raised here), or `timeout` seconds (None: no limit)."""
        self._in_slices("agnocast_context_spin", timeout, lambda n: False)

    def spin_once(self, timeout=None):
        """Dispatches what is available, or waits up to `timeout` seconds (None: no limit, 0:
        no wait) for the next wake-up and dispatches once. Returns how many callbacks ran. Unlike
        the C call, a wake-up that runs no callback does not end it (the waits are sliced, see
        _in_slices): a take subscription waits with Subscription.take(timeout) instead."""
        return self._in_slices("agnocast_context_spin_once", timeout, lambda n: n != 0)

    def stop(self):
        """Makes a running spin return (or the next one, if none runs). Any thread."""
        h = self._handle
        if h is not None:
            lib.agnocast_context_stop(h)
        self._stop_requested = True

    def wait(self, timeout=None):
        """Waits up to `timeout` seconds (None: no limit) for the descriptor to turn readable;
        True if it did. Does not dispatch (dispatch() empties it)."""
        fd = self.fileno()
        if self._busy:
            return True  # busy polling: the descriptor does not turn readable for messages
        p = select.poll()
        p.register(fd, select.POLLIN)
        return bool(p.poll(None if timeout is None else max(0, _timeout_ms(timeout))))
