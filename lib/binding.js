"use strict";

// Loads the compiled Rust core through napi-rs's generated loader (native.js), which tries a local
// cluster-adapter-native.<platform>.node (a build from source) and then the platform package
// socket.io-cluster-adapter-native-<platform>. When neither loads, the error lists what was tried
// and what to do.
let binding;
try {
  binding = require("../native.js");
} catch (err) {
  // napi-rs chains one error per attempt through `cause`, the latest attempt outermost.
  const tried = [];
  for (let e = err.cause; e; e = e.cause) tried.unshift(String(e.message).split("\n")[0]);
  const help = new Error(
    `socket.io-cluster-adapter-native: the native addon could not be loaded for ${process.platform}-${process.arch}. ` +
      `Tried, in order:\n${(tried.length ? tried : [err.message]).map((line) => `  - ${line}`).join("\n")}\n` +
      "A prebuilt binary comes in the optional dependency socket.io-cluster-adapter-native-<platform>: " +
      "reinstall if it was left out (--omit=optional, or a lockfile made on another platform). " +
      "Where none matches this platform, build one from source with the Rust toolchain (https://rustup.rs): " +
      "`node node_modules/socket.io-cluster-adapter-native/scripts/install.js --build`.",
  );
  help.cause = err;
  throw help;
}

module.exports = binding;
