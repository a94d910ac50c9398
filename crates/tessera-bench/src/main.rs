//! `tessera-bench`: the tools `bench/run` drives (see BENCHMARKS.md).
//!
//! - `server`: `tessera serve` (same settings, same middleware) plus `GET /bench/bare`, a bare
//!   handler returning a small JSON body like `/auth/me`'s, so both are measured in one process.
//! - `load`: a load generator (closed loop over N connections, or open loop at a fixed rate),
//!   printing one JSON line: throughput, status counts, p50/p99 of all and of 2xx answers,
//!   answers to shed without `Retry-After`, and, for refresh chains, rotation errors.
//! - `verify-time` / `sign-time` / `hash-time`: single-core EdDSA verification and signing
//!   and default Argon2id hash times, the references of the targets.
//! - `cold-start`: starts a command and times it to the first 200 from `/readyz`.
//!
//! Written here rather than taken from wrk because the targets need what wrk cannot give:
//! open-loop rates, percentiles of admitted answers only, and per-chain refresh checking.

#![allow(clippy::print_stdout, clippy::print_stderr)] // a command-line tool reports on stdout

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use axum::Router;
use axum::routing::get;
use clap::{Parser, Subcommand};
use serde_json::{Value, json};
use tessera_server::config::{CliOverrides, Settings};
use tessera_server::{App, BuildOptions};

#[derive(Parser)]
#[command(about = "Benchmark tools for bench/run")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// `tessera serve` from the TESSERA_* environment, plus `GET /bench/bare`.
    Server,
    /// Generate load and print one JSON line of figures.
    Load(LoadArgs),
    /// Microseconds per EdDSA access-token verification on one core.
    VerifyTime {
        #[arg(long, default_value_t = 20_000)]
        iterations: u32,
    },
    /// Microseconds per EdDSA signature of a client token's claims (`client_credentials`) on
    /// one core: the server's default algorithm.
    SignTime {
        #[arg(long, default_value_t = 20_000)]
        iterations: u32,
    },
    /// Milliseconds per Argon2id hash with the default (OWASP) parameters on one core.
    HashTime {
        #[arg(long, default_value_t = 10)]
        iterations: u32,
    },
    /// Run a command and time it to the first 200 from `URL/readyz`.
    ColdStart {
        /// The server's base URL.
        #[arg(long)]
        url: String,
        /// The command and its arguments.
        #[arg(trailing_var_arg = true, required = true)]
        command: Vec<String>,
    },
}

#[derive(clap::Args, Clone)]
struct LoadArgs {
    /// The URL to send to.
    #[arg(long)]
    url: String,
    /// GET or POST.
    #[arg(long, default_value = "GET")]
    method: String,
    /// `Name: value` headers.
    #[arg(long = "header")]
    headers: Vec<String>,
    /// A body, sent with `Content-Type: application/json` unless a `--header` names another
    /// content type (e.g. `content-type: application/x-www-form-urlencoded`).
    #[arg(long)]
    body: Option<String>,
    /// Count the 2xx answers whose body lacks this text (`unexpected` in the figures), e.g.
    /// `"active":true` for introspection.
    #[arg(long)]
    expect: Option<String>,
    /// Concurrent connections.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Seconds of load.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Open loop: requests per second in all (spread over the connections); a connection
    /// whose answer is late sends its next request at once.
    #[arg(long)]
    rate: Option<f64>,
    /// Refresh chains: a file of refresh tokens, one per line and connection; each
    /// connection rotates its own token and checks every rotation.
    #[arg(long)]
    refresh_chains: Option<std::path::PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Server => runtime.block_on(server()),
        Command::Load(args) => runtime.block_on(load(args)),
        Command::VerifyTime { iterations } => verify_time(iterations),
        Command::SignTime { iterations } => sign_time(iterations),
        Command::HashTime { iterations } => hash_time(iterations),
        Command::ColdStart { url, command } => runtime.block_on(cold_start(&url, &command)),
    }
}

