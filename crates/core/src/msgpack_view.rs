//! A lazy [`View`] over MessagePack bytes: validation reads the few fields it checks where they
//! lie, skipping the rest, without building a tree of the message. A hub reading another
//! machine's 40 kB fetchSockets response from Redis then costs a scan, not thousands of
//! allocations.
//!
//! Skipping is iterative (a count of values still to pass), so deeply nested input cannot
//! exhaust the stack; every length is checked against the bytes left.

use crate::view::{Kind, View};

/// One MessagePack value: `bytes` starts with it (and may go on past it).
#[derive(Debug, Clone, Copy)]
pub struct MsgpackView<'a> {
    bytes: &'a [u8],
}

impl<'a> MsgpackView<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        MsgpackView { bytes }
    }

    /// The elements of an array in one pass (none if it is not an array); see [`View::elements`].
    pub fn iter(self) -> Elements<'a> {
        let (left, at) = self.container(false).unwrap_or((0, 0));
        Elements {
            bytes: self.bytes,
            at,
            left,
        }
    }

    /// The encoded bytes of this value, exactly (None if they are cut short or malformed).
    pub fn encoded(&self) -> Option<&'a [u8]> {
        Some(&self.bytes[..skip(self.bytes)?])
    }

    fn marker(&self) -> Option<u8> {
        self.bytes.first().copied()
    }

    /// `(count, offset of the first element)` of an array or a map (a map counts its pairs).
    fn container(&self, map: bool) -> Option<(usize, usize)> {
        let b = self.bytes;
        let (fix, c16, c32) = if map {
            (0x80..=0x8f, 0xde, 0xdf)
        } else {
            (0x90..=0x9f, 0xdc, 0xdd)
        };
        let marker = self.marker()?;
        if fix.contains(&marker) {
            return Some((usize::from(marker & 0x0f), 1));
        }
        if marker == c16 {
            return Some((usize::from(u16::from_be_bytes(read(b, 1)?)), 3));
        }
        if marker == c32 {
            return Some((u32::from_be_bytes(read(b, 1)?) as usize, 5));
        }
        None
    }

    fn str_bytes(&self) -> Option<&'a [u8]> {
        let b = self.bytes;
        let (len, start): (usize, usize) = match self.marker()? {
            m @ 0xa0..=0xbf => (usize::from(m & 0x1f), 1),
            0xd9 => (usize::from(*b.get(1)?), 2),
            0xda => (usize::from(u16::from_be_bytes(read(b, 1)?)), 3),
            0xdb => (u32::from_be_bytes(read(b, 1)?) as usize, 5),
            _ => return None,
        };
        b.get(start..start.checked_add(len)?)
    }

    /// `undefined` as msgpackr and notepack.io write it (fixext 1 of type 0).
    fn is_undefined(&self) -> bool {
        self.bytes.starts_with(&[0xd4, 0x00])
    }
}

/// The elements of an array, read in one pass.
pub struct Elements<'a> {
    bytes: &'a [u8],
    /// Where the next element starts.
    at: usize,
    /// Elements still declared; never used to allocate.
    left: usize,
}

impl<'a> Iterator for Elements<'a> {
    type Item = Option<MsgpackView<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let value = self.bytes.get(self.at..).map(MsgpackView::new);
        match value.and_then(|value| Some((value, skip(value.bytes)?))) {
            Some((value, size)) => {
                self.at += size;
                Some((!value.is_undefined()).then_some(value))
            }
            None => {
                // Cut short or malformed: one `None`, then the end.
                self.left = 0;
                Some(None)
            }
        }
    }
}

fn read<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..at + N)?.try_into().ok()
}

