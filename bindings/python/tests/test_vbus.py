"""Tests of the vbus Python package against real nodes on loopback.

Every node listens on an ephemeral port of 127.0.0.1 and connects only to another test node's
locator; multicast scouting is off. The schemas are real ones: vbus-codegen compiles
examples/schemas/vehicle.fbs and bus/test-support/schemas/speed.fbs (``$VBUS_CODEGEN`` names a
built vbus-codegen; otherwise ``cargo run -p vbus-codegen``).

Run: ``python3 bindings/python/tests/test_vbus.py`` (unittest; ``-v`` for names). With
``VBUS_SHARED_MEMORY=off`` every sample goes through zenoh, and the tests check that it did.
"""

import asyncio
import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest
from pathlib import Path

import vbus

ROOT = Path(__file__).resolve().parents[3]
SCHEMAS = Path(tempfile.mkdtemp(prefix="vbus-py-schemas-"))
WAIT = 10.0  # longest a test waits for one thing (a watchdog, not a speed assertion)
_ids = itertools.count()
SHM_OFF = os.environ.get("VBUS_SHARED_MEMORY", "").lower() in ("off", "0", "false", "no")


def setUpModule():
    codegen = os.environ.get("VBUS_CODEGEN")
    cmd = [codegen] if codegen else ["cargo", "run", "-q", "-p", "vbus-codegen", "--"]
    for args in (
        ["examples/schemas/vehicle.fbs"],
        ["bus/test-support/schemas/speed.fbs", "-I", "bus/test-support/schemas"],
    ):
        subprocess.run(cmd + ["fbs", *args, "--out", str(SCHEMAS)], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)


def tearDownModule():
    shutil.rmtree(SCHEMAS, ignore_errors=True)


def schema(name):
    return (SCHEMAS / f"{name}.bfbs").read_bytes()


def domain():
    return f"py{os.getpid()}-{next(_ids)}"


def peer(name, dom, connect=()):
    """A peer on an ephemeral loopback port, connecting only to `connect`."""
    return vbus.Node({
        "name": name,
        "domain": dom,
        "mode": "peer",
        "listen": ["tcp/127.0.0.1:0"],
        "connect": list(connect),
        "multicast_scouting": False,
    })


def loopback(node):
    return next(l for l in node.locators if l.startswith("tcp/127.0.0.1:"))


def pair(test):
    """Two connected peers, closed at the end of the test."""
    dom = domain()
    a = peer("a", dom)
    b = peer("b", dom, [loopback(a)])
    test.addCleanup(b.close)
    test.addCleanup(a.close)
    return a, b


def eventually(what, f, timeout=WAIT):
    end = time.monotonic() + timeout
    while True:
        v = f()
        if v is not None and v is not False:
            return v
        if time.monotonic() > end:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.02)


def speed(i):
    return {
        "kph": 10.5 + i,
        "count": i,
        "label": f"sample {i}",
        "engine": {"rpm": 800 + i, "temp": -5},
        "pos": {"x": float(i), "y": -1.25},
        "gear": i % 5,
        "odo": 1000.125 * i,
        "ready": i % 2 == 0,
        "limit": 130 if i % 3 == 0 else None,
    }


