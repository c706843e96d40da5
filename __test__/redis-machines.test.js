"use strict";
// Several machines through one Redis: every feature of the suite, from every worker, across two
// machines (two primaries with our hub, 2 workers each), as if they were one socket.io server.
const { describeFeatures } = require("./support/features");
const { Fleet } = require("./support/fleet");
const { describeWithRedis } = require("./support/redis");

const machine = { primary: "native", workers: ["native", "native"] };

describeWithRedis("several machines, one Redis", () => {
  const fleet = new Fleet([machine, machine]);
  describeFeatures("2 machines x 2 workers (ours), Redis standalone", fleet.config, fleet);
});

describeWithRedis("several machines, a Redis Cluster of 3 masters", () => {
  const fleet = new Fleet([machine, machine], { cluster: { replicas: 0 } });
  describeFeatures("2 machines x 2 workers (ours), Redis Cluster", fleet.config, fleet);
});
