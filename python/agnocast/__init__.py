"""agnocast for Python: zero-copy publish/subscribe between processes on one Linux host.

A binding of libagnocast.so.0 through ctypes (nothing to compile, nothing beyond python3 to
install). Messages are received as read-only memoryviews over the publisher's shared memory,
and published from any buffer (one copy) or written in place into a loan. docs/python.md (in
the source tree; /usr/share/doc/python3-agnocast in the Debian package) teaches it.

    import agnocast

    with agnocast.Context() as ctx:
        pub = ctx.publisher("/chatter")
        sub = ctx.subscription("/chatter")
        pub.publish(b"hello")
        with sub.take(timeout=1.0) as msg:
            print(bytes(msg.data), msg.sequence)
"""

from ._capi import Error, lib as _lib
from .context import Context
from .publisher import IGNORE_LOCAL, RELIABLE, TRANSIENT_LOCAL, Loan, Publisher
from .subscription import Message, Subscription

__all__ = ["Context", "Publisher", "Loan", "Subscription", "Message", "Error", "library_version",
           "TRANSIENT_LOCAL", "RELIABLE", "IGNORE_LOCAL", "__version__"]

__version__ = "0.1.0"


def library_version():
    """The loaded C library's version, "0.1.0"."""
    return _lib.agnocast_version().decode()


def library_path():
    """The file the C library was loaded from (as the dynamic loader was given it)."""
    return _lib._name