async fn server() -> anyhow::Result<()> {
    let loaded = Settings::load(None, std::env::vars(), CliOverrides::default())?;
    tessera_server::telemetry::init(
        loaded.settings.log_format(),
        loaded.settings.log_filter(),
        std::io::stderr,
    );
    let bare = Router::new().route(
        "/bench/bare",
        get(|| async {
            axum::Json(json!({
                "sub": "0b4f8a52-3c1e-4d7a-9f61-2a5b7c8d9e01",
                "username": "bench",
                "roles": [],
                "scope": ""
            }))
        }),
    );
    let app = App::build_with(
        loaded.settings,
        BuildOptions {
            extra_routes: Some(bare),
            ..BuildOptions::default()
        },
    )
    .await?;
    println!("listening on http://{}", app.summary().address);
    app.run_until_stopped().await?;
    Ok(())
}

/// What one connection saw.
#[derive(Default)]
struct Tally {
    statuses: BTreeMap<u16, u64>,
    latencies_us: Vec<u32>,
    ok_latencies_us: Vec<u32>,
    transport_errors: u64,
    shed_without_retry_after: u64,
    rotation_errors: u64,
    unexpected: u64,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
        self.latencies_us.extend(other.latencies_us);
        self.ok_latencies_us.extend(other.ok_latencies_us);
        self.transport_errors += other.transport_errors;
        self.shed_without_retry_after += other.shed_without_retry_after;
        self.rotation_errors += other.rotation_errors;
        self.unexpected += other.unexpected;
    }
}

async fn load(args: LoadArgs) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .http1_only()
        .pool_max_idle_per_host(args.connections)
        .timeout(Duration::from_secs(30))
        .build()?;
    let chains: Vec<String> = match &args.refresh_chains {
        Some(path) => std::fs::read_to_string(path)?
            .lines()
            .map(str::to_owned)
            .collect(),
        None => Vec::new(),
    };
    if args.refresh_chains.is_some() && chains.len() < args.connections {
        bail!("need one refresh token per connection");
    }
    let deadline = Instant::now() + Duration::from_secs(args.duration);
    let interval = args
        .rate
        .map(|r| Duration::from_secs_f64(args.connections as f64 / r.max(0.001)));
    let args = Arc::new(args);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..args.connections {
        let chain = chains.get(i).cloned();
        let (client, args) = (client.clone(), args.clone());
        // Spread the first requests of an open loop over one interval.
        let offset = interval.map(|iv| iv.mul_f64(i as f64 / args.connections as f64));
        tasks.push(tokio::spawn(async move {
            connection(&client, &args, chain, deadline, interval, offset).await
        }));
    }
    let mut tally = Tally::default();
    for task in tasks {
        tally.merge(task.await?);
    }
    let seconds = started.elapsed().as_secs_f64();
    let requests: u64 = tally.statuses.values().sum();
    let ok: u64 = tally
        .statuses
        .iter()
        .filter(|(s, _)| (200..300).contains(*s))
        .map(|(_, n)| n)
        .sum();
    let figures = json!({
        "requests": requests,
        "seconds": seconds,
        "rps": requests as f64 / seconds,
        "ok": ok,
        "ok_rps": ok as f64 / seconds,
        "statuses": tally.statuses,
        "transport_errors": tally.transport_errors,
        "p50_ms": percentile(&mut tally.latencies_us, 0.50),
        "p99_ms": percentile(&mut tally.latencies_us, 0.99),
        "ok_p50_ms": percentile(&mut tally.ok_latencies_us, 0.50),
        "ok_p99_ms": percentile(&mut tally.ok_latencies_us, 0.99),
        "shed_without_retry_after": tally.shed_without_retry_after,
        "rotation_errors": tally.rotation_errors,
        "unexpected": tally.unexpected,
    });
    println!("{figures}");
    Ok(())
}

