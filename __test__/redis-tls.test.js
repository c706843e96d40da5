"use strict";
// Several machines through a Redis reached over TLS (rediss://): a redis-server with only a TLS
// port for the hubs (its plain port, on 127.0.0.1, is the test's own), its certificate signed by a
// throwaway CA made here with openssl, which the primaries trust through SSL_CERT_FILE (the hub
// takes its roots from the system store, as rustls-native-certs reads it).
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { execFileSync } = require("node:child_process");
const { Fleet } = require("./support/fleet");
const { describeWithRedis, startRedis } = require("./support/redis");
const { findOnPath, freePort } = require("../bench/harness/redis-server");
const { settle, waitForEvents } = require("./support/cluster");

const machine = { primary: "native", workers: ["native", "native"] };

/** A CA and a certificate for 127.0.0.1 signed by it, in `dir`. */
function makeCertificates(dir) {
  const openssl = (...args) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
  openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=sio-test-ca");
  openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1");
  fs.writeFileSync(path.join(dir, "san.ext"), "subjectAltName=IP:127.0.0.1\n");
  openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "san.ext");
  return { ca: path.join(dir, "ca.pem"), cert: path.join(dir, "server.pem"), key: path.join(dir, "server.key") };
}

// eslint-disable-next-line no-console
if (!findOnPath("openssl")) console.warn("redis-tls: openssl is not installed: the TLS test makes its certificates with it");
const describeTls = findOnPath("openssl") ? describeWithRedis : describe.skip;

describeTls("several machines, Redis over TLS (rediss://)", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sio-redis-tls-"));
  const files = makeCertificates(dir);
  const previous = process.env.SSL_CERT_FILE;
  const fleet = new Fleet([machine, machine], {
    async startRedis() {
      const tlsPort = await freePort();
      const server = await startRedis({
        extraArgs: ["--tls-port", String(tlsPort), "--tls-cert-file", files.cert, "--tls-key-file", files.key, "--tls-ca-cert-file", files.ca, "--tls-auth-clients", "no"],
      });
      return { ...server, url: `rediss://127.0.0.1:${tlsPort}`, stop: () => server.stop() };
    },
  });
  beforeAll(async () => {
    process.env.SSL_CERT_FILE = files.ca; // inherited by the primaries
    await fleet.start();
    await fleet.waitForServerCount(4);
  });
  afterAll(async () => {
    await fleet.stop();
    if (previous === undefined) delete process.env.SSL_CERT_FILE;
    else process.env.SSL_CERT_FILE = previous;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("broadcasts and requests cross machines over TLS", async () => {
    const onA = await fleet.client(0, { rooms: ["r"] });
    const onB = await fleet.client(3, { rooms: ["r"] });
    await fleet.run(1, ({ io }) => io.to("r").emit("hello", Buffer.from([1, 2])));
    for (const client of [onA, onB]) {
      const [received] = await waitForEvents(client, "hello");
      expect([...received.args[0]]).toEqual([1, 2]);
    }
    const ids = await fleet.run(2, async ({ io }) => (await io.fetchSockets()).map((s) => s.id).sort());
    expect(ids).toEqual([onA.id, onB.id].sort());
    await settle(100);
    for (const m of fleet.machines) expect((await m.hubInfo()).stats.redisConnected).toBe(true);
  });
});
