//! `LinkCodec`: the bytes of a worker's link to the hub, for the link that JavaScript runs on
//! the worker's own event loop (lib/hub-link.js owns the socket). No thread and no I/O here: the
//! hello, frames queued during one turn of JavaScript, and frames decoded from what was read.

use napi::bindgen_prelude::Buffer;
use napi::Unknown;
use napi_derive::napi;
use sio_cluster_core::{encode_frame_into, FrameDecoder, Header, MessageType, MAX_FRAME_LEN};
use sio_cluster_core::{hello, Secret, ACCEPTED};
use sio_cluster_core::{stored_by_workers, validate};

use crate::error::BindingError;
use crate::frame_batch::{BatchBuilder, StringTable};
use crate::js_view::JsView;

#[napi]
pub struct LinkCodec {
    hello: Vec<u8>,
    /// Frames queued since the last `take_into`, back to back: they leave in one write.
    outgoing: Vec<u8>,
    /// The batch of frames `push` decoded last, until `take_batch` copies it out (reused).
    batch: Vec<u8>,
    decoder: FrameDecoder,
    strings: StringTable,
    accepted: bool,
}

#[napi]
impl LinkCodec {
    /// For worker `worker`, proving it holds `secret` (hex), as the primary handed them over IPC.
    #[napi(constructor, catch_unwind)]
    pub fn new(secret: String, worker: u32) -> napi::Result<Self> {
        let secret = Secret::from_hex(&secret).ok_or(BindingError::MalformedSecret)?;
        Ok(LinkCodec {
            hello: hello(&secret, worker),
            outgoing: Vec::new(),
            batch: Vec::new(),
            decoder: FrameDecoder::new(MAX_FRAME_LEN),
            strings: StringTable::default(),
            accepted: false,
        })
    }

    /// The first bytes to write on a new connection.
    #[napi(catch_unwind)]
    pub fn hello(&self) -> Buffer {
        self.hello.clone().into()
    }

    /// Whether the hub has accepted this link (its answer to the hello was read by `push`).
    #[napi(getter)]
    pub fn accepted(&self) -> bool {
        self.accepted
    }

    /// Queues one adapter message of this worker: its routing fields, and its `data` as
    /// `payload`. (Messages of this process are produced by socket.io-adapter here, so they are
    /// not validated as untrusted input; the hub checks every header it reads.) `joined`: the
    /// rooms a SOCKETS_JOIN adds. `store`: a broadcast the hub must log for connection state
    /// recovery (it answers with the offset it gave it).
    #[napi(catch_unwind)]
    #[allow(clippy::too_many_arguments)]
    pub fn send(
        &mut self,
        kind: u32,
        nsp: String,
        uid: String,
        requester_uid: Option<String>,
        request_id: Option<String>,
        rooms: Option<Vec<String>>,
        except: Option<Vec<String>>,
        joined: Option<Vec<String>>,
        payload: Buffer,
        store: bool,
    ) -> napi::Result<()> {
        let kind = message_type(kind)
            .filter(|k| !k.is_hub_only())
            .ok_or(BindingError::UnknownMessageType(kind))?;
        let header = Header {
            request_id,
            requester_uid,
            rooms: rooms.unwrap_or_default(),
            except: except.unwrap_or_default(),
            joined: joined.unwrap_or_default(),
            store: store && kind == MessageType::Broadcast,
            ..Header::new(kind, nsp, uid)
        };
        self.queue(&header, &payload)
    }

    /// Queues a message this process made itself, not one of its adapters' (the Emitter's, for a
    /// standalone hub): checked as the hub checks what a primary injects, and a broadcast that
    /// workers with recovery would store is stored (the hub answers with its offset, which an
    /// Emitter ignores).
    #[napi(catch_unwind)]
    pub fn send_made(&mut self, message: Unknown, payload: Buffer) -> napi::Result<()> {
        let view = JsView::new(message);
        let header = validate(&view).map_err(BindingError::Invalid)?;
        let header = Header {
            store: stored_by_workers(&view),
            ..header
        };
        self.queue(&header, &payload)
    }

    /// Queues a request to the hub itself (connection state recovery: 101 persist, 102 restore;
    /// 106 a server count).
    #[napi(catch_unwind)]
    pub fn request(
        &mut self,
        kind: u32,
        nsp: String,
        uid: String,
        request_id: Option<String>,
        payload: Buffer,
    ) -> napi::Result<()> {
        let kind = message_type(kind)
            .filter(|k| {
                matches!(
                    k,
                    MessageType::PersistSession
                        | MessageType::RestoreSession
                        | MessageType::ServerCount
                )
            })
            .ok_or(BindingError::NotAHubRequest(kind))?;
        let header = Header {
            request_id,
            ..Header::new(kind, nsp, uid)
        };
        self.queue(&header, &payload)
    }

