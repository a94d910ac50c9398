//! The claim set of a Tessera access token (RFC 9068 profile of RFC 7519) and its strict JSON
//! form.
//!
//! Deserialization is hand-written rather than derived: it refuses duplicate members (a derived
//! `#[serde(flatten)]` map would keep the last one silently), reports which registered claim
//! is missing or mistyped, and avoids the buffering that `flatten` costs on every token.
//! This module only parses and serializes; the time, issuer and audience checks live in
//! [`crate::verifier`].

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{self, SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::json::StrictValue;

/// The claim names with a typed field in [`Claims`]; [`Claims::extra`] never holds them.
pub const REGISTERED: [&str; 11] = [
    "iss",
    "aud",
    "sub",
    "client_id",
    "iat",
    "nbf",
    "exp",
    "jti",
    "sid",
    "roles",
    "scope",
];

/// The `aud` claim: one audience as a string, or several as an array (RFC 7519 §4.1.3).
///
/// ```
/// use tessera_verify::Audience;
///
/// let one: Audience = serde_json::from_str(r#""api""#).unwrap();
/// let many: Audience = serde_json::from_str(r#"["api","billing"]"#).unwrap();
/// assert!(one.contains("api") && many.contains("billing") && !many.contains("admin"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// A single audience, serialized as a JSON string.
    One(String),
    /// Several audiences, serialized as a JSON array of strings.
    Many(Vec<String>),
}

impl Audience {
    /// True if `audience` is (one of) the audience(s), compared exactly.
    pub fn contains(&self, audience: &str) -> bool {
        match self {
            Audience::One(one) => one == audience,
            Audience::Many(many) => many.iter().any(|a| a == audience),
        }
    }

    /// Every audience, in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let slice: &[String] = match self {
            Audience::One(one) => std::slice::from_ref(one),
            Audience::Many(many) => many,
        };
        slice.iter().map(String::as_str)
    }
}

impl From<&str> for Audience {
    fn from(audience: &str) -> Self {
        Audience::One(audience.to_owned())
    }
}

impl From<String> for Audience {
    fn from(audience: String) -> Self {
        Audience::One(audience)
    }
}

