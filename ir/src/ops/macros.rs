//! The macros that turn the op list into structs, the `Op` enum and the schema table.

/// Defines typed attribute structs and their schemas for one op family.
#[macro_export]
macro_rules! op_family {
    ($( $(#[$doc:meta])* $name:ident { domain: $domain:literal, since: $since:literal,
        inputs: [$($inp:literal),* $(,)?],
        outputs: [$($outp:literal),* $(,)?],
        types: [$($ty:literal),* $(,)?],
        attrs: { $( $field:ident : $fty:ty $(= $def:expr)? ),* $(,)? }
    } )*) => {
        $(
            $(#[$doc])*
            #[derive(Clone, Debug, PartialEq)]
            pub struct $name { $( pub $field: $fty, )* }

            impl $name {
                /// The op's static schema.
                pub const SCHEMA: $crate::ops::OpSchema = $crate::ops::OpSchema {
                    name: stringify!($name),
                    domain: $domain,
                    since: $since,
                    inputs: &[$($inp),*],
                    outputs: &[$($outp),*],
                    types: &[$($ty),*],
                    attrs: &[$( $crate::ops::field_name_of(stringify!($field)) ),*],
                };
            }

            impl Default for $name {
                fn default() -> Self {
                    Self { $( $field: $crate::__attr_default!($fty $(, $def)?), )* }
                }
            }

            impl $crate::ops::OpAttrs for $name {
                #[allow(unused_mut, unused_variables)]
                fn from_attrs(
                    attrs: Vec<(String, $crate::attr::AttrValue)>,
                ) -> Result<Self, $crate::attr::AttrError> {
                    let mut map: std::collections::BTreeMap<String, $crate::attr::AttrValue> =
                        attrs.into_iter().collect();
                    $(
                        let key = $crate::ops::field_name_of(stringify!($field));
                        let $field: $fty = match map.remove(key) {
                            Some(v) => {
                                let found = v.kind();
                                <$fty as $crate::attr::AttrField>::take(v).ok_or_else(|| {
                                    $crate::attr::AttrError::WrongKind {
                                        op: stringify!($name),
                                        attr: key.to_string(),
                                        expected: <$fty as $crate::attr::AttrField>::KIND,
                                        found,
                                    }
                                })?
                            }
                            None => $crate::__attr_missing!($name, key, $fty $(, $def)?),
                        };
                    )*
                    if let Some((k, _)) = map.into_iter().next() {
                        return Err($crate::attr::AttrError::Unknown { op: stringify!($name), attr: k });
                    }
                    Ok(Self { $( $field, )* })
                }

                #[allow(unused_mut)]
                fn to_attrs(&self) -> Vec<(&'static str, $crate::attr::AttrValue)> {
                    let mut out = Vec::new();
                    $(
                        if let Some(a) = $crate::attr::AttrField::emit(&self.$field) {
                            out.push(($crate::ops::field_name_of(stringify!($field)), a));
                        }
                    )*
                    out
                }

                #[allow(unused_mut, unused_variables)]
                fn non_default_attrs(&self) -> Vec<(&'static str, $crate::attr::AttrValue)> {
                    let mut out = Vec::new();
                    let d = Self::default();
                    $(
                        if let Some(a) = $crate::attr::AttrField::emit(&self.$field) {
                            let required = $crate::__attr_required!($($def)?);
                            if required || Some(&a) != $crate::attr::AttrField::emit(&d.$field).as_ref() {
                                out.push(($crate::ops::field_name_of(stringify!($field)), a));
                            }
                        }
                    )*
                    out
                }
            }

            impl $name {
                #[allow(unused_variables)]
                pub(crate) fn collect_subgraphs<'a>(&'a self, out: &mut Vec<&'a $crate::graph::Graph>) {
                    $( $crate::attr::AttrField::graphs(&self.$field, out); )*
                }
                #[allow(unused_variables)]
                pub(crate) fn collect_subgraphs_mut<'a>(&'a mut self, out: &mut Vec<&'a mut $crate::graph::Graph>) {
                    $( $crate::attr::AttrField::graphs_mut(&mut self.$field, out); )*
                }
            }
        )*
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __attr_default {
    ($t:ty) => {
        <$t as Default>::default()
    };
    ($t:ty, $def:expr) => {
        $def
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __attr_missing {
    ($name:ident, $key:expr, $t:ty) => {
        return Err($crate::attr::AttrError::Missing {
            op: stringify!($name),
            attr: $key,
        })
    };
    ($name:ident, $key:expr, $t:ty, $def:expr) => {
        $def
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __attr_required {
    () => {
        true
    };
    ($def:expr) => {
        false
    };
}

/// The payload type of an `Op` variant: the attribute struct, boxed when marked `#[boxed]`.
#[doc(hidden)]
#[macro_export]
macro_rules! __op_payload {
    ($fam:ident $name:ident) => {
        $crate::ops::defs::$fam::$name
    };
    ($fam:ident $name:ident, boxed) => {
        Box<$crate::ops::defs::$fam::$name>
    };
}

/// Defines `Op`, `OpKind` and the lookups from the single op list.
#[macro_export]
macro_rules! define_ops {
    ($( $fam:ident : [ $( $(#[$boxed:ident])? $name:ident ),* $(,)? ] ),* $(,)?) => {
        /// An IR op with its typed attributes. Ops marked `#[boxed]` in the list (those whose
        /// attributes are hundreds of bytes, such as the tree ensembles) are held in a `Box`, so
        /// every graph node stays small.
        #[derive(Clone, Debug, PartialEq)]
        pub enum Op {
            $($( $name($crate::__op_payload!($fam $name $(, $boxed)?)), )*)*
            /// A graph input.
            Input($crate::ops::Input),
            /// An op the IR does not model.
            Custom($crate::ops::Custom),
        }

        /// The kind of an op, without attributes.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum OpKind {
            $($( $name, )*)*
            Input,
            Custom,
        }

        impl OpKind {
            /// Every modelled kind (not `Input` or `Custom`), in list order.
            pub const ALL: &'static [OpKind] = &[$($( OpKind::$name, )*)*];

            /// The op's name (the ONNX op type for modelled ops).
            pub fn name(self) -> &'static str {
                match self {
                    $($( OpKind::$name => stringify!($name), )*)*
                    OpKind::Input => "Input",
                    OpKind::Custom => "Custom",
                }
            }
            /// The family (file in `ops/defs`) the op belongs to.
            pub fn family(self) -> &'static str {
                match self {
                    $($( OpKind::$name => stringify!($fam), )*)*
                    OpKind::Input | OpKind::Custom => "ir",
                }
            }
            /// The static schema (`None` for `Input` and `Custom`).
            pub fn schema(self) -> Option<&'static $crate::ops::OpSchema> {
                match self {
                    $($( OpKind::$name => Some(&$crate::ops::defs::$fam::$name::SCHEMA), )*)*
                    OpKind::Input | OpKind::Custom => None,
                }
            }
            /// Looks up a modelled op by domain and name.
            pub fn from_name(domain: &str, name: &str) -> Option<OpKind> {
                let k = match name {
                    $($( stringify!($name) => OpKind::$name, )*)*
                    _ => return None,
                };
                let s = k.schema()?;
                $crate::ops::same_domain(s.domain, domain).then_some(k)
            }
        }

        impl Op {
            /// The op's kind.
            pub fn kind(&self) -> OpKind {
                match self {
                    $($( Op::$name(_) => OpKind::$name, )*)*
                    Op::Input(_) => OpKind::Input,
                    Op::Custom(_) => OpKind::Custom,
                }
            }
            /// The op's name; for `Custom`, its own name.
            pub fn name(&self) -> &str {
                match self {
                    Op::Custom(c) => &c.name,
                    _ => self.kind().name(),
                }
            }
            /// The op's domain ("" for ai.onnx).
            pub fn domain(&self) -> &str {
                match self {
                    Op::Custom(c) => &c.domain,
                    Op::Input(_) => "edgeport",
                    _ => self.kind().schema().map(|s| s.domain).unwrap_or(""),
                }
            }
            /// Builds a modelled op from its kind and generic attributes.
            pub fn from_kind(kind: OpKind, attrs: Vec<(String, $crate::attr::AttrValue)>) -> Result<Op, $crate::attr::AttrError> {
                use $crate::ops::OpAttrs;
                Ok(match kind {
                    $($( OpKind::$name => Op::$name(<$crate::ops::defs::$fam::$name>::from_attrs(attrs)?.into()), )*)*
                    OpKind::Input => {
                        if let Some((k, _)) = attrs.into_iter().next() {
                            return Err($crate::attr::AttrError::Unknown { op: "Input", attr: k });
                        }
                        Op::Input($crate::ops::Input {})
                    }
                    OpKind::Custom => Op::Custom($crate::ops::Custom { domain: String::new(), name: String::new(), attrs }),
                })
            }
            /// Every attribute with a value.
            pub fn attrs(&self) -> Vec<(String, $crate::attr::AttrValue)> {
                use $crate::ops::OpAttrs;
                match self {
                    $($( Op::$name(a) => a.to_attrs().into_iter().map(|(k, v)| (k.to_string(), v)).collect(), )*)*
                    Op::Input(_) => Vec::new(),
                    Op::Custom(c) => c.attrs.clone(),
                }
            }
            /// Attributes that are required or differ from the default.
            pub fn non_default_attrs(&self) -> Vec<(String, $crate::attr::AttrValue)> {
                use $crate::ops::OpAttrs;
                match self {
                    $($( Op::$name(a) => a.non_default_attrs().into_iter().map(|(k, v)| (k.to_string(), v)).collect(), )*)*
                    Op::Input(_) => Vec::new(),
                    Op::Custom(c) => c.attrs.clone(),
                }
            }
            pub(crate) fn collect_subgraphs<'a>(&'a self, out: &mut Vec<&'a $crate::graph::Graph>) {
                match self {
                    $($( Op::$name(a) => a.collect_subgraphs(out), )*)*
                    Op::Input(_) => {}
                    Op::Custom(c) => {
                        for (_, v) in &c.attrs {
                            match v {
                                $crate::attr::AttrValue::Graph(g) => out.push(g),
                                $crate::attr::AttrValue::Graphs(gs) => out.extend(gs.iter()),
                                _ => {}
                            }
                        }
                    }
                }
            }
            pub(crate) fn collect_subgraphs_mut<'a>(&'a mut self, out: &mut Vec<&'a mut $crate::graph::Graph>) {
                match self {
                    $($( Op::$name(a) => a.collect_subgraphs_mut(out), )*)*
                    Op::Input(_) => {}
                    Op::Custom(c) => {
                        for (_, v) in &mut c.attrs {
                            match v {
                                $crate::attr::AttrValue::Graph(g) => out.push(g),
                                $crate::attr::AttrValue::Graphs(gs) => out.extend(gs.iter_mut()),
                                _ => {}
                            }
                        }
                    }
                }
            }
        }
    };
}
