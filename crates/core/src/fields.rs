//! Typed field accessors for validation. Each takes the field's full path ("data.opts.rooms"),
//! looks up its last segment in the parent, and on a mismatch returns an [`Invalid`] that names
//! the path, what was expected, and what was found.

use crate::error::Invalid;
use crate::js_number::to_js_string;
use crate::view::{Kind, View};

/// The key to look up in the parent: the last segment of the path.
fn key(path: &str) -> &str {
    path.rsplit('.').next().unwrap_or(path)
}

pub(crate) fn mismatch(path: &str, expected: &str, found: Option<Kind>) -> Invalid {
    let found = match found {
        Some(kind) => format!("got {}", kind.name()),
        None => "missing".to_owned(),
    };
    Invalid::new(format!("field `{path}` must be {expected} ({found})"))
}

fn expected(kind: Kind) -> &'static str {
    match kind {
        Kind::Object => "an object",
        Kind::Array => "an array",
        Kind::String => "a string",
        Kind::Number => "a number",
        Kind::Bool => "a boolean",
        Kind::Null => "null",
        Kind::Binary => "binary",
        Kind::Other => "a value",
    }
}

/// `value` if it is of kind `want`.
fn of_kind<V: View>(value: Option<V>, path: &str, want: Kind) -> Result<V, Invalid> {
    match value {
        Some(value) if value.kind() == want => Ok(value),
        other => Err(mismatch(path, expected(want), other.map(|v| v.kind()))),
    }
}

pub(crate) fn required<V: View>(parent: &V, path: &str, want: Kind) -> Result<V, Invalid> {
    of_kind(parent.field(key(path)), path, want)
}

/// Absent (or `undefined`) is fine; present must be of kind `want`. `null` counts as present,
/// as it does for the reference (`requestId !== undefined`).
pub(crate) fn optional<V: View>(parent: &V, path: &str, want: Kind) -> Result<Option<V>, Invalid> {
    match parent.field(key(path)) {
        None => Ok(None),
        value => of_kind(value, path, want).map(Some),
    }
}

fn to_string<V: View>(value: V, path: &str) -> Result<String, Invalid> {
    // A binding whose kind() and string() disagree must not crash us either.
    value
        .string()
        .ok_or_else(|| mismatch(path, "a string", Some(value.kind())))
}

pub(crate) fn string<V: View>(parent: &V, path: &str) -> Result<String, Invalid> {
    to_string(required(parent, path, Kind::String)?, path)
}

pub(crate) fn optional_string<V: View>(parent: &V, path: &str) -> Result<Option<String>, Invalid> {
    optional(parent, path, Kind::String)?
        .map(|value| to_string(value, path))
        .transpose()
}

pub(crate) fn number<V: View>(parent: &V, path: &str) -> Result<f64, Invalid> {
    let value = required(parent, path, Kind::Number)?;
    value
        .number()
        .ok_or_else(|| mismatch(path, "a number", Some(value.kind())))
}

pub(crate) fn optional_bool<V: View>(parent: &V, path: &str) -> Result<Option<bool>, Invalid> {
    let Some(value) = optional(parent, path, Kind::Bool)? else {
        return Ok(None);
    };
    value
        .boolean()
        .map(Some)
        .ok_or_else(|| mismatch(path, "a boolean", Some(value.kind())))
}

/// An array of room names: strings, or finite numbers spelled as JS `String(n)` spells them
/// (JS keys `io.to(42)` by the number; the header carries text).
///
/// Read in one pass, stopping at the first element that is not a room: a hole ends a sparse
/// array's read, so the work is what the array holds, not the length it declares.
pub(crate) fn room_list<V: View>(parent: &V, path: &str) -> Result<Vec<String>, Invalid> {
    let array = required(parent, path, Kind::Array)?;
    let rooms = array
        .elements()
        .enumerate()
        .map(|(index, element)| room(element, || format!("{path}[{index}]")))
        .collect();
    rooms
}

fn room<V: View>(element: Option<V>, path: impl FnOnce() -> String) -> Result<String, Invalid> {
    const EXPECTED: &str = "a string or a finite number";
    let kind = element.as_ref().map(View::kind);
    let name = match (&element, kind) {
        (Some(value), Some(Kind::String)) => value.string(),
        (Some(value), Some(Kind::Number)) => {
            value.number().filter(|n| n.is_finite()).map(to_js_string)
        }
        _ => None,
    };
    name.ok_or_else(|| mismatch(&path(), EXPECTED, kind))
}