async fn connection(
    client: &reqwest::Client,
    args: &LoadArgs,
    mut chain: Option<String>,
    deadline: Instant,
    interval: Option<Duration>,
    offset: Option<Duration>,
) -> Tally {
    let mut tally = Tally::default();
    let mut next_send = Instant::now() + offset.unwrap_or_default();
    let typed = args.headers.iter().any(|h| {
        h.split_once(':')
            .is_some_and(|(name, _)| name.trim().eq_ignore_ascii_case("content-type"))
    });
    while Instant::now() < deadline {
        if interval.is_some() {
            tokio::time::sleep_until(next_send.into()).await;
            if Instant::now() >= deadline {
                break;
            }
        }
        let mut request = client.request(
            args.method.parse().unwrap_or(reqwest::Method::GET),
            &args.url,
        );
        for header in &args.headers {
            if let Some((name, value)) = header.split_once(':') {
                request = request.header(name.trim(), value.trim());
            }
        }
        let body = match &chain {
            Some(token) => Some(json!({ "refresh_token": token }).to_string()),
            None => args.body.clone(),
        };
        if let Some(body) = body {
            if !typed {
                request = request.header("content-type", "application/json");
            }
            request = request.body(body);
        }
        let sent = Instant::now();
        let outcome = request.send().await;
        let response = match outcome {
            Ok(r) => r,
            Err(_) => {
                tally.transport_errors += 1;
                continue;
            }
        };
        let status = response.status().as_u16();
        let retry_after = response.headers().contains_key("retry-after");
        let text = response.text().await.unwrap_or_default();
        let micros = u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX);
        *tally.statuses.entry(status).or_default() += 1;
        tally.latencies_us.push(micros);
        if (200..300).contains(&status) {
            tally.ok_latencies_us.push(micros);
            if args
                .expect
                .as_ref()
                .is_some_and(|e| !text.contains(e.as_str()))
            {
                tally.unexpected += 1;
            }
        }
        if matches!(status, 429 | 503) && !retry_after {
            tally.shed_without_retry_after += 1;
        }
        if let Some(token) = &mut chain {
            match serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.get("refresh_token")?.as_str().map(str::to_owned))
            {
                Some(next) if status == 200 && next != *token => *token = next,
                _ => tally.rotation_errors += 1,
            }
        }
        if let Some(interval) = interval {
            next_send += interval;
        }
    }
    tally
}

/// The `q` percentile in milliseconds (nearest rank); 0 for no sample.
fn percentile(samples: &mut [u32], q: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    samples.sort_unstable();
    let rank = ((samples.len() as f64) * q).ceil() as usize;
    let index = rank.clamp(1, samples.len()) - 1;
    f64::from(samples.get(index).copied().unwrap_or_default()) / 1000.0
}

fn verify_time(iterations: u32) -> anyhow::Result<()> {
    use tessera_core::keys::signing::SigningKey;
    use tessera_verify::{Algorithm, Verifier};

    let key = SigningKey::generate(Algorithm::EdDSA)?;
    let now = tessera_core::clock::unix_seconds(tessera_core::clock::Clock::now(
        &tessera_core::clock::SystemClock,
    ));
    let claims: tessera_verify::Claims = serde_json::from_value(json!({
        "iss": "http://127.0.0.1:8080", "aud": "tessera",
        "sub": "0b4f8a52-3c1e-4d7a-9f61-2a5b7c8d9e01", "client_id": "tessera",
        "iat": now, "nbf": now, "exp": now + 600, "jti": "2f6c1d1e-8d0a-4a53-9b0e-6d3f1f2a7c44",
        "sid": "c0ffee00-0000-4000-8000-000000000001", "roles": ["admin"], "scope": "a b",
        "ver": 0, "csrf": "AAAAAAAAAAAAAAAAAAAAAA"
    }))?;
    let token = key.sign(&claims)?;
    let verifier = Verifier::builder("http://127.0.0.1:8080", "tessera")
        .key(key.verification_key())
        .build()?;
    for _ in 0..1000 {
        verifier.verify(&token)?;
    }
    let started = Instant::now();
    for _ in 0..iterations {
        verifier.verify(&token)?;
    }
    let us = started.elapsed().as_secs_f64() * 1e6 / f64::from(iterations.max(1));
    println!(
        "{}",
        json!({ "verify_us": us, "alg": "EdDSA", "iterations": iterations })
    );
    Ok(())
}

