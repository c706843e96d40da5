// Starts worker.js under @socket.io/pm2 the way its docs do (`pm2 start ecosystem.config.js`), but
// with a PM2 daemon of its own that it stops again on Ctrl-C, so that trying the example touches
// neither ~/.pm2 nor a daemon you may already run.
//
//   PORT=3000 WORKERS=2 node examples/pm2/run.js
//
// PORT becomes PM2_PORT: the port belongs to the @socket.io/pm2 daemon (its God process runs
// @socket.io/sticky's setupMaster() and @socket.io/cluster-adapter's setupPrimary() and listens on
// PM2_PORT, read once when the daemon starts). PM2_HOME (default: a new temporary directory) and
// PM2_BIN (default: `pm2` on the PATH, which must be @socket.io/pm2) can be set too.
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");

const PORT = process.env.PORT || "3000";
const WORKERS = process.env.WORKERS || "2";

function findPm2() {
  const bin = process.env.PM2_BIN || findOnPath("pm2");
  if (!bin) fail("pm2 not found: `npm install -g @socket.io/pm2` (or set PM2_BIN)");
  // The binary must come from @socket.io/pm2: plain pm2 has no sticky sessions and no relay
  // between the workers, so polling would break and broadcasts would not cross workers.
  for (let dir = path.dirname(fs.realpathSync(bin)); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const manifest = path.join(dir, "package.json");
    if (!fs.existsSync(manifest)) continue;
    const { name } = JSON.parse(fs.readFileSync(manifest, "utf8"));
    if (name !== "@socket.io/pm2") {
      fail(`${bin} is ${name}, not @socket.io/pm2: \`npm remove -g pm2 && npm install -g @socket.io/pm2\``);
    }
    return bin;
  }
  return bin;
}

function findOnPath(name) {
  for (const dir of (process.env.PATH || "").split(path.delimiter)) {
    const candidate = path.join(dir, name);
    if (dir && fs.existsSync(candidate)) return candidate;
  }
  return null;
}

function fail(message) {
  console.error(message);
  process.exit(1);
}

const pm2 = findPm2();
const ownHome = !process.env.PM2_HOME;
const home = process.env.PM2_HOME || fs.mkdtempSync(path.join(os.tmpdir(), "pm2-home-"));
const env = { ...process.env, PM2_HOME: home, PM2_PORT: PORT, WORKERS };

function pm2Run(args, stdio = "inherit") {
  return spawnSync(pm2, args, { cwd: __dirname, env, stdio, timeout: 60000 });
}

let stopped = false;
function stop(code) {
  if (stopped) return;
  stopped = true;
  console.log("stopping: pm2 kill (the daemon and its workers)");
  pm2Run(["kill"], "ignore");
  if (ownHome) fs.rmSync(home, { recursive: true, force: true });
  process.exit(code);
}
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => stop(0));

const started = pm2Run(["start", "ecosystem.config.js"]);
if (started.status !== 0) stop(1);
console.log(`\n@socket.io/pm2 daemon (PM2_HOME=${home}) serves the cluster on http://localhost:${PORT}`);
console.log(`logs: PM2_HOME=${home} ${pm2} logs   |   Ctrl-C stops the daemon and its workers`);
setInterval(() => {
  // stop if someone else killed the daemon
  try {
    process.kill(Number(fs.readFileSync(path.join(home, "pm2.pid"), "utf8")), 0);
  } catch {
    console.log("the PM2 daemon is gone");
    stop(1);
  }
}, 2000);
