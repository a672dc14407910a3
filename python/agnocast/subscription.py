"""Subscriptions and received messages: read in place, in the publisher's shared memory."""

import ctypes
import errno
import itertools
import time

from ._capi import CALLBACK, Error, call, lib
from ._views import Hold, release_views
from .publisher import qos_flags

# userdata -> Subscription, for the one C callback every callback subscription shares.
_by_key = {}
_keys = itertools.count(1)


@CALLBACK
def _trampoline(sub_handle, msg_handle, userdata):
    # Nothing may unwind into C: everything is caught here or in _deliver.
    try:
        sub = _by_key.get(userdata)
        if sub is not None:
            sub._deliver(msg_handle)
    except BaseException as exc:  # noqa: B036 - even KeyboardInterrupt: re-raised by the loop
        sub = _by_key.get(userdata)
        if sub is not None and sub._ctx is not None:
            sub._ctx._callback_failed(exc)


class Subscription:
    """A subscription on `topic` that sees, per publisher, at most the newest `depth` unseen
    messages (1..1024). With a `callback(msg)`, messages are delivered by the context's
    dispatch()/spin()/spin_once() on the dispatching thread; without one, take() them or
    iterate messages(). Made by Context.subscription() or Subscription(ctx, ...); lives until
    close() or the context's close."""

    def __init__(self, ctx, topic, depth=10, callback=None, *, transient_local=False,
                 reliable=False, ignore_local=False):
        if callback is not None and not callable(callback):
            raise TypeError("callback must be callable")
        self._ctx = ctx
        self.topic = topic
        self._callback = callback
        self._key = next(_keys) if callback is not None else None
        if self._key is not None:
            _by_key[self._key] = self
        handle = ctypes.c_void_p()
        try:
            call("agnocast_subscription_new", ctx._live(), topic.encode(), depth,
                 qos_flags(transient_local, reliable, ignore_local),
                 _trampoline if callback is not None else CALLBACK(),
                 self._key, ctypes.byref(handle))
        except BaseException:
            _by_key.pop(self._key, None)
            raise
        self._handle = handle.value
        ctx._subscriptions.append(self)

    def _live(self):
        if self._handle is None:
            raise Error(errno.EBADF, "the subscription on %s is closed" % self.topic, None)
        return self._handle

    @property
    def closed(self):
        return self._handle is None

    def close(self):
        """Destroys the subscription. Messages taken from it stay valid until released. A
        callback subscription: close it on the dispatching thread (also from a callback) or
        while nothing dispatches."""
        if self._handle is None:
            return
        lib.agnocast_subscription_free(self._handle)
        self._handle = None
        _by_key.pop(self._key, None)
        if self in self._ctx._subscriptions:
            self._ctx._subscriptions.remove(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- counters ----

    @property
    def received(self):
        return lib.agnocast_subscription_received(self._live())

    @property
    def missed(self):
        return lib.agnocast_subscription_missed(self._live())

    @property
    def corrupt(self):
        return lib.agnocast_subscription_corrupt(self._live())

    @property
    def unreachable(self):
        """Publishers on the topic whose segment could not be mapped here: not an idle topic."""
        return lib.agnocast_subscription_unreachable(self._live())

    @property
    def publisher_count(self):
        return call("agnocast_subscription_publisher_count", self._live())

    def wait_matched(self, n=1, timeout=None):
        """Waits until it reads at least `n` publishers, up to `timeout` seconds (None: no
        limit). Returns the count; raises Error(ETIMEDOUT) at the timeout."""
        from .context import _timeout_ms
        return call("agnocast_subscription_wait_matched", self._live(), n, _timeout_ms(timeout))

    # ---- receiving ----

    def _deliver(self, msg_handle):
        msg = Message(self, msg_handle, owned=False)
        try:
            self._callback(msg)
        except BaseException as exc:  # noqa: B036 - handed to the loop, never to C
            self._ctx._callback_failed(exc)
        finally:
            msg._end_callback()

    def _take_now(self, latest):
        handle = ctypes.c_void_p()
        fn = "agnocast_subscription_take_latest" if latest else "agnocast_subscription_take"
        if call(fn, self._live(), ctypes.byref(handle)) == 1:
            return Message(self, handle.value, owned=True)
        return None

    def take(self, timeout=0, latest=False):
        """The oldest unseen message (the newest with latest=True; older ones count as
        missed), or None if none comes within `timeout` seconds (0: do not wait; None: no
        limit). Waiting dispatches the context: do it on the dispatching thread. The Message
        is held until released (release(), a `with` block, or when it is garbage)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            msg = self._take_now(latest)
            if msg is not None:
                return msg
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return None
            if self._ctx.wait(left):
                self._ctx.dispatch()

    def messages(self, timeout=None, latest=False):
        """Iterates over messages as they come, ending when none comes within `timeout`
        seconds (None: never). Each message is released when the loop moves on, unless the
        body called msg.retain(). A take subscription; waiting dispatches the context."""
        while True:
            msg = self.take(timeout, latest)
            if msg is None:
                return
            try:
                yield msg
            finally:
                if not msg._retained:
                    msg.release()


class Message:
    """A received message, read in place in the publisher's segment.

    `data` is a read-only memoryview over it: no copy. It is valid while the message is held:
    in a callback until the callback returns (unless it calls retain()), from take() until
    release() (or the end of a `with` block, or the next turn of messages()). Afterwards `data`
    and the views view_at() gave are released: using them raises ValueError. A view the program
    derived from them (a slice, cast, ctypes or numpy object) keeps the message held until that
    view is gone, so no Python object ever reads memory the publisher got back.

    Metadata: sequence (1, 2, ... per publisher), timestamp_ns (CLOCK_MONOTONIC at publish),
    publisher_pid, publisher_index, size, address (where the publisher wrote it: pointers
    inside the message are absolute addresses in the same mapping)."""

    def __init__(self, sub, handle, owned):
        self._handle = handle
        self.subscription = sub
        self._ctx = sub._ctx
        self.address = lib.agnocast_message_data(handle) or 0
        self.size = lib.agnocast_message_size(handle)
        self.sequence = lib.agnocast_message_sequence(handle)
        self.timestamp_ns = lib.agnocast_message_timestamp_ns(handle)
        self.publisher_pid = lib.agnocast_message_publisher_pid(handle)
        self.publisher_index = lib.agnocast_message_publisher_index(handle)
        self._owned = owned  # False: a callback's borrowed message, released by dispatch
        self._retained = False
        self._released = False
        self._hold = Hold()
        self._views = []
        self._data = None
        if owned:
            self._own()
        self._ctx._messages.add(self)

    def _own(self):
        """From now on this object releases the C handle (when no view is left)."""
        handle, hold, holds = self._handle, self._hold, self._ctx._holds
        holds.add(hold)

        def give_back():
            holds.discard(hold)
            lib.agnocast_message_release(handle)

        hold.on_free = give_back
        self._owned = True

    def _check(self):
        if self._released:
            raise Error(errno.EBADF, "the message (sequence %d on %s) was released"
                        % (self.sequence, self.subscription.topic), None)

    @property
    def released(self):
        return self._released

    @property
    def data(self):
        """The message's bytes: a read-only memoryview (format 'B') over shared memory."""
        if self._data is None:
            self._check()
            self._data = self._hold.view(self.address, self.size, readonly=True)
            self._views.append(self._data)
        return self._data

    def __len__(self):
        return self.size

    def contains(self, address, size):
        """Whether [address, address + size) lies in the publisher's segment, so a pointer
        found in the message may be followed. Publishers are untrusted: check first."""
        self._check()
        if not isinstance(address, int) or not isinstance(size, int) or address <= 0 or size < 0:
            return False
        return bool(lib.agnocast_message_contains(self._handle, address, size))

    def _checked(self, address, size):
        if not self.contains(address, size):
            raise Error(errno.EFAULT,
                        "[0x%x, +%d) lies outside the segment of the publisher of %s (sequence "
                        "%d): the message is corrupt or forged; do not follow it"
                        % (address or 0, size, self.subscription.topic, self.sequence), None)

    def view_at(self, address, size):
        """A read-only memoryview of `size` bytes at a pointer found in the message, after
        checking it lies in the publisher's segment (Error EFAULT otherwise). No copy; released
        with the message."""
        self._checked(address, size)
        view = self._hold.view(address, size, readonly=True)
        self._views.append(view)
        return view

    def read_at(self, address, size):
        """`size` bytes at a pointer found in the message, checked as view_at(), as bytes (a
        copy, which stays valid after release)."""
        self._checked(address, size)
        return ctypes.string_at(address, size)

    def struct(self, ctype, offset=0):
        """A copy of a ctypes Structure (or any fixed-size ctypes type) read at `offset`: the
        fixed part of a message, whose pointer fields are then read with view_at/read_at."""
        return ctype.from_buffer_copy(self.data, offset)

    def retain(self):
        """Keeps the message after the callback returns (or after messages() moves on); release
        it later with release(). Returns self."""
        self._check()
        self._retained = True
        return self

    def _end_callback(self):
        """The callback returned: keep the message if retained or if a view of it survives
        (agnocast_message_retain may only be called now), else let dispatch release it."""
        if not self._retained and not self._released:
            self._released = True
            release_views(self._views)
            self._data = None
        hold = self._hold
        # Under the hold's lock, no view can die between the count and the retain.
        with hold._lock:
            if self._released and hold.live == 0:
                hold.forget()
                self._ctx._messages.discard(self)
                return
            lib.agnocast_message_retain(self._handle)
            self._own()
        if self._released:
            hold.close()

    def release(self):
        """Gives the message back (idempotent): `data` and the views view_at() gave raise
        ValueError from now on. Views derived from them keep it until they are gone."""
        if self._released:
            return
        self._released = True
        release_views(self._views)
        self._data = None
        if self._owned:
            self._hold.close()
        # else: in its callback; _end_callback gives it back when the callback returns.

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()

    def __del__(self):
        try:
            self.release()
        except Exception:
            pass

    def __repr__(self):
        return "<agnocast.Message %s seq=%d size=%d from pid %d>" % (
            self.subscription.topic, self.sequence, self.size, self.publisher_pid)
