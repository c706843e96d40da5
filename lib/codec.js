"use strict";

// Payload codec of hub frames: a message's `data` as MessagePack (msgpackr with its extensions),
// which keeps what Node's "advanced" IPC keeps for socket.io packets: Buffers, typed arrays,
// ArrayBuffers, Dates, Sets, BigInts, undefined, anywhere in the value. One difference: a Map
// arrives as a plain object. Chosen over v8.serialize by measurement (bench/codec.js): 2 to 3
// times faster to encode and decode the event packets that make most of the traffic.

const { Packr } = require("msgpackr");
const { MAX_FRAME_BYTES } = require("./binding");

const packr = new Packr({ useRecords: false, moreTypes: true });
const EMPTY = Buffer.alloc(0);

function encodePayload(message) {
  return message.data === undefined ? EMPTY : packr.pack(message.data);
}

// Holes an array may have beyond its elements before it counts as declaring more than it holds.
const HOLES_ALLOWED = 16;
const WALKING = -1;

/**
 * The payload of a message that came over IPC, for the hub. V8's advanced serialization carries
 * what msgpackr would blow up: a sparse array (`a.length = 2 ** 32 - 1` costs a few bytes on the
 * wire, and msgpackr walks and writes every hole: a minute and a half of the primary's
 * JavaScript), an object shared many times (`b = [a, a]`, `c = [b, b]`, …: msgpackr writes each
 * copy, 2^40 of them for 40 levels), a cycle. So the value is walked first, at a cost
 * proportional to what it holds (each object once; a sparse array abandoned after its first
 * holes beyond its elements), adding up the least msgpackr would write; a payload over the frame
 * limit, with such an array, or with a cycle, is refused and the caller drops the message. Our
 * workers check what they get over IPC the same way (socket.io-parser's `hasBinary` and
 * JSON.stringify would walk it as msgpackr does).
 */
function encodeIpcPayload(message) {
  checkPayload(message.data);
  return encodePayload(message);
}

/** Throws if `data` (a message's payload, as it came over IPC) costs far more than it holds. */
function checkPayload(data) {
  if (data !== undefined) packedSize(data, new Map());
}

// A lower bound of the bytes msgpackr writes for `value` (throws past the frame limit).
// Recursive: nesting too deep for the stack throws a RangeError, as msgpackr itself would.
function packedSize(value, sizes) {
  if (typeof value === "string") return value.length + 1;
  if (value === null || typeof value !== "object") return 1;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value.byteLength + 1;
  const known = sizes.get(value);
  if (known === WALKING) throw new Error("payload holds a cycle");
  if (known !== undefined) return known;
  sizes.set(value, WALKING);
  let size = 1;
  const add = (item) => {
    size += packedSize(item, sizes);
    if (size > MAX_FRAME_BYTES) throw new Error(`payload would pack to more than ${MAX_FRAME_BYTES} bytes`);
  };
  if (Array.isArray(value)) {
    let holes = 0;
    for (let i = 0; i < value.length; i++) {
      if (i in value) add(value[i]);
      else if (++holes > i - holes + HOLES_ALLOWED) {
        throw new Error(`payload holds an array that declares ${value.length} elements and holds far fewer`);
      }
    }
  } else if (value instanceof Map) {
    for (const [key, item] of value) {
      add(key);
      add(item);
    }
  } else if (value instanceof Set) {
    for (const item of value) add(item);
  } else {
    for (const key in value) {
      add(key);
      add(value[key]);
    }
  }
  sizes.set(value, size);
  return size;
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

module.exports = { encodePayload, encodeIpcPayload, checkPayload, frameToMessage, pack, unpack };
