"use strict";
const { describeFeatures } = require("./support/features");

describeFeatures("JSON serialization (our primary (hub) + mixed workers), text packets", { primary: "native", workers: ["native", "reference"], serialization: "json" });