impl Serialize for Audience {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Audience::One(one) => serializer.serialize_str(one),
            Audience::Many(many) => {
                let mut seq = serializer.serialize_seq(Some(many.len()))?;
                for audience in many {
                    seq.serialize_element(audience)?;
                }
                seq.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AudienceVisitor;
        impl<'de> Visitor<'de> for AudienceVisitor {
            type Value = Audience;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_str<E>(self, v: &str) -> Result<Audience, E> {
                Ok(Audience::One(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Audience, E> {
                Ok(Audience::One(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Audience, A::Error> {
                let mut many = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(16));
                while let Some(audience) = seq.next_element::<String>()? {
                    many.push(audience);
                }
                Ok(Audience::Many(many))
            }
        }
        deserializer.deserialize_any(AudienceVisitor)
    }
}

/// The claims of a Tessera access token (RFC 9068 §2.2 plus Tessera's `sid`, `roles`,
/// `scope`).
///
/// As JSON, unknown members go to [`extra`](Claims::extra), `None` fields are omitted, and
/// parsing refuses duplicate members and mistyped registered claims (`exp` must be an integer,
/// `roles` an array of strings, and so on). Times are seconds since the Unix epoch.
///
/// ```
/// use tessera_verify::Claims;
///
/// let json = r#"{"iss":"https://auth.example","aud":"api","sub":"u1","client_id":"tessera",
///   "iat":100,"exp":700,"jti":"t1","roles":["admin"],"scope":"read write","tenant":"acme"}"#;
/// let claims: Claims = serde_json::from_str(json).unwrap();
/// assert!(claims.has_role("admin") && claims.has_scope("write") && !claims.has_scope("wr"));
/// assert_eq!(claims.extra["tenant"], "acme");
/// assert!(serde_json::from_str::<Claims>(r#"{"iss":"a","iss":"b"}"#).is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Claims {
    /// Issuer: the exact issuer URL of the Tessera instance.
    pub iss: String,
    /// Audience(s) the token is meant for.
    pub aud: Audience,
    /// Subject: the stable user id (never the username), or for a client's own token
    /// (`client_credentials`) the client's id; see [`Claims::user_id`].
    pub sub: String,
    /// The OAuth client the token was issued to (`tessera` for the first-party API).
    pub client_id: String,
    /// Issued at, seconds since the Unix epoch.
    pub iat: i64,
    /// Not before, seconds since the Unix epoch.
    pub nbf: Option<i64>,
    /// Expiry, seconds since the Unix epoch.
    pub exp: i64,
    /// Unique token id.
    pub jti: String,
    /// Session id, when the token belongs to a login session.
    pub sid: Option<String>,
    /// Role names; empty when absent.
    pub roles: Vec<String>,
    /// Permissions, space-separated (RFC 8693 §4.2).
    pub scope: Option<String>,
    /// Every other claim, by name. Never holds a name from [`REGISTERED`].
    pub extra: Map<String, Value>,
}

impl Claims {
    /// The space-separated entries of `scope` (none when `scope` is absent).
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope
            .as_deref()
            .unwrap_or_default()
            .split(' ')
            .filter(|s| !s.is_empty())
    }

    /// True if `roles` contains `role` exactly.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// True if `scope` contains the entry `scope` exactly.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes().any(|s| s == scope)
    }

    /// The user the token was issued for: `sub`, when the token is a user's (it belongs to a
    /// login session, `sid`, or its `sub` is not its `client_id`); `None` for a client's own
    /// token ([`is_client_token`](Claims::is_client_token)). Exactly one of the two holds.
    ///
    /// ```
    /// # let parse = |json: &str| serde_json::from_str::<tessera_verify::Claims>(json).unwrap();
    /// let user = parse(r#"{"iss":"i","aud":"a","sub":"u1","client_id":"web","iat":1,"exp":2,
    ///   "jti":"t1","sid":"s1"}"#);
    /// assert_eq!(user.user_id(), Some("u1"));
    /// assert!(!user.is_client_token());
    /// // `client_credentials`: the client acts for itself; its id is the subject.
    /// let client = parse(r#"{"iss":"i","aud":"a","sub":"billing","client_id":"billing",
    ///   "iat":1,"exp":2,"jti":"t2"}"#);
    /// assert_eq!(client.user_id(), None);
    /// assert!(client.is_client_token());
    /// ```
    pub fn user_id(&self) -> Option<&str> {
        (!self.is_client_token()).then_some(self.sub.as_str())
    }

    /// True for a client's own token (the `client_credentials` grant): no session (`sid`)
    /// and `sub` equal to `client_id`. Such a token names no user; see
    /// [`user_id`](Claims::user_id).
    ///
    /// ```
    /// # let parse = |json: &str| serde_json::from_str::<tessera_verify::Claims>(json).unwrap();
    /// // A user's token without a session (say, from a user whose id differs from the client's).
    /// let user = parse(r#"{"iss":"i","aud":"a","sub":"u1","client_id":"cli","iat":1,"exp":2,
    ///   "jti":"t1"}"#);
    /// assert!(!user.is_client_token());
    /// assert_eq!(user.user_id(), Some("u1"));
    /// ```
    pub fn is_client_token(&self) -> bool {
        self.sid.is_none() && self.sub == self.client_id
    }

    /// The compact JSON of these claims: byte for byte what `serde_json::to_vec(self)` writes,
    /// about twice as fast. Signing calls this on every token; strings that need no escaping
    /// (the usual case) are copied whole instead of byte by byte.
    ///
    /// ```
    /// # let claims: tessera_verify::Claims = serde_json::from_str(
    /// #   r#"{"iss":"i","sub":"s","aud":"a","client_id":"c","iat":1,"exp":2,"jti":"j","x":[1]}"#).unwrap();
    /// assert_eq!(claims.to_json().unwrap(), serde_json::to_vec(&claims).unwrap());
    /// ```
    ///
    /// # Errors
    /// When an extra claim reuses a registered claim's name (as `Serialize` does).
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        let mut out = Vec::with_capacity(384);
        out.extend_from_slice(b"{\"iss\":");
        write_json_str(&mut out, &self.iss)?;
        out.extend_from_slice(b",\"sub\":");
        write_json_str(&mut out, &self.sub)?;
        out.extend_from_slice(b",\"aud\":");
        match &self.aud {
            Audience::One(one) => write_json_str(&mut out, one)?,
            Audience::Many(many) => write_json_array(&mut out, many)?,
        }
        out.extend_from_slice(b",\"client_id\":");
        write_json_str(&mut out, &self.client_id)?;
        write_json_int(&mut out, b",\"iat\":", self.iat);
        if let Some(nbf) = self.nbf {
            write_json_int(&mut out, b",\"nbf\":", nbf);
        }
        write_json_int(&mut out, b",\"exp\":", self.exp);
        out.extend_from_slice(b",\"jti\":");
        write_json_str(&mut out, &self.jti)?;
        if let Some(sid) = &self.sid {
            out.extend_from_slice(b",\"sid\":");
            write_json_str(&mut out, sid)?;
        }
        out.extend_from_slice(b",\"roles\":");
        write_json_array(&mut out, &self.roles)?;
        if let Some(scope) = &self.scope {
            out.extend_from_slice(b",\"scope\":");
            write_json_str(&mut out, scope)?;
        }
        for (name, value) in &self.extra {
            if REGISTERED.contains(&name.as_str()) {
                return Err(ser::Error::custom(
                    "an extra claim uses the name of a registered claim",
                ));
            }
            out.push(b',');
            write_json_str(&mut out, name)?;
            out.push(b':');
            serde_json::to_writer(&mut out, value)?;
        }
        out.push(b'}');
        Ok(out)
    }
}

/// Writes `s` as a JSON string exactly as serde_json does (it escapes only control characters,
/// `"` and `\\`): copied whole when nothing needs escaping, by serde_json otherwise.
fn write_json_str(out: &mut Vec<u8>, s: &str) -> Result<(), serde_json::Error> {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
        Ok(())
    } else {
        serde_json::to_writer(out, s)
    }
}

