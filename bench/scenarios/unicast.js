"use strict";

const { saturation } = require("./saturation");

module.exports = saturation({
  name: "unicast",
  kind: "unicast",
  title: "unicast to a socket on another worker",
  description: "io.to(socketId).emit() from every worker, round-robin over the sockets of the other workers",
});
