"use strict";

// Reads the batches of frames LinkCodec.push() returns (one Buffer; layout: src/frame_batch.rs)
// into the frame objects the link applies: { type, nsp, uid, requesterUid, requestId, offset,
// payload }.

const { FRAME_FIELDS, STRING_NONE, STRING_LOCAL } = require("./binding");

class FrameBatchReader {
  constructor() {
    this.strings = []; // the link's string table, extended by every batch
  }

  /** Appends the frames of `batch` to `out`. */
  read(batch, out) {
    const count = batch.readUInt32LE(0);
    const newStrings = batch.readUInt32LE(4);
    const localCount = batch.readUInt32LE(8);
    const meta = 12;
    let at = meta + 4 * FRAME_FIELDS * count;
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
      const f = meta + 4 * FRAME_FIELDS * i;
      const end = payloads + batch.readUInt32LE(f + 32);
      out.push({
        type: batch.readUInt32LE(f),
        nsp: string(batch.readUInt32LE(f + 4)),
        uid: string(batch.readUInt32LE(f + 8)),
        requesterUid: string(batch.readUInt32LE(f + 12)),
        requestId: string(batch.readUInt32LE(f + 16)),
        offset: batch.readUInt32LE(f + 20) === 1 ? batch.readUInt32LE(f + 24) * 2 ** 32 + batch.readUInt32LE(f + 28) : undefined,
        payload: batch.subarray(start, end),
      });
      start = end;
    }
  }
}

module.exports = { FrameBatchReader };
