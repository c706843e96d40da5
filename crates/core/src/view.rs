//! Read-only access to a JavaScript-like value, so validation runs unchanged over live JS values
//! (the napi binding reads fields lazily) and over `serde_json::Value` (tests, tools).
//!
//! Implementations should be lazy: validation asks only for the fields it checks, and never walks
//! into payloads, so its cost does not grow with the size of what a message carries.

use serde_json::Value;

/// The type of a value, as far as validation cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
    /// Buffers and typed arrays.
    Binary,
    /// Functions, symbols, bigints and anything else.
    Other,
}

impl Kind {
    /// Lower-case name used in error messages ("got number").
    pub fn name(self) -> &'static str {
        match self {
            Kind::Null => "null",
            Kind::Bool => "boolean",
            Kind::Number => "number",
            Kind::String => "string",
            Kind::Array => "array",
            Kind::Object => "object",
            Kind::Binary => "binary",
            Kind::Other => "other",
        }
    }
}

pub trait View: Sized {
    fn kind(&self) -> Kind;
    /// `None` if `self` is not an object, the key is absent, or its value is `undefined`.
    fn field(&self, key: &str) -> Option<Self>;
    fn string(&self) -> Option<String>;
    fn number(&self) -> Option<f64>;
    fn boolean(&self) -> Option<bool>;
    /// `Some` only for arrays.
    fn length(&self) -> Option<u32>;
    /// Array element; `None` if out of range or `undefined`.
    fn element(&self, index: u32) -> Option<Self>;

    /// Every element of an array, in order (`None` for `undefined` ones and holes), lazily.
    ///
    /// Costs what the array holds, never what it declares: a sparse JS array (V8's advanced IPC
    /// serialization carries `a.length = 2**32 - 1` in a few bytes) or a MessagePack header may
    /// declare billions of elements. Nothing is allocated from the declared length, and a caller
    /// that stops at the first element it rejects (a hole is never a valid room, socket or event
    /// name) does work proportional to the elements really there. A view that reads elements in
    /// sequence cheaper than by index overrides it.
    fn elements(&self) -> impl Iterator<Item = Option<Self>> + '_ {
        (0..self.length().unwrap_or(0)).map(|index| self.element(index))
    }
}

impl View for &Value {
    fn kind(&self) -> Kind {
        match self {
            Value::Null => Kind::Null,
            Value::Bool(_) => Kind::Bool,
            Value::Number(_) => Kind::Number,
            Value::String(_) => Kind::String,
            Value::Array(_) => Kind::Array,
            Value::Object(_) => Kind::Object,
        }
    }

    fn field(&self, key: &str) -> Option<Self> {
        self.as_object()?.get(key)
    }

    fn string(&self) -> Option<String> {
        self.as_str().map(str::to_owned)
    }

    fn number(&self) -> Option<f64> {
        self.as_f64()
    }

    fn boolean(&self) -> Option<bool> {
        self.as_bool()
    }

    fn length(&self) -> Option<u32> {
        // A JS array cannot exceed u32::MAX - 1 elements; saturate rather than fail.
        let len = self.as_array()?.len();
        Some(u32::try_from(len).unwrap_or(u32::MAX))
    }

    fn element(&self, index: u32) -> Option<Self> {
        self.as_array()?.get(usize::try_from(index).ok()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_view() {
        let value = json!({ "a": [1, "x"], "b": null, "c": true });
        let root = &value;
        assert_eq!(root.kind(), Kind::Object);
        let a = root.field("a").unwrap();
        assert_eq!(a.length(), Some(2));
        assert_eq!(a.element(0).and_then(|e| e.number()), Some(1.0));
        assert_eq!(a.element(1).and_then(|e| e.string()), Some("x".into()));
        assert!(a.element(2).is_none());
        assert_eq!(root.field("b").map(|b| b.kind()), Some(Kind::Null));
        assert_eq!(root.field("c").and_then(|c| c.boolean()), Some(true));
        assert!(root.field("missing").is_none());
        assert!(a.field("0").is_none());
        assert!(root.length().is_none());
    }
}
