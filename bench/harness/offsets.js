"use strict";

// The offset socket.io appends to a stored packet's arguments when connection state recovery is
// on: "<epoch>-<position>" with our hub. The bench's and the soak's clients check that each client
// sees them in one epoch and in a strictly increasing order.

/**
 * Whether `offset` continues `seen` ({ epoch, last }, epoch null until the first offset): the
 * same epoch and a position above `seen.last`. Records the position when it does.
 */
function advanceOffset(seen, offset) {
  const dash = typeof offset === "string" ? offset.lastIndexOf("-") : -1;
  const epoch = dash > 0 ? offset.slice(0, dash) : null;
  const position = dash > 0 ? Number(offset.slice(dash + 1)) : NaN;
  if (seen.epoch === null && epoch !== null) seen.epoch = epoch;
  if (!(position > seen.last) || epoch !== seen.epoch) return false;
  seen.last = position;
  return true;
}

module.exports = { advanceOffset };
