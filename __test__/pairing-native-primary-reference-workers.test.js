"use strict";
const { describeFeatures } = require("./support/features");

describeFeatures("our primary (hub) + reference workers", { primary: "native", workers: ["reference", "reference"] });
