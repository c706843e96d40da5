"use strict";
const { describeFeatures } = require("./support/features");

describeFeatures("our primary without hub (IPC relay) + our workers", { primary: "native", primaryOptions: { hub: false }, workers: ["native", "native"] });
