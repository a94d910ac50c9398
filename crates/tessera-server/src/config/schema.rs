//! The machinery that turns one declaration per setting (`declared.rs`) into the TOML layer,
//! the merging of layers, the `TESSERA_*` table, defaults, range checks, the typed settings
//! and the list the documentation test holds against `docs/configuration.md`.
//!
//! Why a declarative macro rather than serde defaults alone or a library such as figment:
//! serde defaults would apply defaults before the layers merge (an environment variable could
//! no longer override only what it names) and give no env table; figment would bring its own
//! env naming, error texts and a dependency, while the refusals here (unknown keys with their
//! line but never its text, unknown `TESSERA_*` names with a suggestion, per-variable
//! messages) must stay as they are. One `macro_rules!` of a page derives all of it.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;

use super::ConfigError;

/// One declared setting, as the documentation must show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Declared {
    /// The dotted TOML key (empty for environment-only names).
    pub(crate) key: &'static str,
    /// The `TESSERA_*` name (empty when the setting has none).
    pub(crate) env: &'static str,
    /// The default as the table shows it.
    pub(crate) default: &'static str,
}

/// How a setting's file or environment value (`Raw`) becomes its typed value.
pub(crate) trait Conv<Raw> {
    type Out;
    fn to(raw: Raw) -> Result<Self::Out, ConfigError>;
}

/// The way back, for range checks on settings that may have been changed by hand.
pub(crate) trait Back<Raw>: Conv<Raw> {
    fn back(out: &Self::Out) -> Raw;
}

/// The value as written.
pub(crate) struct Same;
/// Whole seconds.
pub(crate) struct Secs;
/// Whole milliseconds.
pub(crate) struct Millis;
/// Whole days, `0` meaning off.
pub(crate) struct DaysOrOff;

/// `Conv` and `Back` for a unit: `raw => Out`, the conversion and the way back.
macro_rules! unit {
    ($($unit:ident: $raw:ty => $out:ty, $to:expr, $back:expr;)*) => {$(
        impl Conv<$raw> for $unit {
            type Out = $out;
            fn to(raw: $raw) -> Result<$out, ConfigError> {
                Ok(($to)(raw))
            }
        }
        impl Back<$raw> for $unit {
            fn back(out: &$out) -> $raw {
                ($back)(out)
            }
        }
    )*};
}
unit! {
    Secs: u64 => Duration, Duration::from_secs, Duration::as_secs;
    Millis: u64 => Duration, Duration::from_millis,
        |d: &Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    DaysOrOff: u64 => Option<Duration>,
        |days: u64| (days > 0).then(|| Duration::from_secs(days.saturating_mul(86_400))),
        |d: &Option<Duration>| d.map_or(0, |d| d.as_secs() / 86_400);
}
impl<T: Clone> Conv<T> for Same {
    type Out = T;
    fn to(raw: T) -> Result<T, ConfigError> {
        Ok(raw)
    }
}
impl<T: Clone> Back<T> for Same {
    fn back(out: &T) -> T {
        out.clone()
    }
}

/// A default written as a literal (`"info"` for a `String`, `600` for a `u64`).
pub(crate) trait Lit<T> {
    fn lit(self) -> T;
}
impl<T> Lit<T> for T {
    fn lit(self) -> T {
        self
    }
}
impl Lit<String> for &str {
    fn lit(self) -> String {
        self.to_owned()
    }
}
impl Lit<PathBuf> for &str {
    fn lit(self) -> PathBuf {
        PathBuf::from(self)
    }
}

/// How an environment variable's text becomes a value; `None` if it does not parse.
pub(crate) trait FromEnv: Sized {
    fn from_env(value: &str) -> Option<Self>;
}
macro_rules! from_env {
    (trimmed $($t:ty),*; verbatim $($v:ty),*) => {
        $(impl FromEnv for $t {
            fn from_env(value: &str) -> Option<Self> {
                value.trim().parse().ok()
            }
        })*
        $(impl FromEnv for $v {
            fn from_env(value: &str) -> Option<Self> {
                Some(Self::from(value))
            }
        })*
    };
}
from_env!(trimmed u32, u64, usize, std::net::SocketAddr; verbatim String, PathBuf, SecretString);
impl FromEnv for bool {
    fn from_env(value: &str) -> Option<Self> {
        match value.trim() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        }
    }
}
/// A comma-separated list; blank entries are dropped.
impl FromEnv for Vec<String> {
    fn from_env(value: &str) -> Option<Self> {
        let entries = value.split(',').map(str::trim).filter(|e| !e.is_empty());
        Some(entries.map(str::to_owned).collect())
    }
}

