"use strict";

// Payload codec of hub frames: a message's `data` as v8.serialize writes it, the format Node's
// "advanced" IPC serialization uses, so Buffers, typed arrays, Dates, Maps... arrive as they
// would over IPC (measured against MessagePack: see bench/README.md).

const v8 = require("node:v8");

const EMPTY = Buffer.alloc(0);

function encodePayload(message) {
  return message.data === undefined ? EMPTY : v8.serialize(message.data);
}

/** Rebuilds the adapter message a frame carries (throws on a corrupt payload). */
function frameToMessage(frame) {
  const message = { uid: frame.uid, nsp: frame.nsp, type: frame.type };
  if (frame.requesterUid != null) message.requesterUid = frame.requesterUid;
  if (frame.payload.length > 0) message.data = v8.deserialize(frame.payload);
  return message;
}

module.exports = { encodePayload, frameToMessage };
