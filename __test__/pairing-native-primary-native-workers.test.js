"use strict";
const { describeFeatures } = require("./support/features");

describeFeatures("our primary + our workers", { primary: "native", workers: ["native", "native"] });