class PubSub(unittest.TestCase):
    def check_path(self, s):
        self.assertIn(s.path, ("zenoh",) if SHM_OFF else ("shared-memory", "zenoh"))

    def test_dicts_reach_a_subscriber_that_fetches_the_schema_from_the_bus(self):
        a, b = pair(self)
        # Block: a burst is not dropped (with the default Drop, a burst beyond the same-host
        # path's buffer loses its tail, as for Rust publishers).
        pub = a.publisher("chassis/speed", "test.Speed", schema=schema("speed"), qos={"congestion": "block"})
        # No type and no schema: the type from the publisher's announcement, the schema it serves.
        sub = b.subscriber("chassis/speed", queue=256)
        self.assertEqual((sub.type_name, sub.type_hash), ("test.Speed", pub.type_hash))
        self.assertTrue(pub.wait_for_subscribers(WAIT))
        n = 50
        for i in range(1, n + 1):
            pub.publish(speed(i))
        got = [sub.recv(WAIT) for _ in range(n)]
        for i, s in enumerate(got, start=1):
            self.assertEqual(s.value, speed(i))
            self.assertEqual((s.seq, s.key, s.type_name, s.publisher_id), (i, "chassis/speed", "test.Speed", pub.id))
            self.assertGreater(s.source_time_ns, 1_600_000_000 * 10**9)
            self.assertIsInstance(s.bytes, bytes)
            self.check_path(s)
        self.assertIsNone(got[1].value.get("limit"))
        self.assertEqual(sub.stats()["delivered"], n)
        self.assertEqual(pub.stats()["sent"], n)
        roles = {(e["role"], e["key"]) for e in a.stats()}
        self.assertIn(("publisher", "chassis/speed"), roles)
        # The raw bytes republished elsewhere are the same sample.
        pub.publish_bytes(got[0].bytes)
        again = sub.recv(WAIT)
        self.assertEqual((again.value, again.seq), (got[0].value, n + 1))

    def test_iteration_and_the_listing_of_topics(self):
        a, b = pair(self)
        pub = a.publisher("chassis/speed", schema=schema("speed"))  # the table declaring the key
        sub = b.subscriber("chassis/speed", "test.Speed")  # the schema served by `a`
        self.assertTrue(pub.wait_for_subscribers(WAIT))
        for i in range(1, 6):
            pub.publish({"kph": float(i), "count": i})
        counts = []
        for s in sub:
            counts.append(s.value["count"])
            if len(counts) == 5:
                break
        self.assertEqual(counts, [1, 2, 3, 4, 5])
        def listed():
            topics = b.topics()
            return topics if sum(t["key"] == "chassis/speed" for t in topics) == 2 else None

        topics = eventually("both endpoints listed", listed)
        self.assertIn({"key": "chassis/speed", "type_name": "test.Speed", "node": "a", "publisher": True}, topics)
        self.assertIn({"key": "chassis/speed", "type_name": "test.Speed", "node": "b", "publisher": False}, topics)
        self.assertEqual(sorted(b.alive_nodes()), ["a", "b"])
        self.assertEqual(b.schema("test.Speed"), pub.schema)
        # Iteration ends once the node is closed and the queue drained.
        pub.publish({"count": 99})
        eventually("the last sample queued", lambda: sub.queued == 1)
        b.close()
        self.assertEqual([s.value["count"] for s in sub], [99])
        with self.assertRaises(vbus.ClosedError):
            sub.recv(0.1)

    def test_async_for_and_cancelled_awaits_lose_nothing(self):
        a, b = pair(self)
        pub = a.publisher("chassis/speed", "test.Speed", schema=schema("speed"))
        sub = b.subscriber("chassis/speed", "test.Speed", schema=schema("speed"))
        self.assertTrue(pub.wait_for_subscribers(WAIT))

        async def main():
            with self.assertRaises(vbus.TimeoutError):
                await sub.arecv(timeout=0.05)
            # An await cancelled before its sample comes: the sample goes to the next receive.
            waiting = asyncio.ensure_future(sub.arecv())
            await asyncio.sleep(0.05)
            waiting.cancel()
            pub.publish({"count": 1})
            first = await asyncio.wait_for(sub.arecv(), WAIT)
            self.assertEqual(first.value["count"], 1)
            loop = asyncio.get_running_loop()
            loop.call_later(0.05, lambda: [pub.publish({"count": i}) for i in range(2, 12)])
            got = []
            async for s in sub:
                got.append(s.value["count"])
                if len(got) == 10:
                    break
            return got

        self.assertEqual(asyncio.run(asyncio.wait_for(main(), 3 * WAIT)), list(range(2, 12)))

    def test_async_for_ends_when_the_node_closes(self):
        a, b = pair(self)
        sub = b.subscriber("chassis/speed", schema=schema("speed"))

        async def main():
            asyncio.get_running_loop().call_later(0.1, b.close)
            return [s async for s in sub]

        self.assertEqual(asyncio.run(asyncio.wait_for(main(), WAIT)), [])

    def test_type_mismatch_and_deadline_events(self):
        a, b = pair(self)
        sub = b.subscriber("chassis/speed", "test.Speed", schema=schema("speed"))
        other = a.publisher("chassis/speed", "demo.vehicle.VehicleSpeed", schema=schema("vehicle"))
        self.assertNotEqual(other.type_hash, sub.type_hash)
        self.assertTrue(other.wait_for_subscribers(WAIT))
        other.publish({"kph": 3.0})
        e = sub.next_event(WAIT)
        self.assertEqual(
            {k: e[k] for k in ("kind", "key", "expected_type", "expected_hash", "found_hash", "publisher_id")},
            {"kind": "type_mismatch", "key": "chassis/speed", "expected_type": "test.Speed",
             "expected_hash": sub.type_hash, "found_hash": other.type_hash, "publisher_id": other.id})
        self.assertIn("expected test.Speed", e["message"])
        self.assertEqual(sub.stats()["mismatched"], 1)
        self.assertIsNone(sub.try_recv())
        self.assertEqual(sub.events(), [])
        with self.assertRaises(vbus.TimeoutError):
            sub.next_event(0.05)
        quiet = b.subscriber("body/quiet", "test.Speed", schema=schema("speed"), qos={"deadline": 0.05})
        e = quiet.next_event(WAIT)
        self.assertEqual((e["kind"], e["key"], e["deadline"]), ("deadline_missed", "body/quiet", 0.05))
        self.assertGreaterEqual(e["silent_for"], 0.05)
        self.assertGreaterEqual(quiet.stats()["deadline_missed"], 1)