fn write_json_array(out: &mut Vec<u8>, items: &[String]) -> Result<(), serde_json::Error> {
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_json_str(out, item)?;
    }
    out.push(b']');
    Ok(())
}

fn write_json_int(out: &mut Vec<u8>, name: &[u8], value: i64) {
    use std::io::Write as _;
    out.extend_from_slice(name);
    // Writing to a Vec cannot fail; integers print as serde_json prints them.
    let _ = write!(out, "{value}");
}

impl Serialize for Claims {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let optional = usize::from(self.nbf.is_some())
            + usize::from(self.sid.is_some())
            + usize::from(self.scope.is_some());
        let mut map = serializer.serialize_map(Some(8 + optional + self.extra.len()))?;
        map.serialize_entry("iss", &self.iss)?;
        map.serialize_entry("sub", &self.sub)?;
        map.serialize_entry("aud", &self.aud)?;
        map.serialize_entry("client_id", &self.client_id)?;
        map.serialize_entry("iat", &self.iat)?;
        if let Some(nbf) = self.nbf {
            map.serialize_entry("nbf", &nbf)?;
        }
        map.serialize_entry("exp", &self.exp)?;
        map.serialize_entry("jti", &self.jti)?;
        if let Some(sid) = &self.sid {
            map.serialize_entry("sid", sid)?;
        }
        map.serialize_entry("roles", &self.roles)?;
        if let Some(scope) = &self.scope {
            map.serialize_entry("scope", scope)?;
        }
        for (name, value) in &self.extra {
            // A registered name here would produce a duplicate member, which every strict
            // verifier (this one included) rejects.
            if REGISTERED.contains(&name.as_str()) {
                return Err(ser::Error::custom(
                    "an extra claim uses the name of a registered claim",
                ));
            }
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// What made a claim set unacceptable, recorded while parsing so the verifier can report
/// [`VerifyError::MissingClaim`](crate::VerifyError::MissingClaim) and
/// [`VerifyError::InvalidClaim`](crate::VerifyError::InvalidClaim) precisely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClaimFault {
    /// Not a duplicate-free JSON object.
    Malformed,
    /// A registered claim has the wrong type.
    Invalid(&'static str),
    /// A required claim is absent.
    Missing(&'static str),
}

/// Deserializes [`Claims`], recording the first fault in `fault`.
pub(crate) struct ClaimsSeed<'f> {
    pub(crate) fault: &'f Cell<ClaimFault>,
}

impl<'de> DeserializeSeed<'de> for ClaimsSeed<'_> {
    type Value = Claims;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Claims, D::Error> {
        deserializer.deserialize_map(ClaimsVisitor { fault: self.fault })
    }
}

impl<'de> Deserialize<'de> for Claims {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let fault = Cell::new(ClaimFault::Malformed);
        ClaimsSeed { fault: &fault }.deserialize(deserializer)
    }
}

