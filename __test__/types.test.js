"use strict";
// index.d.ts compiles against socket.io's own types, as a TypeScript user imports it.

const { execFileSync } = require("node:child_process");
const path = require("node:path");

test("index.d.ts type-checks a typical usage (tsc --strict)", () => {
  const root = path.join(__dirname, "..");
  const tsc = require.resolve("typescript/bin/tsc");
  const args = ["--noEmit", "--strict", "--module", "node16", "--moduleResolution", "node16", "--target", "es2020"];
  execFileSync(process.execPath, [tsc, ...args, path.join(__dirname, "support", "types-usage.ts")], {
    cwd: root,
    encoding: "utf8",
  });
}, 60000);
