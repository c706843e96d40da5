"use strict";

// Reads the batches of frames LinkCodec.push() returns (layout: src/frame_batch.rs) into the
// frame objects the link applies: { type, nsp, uid, requesterUid, requestId, offset, payload }.

const { FRAME_FIELDS, STRING_NONE, STRING_LOCAL } = require("./native");

class FrameBatchReader {
  constructor() {
    this.strings = []; // the link's string table, extended by every batch
  }

  /** Appends the frames of `batch` to `out`. */
  read(batch, out) {
    const { meta, payloads, strings, locals } = batch;
    for (const text of strings) this.strings.push(text);
    const string = (id) => (id === STRING_NONE ? undefined : id >= STRING_LOCAL ? locals[id - STRING_LOCAL] : this.strings[id]);
    let start = 0;
    for (let i = 0; i < meta.length; i += FRAME_FIELDS) {
      const end = meta[i + 8];
      out.push({
        type: meta[i],
        nsp: string(meta[i + 1]),
        uid: string(meta[i + 2]),
        requesterUid: string(meta[i + 3]),
        requestId: string(meta[i + 4]),
        offset: meta[i + 5] === 1 ? meta[i + 6] * 2 ** 32 + meta[i + 7] : undefined,
        payload: payloads.subarray(start, end),
      });
      start = end;
    }
  }
}

module.exports = { FrameBatchReader };
