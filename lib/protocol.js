"use strict";

// Marks our messages on an IPC channel that other libraries (e.g. @socket.io/sticky) share.
// Same value as @socket.io/cluster-adapter, so both packages' workers understand each other.
const MESSAGE_SOURCE = "_sio_adapter";
// Our own control messages (hub announcement, switch-over). The reference's workers and primary
// ignore messages of an unknown source, so they pass through mixed clusters harmlessly.
const CONTROL_SOURCE = "_sio_adapter_native";

function isAdapterMessage(message) {
  return message !== null && typeof message === "object" && message.source === MESSAGE_SOURCE;
}

function isControlMessage(message) {
  return message !== null && typeof message === "object" && message.source === CONTROL_SOURCE;
}

module.exports = { MESSAGE_SOURCE, CONTROL_SOURCE, isAdapterMessage, isControlMessage };
