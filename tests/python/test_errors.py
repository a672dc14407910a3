"""Errors: agnocast.Error with the errno and the library's sentence; exceptions raised in
callbacks come back out of dispatch/spin, never through the C frames."""

import errno
import os
import subprocess
import sys
import unittest

import agnocast
from agnocast_testing import BrokerTestCase


class LibraryErrors(BrokerTestCase):
    def setUp(self):
        self.ctx = agnocast.Context()
        self.addCleanup(self.ctx.close)

    def test_bad_topic_name(self):
        for topic in ("no-slash", "/bad name", "/trailing/", ""):
            with self.assertRaises(agnocast.Error) as cm:
                self.ctx.publisher(topic)
            e = cm.exception
            self.assertIsInstance(e, OSError)
            self.assertEqual(e.errno, errno.EINVAL)
            self.assertIn("invalid topic name", e.strerror)
            self.assertIn("/sensors/lidar", str(e))  # the remedy
            self.assertEqual(e.function, "agnocast_publisher_new")
        with self.assertRaises(agnocast.Error) as cm:
            self.ctx.subscription("bad", callback=print)
        self.assertEqual(cm.exception.errno, errno.EINVAL)

    def test_bad_depth(self):
        with self.assertRaises(agnocast.Error) as cm:
            self.ctx.publisher("/err/depth", depth=0)
        self.assertEqual(cm.exception.errno, errno.EINVAL)
        self.assertTrue(cm.exception.strerror)

    def test_zero_size_loan(self):
        pub = self.ctx.publisher("/err/zero")
        with self.assertRaises(agnocast.Error) as cm:
            pub.publish(b"")
        self.assertEqual(cm.exception.errno, errno.EINVAL)

    def test_unchecked_pointer_refused(self):
        pub = self.ctx.publisher("/err/ptr")
        sub = self.ctx.subscription("/err/ptr")
        pub.publish(b"12345678")
        with sub.take() as msg:
            for address, size in ((0, 8), (16, 8), (msg.address, 1 << 50), (-5, 1)):
                self.assertFalse(msg.contains(address, size))
                with self.assertRaises(agnocast.Error) as cm:
                    msg.read_at(address, size)
                self.assertEqual(cm.exception.errno, errno.EFAULT)
                self.assertRaises(agnocast.Error, msg.view_at, address, size)


class NoBroker(unittest.TestCase):
    def test_no_broker_names_the_socket_and_the_remedy(self):
        saved = os.environ.get("AGNOCAST_SOCKET")
        os.environ["AGNOCAST_SOCKET"] = "/nonexistent/agnocast.sock"
        try:
            with self.assertRaises(agnocast.Error) as cm:
                agnocast.Context()
        finally:
            if saved is None:
                del os.environ["AGNOCAST_SOCKET"]
            else:
                os.environ["AGNOCAST_SOCKET"] = saved
        e = cm.exception
        self.assertIn(e.errno, (errno.ENOENT, errno.ECONNREFUSED))
        self.assertIn("/nonexistent/agnocast.sock", e.strerror)
        self.assertIn("AGNOCAST_SOCKET", e.strerror)

    def test_bad_library_path_is_an_import_error(self):
        env = dict(os.environ, AGNOCAST_LIBRARY="/nonexistent/libagnocast.so.0")
        r = subprocess.run([sys.executable, "-c", "import agnocast"], env=env,
                           capture_output=True, text=True)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("ImportError", r.stderr)
        self.assertIn("AGNOCAST_LIBRARY", r.stderr)


class CallbackExceptions(BrokerTestCase):
    def setUp(self):
        self.ctx = agnocast.Context()
        self.addCleanup(self.ctx.close)
        self.unraisable = []
        saved, sys.unraisablehook = sys.unraisablehook, self.unraisable.append
        self.addCleanup(setattr, sys, "unraisablehook", saved)

    def tearDown(self):
        # ctypes reports an exception escaping a callback as "unraisable": none may.
        self.assertEqual(self.unraisable, [])

    def raising_pair(self, topic, exc):
        seen = []

        def on_message(msg):
            seen.append(msg.sequence)
            raise exc

        pub = self.ctx.publisher(topic)
        self.ctx.subscription(topic, callback=on_message)
        return pub, seen

    def test_dispatch_reraises(self):
        pub, seen = self.raising_pair("/err/dispatch", ValueError("from the callback"))
        pub.publish(b"1")
        self.ctx.wait(5)
        with self.assertRaises(ValueError) as cm:
            self.ctx.dispatch()
        self.assertEqual(str(cm.exception), "from the callback")
        self.assertEqual(seen, [1])
        self.assertEqual(self.ctx.dispatch(), 0)  # nothing pending any more

    def test_spin_returns_with_the_exception(self):
        pub, seen = self.raising_pair("/err/spin", KeyError("k"))
        pub.publish(b"1")
        with self.assertRaises(KeyError):
            self.ctx.spin()  # no timeout: it must end because of the exception
        pub.publish(b"2")
        with self.assertRaises(KeyError):
            self.ctx.spin_once(timeout=5)
        self.assertEqual(seen, [1, 2])
        self.assertEqual(self.ctx._holds, set())

    def test_keyboard_interrupt_in_a_callback(self):
        pub, _ = self.raising_pair("/err/kbd", KeyboardInterrupt())
        pub.publish(b"1")
        with self.assertRaises(KeyboardInterrupt):
            self.ctx.spin(timeout=5)

    def test_every_callback_of_the_round_runs_first_exception_wins(self):
        pub, seen = self.raising_pair("/err/round", RuntimeError("first"))
        other = []
        self.ctx.subscription("/err/round", callback=lambda m: other.append(m.sequence))
        pub.publish(b"1")
        pub.publish(b"2")
        self.ctx.wait(5)
        with self.assertRaises(RuntimeError) as cm:
            self.ctx.dispatch()
        self.assertEqual(str(cm.exception), "first")
        self.assertEqual(seen, [1, 2])
        self.assertEqual(other, [1, 2])
        self.assertTrue(any("and then a callback raised" in n
                            for n in getattr(cm.exception, "__notes__", [])))

    def test_take_with_timeout_reraises_a_callback_exception(self):
        pub, _ = self.raising_pair("/err/take", ValueError("cb"))
        sub = self.ctx.subscription("/err/other")
        pub.publish(b"1")
        with self.assertRaises(ValueError):
            sub.take(timeout=5)  # waiting dispatches the context

    def test_callback_type_checked(self):
        with self.assertRaises(TypeError):
            self.ctx.subscription("/err/type", callback="not callable")


class Forked(BrokerTestCase):
    def test_child_gets_echild_and_may_make_its_own_context(self):
        ctx = agnocast.Context()
        self.addCleanup(ctx.close)
        pub = ctx.publisher("/err/fork")
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                try:
                    pub.publish(b"x")
                except agnocast.Error as e:
                    if e.errno == errno.ECHILD:
                        ctx.close()  # frees nothing in the child
                        with agnocast.Context() as own:
                            own.publisher("/err/fork").publish(b"child")
                        code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0)
        self.assertEqual(pub.publish(b"parent"), 1)


if __name__ == "__main__":
    unittest.main()
