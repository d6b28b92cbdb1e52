//! The `codes_enum!` macro behind `codes.rs`: a transparent newtype over a schema integer with
//! one associated constant per named value, plus `name()` / `from_name()` lookups. Unknown
//! numbers stay representable (files from newer schemas must not fail to decode).

/// Defines a schema enum newtype. See the module docs.
#[macro_export]
#[doc(hidden)]
macro_rules! codes_enum {
    ($(#[$m:meta])* $name:ident : $ty:ty { $($var:ident = $val:expr),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name(pub $ty);

        #[allow(non_upper_case_globals)]
        impl $name {
            $(pub const $var: Self = Self($val);)*
            /// Every named value, in schema order.
            pub const NAMED: &'static [(&'static str, $ty)] = &[$((stringify!($var), $val)),*];

            /// The schema name of this value, if it is a known one.
            pub fn name(self) -> Option<&'static str> {
                Self::NAMED.iter().find(|(_, v)| *v == self.0).map(|(n, _)| *n)
            }

            /// Looks a value up by its schema name (case-sensitive).
            pub fn from_name(name: &str) -> Option<Self> {
                Self::NAMED.iter().find(|(n, _)| *n == name).map(|(_, v)| Self(*v))
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self.name() {
                    Some(n) => f.write_str(n),
                    None => write!(f, "{}({})", stringify!($name), self.0),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(self, f)
            }
        }
    };
}