class Fields(unittest.TestCase):
    def test_owner_sets_and_a_late_client_reads_then_follows(self):
        a, b = pair(self)
        owner = a.field_owner("body/drive_mode", "demo.vehicle.DriveModeState", schema=schema("vehicle"))
        owner.set({"mode": "Sport", "changed_by": "python"})
        # A client that joins later, with the schema the owner serves, gets the value at once.
        client = eventually("the value reaches a late client", lambda: (
            c if (c := b.field("body/drive_mode")).get() is not None else c.close()))
        self.assertEqual(client.get(), {"mode": "Sport", "changed_by": "python"})
        self.assertEqual(client.changed(WAIT), {"mode": "Sport", "changed_by": "python"})
        with self.assertRaises(vbus.TimeoutError):
            client.changed(0.1)
        owner.set({"mode": "Eco"})
        self.assertEqual(client.changed(WAIT), {"mode": "Eco"})  # an absent string stays absent
        self.assertEqual(client.get(), {"mode": "Eco"})
        self.assertEqual(client.sample().type_name, "demo.vehicle.DriveModeState")
        self.assertEqual(owner.stats()["sent"], 2)

    def test_changed_wakes_when_the_owner_sets_from_another_thread(self):
        a, b = pair(self)
        owner = a.field_owner("body/drive_mode", schema=schema("vehicle"))
        client = b.field("body/drive_mode", schema=schema("vehicle"))
        self.assertIsNone(client.get())
        threading.Timer(0.2, lambda: owner.set({"mode": "Normal", "changed_by": "t"})).start()
        self.assertEqual(client.changed(WAIT)["changed_by"], "t")


class Calls(unittest.TestCase):
    def test_call_without_a_server(self):
        a, b = pair(self)
        # The schema declares the service (vbus_service / vbus_reply): types found, no server.
        with self.assertRaises(vbus.CallError) as e:
            b.call("body/set_drive_mode", {"mode": "Eco"}, 0.5, schema=schema("vehicle"))
        self.assertEqual(str(e.exception), "no server for `body/set_drive_mode`")
        with self.assertRaises(vbus.CallError) as e:
            b.call("body/set_drive_mod", {"mode": "Eco"}, 0.5, schema=schema("vehicle"))
        self.assertIn("declares no service `body/set_drive_mod` (did you mean `body/set_drive_mode`?)",
                      str(e.exception))
        # Nothing serves a schema declaring it.
        with self.assertRaises(vbus.CallError) as e:
            b.call("body/set_drive_mode", {"mode": "Eco"}, 0.5)
        self.assertIn("no served schema declares service `body/set_drive_mode`", str(e.exception))
        with self.assertRaises(vbus.PayloadError) as e:
            b.call("body/set_drive_mode", {"mode": "Turbo"}, 0.5, schema=schema("vehicle"))
        self.assertIn("$.mode", str(e.exception))


