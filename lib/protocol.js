"use strict";

// Marks our messages on an IPC channel that other libraries (e.g. @socket.io/sticky) share.
// Same value as @socket.io/cluster-adapter, so both packages' workers understand each other.
const MESSAGE_SOURCE = "_sio_adapter";

function isAdapterMessage(message) {
  return message !== null && typeof message === "object" && message.source === MESSAGE_SOURCE;
}

module.exports = { MESSAGE_SOURCE, isAdapterMessage };
