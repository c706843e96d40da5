"use strict";
const { describeFeatures } = require("./support/features");

describeFeatures("our primary (hub) + our workers", { primary: "native", workers: ["native", "native"] });
