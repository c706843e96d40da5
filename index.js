"use strict";

const { createAdapter, NodeClusterAdapter } = require("./lib/adapter");
const { setupPrimary, hubStats } = require("./lib/primary");
const { Emitter } = require("./lib/emitter");

exports.createAdapter = createAdapter;
exports.setupPrimary = setupPrimary;
exports.NodeClusterAdapter = NodeClusterAdapter;
exports.Emitter = Emitter;
exports.hubStats = hubStats;
exports.startHub = (options) => require("./lib/standalone-hub").startHub(options);