enum Field {
    Iss,
    Aud,
    Sub,
    ClientId,
    Iat,
    Nbf,
    Exp,
    Jti,
    Sid,
    Roles,
    Scope,
    Other(String),
}

struct FieldSeed;

impl<'de> DeserializeSeed<'de> for FieldSeed {
    type Value = Field;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Field, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for FieldSeed {
    type Value = Field;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a claim name")
    }

    fn visit_str<E>(self, v: &str) -> Result<Field, E> {
        Ok(match v {
            "iss" => Field::Iss,
            "aud" => Field::Aud,
            "sub" => Field::Sub,
            "client_id" => Field::ClientId,
            "iat" => Field::Iat,
            "nbf" => Field::Nbf,
            "exp" => Field::Exp,
            "jti" => Field::Jti,
            "sid" => Field::Sid,
            "roles" => Field::Roles,
            "scope" => Field::Scope,
            other => Field::Other(other.to_owned()),
        })
    }
}

struct ClaimsVisitor<'f> {
    fault: &'f Cell<ClaimFault>,
}

impl ClaimsVisitor<'_> {
    /// Reads the value of registered claim `name` into an empty `slot`.
    fn take<'de, A, T>(
        &self,
        map: &mut A,
        slot: &mut Option<T>,
        name: &'static str,
    ) -> Result<(), A::Error>
    where
        A: MapAccess<'de>,
        T: Deserialize<'de>,
    {
        if slot.is_some() {
            self.fault.set(ClaimFault::Malformed);
            return Err(de::Error::custom("duplicate claim"));
        }
        match map.next_value() {
            Ok(value) => {
                *slot = Some(value);
                Ok(())
            }
            Err(err) => {
                self.fault.set(ClaimFault::Invalid(name));
                Err(err)
            }
        }
    }

    fn require<T, E: de::Error>(&self, slot: Option<T>, name: &'static str) -> Result<T, E> {
        slot.ok_or_else(|| {
            self.fault.set(ClaimFault::Missing(name));
            E::custom("missing required claim")
        })
    }
}

