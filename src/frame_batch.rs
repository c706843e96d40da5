//! Frames read from the link, handed to JavaScript as one batch: numbers in a `Uint32Array`, the
//! payloads back to back in one `Buffer`, and the strings JavaScript has not seen yet. Creating a
//! JS object, strings and a `Buffer` per frame through Node-API cost more than the rest of the
//! frame's way (2.4 us a frame, measured); a batch costs a few allocations whatever its size.
//!
//! Layout of `meta`, `FIELDS` numbers a frame: type, nsp, uid, requester uid, request id (string
//! ids, `NONE` when absent), offset present (0 or 1), offset high and low 32 bits, end of the
//! payload in `payloads` (it starts where the previous one ended).
//!
//! String ids: below `LOCAL` they name a string of the link's table, which JavaScript extends
//! with `strings` after each batch (namespaces and adapter uids: few, and repeated in every
//! frame); from `LOCAL` up they index this batch's `locals` (request ids: new in every request).

use std::collections::HashMap;

use napi::bindgen_prelude::{Buffer, Uint32Array};
use napi_derive::napi;
use sio_cluster_core::Header;

/// Numbers per frame in `meta` (exported to JavaScript with the two markers below).
#[napi]
pub const FRAME_FIELDS: u32 = 9;
/// A string id for "absent".
#[napi]
pub const STRING_NONE: u32 = u32::MAX;
/// String ids from here up index the batch's `locals`.
#[napi]
pub const STRING_LOCAL: u32 = 1 << 31;
const NONE: u32 = STRING_NONE;
const LOCAL: u32 = STRING_LOCAL;
/// Strings kept in the link's table at most; later ones travel as batch-local strings.
const MAX_INTERNED: usize = 4096;

#[napi(object)]
pub struct FrameBatch {
    pub meta: Uint32Array,
    pub payloads: Buffer,
    /// New entries of the link's string table, in id order.
    pub strings: Vec<String>,
    /// Strings of this batch only.
    pub locals: Vec<String>,
}

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
            None => NONE,
        };
        let request = match &header.request_id {
            Some(id) => self.local(id),
            None => NONE,
        };
        let offset = header.offset.unwrap_or(0);
        self.payloads.extend_from_slice(payload);
        self.meta.extend_from_slice(&[
            u32::from(header.kind.code()),
            nsp,
            uid,
            requester,
            request,
            u32::from(header.offset.is_some()),
            (offset >> 32) as u32,
            offset as u32,
            // Bounded by the frames of one read: far below 4 GiB.
            self.payloads.len() as u32,
        ]);
    }

    pub fn is_empty(&self) -> bool {
        self.meta.is_empty()
    }

    pub fn finish(self) -> FrameBatch {
        FrameBatch {
            meta: Uint32Array::new(self.meta),
            payloads: self.payloads.into(),
            strings: self.strings,
            locals: self.locals,
        }
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
        LOCAL | (self.locals.len() as u32 - 1)
    }
}
