//! The TOML file: its layer (`deny_unknown_fields` at every level, so a misspelt key is an
//! error that names it), the refusal of secrets in it, and the conversion of a parse error
//! into a message that carries the line but never the offending line's text (which could
//! hold a database password). It applies no default and judges no value.

use std::path::Path;

use super::ConfigError;
use super::declared::Layer;

impl Layer {
    /// Parses the TOML text of the file at `path` (the path is only for messages).
    pub(crate) fn from_toml(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let layer: Layer = toml::from_str(text).map_err(|e| {
            let at = e.span().map(|span| span.start);
            ConfigError::ParseFile {
                path: path.to_path_buf(),
                line: at.map(|offset| line_of(text, offset)),
                key: at.and_then(|offset| key_at(text, offset)),
                message: e.message().trim_end_matches('\n').to_owned(),
            }
        })?;
        if layer.master_key.is_some() {
            return Err(ConfigError::MasterKeyInFile {
                path: path.to_path_buf(),
            });
        }
        if layer.keys.hmac_secret.is_some() {
            return Err(ConfigError::Invalid {
                key: "keys.hmac_secret",
                reason: "cannot be set in the config file: set the TESSERA_HMAC_SECRET environment \
                         variable, or point keys.hmac_secret_file at a file only the server can read"
                    .to_owned(),
            });
        }
        Ok(layer)
    }
}

/// The dotted key (`password.min_length`) on the line holding `offset`, when that line is a
/// plain `key = value` pair. Only the key is taken from the line, never the value, which may
/// be a secret.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let before = text.get(..offset.min(text.len()))?;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = text.get(line_start..)?.lines().next()?;
    let is_bare = |k: &str| {
        !k.is_empty()
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
    };
    let key = line.split_once('=').map(|(k, _)| k.trim())?;
    if !is_bare(key) {
        return None;
    }
    // The innermost `[table]` header above the line, if any.
    let table = before
        .get(..line_start)?
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('[') && l.ends_with(']'))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim())
        .filter(|t| is_bare(t));
    Some(match table {
        Some(table) => format!("{table}.{key}"),
        None => key.to_owned(),
    })
}

/// 1-based line number of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.bytes().take(end).filter(|b| *b == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Layer, ConfigError> {
        Layer::from_toml(Path::new("tessera.toml"), text)
    }

    #[test]
    fn an_empty_file_mentions_nothing() {
        let layer = parse("").expect("empty file");
        assert!(layer.listen.is_none() && layer.roles.is_none());
    }

    #[test]
    fn an_unknown_key_is_an_error_naming_the_key_and_line() {
        let cases = [
            (
                "listen = \"127.0.0.1:1\"\nlisten_addr = \"x\"\n",
                "listen_addr",
                2,
                "top level",
            ),
            (
                "[password]\nmin_len = 8\n",
                "min_len",
                2,
                "inside [password]",
            ),
            ("[hashing]\nthreads = 2\n", "threads", 2, "inside [hashing]"),
            ("[tls]\ncert = \"a.pem\"\n", "cert", 2, "inside [tls]"),
            ("[server]\nport = 1\n", "server", 1, "unknown table"),
        ];
        for (text, key, line, why) in cases {
            let err = parse(text).expect_err(why);
            let message = err.to_string();
            assert!(message.contains(&format!("`{key}`")), "{why}: {message}");
            assert!(
                message.contains(&format!("line {line}")),
                "{why}: {message}"
            );
        }
    }

    #[test]
    fn a_parse_error_does_not_echo_the_offending_line() {
        let text = "database_url = \"postgres://u:hunter2@db/x\"\nlisten = 5\n";
        let message = parse(text).expect_err("listen is not a string").to_string();
        assert!(!message.contains("hunter2"), "{message}");
        assert!(message.contains("line 2"), "{message}");
    }

    #[test]
    fn a_master_key_in_the_file_is_refused_with_the_alternatives() {
        let message = parse("master_key = \"abc\"\n")
            .expect_err("refused")
            .to_string();
        assert!(message.contains("TESSERA_MASTER_KEY"), "{message}");
        assert!(message.contains("master_key_file"), "{message}");
        assert!(!message.contains("abc"), "{message}");
    }
}
