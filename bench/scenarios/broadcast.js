"use strict";

const { saturation } = require("./saturation");

module.exports = saturation({
  name: "broadcast",
  kind: "broadcast",
  title: "broadcast to all (small JSON)",
  description: "io.emit() of a ~100-byte object from every worker; each reaches every client",
});
