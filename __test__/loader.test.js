// The loader's message when no binary loads: it names every attempt and what to do.
const { execFileSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

test("with no .node and no platform package, the error lists what was tried and how to build", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "loader-"));
  try {
    fs.mkdirSync(path.join(dir, "lib"));
    fs.copyFileSync(path.join(__dirname, "..", "native.js"), path.join(dir, "native.js"));
    fs.copyFileSync(path.join(__dirname, "..", "lib", "binding.js"), path.join(dir, "lib", "binding.js"));
    let message = "";
    try {
      execFileSync(process.execPath, ["-e", "require('./lib/binding.js')"], { cwd: dir, stdio: "pipe" });
    } catch (err) {
      message = err.stderr.toString();
    }
    expect(message).toMatch(`could not be loaded for ${process.platform}-${process.arch}`);
    expect(message).toMatch(/Tried, in order:\n {2}- Cannot find module '\.\/cluster-adapter-native\.[^']+\.node'\n {2}- Cannot find module 'socket\.io-cluster-adapter-native-[^']+'/);
    expect(message).toMatch("scripts/install.js --build");
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
