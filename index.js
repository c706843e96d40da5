"use strict";

const { createAdapter, NodeClusterAdapter } = require("./lib/adapter");
const { setupPrimary } = require("./lib/primary");

exports.createAdapter = createAdapter;
exports.setupPrimary = setupPrimary;
exports.NodeClusterAdapter = NodeClusterAdapter;
