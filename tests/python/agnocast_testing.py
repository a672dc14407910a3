"""What the Python tests share: a private agnocastd on a temporary socket, the paths of the
programs under test, and a child Python process that runs a peer role."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


def program(var):
    """A program the meson test names in the environment. Missing, the test fails (meson
    always sets it: a skip here would pass a test that checked nothing)."""
    path = os.environ.get(var)
    if not path or not os.access(path, os.X_OK):
        raise AssertionError("%s is not set to an executable (run through meson test, which "
                             "sets it)" % var)
    return path


class Broker:
    """A private agnocastd on a temporary socket; AGNOCAST_SOCKET points at it while it runs.
    $AGNOCAST_TEST_WINDOW_BASE moves its address window (sanitizer runs)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="agnocast-py-")
        self.socket = os.path.join(self.dir, "broker.sock")
        args = [program("AGNOCAST_TEST_BROKER"), "--socket", self.socket, "--state-file", ""]
        if os.environ.get("AGNOCAST_TEST_WINDOW_BASE"):
            args += ["--window-base", os.environ["AGNOCAST_TEST_WINDOW_BASE"]]
        self.log = open(os.path.join(self.dir, "broker.log"), "w+")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(200):
            if os.path.exists(self.socket):
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.025)
        if not os.path.exists(self.socket):
            self.stop()
            raise RuntimeError("agnocastd did not start: " + self.output())
        self.saved = os.environ.get("AGNOCAST_SOCKET")
        os.environ["AGNOCAST_SOCKET"] = self.socket

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "saved", None) is None:
            os.environ.pop("AGNOCAST_SOCKET", None)
        else:
            os.environ["AGNOCAST_SOCKET"] = self.saved
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class BrokerTestCase(unittest.TestCase):
    """One private broker for the whole class."""

    @classmethod
    def setUpClass(cls):
        cls.broker = Broker()

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop()


def python_peer(*args, **kw):
    """Starts `python3 peer.py ARGS` (tests/python/peer.py) with this process's environment."""
    return subprocess.Popen([sys.executable, os.path.join(HERE, "peer.py")] + list(args),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