class BadInput(unittest.TestCase):
    def test_configuration(self):
        for config, words in [
            ("{ nmae: 'x' }", "nmae"),
            ("{ mode: 'satellite' }", "satellite"),
            ("{ name: 'a/b' }", "single key chunk"),
            ("{ connect: ['127.0.0.1:7447'] }", "`connect[0]`"),
            ("{ name: ", "expected valid JSON5"),
            ({"listen": 5}, "listen"),
        ]:
            with self.subTest(config=config), self.assertRaises(vbus.ConfigError) as e:
                vbus.Node(config)
            self.assertIn(words, str(e.exception))
            self.assertIsInstance(e.exception, ValueError)
        with self.assertRaises(vbus.ConfigError) as e:
            vbus.Node(file="/nonexistent/vbus.json5")
        self.assertIn("/nonexistent/vbus.json5: cannot read", str(e.exception))
        with self.assertRaises(vbus.ConfigError):
            vbus.Node("{}", file="x.json5")
        with tempfile.NamedTemporaryFile("w", suffix=".json5") as f:
            f.write("{ name: 'from-file', domain: '%s', listen: ['tcp/127.0.0.1:0'], connect: [] }" % domain())
            f.flush()
            with vbus.Node(file=f.name) as n:
                self.assertEqual((n.name, n.mode), ("from-file", "peer"))
            self.assertTrue(n.closed)

    def test_keys_values_schemas_and_closed_handles(self):
        a, b = pair(self)
        for key in ["a//b", "chassis/*", "@x/y", ""]:
            with self.subTest(key=key), self.assertRaises(vbus.InvalidKey) as e:
                a.publisher(key, "test.Speed", schema=schema("speed"))
            self.assertIn("invalid key", str(e.exception))
        with self.assertRaises(vbus.InvalidKey):
            b.subscriber("a//b")  # refused at once, not after waiting for a publisher
        pub = a.publisher("chassis/speed", "test.Speed", schema=schema("speed"))
        for value, words in [
            ({"kph": "fast"}, '$.kph: expected float, found string "fast"'),
            ({"kpj": 1.0}, "kpj"),
            ({"engine": {"rpm": -1}}, "$.engine.rpm"),
            ({"count": 2**70}, "does not fit in 64 bits"),
            ({"label": object()}, "$.label: cannot encode a Python object"),
            ([1, 2], "$"),
        ]:
            with self.subTest(value=value), self.assertRaises(vbus.PayloadError) as e:
                pub.publish(value)
            self.assertIn(words, str(e.exception))
        with self.assertRaises(vbus.PayloadError) as e:
            pub.publish_bytes(b"not a flatbuffer")
        self.assertIn("payload for `chassis/speed` is not a valid test.Speed", str(e.exception))
        self.assertEqual(pub.stats()["sent"], 0)
        with self.assertRaises(vbus.SchemaError) as e:
            a.publisher("x/y", "test.Sped", schema=schema("speed"))
        self.assertIn("type `test.Sped` is not in the schema (did you mean `test.Speed`?)", str(e.exception))
        with self.assertRaises(vbus.SchemaError) as e:
            a.publisher("x/y", "test.Speed", schema=b"junk")
        self.assertIn("invalid schema", str(e.exception))
        with self.assertRaises(vbus.SchemaError) as e:
            a.publisher("x/y", "test.Speed", schema="/nonexistent.bfbs")
        self.assertIn("cannot read `/nonexistent.bfbs`", str(e.exception))
        with self.assertRaises(vbus.SchemaError) as e:
            b.subscriber("nobody/here", schema_timeout=0.3)
        self.assertIn("no node announces topic `nobody/here`", str(e.exception))
        with self.assertRaises(vbus.SchemaError) as e:
            b.subscriber("nobody/here", "test.Nothing", schema_timeout=0.3)
        self.assertIn("no node serves the schema of `test.Nothing`", str(e.exception))
        with self.assertRaises(vbus.ConfigError) as e:
            b.subscriber("chassis/speed", schema=schema("speed"), qos={"histroy": 1})
        self.assertIn("unknown option `histroy` (did you mean `history`?)", str(e.exception))
        with self.assertRaises(vbus.ConfigError):
            b.subscriber("chassis/speed", schema=schema("speed"), qos={"priority": "urgent"})
        with self.assertRaises(ValueError):
            b.subscriber("chassis/speed", schema=schema("speed")).recv(timeout=-1)
        # Handles used after close.
        sub = b.subscriber("chassis/speed", schema=schema("speed"))
        sub.close()
        with self.assertRaises(vbus.ClosedError) as e:
            sub.recv(0.1)
        self.assertIn("the subscriber of `chassis/speed` is closed", str(e.exception))
        with self.assertRaises(vbus.ClosedError):
            sub.stats()
        a.close()
        with self.assertRaises(vbus.ClosedError) as e:
            pub.publish({"kph": 1.0})
        self.assertEqual(str(e.exception), "node `a` is closed")
        with self.assertRaises(vbus.ClosedError):
            a.subscriber("chassis/speed", schema=schema("speed"))
        with self.assertRaises(vbus.ClosedError):
            a.call("body/set_drive_mode", {}, schema=schema("vehicle"))
        self.assertTrue(issubclass(vbus.TimeoutError, TimeoutError))
        self.assertTrue(issubclass(vbus.CallTimeout, vbus.CallError))
        self.assertTrue(issubclass(vbus.CallTimeout, vbus.TimeoutError))


