"use strict";
const { describeFeatures } = require("./support/features");

describeFeatures("our primary (hub) + mixed workers", { primary: "native", workers: ["native", "reference", "native"] });
