"""The C library, loaded once through ctypes: every prototype, and the error it raises."""

import ctypes
import ctypes.util
import os

SONAME = "libagnocast.so.0"

# Opaque handles travel as plain addresses.
_vp = ctypes.c_void_p
_u64 = ctypes.c_uint64
_size = ctypes.c_size_t
_int = ctypes.c_int
_uint = ctypes.c_uint

CALLBACK = ctypes.CFUNCTYPE(None, _vp, _vp, _vp)


def _load():
    """$AGNOCAST_LIBRARY (a path, for tests from a build tree), else the soname through the
    dynamic loader's search path, else what ctypes.util.find_library finds."""
    override = os.environ.get("AGNOCAST_LIBRARY")
    names = [override] if override else [SONAME]
    if not override:
        found = ctypes.util.find_library("agnocast")
        if found and found not in names:
            names.append(found)
    failures = []
    for name in names:
        try:
            return ctypes.CDLL(name)
        except OSError as e:
            failures.append(str(e))
    where = ("AGNOCAST_LIBRARY=" + override) if override else SONAME
    raise ImportError(
        "agnocast: cannot load the C library %s (%s): install it (Debian: apt-get install "
        "libagnocast0) or set AGNOCAST_LIBRARY to the path of libagnocast.so.0"
        % (where, "; ".join(failures)))


lib = _load()

# name: (restype, argtypes). Every function of agnocast.h a binding needs.
_PROTOTYPES = {
    "agnocast_version": (ctypes.c_char_p, []),
    "agnocast_strerror": (ctypes.c_char_p, [_int]),
    "agnocast_last_error": (ctypes.c_char_p, []),
    "agnocast_context_new": (_int, [ctypes.POINTER(_vp)]),
    "agnocast_context_free": (_vp, [_vp]),
    "agnocast_context_segment": (_int, [_vp, ctypes.POINTER(_vp), ctypes.POINTER(_size)]),
    "agnocast_context_pool_usage": (_int, [_vp, ctypes.POINTER(_size), ctypes.POINTER(_size)]),
    "agnocast_context_fd": (_int, [_vp]),
    "agnocast_context_dispatch": (_int, [_vp]),
    "agnocast_context_spin": (_int, [_vp, _int]),
    "agnocast_context_stop": (None, [_vp]),
    "agnocast_context_set_busy_poll": (_int, [_vp, _int]),
    "agnocast_publisher_new": (_int, [_vp, ctypes.c_char_p, _uint, _uint, ctypes.POINTER(_vp)]),
    "agnocast_publisher_free": (_vp, [_vp]),
    "agnocast_publisher_loan": (_int, [_vp, _size, ctypes.POINTER(_vp)]),
    "agnocast_loan_alloc": (_int, [_vp, _vp, _size, ctypes.POINTER(_vp)]),
    "agnocast_publisher_publish": (_int, [_vp, _vp]),
    "agnocast_publisher_drop": (_int, [_vp, _vp]),
    "agnocast_publisher_published": (_u64, [_vp]),
    "agnocast_subscription_new": (_int, [_vp, ctypes.c_char_p, _uint, _uint, CALLBACK, _vp,
                                         ctypes.POINTER(_vp)]),
    "agnocast_subscription_free": (_vp, [_vp]),
    "agnocast_subscription_take": (_int, [_vp, ctypes.POINTER(_vp)]),
    "agnocast_subscription_take_latest": (_int, [_vp, ctypes.POINTER(_vp)]),
    "agnocast_subscription_received": (_u64, [_vp]),
    "agnocast_subscription_missed": (_u64, [_vp]),
    "agnocast_subscription_corrupt": (_u64, [_vp]),
    "agnocast_subscription_unreachable": (_u64, [_vp]),
    "agnocast_message_data": (_vp, [_vp]),
    "agnocast_message_size": (_size, [_vp]),
    "agnocast_message_publisher_pid": (_int, [_vp]),
    "agnocast_message_publisher_index": (ctypes.c_uint32, [_vp]),
    "agnocast_message_sequence": (_u64, [_vp]),
    "agnocast_message_timestamp_ns": (_u64, [_vp]),
    "agnocast_message_contains": (_int, [_vp, _vp, _size]),
    "agnocast_message_retain": (None, [_vp]),
    "agnocast_message_release": (_vp, [_vp]),
    "agnocast_context_spin_once": (_int, [_vp, _int]),
    "agnocast_publisher_subscription_count": (_int, [_vp]),
    "agnocast_publisher_wait_matched": (_int, [_vp, _uint, _int]),
    "agnocast_subscription_publisher_count": (_int, [_vp]),
    "agnocast_subscription_wait_matched": (_int, [_vp, _uint, _int]),
}


def _declare():
    for name, (restype, argtypes) in _PROTOTYPES.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            raise ImportError("agnocast: the C library loaded lacks %s: it is older than this "
                              "module; install a matching libagnocast0" % name) from None
        fn.restype = restype
        fn.argtypes = argtypes


_declare()


def strerror(err):
    return lib.agnocast_strerror(-abs(err)).decode("utf-8", "replace")


def last_error():
    return lib.agnocast_last_error().decode("utf-8", "replace")


class Error(OSError):
    """A failure of the C library, or a misuse this module refuses: `errno` is the positive
    errno (EINVAL, ECONNREFUSED, ...), `strerror` the sentence agnocast_last_error() gave (what
    went wrong and what to do), `function` the C call that failed (None for the module's own
    refusals)."""

    def __init__(self, err, sentence=None, function=None):
        err = abs(err)
        super().__init__(err, sentence or strerror(err))
        self.function = function


Error.__module__ = "agnocast"


def check(r, function):
    """Returns r, or raises Error with the calling thread's last error sentence if r < 0. Call
    it right after the C call, on the same thread (the sentence is per thread)."""
    if r < 0:
        raise Error(-r, last_error(), function)
    return r


def call(name, *args):
    """Calls a C function that returns 0, a count or a negative errno; raises on failure."""
    return check(getattr(lib, name)(*args), name)
