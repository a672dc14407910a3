"""The Python API in one process: publishing from buffers and in place, the lifetime of what a
message and a loan hand out, metadata and counters."""

import array
import ctypes
import errno
import gc
import os
import unittest

import agnocast
from agnocast_testing import BrokerTestCase


class ContextTestCase(BrokerTestCase):
    """A context per test, closed even when the test fails."""

    def setUp(self):
        self.ctx = agnocast.Context()
        self.addCleanup(self.close_context)

    def close_context(self):
        gc.collect()
        self.ctx.close()

    def pair(self, topic, depth=10, callback=None):
        pub = self.ctx.publisher(topic, depth)
        sub = self.ctx.subscription(topic, depth, callback=callback)
        return pub, sub


class Publishing(ContextTestCase):
    def test_publish_from_any_buffer(self):
        pub, sub = self.pair("/api/buffers")
        sources = [b"bytes", bytearray(b"bytearray"), memoryview(b"a view"),
                   array.array("i", [1, 2, 3]), memoryview(b"0123456789")[::2]]
        for seq, src in enumerate(sources, 1):
            self.assertEqual(pub.publish(src), seq)
        self.assertEqual(pub.published, len(sources))
        for src in sources:
            with sub.take() as msg:
                self.assertEqual(bytes(msg.data), memoryview(src).tobytes())
                self.assertEqual(msg.size, memoryview(src).nbytes)
        self.assertIsNone(sub.take())

    def test_loan_filled_in_place(self):
        pub, sub = self.pair("/api/loan")
        with pub.loan(32) as loan:
            self.assertEqual(len(loan.view), 32)
            self.assertFalse(loan.view.readonly)
            loan.view[:] = bytes(range(32))
            address, nested = loan.alloc(5)
            nested[:] = b"inner"
            loan.view[0:8] = address.to_bytes(8, "little")
            self.assertEqual(pub.publish(loan), 1)
        with sub.take() as msg:
            self.assertEqual(msg.address, loan.address)  # same address: zero copy
            self.assertEqual(bytes(msg.data[8:]), bytes(range(8, 32)))
            ptr = int.from_bytes(msg.data[0:8], "little")
            self.assertEqual(msg.read_at(ptr, 5), b"inner")
            self.assertEqual(bytes(msg.view_at(ptr, 5)), b"inner")
            self.assertTrue(msg.contains(ptr, 5))

    def test_ctypes_struct_in_a_loan(self):
        class Point(ctypes.Structure):
            _fields_ = [("x", ctypes.c_double), ("y", ctypes.c_double)]

        pub, sub = self.pair("/api/struct")
        loan = pub.loan(ctypes.sizeof(Point))
        p = Point.from_buffer(loan.view)
        p.x, p.y = 1.5, -2.0
        with self.assertRaises(agnocast.Error) as cm:
            loan.publish()  # `p` could still write into the published message
        self.assertEqual(cm.exception.errno, errno.EBUSY)
        del p
        loan.publish()
        with sub.take() as msg:
            q = msg.struct(Point)
            self.assertEqual((q.x, q.y), (1.5, -2.0))

    def test_loan_dropped_on_exception_and_when_left_unpublished(self):
        pub, sub = self.pair("/api/drop")
        used0 = self.ctx.pool_usage[0]
        with self.assertRaises(ZeroDivisionError):
            with pub.loan(1 << 20) as loan:
                loan.view[0] = 1
                1 / 0
        self.assertTrue(loan.done)
        with pub.loan(1 << 20):
            pass
        self.assertEqual(pub.published, 0)
        self.assertIsNone(sub.take())
        self.assertLessEqual(self.ctx.pool_usage[0], used0 + 4096)

    def test_dropped_loan_waits_for_its_slices(self):
        pub, _ = self.pair("/api/dropslice")
        loan = pub.loan(64)
        part = loan.view[8:16]
        loan.drop()
        self.assertEqual(loan._hold.freed, False)  # `part` still writes into it
        part[0] = 7
        del part
        self.assertEqual(loan._hold.freed, True)

    def test_loan_view_released_at_publish(self):
        pub, _ = self.pair("/api/loanview")
        loan = pub.loan(8)
        view = loan.view
        loan.publish()
        with self.assertRaises(ValueError):
            view[0] = 1
        with self.assertRaises(agnocast.Error):
            loan.view
        with self.assertRaises(agnocast.Error):
            loan.publish()


