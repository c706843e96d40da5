//! Length-prefixed frames for the link between workers and the hub (a Unix stream socket).
//!
//! ```text
//! +-----------+-----------+----------------------+---------------------+
//! | N: u32 BE | H: u32 BE | header: H bytes      | payload: N-4-H bytes|
//! +-----------+-----------+----------------------+---------------------+
//!             |<------------------------- N bytes ------------------->|
//! ```
//!
//! The header is a [`Header`] as a MessagePack map with one-letter keys
//! (`rmp_serde::to_vec_named`), so the hub routes without touching the payload, which it relays
//! as opaque bytes. A frame must satisfy `4 + H <= N <= max_frame_len`.

use std::fmt;
use std::io::Cursor;

use crate::header::Header;

/// Bound on N; larger lengths are taken for a corrupt or hostile stream.
pub const MAX_FRAME_LEN: usize = 64 * 1024 * 1024;

/// Bytes of each length field.
const LEN_FIELD: usize = 4;

#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub header: Header,
    pub payload: Vec<u8>,
}

/// A decoded frame that keeps its exact bytes (length prefix included), so the hub can relay it
/// to any number of workers without encoding it again.
#[derive(Debug, Clone, PartialEq)]
pub struct RawFrame {
    pub header: Header,
    pub bytes: Vec<u8>,
    payload_start: usize,
}

impl RawFrame {
    pub fn payload(&self) -> &[u8] {
        &self.bytes[self.payload_start..]
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// N (`len`) exceeds the bound.
    TooLarge { len: usize, max: usize },
    /// `4 + header_len > frame_len`. A frame too short to hold H at all is reported with
    /// `header_len: 0`.
    BadHeaderLength { header_len: usize, frame_len: usize },
    /// The header bytes are not a MessagePack [`Header`].
    BadHeader(String),
    /// The header decodes but breaks [`Header::check`].
    Invalid(String),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLarge { len, max } => {
                write!(f, "frame of {len} bytes exceeds the limit of {max} bytes")
            }
            FrameError::BadHeaderLength {
                header_len,
                frame_len,
            } => write!(
                f,
                "frame header of {header_len} bytes does not fit in a frame of {frame_len} bytes"
            ),
            FrameError::BadHeader(reason) => write!(f, "undecodable frame header: {reason}"),
            FrameError::Invalid(reason) => write!(f, "invalid frame header: {reason}"),
        }
    }
}

impl std::error::Error for FrameError {}

/// Encodes one frame. Refuses a header that a decoder would reject, so a bug shows at the sender.
pub fn encode_frame(header: &Header, payload: &[u8]) -> Result<Vec<u8>, FrameError> {
    let mut frame = Vec::new();
    encode_frame_into(header, payload, &mut frame)?;
    Ok(frame)
}

