"use strict";
// A fleet being migrated machine by machine: our machines and plain @socket.io/redis-adapter
// (sharded) servers on one Redis. With `redis: { mixedFleet: true }` every feature of the suite is
// exact from every process, plain servers included: servers are counted as they count them.
const { describeFeatures } = require("./support/features");
const { Fleet } = require("./support/fleet");
const { describeWithRedis } = require("./support/redis");

const ours = { primary: "native", workers: ["native", "native"] };
const plain = { primary: "none", workers: ["redis-sharded"] };

describeWithRedis("a mixed fleet (redis.mixedFleet)", () => {
  const fleet = new Fleet([ours, plain, ours], { redisOptions: { mixedFleet: true } });
  describeFeatures("2 of our machines x 2 workers + a plain redis-adapter server", fleet.config, fleet);
});