class Receiving(ContextTestCase):
    def test_metadata(self):
        pub, sub = self.pair("/api/meta")
        pub.publish(b"x" * 100)
        pub.publish(b"y")
        with sub.take() as a, sub.take() as b:
            self.assertEqual((a.sequence, b.sequence), (1, 2))
            self.assertEqual((a.size, len(b)), (100, 1))
            self.assertEqual(a.publisher_pid, os.getpid())
            self.assertEqual(a.publisher_index, b.publisher_index)
            self.assertLessEqual(a.timestamp_ns, b.timestamp_ns)
            self.assertTrue(a.data.readonly)
            self.assertEqual(a.data.format, "B")
        self.assertEqual((sub.received, sub.missed, sub.corrupt, sub.unreachable), (2, 0, 0, 0))
        self.assertEqual((pub.subscription_count, sub.publisher_count), (1, 1))

    def test_take_latest_counts_missed(self):
        pub, sub = self.pair("/api/latest")
        for i in range(5):
            pub.publish(bytes([i]))
        with sub.take(latest=True) as msg:
            self.assertEqual(msg.sequence, 5)
        self.assertEqual(sub.missed, 4)

    def test_view_invalid_after_release(self):
        pub, sub = self.pair("/api/release")
        pub.publish(b"hello")
        msg = sub.take()
        view = msg.data
        self.assertEqual(bytes(view), b"hello")
        msg.release()
        self.assertTrue(msg.released)
        with self.assertRaises(ValueError):
            view[0]
        with self.assertRaises(ValueError):
            bytes(view)
        with self.assertRaises(agnocast.Error) as cm:
            msg.data
        self.assertEqual(cm.exception.errno, errno.EBADF)
        msg.release()  # idempotent

    def test_with_block_releases(self):
        pub, sub = self.pair("/api/with")
        pub.publish(b"abc")
        with sub.take() as msg:
            view = msg.data
        with self.assertRaises(ValueError):
            view.tobytes()

    def test_derived_views_keep_the_message(self):
        """A slice or a ctypes object made from the view outlives release(): the message stays
        held (no read of memory given back) until it is gone."""
        pub, sub = self.pair("/api/derived", depth=1)
        pub.publish(b"0123456789")
        msg = sub.take()
        part = msg.data[2:5]
        obj = (ctypes.c_char * 3).from_buffer_copy(msg.data)  # a copy: holds nothing
        msg.release()
        self.assertEqual(bytes(part), b"234")
        self.assertFalse(msg._hold.freed)
        with self.assertRaises(agnocast.Error) as cm:
            self.ctx.close()  # would unmap memory `part` reads
        self.assertEqual(cm.exception.errno, errno.EBUSY)
        del part
        self.assertTrue(msg._hold.freed)
        self.assertEqual(obj.raw, b"012")

    def test_garbage_message_is_released(self):
        pub, sub = self.pair("/api/garbage", depth=2)
        for _ in range(50):
            pub.publish(b"z" * 1000)
            sub.take().data  # never released explicitly
        gc.collect()
        self.assertEqual(self.ctx._holds, set())

    def test_iteration_releases_each_message(self):
        pub, sub = self.pair("/api/iter", depth=20)
        for i in range(10):
            pub.publish(bytes([i]))
        views, kept = [], None
        for msg in sub.messages(timeout=0.2):
            views.append(msg.data)
            if msg.sequence == 3:
                kept = msg.retain()
        self.assertEqual(len(views), 10)
        for i, v in enumerate(views):
            if i == 2:
                self.assertEqual(v[0], 2)  # retained: still valid
            else:
                self.assertRaises(ValueError, v.tobytes)
        kept.release()
        self.assertRaises(ValueError, views[2].tobytes)

    def test_take_waits_for_a_message(self):
        import threading

        pub, sub = self.pair("/api/wait")
        timer = threading.Timer(0.2, pub.publish, args=(b"late",))
        timer.start()
        try:
            msg = sub.take(timeout=10)
            self.assertEqual(bytes(msg.data), b"late")
            msg.release()
        finally:
            timer.join()
        self.assertIsNone(sub.take(timeout=0.05))


