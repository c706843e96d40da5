"use strict";

// The scenarios, in the order they run and are reported. Each has a name (for --scenarios), a
// title, the unit of its rate, supports(target) and run(target, ctx) => figures of one round.

module.exports = [
  require("./broadcast"),
  require("./binary"),
  require("./unicast"),
  require("./rooms"),
  require("./small-rooms"),
  require("./fetch-sockets"),
  require("./server-side-emit"),
  require("./end-to-end"),
];
