"use strict";

// Reads the batches of frames LinkCodec.push() decodes (one Buffer; layout: src/frame_batch.rs,
// whose positions are read from the binding) into the frame objects the link applies: { type,
// nsp, uid, requesterUid, requestId, offset, payload }. The batch's Buffer is allocated here, from
// Node's Buffer pool, and filled by the codec (why: lib/link-writes.js).

const { BatchCount, BATCH_COUNTS, FrameField, FRAME_FIELDS, STRING_NONE, STRING_LOCAL } = require("./binding");

// Byte offsets of the numbers (u32 little-endian), resolved once.
const FRAMES = 4 * BatchCount.Frames;
const STRINGS = 4 * BatchCount.Strings;
const LOCALS = 4 * BatchCount.Locals;
const META = 4 * BATCH_COUNTS; // the first frame's numbers
const FRAME_BYTES = 4 * FRAME_FIELDS;
const TYPE = 4 * FrameField.Type;
const NSP = 4 * FrameField.Nsp;
const UID = 4 * FrameField.Uid;
const REQUESTER_UID = 4 * FrameField.RequesterUid;
const REQUEST_ID = 4 * FrameField.RequestId;
const HAS_OFFSET = 4 * FrameField.HasOffset;
const OFFSET_HIGH = 4 * FrameField.OffsetHigh;
const OFFSET_LOW = 4 * FrameField.OffsetLow;
const PAYLOAD_END = 4 * FrameField.PayloadEnd;

class FrameBatchReader {
  constructor() {
    this.strings = []; // the link's string table, extended by every batch
  }

  /** Appends to `out` the frames of the batch of `length` bytes (> 0) that `codec.push()` decoded. */
  readPushed(codec, length, out) {
    const batch = Buffer.allocUnsafe(length);
    codec.takeBatch(batch);
    this.read(batch, out);
  }

  /** Appends the frames of `batch` to `out`. */
  read(batch, out) {
    const count = batch.readUInt32LE(FRAMES);
    const newStrings = batch.readUInt32LE(STRINGS);
    const localCount = batch.readUInt32LE(LOCALS);
    let at = META + FRAME_BYTES * count;
    let text = at + 4 * (newStrings + localCount);
    const locals = [];
    for (let i = 0; i < newStrings + localCount; i++, at += 4) {
      const end = text + batch.readUInt32LE(at);
      (i < newStrings ? this.strings : locals).push(batch.toString("utf8", text, end));
      text = end;
    }
    const payloads = text;
    const string = (id) => (id === STRING_NONE ? undefined : id >= STRING_LOCAL ? locals[id - STRING_LOCAL] : this.strings[id]);
    let start = payloads;
    for (let i = 0; i < count; i++) {
      const f = META + FRAME_BYTES * i;
      const end = payloads + batch.readUInt32LE(f + PAYLOAD_END);
      out.push({
        type: batch.readUInt32LE(f + TYPE),
        nsp: string(batch.readUInt32LE(f + NSP)),
        uid: string(batch.readUInt32LE(f + UID)),
        requesterUid: string(batch.readUInt32LE(f + REQUESTER_UID)),
        requestId: string(batch.readUInt32LE(f + REQUEST_ID)),
        offset:
          batch.readUInt32LE(f + HAS_OFFSET) === 1
            ? batch.readUInt32LE(f + OFFSET_HIGH) * 2 ** 32 + batch.readUInt32LE(f + OFFSET_LOW)
            : undefined,
        payload: batch.subarray(start, end),
      });
      start = end;
    }
  }
}

module.exports = { FrameBatchReader };
