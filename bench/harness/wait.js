"use strict";

// Waiting, for every orchestrator of the project (bench, soak, scale, the tests, examples/redis).

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `predicate` (sync or async) every `everyMs` until it returns something truthy, and
 * resolves to that value; rejects with "timed out waiting for <what>" after `timeoutMs`
 * (Infinity: never).
 */
async function waitFor(predicate, what, timeoutMs = 10000, everyMs = 25) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

module.exports = { sleep, waitFor };
