//! The Caffe schema as data: field and enum names → numbers and types, read from the
//! `FileDescriptorSet` that the proto crate compiles next to the generated types. The text
//! reader uses it to turn names into protobuf wire data.

use prost::Message;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, EnumDescriptorProto, FileDescriptorSet};
use std::collections::HashMap;

/// One field of a message.
#[derive(Clone, Debug)]
pub struct FieldInfo {
    pub number: u32,
    pub ty: Type,
    pub repeated: bool,
    /// Fully qualified message or enum type name (`.caffe.BlobShape`) for message/enum fields.
    pub type_name: String,
}

/// All messages and enums of one schema, by fully qualified name.
#[derive(Debug, Default)]
pub struct Schema {
    messages: HashMap<String, HashMap<String, FieldInfo>>,
    enums: HashMap<String, HashMap<String, i32>>,
}

impl Schema {
    /// Reads an encoded `FileDescriptorSet`.
    pub fn from_descriptor(bytes: &[u8]) -> Result<Schema, String> {
        let set = FileDescriptorSet::decode(bytes).map_err(|e| format!("schema descriptor: {e}"))?;
        let mut s = Schema::default();
        for f in &set.file {
            let pkg = f.package.clone().unwrap_or_default();
            let prefix = if pkg.is_empty() { String::new() } else { format!(".{pkg}") };
            for m in &f.message_type {
                s.add_message(&prefix, m);
            }
            for e in &f.enum_type {
                s.add_enum(&prefix, e);
            }
        }
        Ok(s)
    }

    fn add_message(&mut self, prefix: &str, m: &DescriptorProto) {
        let name = format!("{prefix}.{}", m.name());
        let mut fields = HashMap::new();
        for f in &m.field {
            let info = FieldInfo {
                number: f.number().max(0) as u32,
                ty: f.r#type(),
                repeated: f.label() == Label::Repeated,
                type_name: f.type_name().to_string(),
            };
            fields.insert(f.name().to_string(), info);
        }
        for n in &m.nested_type {
            self.add_message(&name, n);
        }
        for e in &m.enum_type {
            self.add_enum(&name, e);
        }
        self.messages.insert(name, fields);
    }

    fn add_enum(&mut self, prefix: &str, e: &EnumDescriptorProto) {
        let name = format!("{prefix}.{}", e.name());
        let values = e.value.iter().map(|v| (v.name().to_string(), v.number())).collect();
        self.enums.insert(name, values);
    }

    /// A field of a message, by message type name and field name.
    pub fn field(&self, message: &str, field: &str) -> Option<&FieldInfo> {
        self.messages.get(message)?.get(field)
    }

    /// Whether a message type exists.
    pub fn has_message(&self, message: &str) -> bool {
        self.messages.contains_key(message)
    }

    /// An enum value's number, by enum type name and value name.
    pub fn enum_value(&self, en: &str, value: &str) -> Option<i32> {
        self.enums.get(en)?.get(value).copied()
    }
}
