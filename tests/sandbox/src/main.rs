//! `provider-sandbox --port 9100 --box-users 500 --dropbox-members 100 --seed 42`: serves the
//! sandbox until killed. `--latency-ms 20` answers every provider request 20 ms late.

#![forbid(unsafe_code)]

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use chrono::{DateTime, Utc};
use clap::Parser;
use provider_sandbox::{BoxTenantSpec, DropboxTeamSpec, Sandbox, SandboxConfig};

/// Box/Dropbox provider sandbox for seatkeeper's tests and local demo.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Port to listen on (0 = any free port).
    #[arg(long, default_value_t = 9100)]
    port: u16,
    /// Address to bind (loopback only).
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    bind: IpAddr,
    /// Number of Box users to generate.
    #[arg(long, default_value_t = 500)]
    box_users: usize,
    /// Number of Dropbox team members to generate.
    #[arg(long, default_value_t = 100)]
    dropbox_members: usize,
    /// Seed of the generated Box tenant and Dropbox team.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Lifetime of issued Box access tokens, in seconds.
    #[arg(long, default_value_t = 3600)]
    box_token_ttl: u64,
    /// Lifetime of issued Dropbox access tokens, in seconds.
    #[arg(long, default_value_t = 14_400)]
    dropbox_token_ttl: u64,
    /// Reference time of the generated data (RFC 3339); default: now.
    #[arg(long)]
    now: Option<DateTime<Utc>>,
    /// Answer every provider request (not the `/_sandbox` control API) this many ms late, each
    /// request on its own: the network latency of a real provider, for benchmarks.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let args = Args::parse();

    let mut box_tenant = BoxTenantSpec::new(args.box_users, args.seed);
    let mut dropbox_team = DropboxTeamSpec::new(args.dropbox_members, args.seed);
    if let Some(now) = args.now {
        box_tenant.now = now;
        dropbox_team.now = now;
    }
    let sandbox = Sandbox::start(SandboxConfig {
        bind: SocketAddr::new(args.bind, args.port),
        box_tenant,
        box_token_ttl_secs: args.box_token_ttl,
        dropbox_team,
        dropbox_token_ttl_secs: args.dropbox_token_ttl,
    })
    .await?;
    sandbox.set_latency_ms(args.latency_ms);

    let mut stdout = std::io::stdout();
    writeln!(stdout, "provider-sandbox listening on {}", sandbox.url())?;
    stdout.flush()?;

    shutdown_signal().await;
    sandbox.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