/// Appends one frame to `out` (a batch of frames that leave in one write); on error `out` is
/// left as it was.
pub fn encode_frame_into(
    header: &Header,
    payload: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), FrameError> {
    header
        .check()
        .map_err(|invalid| FrameError::Invalid(invalid.reason))?;
    let start = out.len();
    // Placeholders for both lengths, filled once the header's size is known: the header is
    // serialized in place, not into a buffer of its own.
    out.extend_from_slice(&[0; 2 * LEN_FIELD]);
    if let Err(error) = rmp_serde::encode::write_named(out, header) {
        out.truncate(start);
        return Err(FrameError::BadHeader(error.to_string()));
    }
    let header_len = out.len() - start - 2 * LEN_FIELD;
    let len = LEN_FIELD + header_len + payload.len();
    if len > MAX_FRAME_LEN {
        out.truncate(start);
        return Err(FrameError::TooLarge {
            len,
            max: MAX_FRAME_LEN,
        });
    }
    // Both lengths fit in u32: they are bounded by MAX_FRAME_LEN.
    out[start..start + LEN_FIELD].copy_from_slice(&(len as u32).to_be_bytes());
    out[start + LEN_FIELD..start + 2 * LEN_FIELD]
        .copy_from_slice(&(header_len as u32).to_be_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

/// Incremental decoder: feed it bytes as they arrive, take frames out as they complete.
#[derive(Debug)]
pub struct FrameDecoder {
    max_frame_len: usize,
    buf: Vec<u8>,
    /// Start of the unconsumed bytes in `buf`; consumed bytes are dropped lazily by `push`, so
    /// taking many frames out of one large read moves memory once, not once per frame.
    start: usize,
    /// Set on the first error and returned from then on: the stream cannot be resynchronized.
    poisoned: Option<FrameError>,
}

impl FrameDecoder {
    pub fn new(max_frame_len: usize) -> Self {
        FrameDecoder {
            max_frame_len,
            buf: Vec::new(),
            start: 0,
            poisoned: None,
        }
    }

    pub fn push(&mut self, bytes: &[u8]) {
        if self.poisoned.is_some() {
            return; // the link is being closed; do not keep its bytes
        }
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes pushed but not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        Ok(self.next_raw_frame()?.map(|raw| Frame {
            payload: raw.payload().to_vec(),
            header: raw.header,
        }))
    }

    /// Like [`FrameDecoder::next_frame`], keeping the frame's bytes as they arrived.
    pub fn next_raw_frame(&mut self) -> Result<Option<RawFrame>, FrameError> {
        Ok(self.next_borrowed()?.map(|frame| RawFrame {
            header: frame.header,
            bytes: frame.bytes.to_vec(),
            payload_start: frame.payload_start,
        }))
    }

    /// The next frame's header and payload, borrowed from the decoder's buffer (valid until the
    /// next call): for a reader that copies payloads where it wants them, once.
    pub fn next_header_and_payload(&mut self) -> Result<Option<(Header, &[u8])>, FrameError> {
        Ok(self
            .next_borrowed()?
            .map(|frame| (frame.header, &frame.bytes[frame.payload_start..])))
    }

    fn next_borrowed(&mut self) -> Result<Option<BorrowedFrame<'_>>, FrameError> {
        if let Some(error) = &self.poisoned {
            return Err(error.clone());
        }
        match self.decode() {
            Ok(Some((header, len, payload_start))) => {
                let start = self.start;
                self.start += len;
                Ok(Some(BorrowedFrame {
                    header,
                    bytes: &self.buf[start..start + len],
                    payload_start,
                }))
            }
            Ok(None) => Ok(None),
            Err(error) => {
                self.poisoned = Some(error.clone());
                self.buf = Vec::new();
                self.start = 0;
                Err(error)
            }
        }
    }

    /// The next complete frame's header, its length (prefix included) and where its payload
    /// starts, without consuming it.
    fn decode(&self) -> Result<Option<(Header, usize, usize)>, FrameError> {
        let pending = &self.buf[self.start..];
        // Lengths are checked as soon as they are readable, before waiting for the rest.
        let Some(frame_len) = read_len(pending, 0) else {
            return Ok(None);
        };
        if frame_len > self.max_frame_len {
            return Err(FrameError::TooLarge {
                len: frame_len,
                max: self.max_frame_len,
            });
        }
        if frame_len < LEN_FIELD {
            return Err(FrameError::BadHeaderLength {
                header_len: 0,
                frame_len,
            });
        }
        let Some(header_len) = read_len(pending, LEN_FIELD) else {
            return Ok(None);
        };
        if header_len > frame_len - LEN_FIELD {
            return Err(FrameError::BadHeaderLength {
                header_len,
                frame_len,
            });
        }
        let Some(body) = pending.get(LEN_FIELD..LEN_FIELD + frame_len) else {
            return Ok(None);
        };
        let header = decode_header(&body[LEN_FIELD..LEN_FIELD + header_len])?;
        Ok(Some((
            header,
            LEN_FIELD + frame_len,
            2 * LEN_FIELD + header_len,
        )))
    }
}

/// A frame still in the decoder's buffer: its header, its bytes (length prefix included) and
/// where its payload starts in them.
struct BorrowedFrame<'a> {
    header: Header,
    bytes: &'a [u8],
    payload_start: usize,
}

/// The big-endian u32 at `at`, if those four bytes have arrived.
fn read_len(bytes: &[u8], at: usize) -> Option<usize> {
    let field: [u8; LEN_FIELD] = bytes.get(at..at + LEN_FIELD)?.try_into().ok()?;
    usize::try_from(u32::from_be_bytes(field)).ok()
}

/// Decodes a header that must fill its bytes exactly and pass [`Header::check`].
fn decode_header(bytes: &[u8]) -> Result<Header, FrameError> {
    let mut reader = Cursor::new(bytes);
    let header: Header =
        rmp_serde::from_read(&mut reader).map_err(|e| FrameError::BadHeader(e.to_string()))?;
    let used = reader.position();
    if used != bytes.len() as u64 {
        return Err(FrameError::BadHeader(format!(
            "{} trailing bytes after the header",
            bytes.len() as u64 - used
        )));
    }
    header
        .check()
        .map_err(|invalid| FrameError::Invalid(invalid.reason))?;
    Ok(header)
}