impl<'de> Visitor<'de> for ClaimsVisitor<'_> {
    type Value = Claims;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JWT claim set object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Claims, A::Error> {
        let (mut iss, mut aud, mut sub, mut client_id) = (None, None, None, None);
        let (mut iat, mut nbf, mut exp) = (None, None, None);
        let (mut jti, mut sid, mut roles, mut scope) = (None, None, None, None);
        let mut extra = Map::new();
        while let Some(field) = map.next_key_seed(FieldSeed)? {
            match field {
                Field::Iss => self.take(&mut map, &mut iss, "iss")?,
                Field::Aud => self.take(&mut map, &mut aud, "aud")?,
                Field::Sub => self.take(&mut map, &mut sub, "sub")?,
                Field::ClientId => self.take(&mut map, &mut client_id, "client_id")?,
                Field::Iat => self.take(&mut map, &mut iat, "iat")?,
                Field::Nbf => self.take(&mut map, &mut nbf, "nbf")?,
                Field::Exp => self.take(&mut map, &mut exp, "exp")?,
                Field::Jti => self.take(&mut map, &mut jti, "jti")?,
                Field::Sid => self.take(&mut map, &mut sid, "sid")?,
                Field::Roles => self.take(&mut map, &mut roles, "roles")?,
                Field::Scope => self.take(&mut map, &mut scope, "scope")?,
                Field::Other(name) => {
                    if extra.contains_key(&name) {
                        return Err(de::Error::custom("duplicate claim"));
                    }
                    let StrictValue(value) = map.next_value()?;
                    extra.insert(name, value);
                }
            }
        }
        Ok(Claims {
            iss: self.require(iss, "iss")?,
            sub: self.require(sub, "sub")?,
            aud: self.require(aud, "aud")?,
            client_id: self.require(client_id, "client_id")?,
            iat: self.require(iat, "iat")?,
            nbf,
            exp: self.require(exp, "exp")?,
            jti: self.require(jti, "jti")?,
            sid,
            roles: roles.unwrap_or_default(),
            scope,
            extra,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"{"iss":"https://auth.example","sub":"u1","aud":["api","x"],
        "client_id":"tessera","iat":100,"nbf":100,"exp":700,"jti":"t1","sid":"s1",
        "roles":["admin","ops"],"scope":"read  write","ver":3,"nested":{"a":[1,{"b":null}]}}"#;

    fn parse(json: &str) -> (Result<Claims, serde_json::Error>, ClaimFault) {
        let fault = Cell::new(ClaimFault::Malformed);
        let mut de = serde_json::Deserializer::from_str(json);
        let result = ClaimsSeed { fault: &fault }.deserialize(&mut de);
        (result, fault.get())
    }

    #[test]
    fn a_full_claim_set_round_trips() {
        let claims: Claims = serde_json::from_str(FULL).unwrap();
        assert_eq!(claims.iss, "https://auth.example");
        assert_eq!(claims.aud, Audience::Many(vec!["api".into(), "x".into()]));
        assert_eq!((claims.iat, claims.nbf, claims.exp), (100, Some(100), 700));
        assert_eq!(claims.scopes().collect::<Vec<_>>(), ["read", "write"]);
        assert_eq!(claims.extra.len(), 2);
        let again: Claims = serde_json::from_slice(&serde_json::to_vec(&claims).unwrap()).unwrap();
        assert_eq!(again, claims);
    }

    #[test]
    fn absent_optional_claims_are_omitted_when_serialized() {
        let json = r#"{"iss":"i","sub":"s","aud":"a","client_id":"c","iat":1,"exp":2,"jti":"j"}"#;
        let claims: Claims = serde_json::from_str(json).unwrap();
        assert!(claims.roles.is_empty() && claims.sid.is_none() && claims.scope.is_none());
        let out = serde_json::to_string(&claims).unwrap();
        assert_eq!(
            out,
            r#"{"iss":"i","sub":"s","aud":"a","client_id":"c","iat":1,"exp":2,"jti":"j","roles":[]}"#
        );
    }

    #[test]
    fn an_extra_claim_with_a_registered_name_cannot_be_serialized() {
        let mut claims: Claims = serde_json::from_str(FULL).unwrap();
        claims.extra.insert("exp".into(), Value::from(1));
        assert!(serde_json::to_string(&claims).is_err());
        assert!(claims.to_json().is_err());
    }

    #[test]
    fn to_json_writes_exactly_what_serde_json_writes() {
        let mut claims: Claims = serde_json::from_str(FULL).unwrap();
        assert_eq!(
            claims.to_json().unwrap(),
            serde_json::to_vec(&claims).unwrap()
        );
        claims.iss = "quote \" backslash \\ newline \n tab \t nul \0 del \u{7f} é \u{2028}".into();
        claims.roles = vec![];
        claims.aud = Audience::One("\u{1}".into());
        claims.nbf = None;
        claims.sid = None;
        claims.scope = None;
        claims.iat = i64::MIN;
        claims.exp = i64::MAX;
        claims.extra.insert("\"odd\nname".into(), Value::from(-1.5));
        assert_eq!(
            claims.to_json().unwrap(),
            serde_json::to_vec(&claims).unwrap()
        );
    }

    #[test]
    fn duplicate_registered_and_extra_claims_are_malformed() {
        for json in [
            r#"{"iss":"a","iss":"a"}"#,
            r#"{"ver":1,"ver":1}"#,
            r#"{"nested":{"a":1,"a":2}}"#,
        ] {
            let (result, fault) = parse(json);
            assert!(result.is_err(), "{json}");
            assert_eq!(fault, ClaimFault::Malformed, "{json}");
        }
    }

    #[test]
    fn a_mistyped_registered_claim_is_named() {
        let cases = [
            (r#"{"exp":"700"}"#, "exp"),
            (r#"{"exp":700.5}"#, "exp"),
            (r#"{"iat":null}"#, "iat"),
            (r#"{"nbf":true}"#, "nbf"),
            (r#"{"aud":[1]}"#, "aud"),
            (r#"{"aud":{}}"#, "aud"),
            (r#"{"roles":"admin"}"#, "roles"),
            (r#"{"roles":["a",2]}"#, "roles"),
            (r#"{"sid":7}"#, "sid"),
            (r#"{"exp":18446744073709551615}"#, "exp"),
        ];
        for (json, name) in cases {
            let (result, fault) = parse(json);
            assert!(result.is_err(), "{json}");
            assert_eq!(fault, ClaimFault::Invalid(name), "{json}");
        }
    }

    #[test]
    fn a_missing_required_claim_is_named() {
        let json = r#"{"iss":"i","sub":"s","aud":"a","client_id":"c","iat":1,"jti":"j"}"#;
        let (result, fault) = parse(json);
        assert!(result.is_err());
        assert_eq!(fault, ClaimFault::Missing("exp"));
    }

    #[test]
    fn only_json_objects_are_claim_sets() {
        for json in ["[]", "\"x\"", "1", "null"] {
            assert!(parse(json).0.is_err(), "{json}");
        }
    }

    #[test]
    fn a_token_is_either_a_users_or_a_clients() {
        let mut claims: Claims = serde_json::from_str(FULL).unwrap();
        let cases = [
            // (sub, client_id, sid, client token?)
            ("u1", "tessera", Some("s1"), false),
            ("u1", "tessera", None, false),
            ("svc", "svc", None, true),
            ("svc", "svc", Some("s1"), false),
        ];
        for (sub, client_id, sid, client) in cases {
            claims.sub = sub.into();
            claims.client_id = client_id.into();
            claims.sid = sid.map(Into::into);
            assert_eq!(
                claims.is_client_token(),
                client,
                "{sub} {client_id} {sid:?}"
            );
            assert_eq!(claims.user_id(), (!client).then_some(sub));
        }
    }

    #[test]
    fn audience_helpers_match_exactly() {
        let many = Audience::Many(vec!["a".into(), "b".into()]);
        assert_eq!(many.iter().collect::<Vec<_>>(), ["a", "b"]);
        assert!(!Audience::from("api").contains("API"));
        assert!(!Audience::Many(vec![]).contains(""));
    }
}