    /// Queues a ROOMS_CHANGED: the rooms of `nsp` this worker now has and no longer has.
    /// `applied`: frames of this link applied so far, once the worker has fully switched to it.
    #[napi(catch_unwind)]
    pub fn rooms(
        &mut self,
        nsp: String,
        uid: String,
        joined: Vec<String>,
        left: Vec<String>,
        applied: Option<f64>,
    ) -> napi::Result<()> {
        let header = Header {
            joined,
            left,
            ..rooms_header(nsp, uid, applied)
        };
        self.queue(&header, &[])
    }

    /// Queues a ROOMS_CHANGED that holds all the rooms of `nsp` this worker has (`reset`), and
    /// whether an adapter of it uses connection state recovery (the hub's log stores what other
    /// servers make only once one does).
    #[napi(catch_unwind)]
    pub fn room_snapshot(
        &mut self,
        nsp: String,
        uid: String,
        joined: Vec<String>,
        applied: Option<f64>,
        recovers: bool,
    ) -> napi::Result<()> {
        let header = Header {
            joined,
            reset: true,
            store: recovers,
            ..rooms_header(nsp, uid, applied)
        };
        self.queue(&header, &[])
    }

    /// Bytes queued since the last `take_into`: JavaScript allocates that much (from Node's
    /// Buffer pool) and hands it to `take_into`.
    #[napi(getter)]
    pub fn pending(&self) -> u32 {
        // Bounded by the frames of one turn, each at most MAX_FRAME_LEN.
        self.outgoing.len() as u32
    }

    /// Moves the queued bytes into `out` (of `pending` bytes). A `Buffer` made here instead
    /// (napi_create_buffer_copy) costs a fresh ArrayBuffer and backing store per write, where
    /// Buffer.allocUnsafe slices Node's pool.
    #[napi(catch_unwind)]
    pub fn take_into(&mut self, mut out: Buffer) -> napi::Result<()> {
        copy_out(&self.outgoing, &mut out)?;
        self.outgoing.clear();
        Ok(())
    }

    /// Decodes what was read from the link: first the hub's answer to the hello, then frames.
    /// Returns the byte length of the batch of the frames completed (0: none), which
    /// `take_batch` copies into a Buffer of that size (see `take_into` for why JavaScript
    /// allocates it; layout in `frame_batch`). Throws on a refusal or a bad frame; the link must
    /// then be closed.
    #[napi(catch_unwind)]
    pub fn push(&mut self, bytes: &[u8]) -> napi::Result<u32> {
        let mut bytes = bytes;
        self.batch.clear();
        if !self.accepted {
            let Some((&answer, rest)) = bytes.split_first() else {
                return Ok(0);
            };
            if answer != ACCEPTED {
                return Err(BindingError::RefusedByHub.into());
            }
            self.accepted = true;
            bytes = rest;
        }
        self.decoder.push(bytes);
        let mut batch = BatchBuilder::new(&mut self.strings);
        while let Some((header, payload)) = self
            .decoder
            .next_header_and_payload()
            .map_err(BindingError::BadFrameFromHub)?
        {
            batch.push(&header, payload);
        }
        if !batch.is_empty() {
            batch.finish_into(&mut self.batch);
        }
        // Bounded by what one read brings: far below 4 GiB.
        Ok(self.batch.len() as u32)
    }

    /// Copies the batch the last `push` decoded into `out` (of the length `push` returned).
    #[napi(catch_unwind)]
    pub fn take_batch(&mut self, mut out: Buffer) -> napi::Result<()> {
        copy_out(&self.batch, &mut out)?;
        self.batch.clear();
        Ok(())
    }

    fn queue(&mut self, header: &Header, payload: &[u8]) -> napi::Result<()> {
        Ok(encode_frame_into(header, payload, &mut self.outgoing).map_err(BindingError::Encode)?)
    }
}

fn copy_out(bytes: &[u8], out: &mut [u8]) -> napi::Result<()> {
    if out.len() != bytes.len() {
        return Err(BindingError::BufferSize {
            expected: bytes.len(),
            actual: out.len(),
        }
        .into());
    }
    out.copy_from_slice(bytes);
    Ok(())
}

fn message_type(code: u32) -> Option<MessageType> {
    u8::try_from(code).ok().and_then(MessageType::from_code)
}

/// A ROOMS_CHANGED of `nsp`'s adapter `uid`, after `applied` frames of the link (a count of
/// frames: an integer far below 2^53).
fn rooms_header(nsp: String, uid: String, applied: Option<f64>) -> Header {
    Header {
        applied: applied.map(|n| n as u64),
        ..Header::new(MessageType::RoomsChanged, nsp, uid)
    }
}
