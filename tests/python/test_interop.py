"""Python against C, C++ and Python, in separate processes: every message and every nested
pointer checked (the demo message of examples/demo-message.h; the C++ talker's image, through
its C-readable head, examples/image-message.h)."""

import json
import os
import subprocess
import sys
import unittest

import agnocast
from agnocast_testing import HERE, BrokerTestCase, program, python_peer

sys.path.insert(0, os.path.join(HERE, "..", "..", "examples", "python"))
import demo_message  # noqa: E402

COUNT = 40


class CPublisherPythonSubscriber(BrokerTestCase):
    """examples/talker (C) publishes; this process reads in place and follows the pointers."""

    def talker(self, topic, size, count=COUNT):
        return subprocess.Popen(
            [program("AGNOCAST_TEST_TALKER"), "--topic", topic, "--count", str(count),
             "--rate", "200", "--size", str(size), "--depth", "64", "--linger", "3000"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def check_all(self, msgs_seen, talker):
        talker.terminate()  # it lingers so the last messages stay readable; not needed now
        out, err = talker.communicate(timeout=20)
        self.assertEqual([s for s, _ in msgs_seen], list(range(1, COUNT + 1)), err)
        self.assertEqual([p for _, p in msgs_seen if p], [])

    def test_callback_subscription_checks_every_message(self):
        with agnocast.Context() as ctx:
            seen = []

            def on_message(msg):
                seen.append((msg.sequence, demo_message.verify(msg)))
                if msg.sequence == 1:
                    self.assertEqual(demo_message.text_of(msg), "message 1")
                    self.assertNotEqual(msg.publisher_pid, os.getpid())
                if len(seen) == COUNT:
                    ctx.stop()

            sub = ctx.subscription("/py/c_callback", 64, callback=on_message)
            talker = self.talker("/py/c_callback", 1024)
            sub.wait_matched(1, timeout=10)
            ctx.spin(timeout=20)
            self.check_all(seen, talker)
            self.assertEqual(sub.received, COUNT)
            self.assertEqual((sub.missed, sub.corrupt, sub.unreachable), (0, 0, 0))

    def test_take_subscription_large_payload(self):
        """A 200 KiB payload: sampled checksum, nested view of the whole payload."""
        with agnocast.Context() as ctx:
            sub = ctx.subscription("/py/c_take", 64)
            talker = self.talker("/py/c_take", 200 * 1024)
            seen = []
            for msg in sub.messages(timeout=20):
                seen.append((msg.sequence, demo_message.verify(msg)))
                m = msg.struct(demo_message.DemoMessage)
                payload = msg.view_at(m.payload, m.payload_size)
                self.assertEqual(payload[len(payload) - 1], msg.sequence & 0xFF)
                if len(seen) == COUNT:
                    break
            self.check_all(seen, talker)

    def test_python_listener_example(self):
        """examples/python/listener.py as a program, against the C talker."""
        listener = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "..", "..", "examples", "python", "listener.py"),
             "--topic", "/py/c_example", "--count", str(COUNT), "--depth", "64",
             "--timeout", "20", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        with agnocast.Context() as ctx:
            # Its subscription exists once this publisher sees it: then start the talker.
            probe = ctx.publisher("/py/c_example")
            probe.wait_matched(1, timeout=20)
        talker = self.talker("/py/c_example", 4096)
        out, err = listener.communicate(timeout=60)
        talker.terminate()
        talker.communicate(timeout=20)
        self.assertEqual(listener.returncode, 0, err)
        res = json.loads(out)
        self.assertEqual((res["received"], res["corrupt"], res["missed"]), (COUNT, 0, 0), err)


class PythonPublisherCSubscriber(BrokerTestCase):
    """Messages written in place from Python (nested allocations included) pass
    examples/listener's (C) pointer and checksum checks."""

    def test_c_listener_verifies_python_messages(self):
        listener = subprocess.Popen(
            [program("AGNOCAST_TEST_LISTENER"), "--topic", "/py/to_c", "--count", str(COUNT),
             "--depth", "64", "--timeout", "20", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        with agnocast.Context() as ctx:
            pub = ctx.publisher("/py/to_c", 64)
            pub.wait_matched(1, timeout=20)
            for seq in range(1, COUNT + 1):
                self.assertEqual(demo_message.publish(pub, seq, 2048), seq)
            out, err = listener.communicate(timeout=60)  # our messages live while we do
        self.assertEqual(listener.returncode, 0, err)
        res = json.loads(out)
        self.assertEqual((res["received"], res["corrupt"], res["missed"]), (COUNT, 0, 0), err)

    def test_c_take_listener_bytes_publish(self):
        """publish(bytes) of a whole demo message built in a private buffer would carry
        private pointers: the C listener must count it corrupt, not crash."""
        listener = subprocess.Popen(
            [program("AGNOCAST_TEST_LISTENER"), "--topic", "/py/to_c_bytes", "--count", "1",
             "--take", "--timeout", "20", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        with agnocast.Context() as ctx:
            pub = ctx.publisher("/py/to_c_bytes")
            pub.wait_matched(1, timeout=20)
            forged = demo_message.DemoMessage(1, 0x1000, 8, 0x1000, 0x2000, 4, 0)
            pub.publish(bytes(forged))
            out, err = listener.communicate(timeout=60)
        self.assertEqual(listener.returncode, 1, err)  # a corrupt message: status 1
        self.assertEqual(json.loads(out)["corrupt"], 1)


class CxxAndPython(BrokerTestCase):
    """examples/cpp_talker (std::pmr members in the message) read by the Python image
    listener; Python's demo messages read by a C++ subscriber (tests/cxx/demo-checker.cpp)."""

    def test_python_image_listener_checks_cpp_talker(self):
        listener = subprocess.Popen(
            [sys.executable,
             os.path.join(HERE, "..", "..", "examples", "python", "image_listener.py"),
             "--topic", "/py/cpp_image", "--count", str(COUNT), "--depth", "64",
             "--timeout", "20", "--json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        with agnocast.Context() as ctx:
            probe = ctx.publisher("/py/cpp_image")
            probe.wait_matched(1, timeout=20)
        talker = subprocess.Popen(
            [program("AGNOCAST_TEST_CPP_TALKER"), "--topic", "/py/cpp_image", "--count",
             str(COUNT), "--rate", "200", "--width", "64", "--height", "48", "--depth", "64",
             "--frame-id", "camera/front", "--linger", "3000"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = listener.communicate(timeout=60)
        talker.terminate()
        talker.communicate(timeout=20)
        self.assertEqual(listener.returncode, 0, err)
        res = json.loads(out)
        self.assertEqual((res["received"], res["corrupt"], res["missed"]), (COUNT, 0, 0), err)

    def test_python_image_check_catches_a_bad_pixel(self):
        """The check can fail: an image head whose checksum does not match is reported."""
        import image_message
        with agnocast.Context() as ctx:
            pub = ctx.publisher("/py/fake_image", 4)
            sub = ctx.subscription("/py/fake_image", 4)
            sub.wait_matched(1, timeout=10)
            with pub.loan(ctypes_sizeof(image_message.ImageHeader)) as loan:
                pix_addr, pix = loan.alloc(12)
                fid_addr, fid = loan.alloc(4)
                pix[:] = image_message.expected_pixels(12, 1)
                fid[:] = b"cam\0"
                h = image_message.ImageHeader.from_buffer(loan.view)
                h.magic, h.version, h.width, h.height = image_message.IMAGE_MAGIC, 1, 4, 3
                h.sequence, h.self_address = 1, loan.address
                h.pixels_addr, h.pixels_len = pix_addr, 12
                h.frame_id_addr, h.frame_id_len, h.frame_id = fid_addr, 3, b"cam"
                h.checksum = 12345
                del h
                loan.publish()
            msg = sub.take(timeout=5)
            self.assertEqual(image_message.verify(msg), "bad checksum")
            msg.release()

    def test_cpp_subscriber_checks_python_messages(self):
        checker = subprocess.Popen(
            [program("AGNOCAST_TEST_DEMO_CHECKER"), "/py/to_cpp", str(COUNT), "20"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.assertEqual(checker.stdout.readline().strip(), "ready")
        with agnocast.Context() as ctx:
            pub = ctx.publisher("/py/to_cpp", 64)
            pub.wait_matched(1, timeout=20)
            for seq in range(1, COUNT + 1):
                self.assertEqual(demo_message.publish(pub, seq, 2048), seq)
            out, err = checker.communicate(timeout=60)  # our messages live while we do
        self.assertEqual(checker.returncode, 0, err)
        res = json.loads(out)
        self.assertEqual((res["received"], res["corrupt"], res["missed"]), (COUNT, 0, 0), err)


def ctypes_sizeof(t):
    import ctypes
    return ctypes.sizeof(t)


class PythonPublisherPythonSubscriber(BrokerTestCase):
    """Two Python processes (tests/python/peer.py), each way round with this one."""

    def test_peer_publishes_this_process_reads(self):
        peer = python_peer("publish", "/py/py_a", str(COUNT), "512", stdin=subprocess.PIPE)
        try:
            with agnocast.Context() as ctx:
                sub = ctx.subscription("/py/py_a", 64)
                seen = []
                for msg in sub.messages(timeout=20):
                    seen.append(msg.sequence)
                    self.assertIsNone(demo_message.verify(msg))
                    self.assertEqual(msg.publisher_pid, peer.pid)
                    if len(seen) == COUNT:
                        break
                self.assertEqual(seen, list(range(1, COUNT + 1)))
        finally:
            out, err = peer.communicate("go\n", timeout=30)
        self.assertEqual(peer.returncode, 0, err)

    def test_this_process_publishes_peer_reads(self):
        peer = python_peer("subscribe", "/py/py_b", str(COUNT))
        self.assertEqual(peer.stdout.readline().strip(), "ready")
        with agnocast.Context() as ctx:
            pub = ctx.publisher("/py/py_b", 64)
            pub.wait_matched(1, timeout=20)
            for seq in range(1, COUNT + 1):
                demo_message.publish(pub, seq, 300)
            out, err = peer.communicate(timeout=60)
        self.assertEqual(peer.returncode, 0, err)
        res = json.loads(out)
        self.assertEqual(res["sequences"], list(range(1, COUNT + 1)))
        self.assertEqual(res["problems"], [])


if __name__ == "__main__":
    unittest.main()
