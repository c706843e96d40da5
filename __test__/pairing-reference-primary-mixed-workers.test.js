"use strict";
const { describeFeatures } = require("./support/features");

describeFeatures("reference primary + mixed workers", { primary: "reference", workers: ["native", "reference"] });
