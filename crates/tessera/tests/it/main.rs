//! CLI tests through the built binary (`CARGO_BIN_EXE_tessera`).
#![allow(clippy::too_many_lines)] // a test or benchmark reads top to bottom; no length limit
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod admin;
mod audit;
mod check_config;
mod clients;
mod crash;
mod keys;
mod locks;
mod migrate;
mod serve;
mod tls;

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub const PASSWORD: &str = "correct horse battery staple";

/// The binary with a clean environment: no inherited `TESSERA_*` settings, and the metrics
/// listener on a port of the OS's choice (tests run servers side by side; the default port
/// 9090 could be taken).
pub fn tessera(cwd: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tessera"));
    cmd.current_dir(cwd);
    for (name, _) in std::env::vars() {
        if name.starts_with("TESSERA_") || name == "RUST_LOG" {
            cmd.env_remove(name);
        }
    }
    cmd.env("TESSERA_METRICS_LISTEN", "127.0.0.1:0");
    cmd
}

/// Runs the binary with `args`, writing `stdin` to it.
pub fn run(cwd: &Path, args: &[&str], stdin: &str) -> Output {
    run_command(tessera(cwd).args(args), stdin)
}

/// Runs `cmd`, writing `stdin` to it; returns everything it printed.
pub fn run_command(cmd: &mut Command, stdin: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Stdout of a successful run.
pub fn ok(cwd: &Path, args: &[&str], stdin: &str) -> String {
    let out = run(cwd, args, stdin);
    assert!(
        out.status.success(),
        "tessera {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A running `tessera serve`, killed on drop.
#[derive(Debug)]
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT` or `https://…`.
    pub url: String,
    /// Everything printed before the server was ready.
    pub banner: String,
}

impl Server {
    /// Starts `tessera serve ARGS` and waits for its "listening on" line.
    pub fn start(cmd: &mut Command) -> Self {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut banner = String::new();
        let mut url = None;
        // The metrics line is the last one always printed.
        while url.is_none() || !banner.contains("metrics:") {
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => {
                    if let Some(rest) = line.split(" listening on ").nth(1) {
                        url = Some(rest.trim().to_owned());
                    }
                    banner.push_str(&line);
                    banner.push('\n');
                }
                Err(_) => {
                    let _ = child.kill();
                    let out = child.wait_with_output().unwrap();
                    panic!(
                        "server did not start: {banner}\n{}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            }
        }
        Self {
            child,
            url: url.unwrap(),
            banner,
        }
    }
}

impl Server {
    /// Sends the server a signal (`HUP`, `TERM`, …) with the system's `kill`.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name}");
    }

    /// Kills the server and returns what it wrote to stderr.
    pub fn stop_and_collect_stderr(mut self) -> String {
        let _ = self.child.kill();
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            use std::io::Read as _;
            let _ = pipe.read_to_string(&mut stderr);
        }
        stderr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