class Callbacks(ContextTestCase):
    def test_dispatch_and_spin(self):
        got = []
        pub, sub = self.pair("/api/cb", callback=lambda m: got.append(bytes(m.data)))
        pub.publish(b"one")
        self.assertTrue(self.ctx.wait(5))
        self.assertEqual(self.ctx.dispatch(), 1)
        pub.publish(b"two")
        self.ctx.spin(timeout=0.2)
        pub.publish(b"three")
        self.assertEqual(self.ctx.spin_once(timeout=5), 1)
        self.assertEqual(got, [b"one", b"two", b"three"])
        self.assertEqual(sub.received, 3)

    def test_callback_view_invalid_after_return_unless_retained(self):
        views, kept = [], []

        def on_message(msg):
            views.append(msg.data)
            if msg.sequence == 2:
                kept.append(msg.retain())

        pub, _ = self.pair("/api/cbview", callback=on_message)
        pub.publish(b"a")
        pub.publish(b"b")
        self.ctx.spin(timeout=0.3)
        self.assertEqual(len(views), 2)
        self.assertRaises(ValueError, views[0].tobytes)
        self.assertEqual(views[1].tobytes(), b"b")
        kept[0].release()
        self.assertRaises(ValueError, views[1].tobytes)
        self.assertEqual(self.ctx._holds, set())

    def test_callback_slice_outlives_callback_safely(self):
        parts = []
        pub, _ = self.pair("/api/cbslice", callback=lambda m: parts.append(m.data[1:]))
        pub.publish(b"xyz")
        self.ctx.spin(timeout=0.3)
        self.assertEqual(bytes(parts[0]), b"yz")  # retained for the slice
        self.assertEqual(len(self.ctx._holds), 1)
        parts.clear()
        self.assertEqual(self.ctx._holds, set())

    def test_stop_from_a_callback(self):
        got = []

        def on_message(msg):
            got.append(msg.sequence)
            self.ctx.stop()

        pub, _ = self.pair("/api/stop", callback=on_message)
        pub.publish(b"1")
        self.ctx.spin()  # no timeout: returns through stop()
        self.assertEqual(got, [1])

    def test_context_works_with_select(self):
        import select

        got = []
        pub, _ = self.pair("/api/select", callback=lambda m: got.append(m.sequence))
        pub.publish(b"s")
        r, _, _ = select.select([self.ctx], [], [], 5)
        self.assertEqual(r, [self.ctx])
        self.ctx.dispatch()
        self.assertEqual(got, [1])


class Closing(BrokerTestCase):
    def test_context_close_closes_everything(self):
        ctx = agnocast.Context()
        pub = ctx.publisher("/api/close")
        sub = ctx.subscription("/api/close")
        pub.publish(b"held")
        msg = sub.take()
        view = msg.data
        loan = pub.loan(10)
        ctx.close()
        self.assertTrue(ctx.closed and pub.closed and sub.closed and msg.released and loan.done)
        self.assertRaises(ValueError, view.tobytes)
        for call in (lambda: pub.publish(b"x"), lambda: sub.take(), ctx.dispatch):
            with self.assertRaises(agnocast.Error) as cm:
                call()
            self.assertEqual(cm.exception.errno, errno.EBADF)
        ctx.close()  # idempotent
        with agnocast.Context():  # one context at a time: the first is gone
            pass

    def test_one_context_per_process(self):
        with agnocast.Context():
            with self.assertRaises(agnocast.Error) as cm:
                agnocast.Context()
            self.assertEqual(cm.exception.errno, errno.EBUSY)


if __name__ == "__main__":
    unittest.main()
