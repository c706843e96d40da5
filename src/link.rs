//! `LinkCodec`: the bytes of a worker's link to the hub, for the link that JavaScript runs on
//! the worker's own event loop (lib/hub-link.js owns the socket). No thread and no I/O here: the
//! hello, frames queued during one turn of JavaScript, and frames decoded from what was read.

use napi::bindgen_prelude::{Buffer, BufferSlice};
use napi::{Env, Unknown};
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
    /// Frames queued since the last `take`, back to back: they leave in one write.
    outgoing: Vec<u8>,
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

    /// Queues a ROOMS_CHANGED: the rooms of `nsp` this worker now has and no longer has
    /// (`reset`: `joined` is all of them). `applied`: frames of this link applied so far, once
    /// the worker has fully switched to it.
    #[napi(catch_unwind)]
    pub fn rooms(
        &mut self,
        nsp: String,
        uid: String,
        joined: Vec<String>,
        left: Vec<String>,
        applied: Option<f64>,
        reset: bool,
    ) -> napi::Result<()> {
        let header = Header {
            joined,
            left,
            // A count of frames: an integer far below 2^53.
            applied: applied.map(|n| n as u64),
            reset,
            ..Header::new(MessageType::RoomsChanged, nsp, uid)
        };
        self.queue(&header, &[])
    }

    /// The bytes queued since the last call, or nothing. (Copied into a JS-owned `Buffer`: for
    /// the few hundred bytes of a typical write, cheaper than handing over the vector.)
    #[napi(catch_unwind)]
    pub fn take<'env>(&mut self, env: &'env Env) -> napi::Result<Option<BufferSlice<'env>>> {
        if self.outgoing.is_empty() {
            return Ok(None);
        }
        let bytes = BufferSlice::copy_from(env, &self.outgoing)?;
        self.outgoing.clear();
        Ok(Some(bytes))
    }

    /// Decodes what was read from the link: first the hub's answer to the hello, then frames
    /// (see `frame_batch` for the batch's layout; nothing when no frame completed). Throws on a
    /// refusal or a bad frame; the link must then be closed.
    #[napi(catch_unwind)]
    pub fn push<'env>(
        &mut self,
        env: &'env Env,
        bytes: &[u8],
    ) -> napi::Result<Option<BufferSlice<'env>>> {
        let mut bytes = bytes;
        if !self.accepted {
            let Some((&answer, rest)) = bytes.split_first() else {
                return Ok(None);
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
        if batch.is_empty() {
            return Ok(None);
        }
        BufferSlice::copy_from(env, batch.finish()).map(Some)
    }

    fn queue(&mut self, header: &Header, payload: &[u8]) -> napi::Result<()> {
        Ok(encode_frame_into(header, payload, &mut self.outgoing).map_err(BindingError::Encode)?)
    }
}

fn message_type(code: u32) -> Option<MessageType> {
    u8::try_from(code).ok().and_then(MessageType::from_code)
}
