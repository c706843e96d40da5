//! Frames as JavaScript sees them: the header's fields and the payload bytes.

use napi::bindgen_prelude::Buffer;
use napi_derive::napi;
use sio_cluster_core::Header;

#[napi(object)]
pub struct WireFrame {
    /// The message type (1-13).
    #[napi(js_name = "type")]
    pub kind: u32,
    pub nsp: String,
    pub uid: String,
    pub requester_uid: Option<String>,
    pub request_id: Option<String>,
    /// The position of a stored broadcast in the hub's packet log (connection state recovery).
    pub offset: Option<f64>,
    /// The message's `data` (MessagePack), or empty when the message has no data.
    pub payload: Buffer,
}

impl WireFrame {
    pub fn new(header: &Header, payload: &[u8]) -> WireFrame {
        WireFrame {
            kind: u32::from(header.kind.code()),
            nsp: header.nsp.clone(),
            uid: header.uid.clone(),
            requester_uid: header.requester_uid.clone(),
            request_id: header.request_id.clone(),
            // Offsets count messages: far below 2^53, exact as a JS number.
            offset: header.offset.map(|o| o as f64),
            payload: payload.to_vec().into(),
        }
    }
}
