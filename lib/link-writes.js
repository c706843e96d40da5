"use strict";

// What a link writes: the frames a LinkCodec queued, in one Buffer that JavaScript allocates (from
// Node's Buffer pool) and the codec fills. One made by the binding would be a fresh ArrayBuffer
// for every write (see LinkCodec.takeInto in src/link.rs). Needs no binding of its own: it only
// calls the codec it is given.

/** The bytes `codec` queued since the last call, or null. */
function takeQueued(codec) {
  const length = codec.pending;
  if (length === 0) return null;
  const bytes = Buffer.allocUnsafe(length);
  codec.takeInto(bytes);
  return bytes;
}

module.exports = { takeQueued };
