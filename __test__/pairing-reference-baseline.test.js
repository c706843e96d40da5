"use strict";
// The reference alone (its primary, its workers): the feature suite's expectations are the
// reference's own behaviour, so every other pairing is judged against it.
const { describeFeatures } = require("./support/features");

describeFeatures("baseline: reference primary + reference workers", { primary: "reference", workers: ["reference", "reference"] });
