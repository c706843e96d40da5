"use strict";
const { describeFeatures } = require("./support/features");

describeFeatures("reference primary + our workers", { primary: "reference", workers: ["native", "native"] });
