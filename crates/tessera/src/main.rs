//! `tessera`: run the server and administer it. This binary parses arguments and calls into
//! the library crates, nothing more.

// A command-line program talks on stdout and stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod admin;
mod audit;
mod check;
mod cli;
mod clients;
mod locks;
mod secret_input;

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;
use tessera_server::App;
use tessera_server::config::{CliOverrides, Settings};
use tessera_server::telemetry::{self, LogFormat};

use cli::{Cli, Command, Common, ServeArgs};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::User(cmd) => admin::user(load_quiet(&cmd.common)?, cmd.action).await,
        Command::Role(cmd) => admin::role(load_quiet(&cmd.common)?, cmd.action).await,
        Command::Keys(cmd) => admin::keys(load_quiet(&cmd.common)?, cmd.action).await,
        Command::Migrate(args) => admin::migrate(load_quiet(&args.common)?).await,
        Command::CheckConfig(args) => check::check_config(&args),
        Command::Locks(cmd) => locks::locks(load_quiet(&cmd.common)?, cmd.action).await,
        Command::Audit(args) => audit::audit(load_quiet(&args.common)?, args).await,
        Command::Client(cmd) => clients::client(load_quiet(&cmd.common)?, cmd.action).await,
    }
}

/// The flags that override settings.
fn overrides(common: &Common, serve: Option<&ServeArgs>) -> CliOverrides {
    CliOverrides {
        listen: serve.and_then(|s| s.listen),
        data_dir: common.data_dir.clone(),
        database_url: common.database_url.clone().map(Into::into),
        issuer: serve.and_then(|s| s.issuer.clone()),
        audience: serve.and_then(|s| s.audience.clone()),
    }
}

/// Settings from the file, the `TESSERA_*` environment and the flags (in rising precedence).
fn load(common: &Common, serve: Option<&ServeArgs>) -> anyhow::Result<Settings> {
    let loaded = Settings::load(
        common.config.as_deref(),
        std::env::vars(),
        overrides(common, serve),
    )
    .context("invalid configuration")?;
    for warning in &loaded.warnings {
        eprintln!("warning: {warning}");
    }
    Ok(loaded.settings)
}

/// Settings for an admin command, with logs limited to warnings on stderr.
fn load_quiet(common: &Common) -> anyhow::Result<Settings> {
    let settings = load(common, None)?;
    telemetry::init(LogFormat::Text, "warn", std::io::stderr);
    Ok(settings)
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let settings = load(&args.common, Some(&args))?;
    telemetry::init(
        settings.log_format(),
        settings.log_filter(),
        std::io::stderr,
    );
    let app = App::build(settings).await.context("failed to start")?;
    let s = app.summary();
    println!(
        "tessera {} listening on {}://{}",
        env!("CARGO_PKG_VERSION"),
        s.scheme,
        s.address
    );
    println!("  issuer:   {}", s.issuer);
    println!("  audience: {}", s.audience);
    println!("  data:     {} (database {})", s.data_dir, s.database);
    match (s.metrics, s.metrics_on_public_port) {
        (Some(address), false) => println!("  metrics:  http://{address}/metrics"),
        (Some(address), true) => println!(
            "  metrics:  http://{address}/metrics and {}://{}/metrics",
            s.scheme, s.address
        ),
        (None, true) => println!("  metrics:  {}://{}/metrics", s.scheme, s.address),
        (None, false) => println!("  metrics:  off"),
    }
    if s.first_start {
        println!("  first start: created the master key and an EdDSA signing key");
    }
    app.run_until_stopped().await.context("server error")
}
