//! A lazy view of live JavaScript values for the core's validation.

use napi::bindgen_prelude::{JsObjectValue, Object};
use napi::{JsValue, Unknown, ValueType};
use sio_cluster_core::{Kind, View};

/// A lazy view of a JavaScript value: only the fields validation asks for are read, so the cost
/// of validating a message does not grow with its payload. Its type is read once (each read is
/// a call into Node-API).
pub struct JsView<'env> {
    value: Unknown<'env>,
    value_type: ValueType,
}

impl<'env> JsView<'env> {
    pub fn new(value: Unknown<'env>) -> Self {
        let value_type = value.get_type().unwrap_or(ValueType::Unknown);
        JsView { value, value_type }
    }

    fn object(&self) -> Option<Object<'env>> {
        if self.value_type != ValueType::Object {
            return None;
        }
        // Safety: the value is an object.
        unsafe { self.value.cast::<Object<'env>>() }.ok()
    }

    fn defined(value: Unknown<'env>) -> Option<Self> {
        let view = JsView::new(value);
        match view.value_type {
            ValueType::Undefined | ValueType::Unknown => None,
            _ => Some(view),
        }
    }
}

impl View for JsView<'_> {
    fn kind(&self) -> Kind {
        match self.value_type {
            ValueType::Null => Kind::Null,
            ValueType::Boolean => Kind::Bool,
            ValueType::Number => Kind::Number,
            ValueType::String => Kind::String,
            ValueType::Object => {
                if self.value.is_array().unwrap_or(false) {
                    Kind::Array
                } else if self.value.is_typedarray().unwrap_or(false) // Buffers are Uint8Arrays
                    || self.value.is_arraybuffer().unwrap_or(false)
                    || self.value.is_dataview().unwrap_or(false)
                {
                    Kind::Binary
                } else {
                    Kind::Object
                }
            }
            _ => Kind::Other,
        }
    }

    fn field(&self, key: &str) -> Option<Self> {
        let value = self
            .object()?
            .get_named_property_unchecked::<Unknown>(key)
            .ok()?;
        Self::defined(value)
    }

    fn string(&self) -> Option<String> {
        if self.value_type != ValueType::String {
            return None;
        }
        // Safety: the value is a string.
        unsafe { self.value.cast::<String>() }.ok()
    }

    fn number(&self) -> Option<f64> {
        if self.value_type != ValueType::Number {
            return None;
        }
        // Safety: the value is a number.
        unsafe { self.value.cast::<f64>() }.ok()
    }

    fn boolean(&self) -> Option<bool> {
        if self.value_type != ValueType::Boolean {
            return None;
        }
        // Safety: the value is a boolean.
        unsafe { self.value.cast::<bool>() }.ok()
    }

    fn length(&self) -> Option<u32> {
        if self.kind() != Kind::Array {
            return None;
        }
        self.object()?.get_array_length_unchecked().ok()
    }

    fn element(&self, index: u32) -> Option<Self> {
        let value = self.object()?.get_element::<Unknown>(index).ok()?;
        Self::defined(value)
    }
}
