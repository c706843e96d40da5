"use strict";

const { requestLatency } = require("./requests");

module.exports = requestLatency({
  name: "server-side-emit",
  title: "serverSideEmitWithAck() latency",
  description: "await io.serverSideEmitWithAck() from worker 0, one after the other; every other worker answers",
  expect: (target) => target.workers - 1,
  // The in-memory adapter has no other server to ask (it only logs a warning and never answers).
  supports: (target) => target.variant !== "floor",
});
