"use strict";

// What a worker's hub link costs per message, in one process and without sockets: the send side
// (the payload packed, LinkCodec.send, the write's Buffer taken) and the receive side (one read of
// K frames decoded by LinkCodec.push, read into frame objects, each rebuilt into its message).
// `node bench/link-path.js [K]`; compare builds by running it in each checkout.

const { LinkCodec } = require("../lib/binding");
const { FrameBatchReader } = require("../lib/frame-batch");
const { takeQueued } = require("../lib/link-writes");
const { encodePayload, frameToMessage } = require("../lib/codec");

const K = Number(process.argv[2]) || 1;
const N = 300000;
const secret = "ab".repeat(32);
// A broadcast to all of the bench's broadcast scenario (bench/worker-load.js sends one like it).
const message = {
  uid: "0123456789abcdef",
  nsp: "/",
  type: 3,
  data: { packet: { type: 2, data: ["event", { at: 1733400000000, n: 12345, text: "hello world" }], nsp: "/" }, opts: { rooms: [], except: [], flags: {} } },
};

const sender = new LinkCodec(secret, 1);
function send() {
  sender.send(message.type, message.nsp, message.uid, undefined, undefined, [], [], undefined, encodePayload(message), false);
  return takeQueued(sender);
}
const read = Buffer.concat(Array.from({ length: K }, send));
const receiver = new LinkCodec(secret, 2);
receiver.push(Buffer.from([1])); // the hub's ACCEPTED
const reader = new FrameBatchReader();
const frames = [];
let types = 0;
function receive() {
  reader.readPushed(receiver, receiver.push(read), frames);
  for (const frame of frames) types += frameToMessage(frame).type;
  frames.length = 0;
}

function time(name, fn, calls, perCall) {
  for (let i = 0; i < calls / 10; i++) fn(); // warm-up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) fn();
  const ns = Number(process.hrtime.bigint() - t0) / calls / perCall;
  console.log(`${name}: ${ns.toFixed(0)} ns per message`);
}
time("send", send, N, 1);
time(`receive (${K} frame(s) per read)`, receive, Math.ceil(N / K), K);
if (types === 0) throw new Error("nothing received");