/// The length of the first value of `bytes`, or None if it is cut short or malformed.
pub fn skip(bytes: &[u8]) -> Option<usize> {
    let mut at = 0usize;
    let mut pending: usize = 1;
    while pending > 0 {
        pending -= 1;
        let marker = *bytes.get(at)?;
        let b = &bytes[at..];
        let (header, body, items): (usize, usize, usize) = match marker {
            0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => (1, 0, 0),
            0x80..=0x8f => (1, 0, 2 * usize::from(marker & 0x0f)),
            0x90..=0x9f => (1, 0, usize::from(marker & 0x0f)),
            0xa0..=0xbf => (1, usize::from(marker & 0x1f), 0),
            0xc4 | 0xd9 => (2, usize::from(*b.get(1)?), 0),
            0xc5 | 0xda => (3, usize::from(u16::from_be_bytes(read(b, 1)?)), 0),
            0xc6 | 0xdb => (5, u32::from_be_bytes(read(b, 1)?) as usize, 0),
            0xc7 => (3, usize::from(*b.get(1)?), 0),
            0xc8 => (4, usize::from(u16::from_be_bytes(read(b, 1)?)), 0),
            0xc9 => (6, u32::from_be_bytes(read(b, 1)?) as usize, 0),
            0xca => (5, 0, 0),
            0xcb => (9, 0, 0),
            0xcc | 0xd0 => (2, 0, 0),
            0xcd | 0xd1 => (3, 0, 0),
            0xce | 0xd2 => (5, 0, 0),
            0xcf | 0xd3 => (9, 0, 0),
            0xd4 => (3, 0, 0),
            0xd5 => (4, 0, 0),
            0xd6 => (6, 0, 0),
            0xd7 => (10, 0, 0),
            0xd8 => (18, 0, 0),
            0xdc => (3, 0, usize::from(u16::from_be_bytes(read(b, 1)?))),
            0xdd => (5, 0, u32::from_be_bytes(read(b, 1)?) as usize),
            0xde => (3, 0, 2 * usize::from(u16::from_be_bytes(read(b, 1)?))),
            0xdf => (5, 0, 2 * (u32::from_be_bytes(read(b, 1)?) as usize)),
            0xc1 => return None, // never used
        };
        at = at.checked_add(header)?.checked_add(body)?;
        if at > bytes.len() {
            return None;
        }
        pending = pending.checked_add(items)?;
        // Every value takes at least one byte: more pending than bytes left is a lie.
        if pending > bytes.len() - at {
            return None;
        }
    }
    Some(at)
}

impl<'a> View for MsgpackView<'a> {
    fn kind(&self) -> Kind {
        match self.marker() {
            None => Kind::Other,
            Some(0xc0) => Kind::Null,
            Some(0xc2 | 0xc3) => Kind::Bool,
            Some(0x00..=0x7f | 0xe0..=0xff | 0xca..=0xd3) => Kind::Number,
            Some(0xa0..=0xbf | 0xd9..=0xdb) => match self.str_bytes() {
                Some(s) if std::str::from_utf8(s).is_ok() => Kind::String,
                _ => Kind::Other,
            },
            Some(0xc4..=0xc6) => Kind::Binary,
            Some(0x90..=0x9f | 0xdc | 0xdd) => Kind::Array,
            Some(0x80..=0x8f | 0xde | 0xdf) => Kind::Object,
            Some(_) => Kind::Other,
        }
    }

    fn field(&self, key: &str) -> Option<Self> {
        let (pairs, mut at) = self.container(true)?;
        for _ in 0..pairs {
            let name = MsgpackView::new(self.bytes.get(at..)?);
            at += skip(name.bytes)?;
            let value = MsgpackView::new(self.bytes.get(at..)?);
            if name.str_bytes() == Some(key.as_bytes()) {
                return (!value.is_undefined()).then_some(value);
            }
            at += skip(value.bytes)?;
        }
        None
    }

    fn string(&self) -> Option<String> {
        std::str::from_utf8(self.str_bytes()?)
            .ok()
            .map(str::to_owned)
    }

    fn number(&self) -> Option<f64> {
        let b = self.bytes;
        Some(match self.marker()? {
            m @ 0x00..=0x7f => f64::from(m),
            m @ 0xe0..=0xff => f64::from(m as i8),
            0xca => f64::from(f32::from_be_bytes(read(b, 1)?)),
            0xcb => f64::from_be_bytes(read(b, 1)?),
            0xcc => f64::from(*b.get(1)?),
            0xcd => f64::from(u16::from_be_bytes(read(b, 1)?)),
            0xce => f64::from(u32::from_be_bytes(read(b, 1)?)),
            0xcf => u64::from_be_bytes(read(b, 1)?) as f64,
            0xd0 => f64::from(*b.get(1)? as i8),
            0xd1 => f64::from(i16::from_be_bytes(read(b, 1)?)),
            0xd2 => f64::from(i32::from_be_bytes(read(b, 1)?)),
            0xd3 => i64::from_be_bytes(read(b, 1)?) as f64,
            _ => return None,
        })
    }