class Stubs(unittest.TestCase):
    def test_the_type_stubs_match_the_module_and_everything_has_docs(self):
        import ast

        stub = Path(vbus.__file__).with_name("__init__.pyi")
        self.assertTrue(stub.with_name("py.typed").exists())
        tree = ast.parse(stub.read_text())
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                self.assertTrue(hasattr(vbus, node.name), node.name)
                runtime = getattr(vbus, node.name)
                self.assertTrue(runtime.__doc__, node.name)
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name != "__init__":
                        with self.subTest(member=f"{node.name}.{item.name}"):
                            self.assertTrue(hasattr(runtime, item.name))
                            if not item.name.startswith("__"):
                                self.assertTrue(getattr(runtime, item.name).__doc__)
            elif isinstance(node, (ast.AnnAssign, ast.Assign)):
                target = node.target if isinstance(node, ast.AnnAssign) else node.targets[0]
                self.assertTrue(hasattr(vbus, target.id), target.id)
        stubbed = {n.name for n in tree.body if isinstance(n, ast.ClassDef)}
        stubbed |= {a.asname or a.name for n in tree.body if isinstance(n, ast.ImportFrom) for a in n.names}
        self.assertEqual({n for n in vbus.__all__ if isinstance(getattr(vbus, n), type)} - stubbed, set())


class Process(unittest.TestCase):
    def run_child(self, body, interrupt_after=None):
        code = textwrap.dedent(f"""
            import sys, vbus
            node = vbus.Node({{"name": "child", "domain": "{domain()}", "listen": ["tcp/127.0.0.1:0"],
                               "connect": [], "multicast_scouting": False}})
            sub = node.subscriber("chassis/speed", schema=open({str(SCHEMAS / 'speed.bfbs')!r}, "rb").read())
            print("ready", flush=True)
        """) + textwrap.dedent(body)
        with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) as child:
            try:
                self.assertEqual(child.stdout.readline().strip(), "ready")
                if interrupt_after is not None:
                    time.sleep(interrupt_after)
                    child.send_signal(signal.SIGINT)
                # Not communicate(): it reads the pipe past what readline() already buffered.
                rc = child.wait(timeout=WAIT)
                return rc, child.stdout.read(), child.stderr.read()
            finally:
                if child.poll() is None:
                    child.kill()

    def test_ctrl_c_interrupts_a_blocking_iteration(self):
        start = time.monotonic()
        rc, out, err = self.run_child("""
            try:
                for s in sub:
                    pass
            except KeyboardInterrupt:
                print("interrupted", flush=True)
        """, interrupt_after=0.3)
        self.assertEqual((rc, out.strip()), (0, "interrupted"), err)
        self.assertLess(time.monotonic() - start, WAIT)

    def test_exit_without_close(self):
        rc, out, err = self.run_child("print('bye')")
        self.assertEqual((rc, out.strip()), (0, "bye"), err)


if __name__ == "__main__":
    result = unittest.main(exit=False).result
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    print(f"{result.testsRun - failed - skipped} passed, {failed} failed, {skipped} skipped")
    sys.exit(1 if failed or not result.testsRun else 0)
