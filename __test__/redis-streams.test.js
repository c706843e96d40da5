"use strict";
// Streams mode (`redis: { mode: "streams" }`): the hub speaks @socket.io/redis-streams-adapter
// 0.3's protocol. Two of our machines and a plain streams-adapter server on one real redis-server:
// every feature of the suite from every process, plain server included.
const { describeFeatures } = require("./support/features");
const { Fleet } = require("./support/fleet");
const { describeWithRedis } = require("./support/redis");

const ours = { primary: "native", workers: ["native", "native"] };
const plain = { primary: "none", workers: ["redis-streams"] };

describeWithRedis("streams mode with a plain @socket.io/redis-streams-adapter server", () => {
  const fleet = new Fleet([ours, plain, ours], { redisOptions: { mode: "streams" } });
  describeFeatures("2 of our machines x 2 workers + a plain redis-streams-adapter server", fleet.config, fleet);
});
