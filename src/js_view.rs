//! A lazy view of live JavaScript values for the core's validation.

use napi::bindgen_prelude::{JsObjectValue, Object};
use napi::{JsValue, Unknown, ValueType};
use sio_cluster_core::{Kind, View};

/// A lazy view of a JavaScript value: only the fields validation asks for are read, so the cost
/// of validating a message does not grow with its payload.
pub struct JsView<'env>(pub Unknown<'env>);

impl<'env> JsView<'env> {
    fn value_type(&self) -> ValueType {
        self.0.get_type().unwrap_or(ValueType::Unknown)
    }

    fn object(&self) -> Option<Object<'env>> {
        if self.value_type() != ValueType::Object {
            return None;
        }
        // Safety: the value was just checked to be an object.
        unsafe { self.0.cast::<Object<'env>>() }.ok()
    }

    fn defined(value: Unknown<'env>) -> Option<Self> {
        match value.get_type() {
            Ok(ValueType::Undefined) | Err(_) => None,
            Ok(_) => Some(JsView(value)),
        }
    }
}

impl View for JsView<'_> {
    fn kind(&self) -> Kind {
        match self.value_type() {
            ValueType::Null => Kind::Null,
            ValueType::Boolean => Kind::Bool,
            ValueType::Number => Kind::Number,
            ValueType::String => Kind::String,
            ValueType::Object => {
                if self.0.is_array().unwrap_or(false) {
                    Kind::Array
                } else if self.0.is_buffer().unwrap_or(false)
                    || self.0.is_typedarray().unwrap_or(false)
                    || self.0.is_arraybuffer().unwrap_or(false)
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
        let object = self.object()?;
        let value = object.get_named_property_unchecked::<Unknown>(key).ok()?;
        Self::defined(value)
    }

    fn string(&self) -> Option<String> {
        if self.value_type() != ValueType::String {
            return None;
        }
        // Safety: checked to be a string.
        unsafe { self.0.cast::<String>() }.ok()
    }

    fn number(&self) -> Option<f64> {
        if self.value_type() != ValueType::Number {
            return None;
        }
        // Safety: checked to be a number.
        unsafe { self.0.cast::<f64>() }.ok()
    }

    fn boolean(&self) -> Option<bool> {
        if self.value_type() != ValueType::Boolean {
            return None;
        }
        // Safety: checked to be a boolean.
        unsafe { self.0.cast::<bool>() }.ok()
    }

    fn length(&self) -> Option<u32> {
        if !self.0.is_array().unwrap_or(false) {
            return None;
        }
        self.object()?.get_array_length_unchecked().ok()
    }

    fn element(&self, index: u32) -> Option<Self> {
        let value = self.object()?.get_element::<Unknown>(index).ok()?;
        Self::defined(value)
    }
}
