"use strict";

// Payload codec of hub frames: a message's `data` as MessagePack (msgpackr with its extensions),
// which keeps what Node's "advanced" IPC keeps for socket.io packets: Buffers, typed arrays,
// ArrayBuffers, Dates, Sets, BigInts, undefined, anywhere in the value. One difference: a Map
// arrives as a plain object. Chosen over v8.serialize by measurement (bench/codec.js): 2 to 3
// times faster to encode and decode the event packets that make most of the traffic.

const { Packr } = require("msgpackr");

const packr = new Packr({ useRecords: false, moreTypes: true });
const EMPTY = Buffer.alloc(0);

function encodePayload(message) {
  return message.data === undefined ? EMPTY : packr.pack(message.data);
}

/** Rebuilds the adapter message a frame carries (throws on a corrupt payload). */
function frameToMessage(frame) {
  const message = { uid: frame.uid, nsp: frame.nsp, type: frame.type };
  if (frame.requesterUid != null) message.requesterUid = frame.requesterUid;
  if (frame.payload.length > 0) message.data = packr.unpack(frame.payload);
  return message;
}

/** MessagePack of any value (requests to the hub, socket.data of a stored session). */
function pack(value) {
  return packr.pack(value);
}

function unpack(bytes) {
  return packr.unpack(bytes);
}

module.exports = { encodePayload, frameToMessage, pack, unpack };