/// Parses the variable `name`, or says what it should look like (never echoing the value).
pub(crate) fn from_env<T: FromEnv>(
    name: &str,
    value: &str,
    expected: &str,
) -> Result<T, ConfigError> {
    T::from_env(value).ok_or_else(|| ConfigError::InvalidEnv {
        name: name.to_owned(),
        expected: expected.to_owned(),
    })
}

/// The refusal of a value outside its declared range.
pub(crate) fn out_of_range(
    key: &'static str,
    value: impl std::fmt::Display,
    range: &str,
    default: &str,
) -> ConfigError {
    ConfigError::invalid(
        key,
        format!("must be {range}, not {value} (the default is {default})"),
    )
}

/// Declares a settings struct (see `declared.rs` for the grammar in use). Generates the
/// public struct, its TOML layer (`deny_unknown_fields`, every value optional), the merging
/// of two layers, the environment setter, the conversion with defaults, the range checks and
/// the list of declared settings.
macro_rules! settings_struct {
    (
        $(#[$attr:meta])*
        $vis:vis struct $name:ident in $layer:ident, prefix $prefix:literal $(, mirrors $mirror:ident)? {
            $(
                $(#[doc = $doc:literal])*
                $field:ident: $ty:ty = $key:ident: $raw:ty,
                $(env($env:literal $(, $expected:literal)?),)?
                default $default:tt $(via $conv:ty)? $(, range $range:tt $(=> $err:expr)?)?;
            )*
            $(@sections {$(
                $(#[doc = $sdoc:literal])*
                $sfield:ident: $sty:ty = $skey:ident: $slayer:ident => $svalues:ty;
            )*})?
            $(@extras {$( $(#[doc = $edoc:literal])* $efield:ident: $ety:ty; )*})?
            $(@refused {$($refused:ident),*})?
        }
    ) => {
        $(#[$attr])*
        #[non_exhaustive]
        $vis struct $name {
            $($(#[doc = $doc])* $vis $field: $ty,)*
            $($($(#[doc = $sdoc])* $vis $sfield: $sty,)*)?
            $($($(#[doc = $edoc])* $vis $efield: $ety,)*)?
        }

        #[derive(Debug, Default, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub(crate) struct $layer {
            $(pub(crate) $key: Option<$raw>,)*
            $($(#[serde(default)] pub(crate) $skey: $slayer,)*)?
            $($(pub(crate) $refused: Option<toml::Value>,)*)?
        }

        impl $layer {
            /// This layer with every value `over` mentions replaced by `over`'s.
            pub(crate) fn overridden_by(self, over: Self) -> Self {
                Self {
                    $($key: over.$key.or(self.$key),)*
                    $($($skey: self.$skey.overridden_by(over.$skey),)*)?
                    $($($refused: None,)*)?
                }
            }

            /// Sets the setting the variable `name` names; `false` if it names none here.
            pub(crate) fn set_env(&mut self, name: &str, value: &str) -> Result<bool, $crate::config::ConfigError> {
                $($(if name == $env {
                    let expected = settings_struct!(@first $($expected,)? "valid");
                    self.$key = Some($crate::config::schema::from_env(name, value, expected)?);
                    return Ok(true);
                })?)*
                $($(if self.$skey.set_env(name, value)? {
                    return Ok(true);
                })*)?
                Ok(false)
            }
        }

        settings_struct!(@mirror [$($mirror)?] $name [$($field)*]);

        impl $crate::config::schema::Conv<$name> for $name {
            type Out = $name;
            fn to(raw: $name) -> Result<$name, $crate::config::ConfigError> {
                Ok(raw)
            }
        }
        impl $crate::config::schema::Back<$name> for $name {
            fn back(out: &$name) -> $name {
                out.clone()
            }
        }

        impl $name {
            /// Applies the defaults to what the layers said and converts the values.
            pub(crate) fn from_layer(layer: $layer) -> Result<Self, $crate::config::ConfigError> {
                $(let $field: $ty = <settings_struct!(@conv $($conv)?) as $crate::config::schema::Conv<_>>::to(
                    settings_struct!(@value layer.$key, $default))?;)*
                $($(let $sfield: $sty = <$sty as $crate::config::schema::Conv<$svalues>>::to(
                    <$svalues>::from_layer(layer.$skey)?)?;)*)?
                Ok(Self { $($field,)* $($($sfield,)*)? $($($efield: Default::default(),)*)? })
            }

            /// Refuses a value outside its declared range.
            pub(crate) fn check(&self) -> Result<(), $crate::config::ConfigError> {
                $(settings_struct!(@check self.$field, [$($conv)?], concat!($prefix, stringify!($key)),
                    $default, [$($range $(=> $err)?)?]);)*
                $($(<$sty as $crate::config::schema::Back<$svalues>>::back(&self.$sfield).check()?;)*)?
                Ok(())
            }

            /// Every setting declared here, for the documentation test and the env table.
            pub(crate) fn declared(out: &mut Vec<$crate::config::schema::Declared>) {
                $(out.push($crate::config::schema::Declared {
                    key: concat!($prefix, stringify!($key)),
                    env: settings_struct!(@first $($env,)? ""),
                    default: settings_struct!(@doc $default),
                });)*
                $($(<$svalues>::declared(out);)*)?
            }
        }
    };

    (@mirror [] $name:ident [$($field:ident)*]) => {};
    (@mirror [$mirror:ident] $name:ident [$($field:ident)*]) => {
        impl From<$name> for $mirror {
            fn from(v: $name) -> Self {
                Self { $($field: v.$field),* }
            }
        }
        impl From<$mirror> for $name {
            fn from(v: $mirror) -> Self {
                Self { $($field: v.$field),* }
            }
        }
    };
    (@value $layer:expr, (None, $doc:literal)) => { $layer };
    (@value $layer:expr, ($default:expr, $doc:literal)) => {
        $layer.unwrap_or_else(|| $crate::config::schema::Lit::lit($default))
    };
    (@value $layer:expr, $default:literal) => {
        $layer.unwrap_or_else(|| $crate::config::schema::Lit::lit($default))
    };
    (@doc ($default:expr, $doc:literal)) => { $doc };
    (@doc $default:literal) => { stringify!($default) };
    (@first $first:expr $(, $rest:expr)*) => { $first };
    (@conv) => { $crate::config::schema::Same };
    (@conv $conv:ty) => { $conv };

    (@check $value:expr, $conv:tt, $key:expr, $default:tt, []) => {};
    (@check $value:expr, [$($conv:ty)?], $key:expr, $default:tt, [$range:tt $(=> $err:expr)?]) => {
        settings_struct!(@range $value, settings_struct!(@conv $($conv)?), $key, $default, $range $(, $err)?)
    };
    (@range $value:expr, $conv:ty, $key:expr, $default:tt,
        ($lo:literal ..= $hi:literal $(, $text:literal $(, $dtext:literal)?)?) $(, $err:expr)?) => {{
        let v = <$conv as $crate::config::schema::Back<_>>::back(&$value);
        if !($lo..=$hi).contains(&v) {
            return Err(settings_struct!(@fail $key, v,
                settings_struct!(@first $($text,)? concat!(stringify!($lo), " to ", stringify!($hi))),
                settings_struct!(@first $($($dtext,)?)? stringify!($default)) $(, $err)?));
        }
    }};
    (@fail $key:expr, $v:expr, $range:expr, $default:expr) => {
        $crate::config::schema::out_of_range($key, $v, $range, $default)
    };
    (@fail $key:expr, $v:expr, $range:expr, $default:expr, $err:expr) => { ($err)($v) };
}
pub(crate) use settings_struct;