    fn boolean(&self) -> Option<bool> {
        match self.marker()? {
            0xc2 => Some(false),
            0xc3 => Some(true),
            _ => None,
        }
    }

    fn length(&self) -> Option<u32> {
        let (len, _) = self.container(false)?;
        Some(u32::try_from(len).unwrap_or(u32::MAX))
    }

    /// One pass over the array (reading element `i` by index skips the `i` before it). An array
    /// cut short or malformed ends with one `None`, which every caller rejects.
    fn elements(&self) -> impl Iterator<Item = Option<Self>> + '_ {
        self.iter()
    }

    fn element(&self, index: u32) -> Option<Self> {
        let (len, mut at) = self.container(false)?;
        let index = usize::try_from(index).ok()?;
        if index >= len {
            return None;
        }
        for _ in 0..index {
            at += skip(self.bytes.get(at..)?)?;
        }
        let value = MsgpackView::new(self.bytes.get(at..)?);
        (!value.is_undefined()).then_some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmpv::Value;

    fn encode(value: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, value).unwrap();
        out
    }

    #[test]
    fn reads_what_rmpv_writes() {
        let value = Value::Map(vec![
            (
                "a".into(),
                Value::Array(vec![Value::from(1), "x".into(), Value::from(-70000)]),
            ),
            ("b".into(), Value::Nil),
            ("c".into(), Value::Boolean(true)),
            ("d".into(), Value::Binary(vec![1; 300])),
            ("e".into(), Value::F64(1.5)),
            ("u".into(), Value::Ext(0, vec![0])),
            ("big".into(), Value::from("y".repeat(70000))),
        ]);
        let bytes = encode(&value);
        let root = MsgpackView::new(&bytes);
        assert_eq!(skip(&bytes), Some(bytes.len()));
        assert_eq!(root.kind(), Kind::Object);
        let a = root.field("a").unwrap();
        assert_eq!(a.length(), Some(3));
        assert_eq!(a.element(0).and_then(|e| e.number()), Some(1.0));
        assert_eq!(a.element(1).and_then(|e| e.string()), Some("x".into()));
        assert_eq!(a.element(2).and_then(|e| e.number()), Some(-70000.0));
        assert!(a.element(3).is_none());
        assert_eq!(root.field("b").map(|b| b.kind()), Some(Kind::Null));
        assert_eq!(root.field("c").and_then(|c| c.boolean()), Some(true));
        assert_eq!(root.field("d").map(|d| d.kind()), Some(Kind::Binary));
        assert_eq!(root.field("e").and_then(|e| e.number()), Some(1.5));
        assert!(root.field("u").is_none(), "undefined is absent");
        assert_eq!(
            root.field("big").and_then(|s| s.string()).map(|s| s.len()),
            Some(70000)
        );
        assert!(root.field("missing").is_none());
        assert_eq!(root.field("d").unwrap().encoded().unwrap().len(), 303);
    }

    #[test]
    fn malformed_input_is_none_never_a_panic() {
        for bytes in [
            &[][..],
            &[0xc1],
            &[0x92, 0x01],                   // an array cut short
            &[0xdd, 0xff, 0xff, 0xff, 0xff], // claims 4 billion elements
            &[0xdb, 0x00, 0x00, 0x01],       // a str32 cut short
            &[0xdf, 0xff, 0xff, 0xff, 0xff, 0x01],
        ] {
            assert_eq!(skip(bytes), None, "{bytes:?}");
            let view = MsgpackView::new(bytes);
            let _ = (view.kind(), view.field("a"), view.length(), view.element(0));
        }
        // Deep nesting: iterative, no stack overflow.
        let mut deep = vec![0x91; 1_000_000];
        deep.push(0xc0);
        assert_eq!(skip(&deep), Some(deep.len()));
    }
}