/// As the server signs a `client_credentials` token: the default algorithm (EdDSA) over the
/// claims `TokenIssuer::issue_for_client` builds (a 22-character client id as `sub` and
/// `client_id`, one scope, no `sid` or roles); serialising, base64 and the signature.
fn sign_time(iterations: u32) -> anyhow::Result<()> {
    use tessera_core::keys::signing::SigningKey;
    use tessera_verify::Algorithm;

    let key = SigningKey::generate(Algorithm::EdDSA)?;
    let now = tessera_core::clock::unix_seconds(tessera_core::clock::Clock::now(
        &tessera_core::clock::SystemClock,
    ));
    let claims: tessera_verify::Claims = serde_json::from_value(json!({
        "iss": "http://127.0.0.1:8080", "aud": "tessera",
        "sub": "3bA0xq7ZkPn2Lw9cVt4RyE", "client_id": "3bA0xq7ZkPn2Lw9cVt4RyE",
        "iat": now, "nbf": now, "exp": now + 900, "jti": "2f6c1d1e-8d0a-4a53-9b0e-6d3f1f2a7c44",
        "scope": "invoices:read"
    }))?;
    let token = key.sign(&claims)?;
    for _ in 0..1000 {
        key.sign(&claims)?;
    }
    let started = Instant::now();
    for _ in 0..iterations {
        key.sign(&claims)?;
    }
    let us = started.elapsed().as_secs_f64() * 1e6 / f64::from(iterations.max(1));
    println!(
        "{}",
        json!({ "sign_us": us, "alg": "EdDSA", "token_bytes": token.len(), "iterations": iterations })
    );
    Ok(())
}

/// As the server hashes: Argon2id with the default parameters into a reused working memory.
fn hash_time(iterations: u32) -> anyhow::Result<()> {
    use argon2::{Algorithm, Argon2, Block, Params, Version};

    let params = Params::new(19_456, 2, 1, Some(32)).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut memory = vec![Block::new(); params.block_count()];
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut out = [0u8; 32];
    let mut hash = |out: &mut [u8]| {
        argon2
            .hash_password_into_with_memory(
                b"correct horse battery staple",
                b"a sixteen b salt",
                out,
                &mut memory,
            )
            .map_err(|e| anyhow::anyhow!("{e}"))
    };
    hash(&mut out)?;
    let started = Instant::now();
    for _ in 0..iterations {
        hash(&mut out)?;
    }
    let ms = started.elapsed().as_secs_f64() * 1e3 / f64::from(iterations.max(1));
    println!(
        "{}",
        json!({ "hash_ms": ms, "params": "argon2id m=19456 KiB t=2 p=1", "iterations": iterations })
    );
    Ok(())
}

async fn cold_start(url: &str, command: &[String]) -> anyhow::Result<()> {
    let (program, args) = command.split_first().context("no command")?;
    let address: SocketAddr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .context("the URL must be http://IP:PORT")?;
    let started = Instant::now();
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let ready = loop {
        if started.elapsed() > Duration::from_secs(10) {
            bail!("not ready within 10 s");
        }
        if readyz(address).await {
            break started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    child.kill().await?;
    println!("{}", json!({ "ready_ms": ready.as_secs_f64() * 1e3 }));
    Ok(())
}

/// One raw HTTP/1.1 `GET /readyz`, without a client's setup cost.
async fn readyz(address: SocketAddr) -> bool {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let Ok(mut stream) = tokio::net::TcpStream::connect(address).await else {
        return false;
    };
    if stream
        .write_all(b"GET /readyz HTTP/1.1\r\nhost: bench\r\nconnection: close\r\n\r\n")
        .await
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).await.is_ok() && &head == b"HTTP/1.1 200"
}
