"use strict";
// The bound on what waits for a standalone hub's link (a worker's messages before its link is up,
// an Emitter's before it reaches the hub): every held byte counted, past the bound nothing held.

const { HeldMessages } = require("../lib/held-messages");

test("messages are held in order up to the bound, counted with their overhead; past it, refused", () => {
  const held = new HeldMessages(1200);
  const payload = Buffer.alloc(200);
  let accepted = 0;
  while (held.push({ n: accepted }, payload)) accepted++;
  // 200 bytes of payload and 256 of overhead each: two fit in 1200 bytes, a third would not.
  expect(accepted).toBe(2);
  expect(held.bytes).toBe(2 * (200 + 256));
  expect(held.push({ n: 99 }, Buffer.alloc(0))).toBe(true); // 256 more still fit
  expect(held.push({ n: 100 }, Buffer.alloc(0))).toBe(false);
  expect(held.takeAll().map(([m]) => m.n)).toEqual([0, 1, 99]);
  expect([held.length, held.bytes]).toEqual([0, 0]);
  expect(held.push({ n: 3 }, payload)).toBe(true); // room again once taken
});
