"use strict";
// npm "install" hook, a fallback only. Where npm installed a platform package of prebuilt binaries
// (socket.io-cluster-adapter-native-<platform>, an optionalDependency npm picks by os, cpu and libc;
// `napi prepublish` lists them when publishing), or where a .node already loads (a developer's
// build), it does nothing, so installing with --ignore-scripts, or under an npm allowScripts that
// leaves this script out, changes nothing there. Elsewhere it compiles the addon from the Rust
// sources shipped in the package, with cargo; `node scripts/install.js --build` does so anywhere.

const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const root = path.join(__dirname, "..");
const { optionalDependencies = {} } = require("../package.json");

function platformPackageInstalled() {
  return Object.keys(optionalDependencies).some((name) => {
    try {
      require.resolve(`${name}/package.json`, { paths: [root] });
      return true;
    } catch {
      return false;
    }
  });
}

function loads() {
  const probe = spawnSync(process.execPath, ["-e", "require('./native.js')"], { cwd: root, stdio: "ignore" });
  return probe.status === 0;
}

function platformSuffix() {
  const { platform, arch } = process;
  if (platform === "win32") return `win32-${arch}-msvc`;
  if (platform === "darwin") return `darwin-${arch}`;
  if (platform === "linux") {
    const glibc = process.report && process.report.getReport().header.glibcVersionRuntime;
    return `linux-${arch}-${glibc ? "gnu" : "musl"}`;
  }
  return `${platform}-${arch}`;
}

function libraryFile() {
  const base = "socket_io_cluster_adapter_native";
  if (process.platform === "win32") return `${base}.dll`;
  if (process.platform === "darwin") return `lib${base}.dylib`;
  return `lib${base}.so`;
}

function build() {
  const cargo = spawnSync("cargo", ["--version"], { stdio: "ignore" });
  if (cargo.status !== 0) {
    console.error(
      "socket.io-cluster-adapter-native: no prebuilt binary for " +
        `${process.platform}-${process.arch}, and cargo was not found to build one. ` +
        "Install the Rust toolchain (https://rustup.rs) and run `npm rebuild socket.io-cluster-adapter-native`.",
    );
    process.exit(1);
  }
  console.log("socket.io-cluster-adapter-native: building the native addon from source (cargo build --release)...");
  const result = spawnSync("cargo", ["build", "--release", "--lib", "-p", "socket-io-cluster-adapter-native"], {
    cwd: root,
    stdio: "inherit",
  });
  if (result.status !== 0) process.exit(result.status || 1);
  const targetDir = process.env.CARGO_TARGET_DIR || path.join(root, "target");
  const output = path.join(root, `cluster-adapter-native.${platformSuffix()}.node`);
  fs.copyFileSync(path.join(targetDir, "release", libraryFile()), output);
  // Installed as a dependency, the build directory is only dead weight.
  if (!fs.existsSync(path.join(root, ".git")) && !process.env.CARGO_TARGET_DIR) {
    fs.rmSync(targetDir, { recursive: true, force: true });
  }
  if (!loads()) {
    console.error(`socket.io-cluster-adapter-native: built ${output}, but it does not load.`);
    process.exit(1);
  }
}

if (process.argv.includes("--build") || (!platformPackageInstalled() && !loads())) build();
