"use strict";

const { saturation } = require("./saturation");

module.exports = saturation({
  name: "small-rooms",
  kind: "small-rooms",
  title: "broadcast to a random room of 2 to 8 (of 1,000)",
  description:
    "io.to(room).emit() from every worker, each to one of 1,000 rooms of 2 to 8 members (spread over the workers at random) joined at start-up",
  rooms: (layout) => layout.smallRooms,
});
