"use strict";

const { saturation } = require("./saturation");

module.exports = saturation({
  name: "binary",
  kind: "binary",
  title: "binary broadcast (1 KiB Buffer)",
  description: "io.emit() of a small object and a 1 KiB Buffer from every worker; each reaches every client",
});
