"use strict";

const { saturation } = require("./saturation");

module.exports = saturation({
  name: "rooms",
  kind: "rooms",
  title: "broadcast to a random room of 100",
  description: "io.to(room).emit() from every worker, each to one of the rooms the clients joined at start-up",
  rooms: (layout) => layout.rooms,
});
