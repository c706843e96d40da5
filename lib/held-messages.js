"use strict";

// Messages (each with its packed payload) held for a link that is not up yet, in order, with the
// bytes they retain counted against a bound: a standalone hub's worker before its link opens
// (hub-link.js), an Emitter of a standalone hub (emitter-link.js).

// What a held message costs besides its payload (its object, its header), counted against the bound.
const OVERHEAD_BYTES = 256;

class HeldMessages {
  constructor(maxBytes) {
    this.maxBytes = maxBytes;
    this.items = []; // [message, payload]
    this.bytes = 0;
  }

  get length() {
    return this.items.length;
  }

  /** Holds one; false (and nothing held) if it would take the bytes past the bound. */
  push(message, payload) {
    const cost = payload.length + OVERHEAD_BYTES;
    if (this.bytes + cost > this.maxBytes) return false;
    this.items.push([message, payload]);
    this.bytes += cost;
    return true;
  }

  /** Everything held, in order; holds nothing after. */
  takeAll() {
    const items = this.items;
    this.clear();
    return items;
  }

  clear() {
    this.items = [];
    this.bytes = 0;
  }
}

module.exports = { HeldMessages };
