//! `NativeLink`: a worker's link to the hub.

use std::path::PathBuf;
use std::sync::Arc;

use napi::bindgen_prelude::{Buffer, Function};
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi_derive::napi;
use sio_cluster_core::{encode_frame, Header, MessageType, MAX_FRAME_LEN};
use sio_cluster_hub::{Link, LinkEvent, Secret};

use crate::runtime;
use crate::wire::WireFrame;

#[napi(object)]
pub struct LinkEventJs {
    /// "open", "frames" or "closed".
    pub kind: String,
    pub frames: Option<Vec<WireFrame>>,
    pub reason: Option<String>,
}

impl From<LinkEvent> for LinkEventJs {
    fn from(event: LinkEvent) -> Self {
        let (kind, frames, reason) = match event {
            LinkEvent::Open => ("open", None, None),
            LinkEvent::Frames(frames) => {
                let frames = frames
                    .iter()
                    .map(|f| WireFrame::new(&f.header, &f.payload))
                    .collect();
                ("frames", Some(frames), None)
            }
            LinkEvent::Closed(reason) => ("closed", None, Some(reason)),
        };
        LinkEventJs {
            kind: kind.into(),
            frames,
            reason,
        }
    }
}

#[napi]
pub struct NativeLink {
    link: Link,
}

#[napi]
impl NativeLink {
    /// Connects to the hub at `path` as worker `worker`; `onEvent` receives `LinkEventJs`es.
    #[napi(constructor, catch_unwind)]
    pub fn new(
        path: String,
        secret: String,
        worker: u32,
        on_event: Function<LinkEventJs, ()>,
    ) -> napi::Result<Self> {
        let secret = Secret::from_hex(&secret)
            .ok_or_else(|| napi::Error::from_reason("the hub's secret is malformed"))?;
        // Weak: an open link must not keep a worker alive that has nothing else to do.
        let callback = on_event
            .build_threadsafe_function()
            .callee_handled::<false>()
            .weak::<true>()
            .build()?;
        let sink = Arc::new(move |event: LinkEvent| {
            callback.call(event.into(), ThreadsafeFunctionCallMode::NonBlocking);
        });
        let link = Link::connect(
            runtime::handle()?,
            PathBuf::from(path),
            secret,
            worker,
            MAX_FRAME_LEN,
            sink,
        );
        Ok(NativeLink { link })
    }

    /// Sends one adapter message of this worker: its routing fields, and its `data` as `payload`.
    /// (Messages of this process are produced by socket.io-adapter here, so they are not
    /// validated as untrusted input; the hub checks every header it reads.) `store`: a broadcast
    /// the hub must log for connection state recovery (it answers with the offset it gave it).
    #[napi(catch_unwind)]
    #[allow(clippy::too_many_arguments)]
    pub fn send(
        &self,
        kind: u32,
        nsp: String,
        uid: String,
        requester_uid: Option<String>,
        request_id: Option<String>,
        rooms: Option<Vec<String>>,
        except: Option<Vec<String>>,
        payload: Buffer,
        store: bool,
    ) -> napi::Result<bool> {
        let kind = u8::try_from(kind)
            .ok()
            .and_then(MessageType::from_code)
            .filter(|k| !k.is_hub_only())
            .ok_or_else(|| napi::Error::from_reason(format!("unknown message type {kind}")))?;
        let header = Header {
            request_id,
            requester_uid,
            rooms: rooms.unwrap_or_default(),
            except: except.unwrap_or_default(),
            store: store && kind == MessageType::Broadcast,
            ..Header::new(kind, nsp, uid)
        };
        self.send_header(&header, &payload)
    }

    /// Sends a request to the hub itself (connection state recovery: 101 persist, 102 restore).
    #[napi(catch_unwind)]
    pub fn request(
        &self,
        kind: u32,
        nsp: String,
        uid: String,
        request_id: Option<String>,
        payload: Buffer,
    ) -> napi::Result<bool> {
        let kind = u8::try_from(kind)
            .ok()
            .and_then(MessageType::from_code)
            .filter(|k| matches!(k, MessageType::PersistSession | MessageType::RestoreSession))
            .ok_or_else(|| napi::Error::from_reason(format!("{kind} is not a hub request")))?;
        let header = Header {
            request_id,
            ..Header::new(kind, nsp, uid)
        };
        self.send_header(&header, &payload)
    }

    /// Writes what `send` and `request` queued. JavaScript calls it once per turn of its event
    /// loop, so that frames sent together leave together.
    #[napi(catch_unwind)]
    pub fn flush(&self) -> bool {
        self.link.flush()
    }

    fn send_header(&self, header: &Header, payload: &[u8]) -> napi::Result<bool> {
        let frame =
            encode_frame(header, payload).map_err(|e| napi::Error::from_reason(e.to_string()))?;
        Ok(self.link.queue(frame))
    }

    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.link.is_closed()
    }

    #[napi(catch_unwind)]
    pub fn close(&self) {
        self.link.close();
    }
}
