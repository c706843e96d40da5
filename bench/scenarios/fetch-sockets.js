"use strict";

const { requestLatency } = require("./requests");

module.exports = requestLatency({
  name: "fetch-sockets",
  title: "fetchSockets() latency",
  description: "await io.fetchSockets() from worker 0, one after the other; must return every socket",
  expect: (target, opts) => opts.clients,
  supports: () => true,
});
