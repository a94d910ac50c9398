//! Loading (or, on first start, creating) the master key that seals private signing keys.
//!
//! The key comes from `TESSERA_MASTER_KEY` or from a file (default `<data-dir>/master.key`).
//! The file is created owner-only (0600) in a directory created 0700, and a file that group
//! or others can read is refused: a master key anyone on the machine can read protects
//! nothing. Every instance sharing one database must be given the same key.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use secrecy::{ExposeSecret, SecretString};
use tessera_core::keys::keyring::MasterKey;

use super::StartupError;

/// Creates the data directory (0700) if it is missing.
pub fn ensure_data_dir(dir: &Path) -> Result<(), StartupError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| {
            StartupError::io(
                format!("cannot create the data directory {}", dir.display()),
                e,
            )
        })
}

/// The master key from the environment value if given, else from `file`, creating the file
/// with a new random key if it does not exist. Returns the key and whether it was created.
pub(crate) fn load_or_create(
    from_env: Option<&SecretString>,
    file: &Path,
) -> Result<(MasterKey, bool), StartupError> {
    if let Some(text) = from_env {
        let key = MasterKey::from_encoded(text.expose_secret())
            .map_err(|e| StartupError::Config(format!("TESSERA_MASTER_KEY: {e}")))?;
        return Ok((key, false));
    }
    match fs::metadata(file) {
        Ok(meta) => {
            if meta.permissions().mode() & 0o077 != 0 {
                return Err(StartupError::Config(format!(
                    "the master key file {} is readable by group or others; run `chmod 600 {}`",
                    file.display(),
                    file.display()
                )));
            }
            let text = fs::read_to_string(file).map_err(|e| {
                StartupError::io(
                    format!("cannot read the master key file {}", file.display()),
                    e,
                )
            })?;
            let key = MasterKey::from_encoded(&text).map_err(|e| {
                StartupError::Config(format!("master key file {}: {e}", file.display()))
            })?;
            Ok((key, false))
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {
            let key = MasterKey::generate().map_err(|e| StartupError::Config(e.to_string()))?;
            write_new(file, key.encode().as_bytes())?;
            Ok((key, true))
        }
        Err(e) => Err(StartupError::io(
            format!("cannot read the master key file {}", file.display()),
            e,
        )),
    }
}

/// Writes a new owner-only file and syncs it, refusing to overwrite an existing one.
fn write_new(file: &Path, contents: &[u8]) -> Result<(), StartupError> {
    let io = |e| {
        StartupError::io(
            format!("cannot write the master key file {}", file.display()),
            e,
        )
    };
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)
        .map_err(io)?;
    f.write_all(contents).map_err(io)?;
    f.write_all(b"\n").map_err(io)?;
    f.sync_all().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_an_owner_only_key_file_then_reuses_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("master.key");
        let (first, created) = load_or_create(None, &file).unwrap();
        assert!(created);
        assert_eq!(
            fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let (second, created) = load_or_create(None, &file).unwrap();
        assert!(!created);
        assert_eq!(first.encode().as_str(), second.encode().as_str());
    }

    #[test]
    fn refuses_a_key_file_readable_by_others_and_says_how_to_fix_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("master.key");
        load_or_create(None, &file).unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_or_create(None, &file).unwrap_err().to_string();
        assert!(err.contains("chmod 600"), "{err}");
    }

    #[test]
    fn the_environment_value_wins_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("master.key");
        let env_key = MasterKey::generate().unwrap();
        let text = SecretString::from(env_key.encode().to_string());
        let (key, created) = load_or_create(Some(&text), &file).unwrap();
        assert!(!created);
        assert!(
            !file.exists(),
            "no file is written when the key comes from the environment"
        );
        assert_eq!(key.encode().as_str(), env_key.encode().as_str());
        let bad = SecretString::from("not-a-key".to_owned());
        assert!(load_or_create(Some(&bad), &file).is_err());
    }
}
