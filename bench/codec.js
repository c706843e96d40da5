"use strict";
// Payload codec of hub frames: v8.serialize (what Node's "advanced" IPC uses) against
// MessagePack (msgpackr, the fastest JS encoder, and @msgpack/msgpack), on the `data` of the
// messages the adapter sends. Prints ns per encode+decode and encoded size, and whether the
// decoded value keeps what advanced IPC keeps (Buffer stays Buffer, typed arrays, Date).
// Run: node bench/codec.js

const v8 = require("node:v8");
const { Packr } = require("msgpackr");
const msgpack = require("@msgpack/msgpack");

const packr = new Packr({ useRecords: false, moreTypes: true });
const codecs = {
  "v8.serialize": { encode: (v) => v8.serialize(v), decode: (b) => v8.deserialize(b) },
  msgpackr: { encode: (v) => packr.pack(v), decode: (b) => packr.unpack(b) },
  "@msgpack/msgpack": { encode: (v) => msgpack.encode(v), decode: (b) => msgpack.decode(b) },
};

const opts = { rooms: ["room-42"], except: [], flags: {} };
const payloads = {
  "small event": { packet: { type: 2, data: ["chat", { from: "alice", text: "hello there", n: 42 }], nsp: "/" }, opts },
  "1 KiB Buffer event": { packet: { type: 5, data: ["bin", Buffer.alloc(1024, 7)], nsp: "/" }, opts },
  "fetchSockets response (10 sockets)": {
    requestId: "0123456789abcdef",
    sockets: Array.from({ length: 10 }, (_, i) => ({
      id: `socket-${i}-abcdefghijkl`,
      handshake: { headers: { host: "127.0.0.1:3000", "user-agent": "node" }, time: new Date().toString(), address: "127.0.0.1", xdomain: false, secure: false, issued: Date.now(), url: "/socket.io/?EIO=4&transport=websocket", query: { EIO: "4", transport: "websocket" }, auth: {} },
      rooms: [`socket-${i}-abcdefghijkl`, "lobby"],
      data: { worker: 1, joinedAt: new Date() },
    })),
  },
};

function fidelity(decoded) {
  const value = decoded.packet ? decoded.packet.data[1] : decoded.sockets[0].data.joinedAt;
  if (Buffer.isBuffer(value)) return "Buffer";
  if (value instanceof Date) return "Date";
  if (value instanceof Uint8Array) return "Uint8Array";
  return typeof value === "object" ? "object" : typeof value;
}

function measure(codec, value) {
  const iterations = 20000;
  for (let i = 0; i < 2000; i++) codec.decode(codec.encode(value)); // warm up
  let encodeNs = 0n;
  let decodeNs = 0n;
  let size = 0;
  for (let i = 0; i < iterations; i++) {
    const t0 = process.hrtime.bigint();
    const bytes = codec.encode(value);
    const t1 = process.hrtime.bigint();
    codec.decode(bytes);
    decodeNs += process.hrtime.bigint() - t1;
    encodeNs += t1 - t0;
    size = bytes.length;
  }
  return { encode: Number(encodeNs) / iterations, decode: Number(decodeNs) / iterations, size };
}

for (const [name, value] of Object.entries(payloads)) {
  console.log(`\n${name}`);
  for (const [codecName, codec] of Object.entries(codecs)) {
    const { encode, decode, size } = measure(codec, value);
    const kept = fidelity(codec.decode(codec.encode(value)));
    const typed = codec.decode(codec.encode({ a: [new Float32Array([1.5]), new Uint16Array([7])] })).a;
    const typedKept = typed.map((t) => t && t.constructor.name).join("+");
    console.log(
      `  ${codecName.padEnd(18)} encode ${encode.toFixed(0).padStart(6)} ns  decode ${decode.toFixed(0).padStart(6)} ns` +
        `  ${String(size).padStart(5)} bytes  keeps: ${kept}, ${typedKept}`,
    );
  }
}
