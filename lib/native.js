"use strict";

// Loads the compiled Rust core, with a message that says what to do when it is missing.
let binding;
try {
  binding = require("../native.js");
} catch (err) {
  const help = new Error(
    "socket.io-cluster-adapter-native: the native addon could not be loaded for " +
      `${process.platform}-${process.arch} (${err.message}). ` +
      "No prebuilt binary matches this platform and none was built: install the Rust toolchain " +
      "(https://rustup.rs) and run `npm rebuild socket.io-cluster-adapter-native`.",
  );
  help.cause = err;
  throw help;
}

module.exports = binding;
