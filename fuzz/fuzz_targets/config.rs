//! Fuzzes the configuration loader: the TOML file format (`deny_unknown_fields` at every
//! level, the master-key and HMAC-secret refusals, the error's line and key), the
//! `TESSERA_*` environment reader, layer merging, defaults and validation, through
//! `Settings::load_from_toml` (the in-memory twin of `Settings::load`).
//!
//! Input: the TOML text, optionally followed by a NUL byte and `NAME=VALUE` lines for the
//! environment (NUL cannot appear in TOML, so the split is unambiguous). A fixed master key is
//! in the environment first (a fuzzed `TESSERA_MASTER_KEY` overrides it).
//!
//! Invariants: no panic; loading twice gives the same answer; no error, warning or `Debug`
//! output contains the master key; settings that loaded validate again.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use tessera_server::config::{CliOverrides, Settings};

const MASTER_KEY: &str = "fuzz-master-key-never-shown-0c5e1b7a";

fn env(lines: &str) -> Vec<(String, String)> {
    let mut vars = vec![("TESSERA_MASTER_KEY".to_owned(), MASTER_KEY.to_owned())];
    vars.extend(lines.lines().map(|line| match line.split_once('=') {
        Some((name, value)) => (name.to_owned(), value.to_owned()),
        None => (line.to_owned(), String::new()),
    }));
    vars
}

fn load(toml: &str, lines: &str) -> Result<String, String> {
    match Settings::load_from_toml(
        Path::new("fuzz.toml"),
        toml,
        env(lines),
        CliOverrides::default(),
    ) {
        Ok(loaded) => {
            assert!(
                loaded.settings.validate().is_ok(),
                "loaded settings validate"
            );
            let shown = format!("{loaded:?}");
            for warning in &loaded.warnings {
                assert!(!warning.to_string().contains(MASTER_KEY));
            }
            assert!(!shown.contains(MASTER_KEY), "Debug shows the master key");
            Ok(shown)
        }
        Err(e) => {
            let shown = format!("{e} / {e:?}");
            assert!(!shown.contains(MASTER_KEY), "an error shows the master key");
            Err(shown)
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (toml, lines) = text.split_once('\0').unwrap_or((text, ""));
    let first = load(toml, lines);
    assert_eq!(first, load(toml, lines), "loading is deterministic");
});
