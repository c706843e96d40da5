"use strict";
const { describeFeatures } = require("./support/features");

describeFeatures("our primary + reference workers", { primary: "native", workers: ["reference", "reference"] });
