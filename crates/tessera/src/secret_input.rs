//! Reading passwords: from a prompt on the terminal, or from standard input with
//! `--password-stdin`. Never from the command line, where other users can read it in the
//! process list and the shell keeps it in its history.

use std::io::{BufRead as _, IsTerminal as _};

use anyhow::{Context as _, bail};
use secrecy::SecretString;
use zeroize::Zeroizing;

/// Reads a new password: stdin's first line, or a prompt asked twice.
pub(crate) fn read_new_password(from_stdin: bool) -> anyhow::Result<SecretString> {
    if from_stdin {
        return read_stdin_line();
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "no terminal to prompt for the password; pass --password-stdin and write it to standard input"
        );
    }
    let first = Zeroizing::new(
        rpassword::prompt_password("Password: ").context("failed to read the password")?,
    );
    let second = Zeroizing::new(
        rpassword::prompt_password("Repeat password: ").context("failed to read the password")?,
    );
    if *first != *second {
        bail!("the passwords do not match");
    }
    Ok(SecretString::from(first.to_string()))
}

fn read_stdin_line() -> anyhow::Result<SecretString> {
    let mut line = Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("failed to read the password from standard input")?;
    let password = line
        .strip_suffix('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .unwrap_or(&line);
    if password.is_empty() {
        bail!("standard input held no password");
    }
    Ok(SecretString::from(password.to_owned()))
}
