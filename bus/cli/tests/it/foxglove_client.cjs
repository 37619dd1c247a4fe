// A Foxglove WebSocket client for `foxglove.rs`: the official @foxglove/ws-protocol client over
// `ws`, speaking subprotocol foxglove.sdk.v1 to `vbus foxglove`. It prints `FOX ...` lines that
// the Rust test checks, and waits for a `go` line on stdin where the test looks at the bus.
//
// usage: node foxglove_client.cjs ws://127.0.0.1:PORT CAN_TOPIC BRIDGE_TOPIC
"use strict";

const { FoxgloveClient } = require("@foxglove/ws-protocol");
const WebSocket = require("ws");
const flatbuffers = require("flatbuffers");
const readline = require("readline");

const [url, canTopic, bridgeTopic] = process.argv.slice(2);
const SPEED = "chassis/speed";
const FIELD = "body/drive_mode";
const SERVICE = "body/set_drive_mode";

setTimeout(() => {
  console.log("FOX error timeout");
  process.exit(3);
}, 50000).unref();

const out = (...words) => console.log(["FOX", ...words].join(" "));
const hex = (view) => Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString("hex");

// stdin lines from the test
const lines = [];
let lineWaiter = null;
readline.createInterface({ input: process.stdin }).on("line", (l) => {
  if (lineWaiter) {
    const w = lineWaiter;
    lineWaiter = null;
    w(l);
  } else lines.push(l);
});
const nextLine = () => (lines.length ? Promise.resolve(lines.shift()) : new Promise((r) => (lineWaiter = r)));

// Scalar fields of a FlatBuffers table by field id, with the flatbuffers package.
function table(view) {
  const bb = new flatbuffers.ByteBuffer(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
  const root = bb.readInt32(bb.position()) + bb.position();
  const at = (id) => bb.__offset(root, 4 + 2 * id);
  return {
    f32: (id, dflt = 0) => (at(id) ? bb.readFloat32(root + at(id)) : dflt),
    f64: (id, dflt = 0) => (at(id) ? bb.readFloat64(root + at(id)) : dflt),
  };
}

// The client library names foxglove.websocket.v1; the SDK server speaks foxglove.sdk.v1.
const ws = new WebSocket(url, ["foxglove.sdk.v1"]);
const client = new FoxgloveClient({ ws });
const channels = new Map(); // topic -> channel
const services = new Map(); // name -> service
const subs = new Map(); // subscription id -> topic
const got = new Map(); // topic -> message count
const waiters = [];
const check = () => {
  for (let i = waiters.length - 1; i >= 0; i--) {
    if (waiters[i].cond()) {
      waiters[i].resolve();
      waiters.splice(i, 1);
    }
  }
};
const until = (cond) => new Promise((resolve) => {
  waiters.push({ cond, resolve });
  check();
});
const replies = new Map();
const params = [];

client.on("error", (e) => out("error", String(e && e.message)));
client.on("serverInfo", (info) => out("server", JSON.stringify(info.capabilities)));
client.on("advertise", (list) => {
  for (const c of list) channels.set(c.topic, c);
  check();
});
client.on("unadvertise", (ids) => {
  for (const [t, c] of channels) if (ids.includes(c.id)) channels.delete(t);
  check();
});
client.on("advertiseServices", (list) => {
  for (const s of list) services.set(s.name, s);
  check();
});
client.on("message", ({ subscriptionId, timestamp, data }) => {
  const topic = subs.get(subscriptionId);
  if (topic === undefined) return;
  const n = (got.get(topic) || 0) + 1;
  got.set(topic, n);
  if (n <= 3) {
    if (topic === SPEED) {
      const t = table(data);
      out("msg", topic, hex(data), timestamp.toString(), t.f32(0), t.f64(1));
    } else if (topic === canTopic) {
      out("msg", topic, hex(data), timestamp.toString(), table(data).f64(5));
    } else {
      out("msg", topic, Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8"));
    }
  }
  check();
});
client.on("serviceCallResponse", (r) => {
  replies.set(r.callId, { ok: true, text: Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength).toString("utf8") });
  check();
});
client.on("serviceCallFailure", (r) => {
  replies.set(r.callId, { ok: false, text: r.message });
  check();
});
client.on("parameterValues", (p) => {
  params.push(p);
  check();
});

async function call(callId, request) {
  const s = services.get(SERVICE);
  client.sendServiceCallRequest({
    serviceId: s.id,
    callId,
    encoding: "json",
    data: new Uint8Array(Buffer.from(JSON.stringify(request))),
  });
  await until(() => replies.has(callId));
  const r = replies.get(callId);
  out(r.ok ? "reply" : "failure", r.text);
}

async function main() {
  await new Promise((resolve) => client.on("open", resolve));
  out("open", ws.protocol);
  await until(() => channels.has(SPEED) && channels.has(canTopic) && channels.has(bridgeTopic) && services.has(SERVICE));
  for (const t of [SPEED, canTopic, bridgeTopic, FIELD]) {
    const c = channels.get(t);
    if (!c) continue;
    const schema = c.schemaEncoding === "flatbuffer" ? Buffer.from(c.schema, "base64").toString("hex") : Buffer.from(c.schema).toString("hex");
    out("channel", t, c.encoding, c.schemaName, c.schemaEncoding, schema);
  }
  const s = services.get(SERVICE);
  out("service", s.name, s.type, s.request.encoding, s.request.schemaEncoding, s.request.schema);

  // Live data: subscribe, receive, then let the test look at the bus.
  for (const t of [SPEED, canTopic, bridgeTopic]) subs.set(client.subscribe(channels.get(t).id), t);
  await until(() => (got.get(SPEED) || 0) >= 3 && (got.get(canTopic) || 0) >= 3 && (got.get(bridgeTopic) || 0) >= 1);
  out("subscribed");
  await nextLine();
  for (const [id, t] of [...subs]) {
    if (t !== bridgeTopic) {
      client.unsubscribe(id);
      subs.delete(id);
    }
  }
  out("unsubscribed");
  await nextLine();

  // Fields as parameters, the service, then the field again.
  client.getParameters([FIELD], "before");
  await until(() => params.some((p) => p.id === "before"));
  out("param", "before", JSON.stringify(params.find((p) => p.id === "before").parameters));
  client.subscribeParameterUpdates([FIELD]);
  await call(1, { mode: "Sport", requested_by: "foxglove" });
  const fieldIs = (p, mode, by) => p.parameters.some((q) => q.name === FIELD && q.value.mode === mode && q.value.changed_by === by);
  for (let i = 0; i < 50; i++) {
    client.getParameters([FIELD], `after${i}`);
    await until(() => params.some((p) => p.id === `after${i}`));
    const p = params.find((p) => p.id === `after${i}`);
    if (fieldIs(p, "Sport", "foxglove")) {
      out("param", "after", JSON.stringify(p.parameters));
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  // The parameter subscription is in place by now: the next change is pushed.
  await call(2, { mode: "Eco", requested_by: "foxglove-2" });
  await until(() => params.some((p) => p.id === undefined && fieldIs(p, "Eco", "foxglove-2")));
  out("param", "update", JSON.stringify(params.find((p) => p.id === undefined && fieldIs(p, "Eco", "foxglove-2")).parameters));
  // A refused request comes back as the reply's data; a malformed one as a failure.
  await call(3, { mode: "Eco" });
  await call(4, { mode: "Turbo" });
  out("done");
  client.close();
  process.exit(0);
}

main().catch((e) => {
  out("error", String(e && e.stack));
  process.exit(2);
});
