//! Frames read from the link, handed to JavaScript as one `Buffer` per read: creating a JS object,
//! strings and an external `Buffer` per frame through Node-API cost more than the rest of the
//! frame's way (3.3 us for a batch of one frame, measured), and a copied `Buffer` costs far less
//! than an external one for the small batches of a quiet link.
//!
//! Layout (little-endian u32s, then bytes), read by lib/frame-batch.js with the positions
//! exported here (`BatchCount`, `FrameField`, `FRAME_FIELDS`), so both sides read one definition:
//! ```text
//! BATCH_COUNTS numbers (BatchCount): frames n, new strings s, locals l
//! n x FRAME_FIELDS numbers (FrameField): type, nsp, uid, requester uid, request id (string ids,
//!     STRING_NONE when absent), offset present (0/1), offset high 32 bits, offset low 32 bits,
//!     end of the payload (from the start of the payloads; it starts where the previous one ended)
//! s + l byte lengths, then the UTF-8 of the s new strings and the l locals
//! payloads
//! ```
//! String ids: below `STRING_LOCAL` they name a string of the link's table, which JavaScript
//! extends with the batch's new strings (namespaces and adapter uids: few, and repeated in every
//! frame); from `STRING_LOCAL` up they index the batch's locals (request ids: new every time).

use std::collections::HashMap;

use napi_derive::napi;
use sio_cluster_core::Header;

/// The numbers that open a batch, by position.
#[napi]
pub enum BatchCount {
    Frames = 0,
    Strings = 1,
    Locals = 2,
}
/// Numbers that open a batch.
#[napi]
pub const BATCH_COUNTS: u32 = BatchCount::Locals as u32 + 1;

/// The numbers of one frame, by position.
#[napi]
pub enum FrameField {
    Type = 0,
    Nsp = 1,
    Uid = 2,
    RequesterUid = 3,
    RequestId = 4,
    HasOffset = 5,
    OffsetHigh = 6,
    OffsetLow = 7,
    PayloadEnd = 8,
}
/// Numbers per frame.
#[napi]
pub const FRAME_FIELDS: u32 = FrameField::PayloadEnd as u32 + 1;
/// A string id for "absent".
#[napi]
pub const STRING_NONE: u32 = u32::MAX;
/// String ids from here up index the batch's locals.
#[napi]
pub const STRING_LOCAL: u32 = 1 << 31;
/// Strings kept in the link's table at most; later ones travel as locals.
const MAX_INTERNED: usize = 4096;

/// The link's side of the string table.
#[derive(Default)]
pub struct StringTable {
    ids: HashMap<String, u32>,
}

/// Builds one batch.
pub struct BatchBuilder<'a> {
    table: &'a mut StringTable,
    meta: Vec<u32>,
    payloads: Vec<u8>,
    strings: Vec<String>,
    locals: Vec<String>,
}

impl<'a> BatchBuilder<'a> {
    pub fn new(table: &'a mut StringTable) -> Self {
        BatchBuilder {
            table,
            meta: Vec::new(),
            payloads: Vec::new(),
            strings: Vec::new(),
            locals: Vec::new(),
        }
    }

    pub fn push(&mut self, header: &Header, payload: &[u8]) {
        let nsp = self.interned(&header.nsp);
        let uid = self.interned(&header.uid);
        let requester = match &header.requester_uid {
            Some(uid) => self.interned(uid),
            None => STRING_NONE,
        };
        let request = match &header.request_id {
            Some(id) => self.local(id),
            None => STRING_NONE,
        };
        let offset = header.offset.unwrap_or(0);
        self.payloads.extend_from_slice(payload);
        let mut fields = [0; FRAME_FIELDS as usize];
        fields[FrameField::Type as usize] = u32::from(header.kind.code());
        fields[FrameField::Nsp as usize] = nsp;
        fields[FrameField::Uid as usize] = uid;
        fields[FrameField::RequesterUid as usize] = requester;
        fields[FrameField::RequestId as usize] = request;
        fields[FrameField::HasOffset as usize] = u32::from(header.offset.is_some());
        fields[FrameField::OffsetHigh as usize] = (offset >> 32) as u32;
        fields[FrameField::OffsetLow as usize] = offset as u32;
        // Bounded by the frames of one read: far below 4 GiB.
        fields[FrameField::PayloadEnd as usize] = self.payloads.len() as u32;
        self.meta.extend_from_slice(&fields);
    }

    pub fn is_empty(&self) -> bool {
        self.meta.is_empty()
    }

    /// Writes the batch's bytes into `out`, emptied first (layout in the module's documentation).
    pub fn finish_into(self, out: &mut Vec<u8>) {
        let texts = || self.strings.iter().chain(&self.locals);
        let text_len: usize = texts().map(String::len).sum();
        let mut counts = [0; BATCH_COUNTS as usize];
        counts[BatchCount::Frames as usize] = (self.meta.len() / FRAME_FIELDS as usize) as u32;
        counts[BatchCount::Strings as usize] = self.strings.len() as u32;
        counts[BatchCount::Locals as usize] = self.locals.len() as u32;
        let numbers = counts.len() + self.meta.len() + self.strings.len() + self.locals.len();
        out.clear();
        out.reserve(4 * numbers + text_len + self.payloads.len());
        for number in counts.iter().chain(&self.meta) {
            out.extend_from_slice(&number.to_le_bytes());
        }
        for text in texts() {
            out.extend_from_slice(&(text.len() as u32).to_le_bytes());
        }
        for text in texts() {
            out.extend_from_slice(text.as_bytes());
        }
        out.extend_from_slice(&self.payloads);
    }

    fn interned(&mut self, text: &str) -> u32 {
        if let Some(&id) = self.table.ids.get(text) {
            return id;
        }
        if self.table.ids.len() >= MAX_INTERNED {
            return self.local(text);
        }
        let id = self.table.ids.len() as u32;
        self.table.ids.insert(text.to_owned(), id);
        self.strings.push(text.to_owned());
        id
    }

    fn local(&mut self, text: &str) -> u32 {
        self.locals.push(text.to_owned());
        STRING_LOCAL | (self.locals.len() as u32 - 1)
    }
}
