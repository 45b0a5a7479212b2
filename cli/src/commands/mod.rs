//! The command line: global options, the subcommands, and what every command shares (the
//! connection context and argument parsers). Each subcommand lives in its own module.
use std::io::Write;

use chrono::{DateTime, Utc};
use clap::{ArgAction, Args, Parser, Subcommand};
use seatkeeper::domain::Profile;
use seatkeeper::ports::ProfileRepo;
use seatkeeper::secrets::SecretStore;
use seatkeeper::store::Store;
use seatkeeper::wiring::AwsClients;
use seatkeeper::Config;

use crate::error::CliError;
use crate::output::Style;

pub mod connect;
pub mod credentials;
pub mod entitlement;
pub mod notices;
pub mod profile;
pub mod reclaim;
pub mod report;
pub mod seats;
pub mod sync;
pub mod table;
pub mod tasks;
pub mod undo;

const AFTER_HELP: &str = "\
Getting started (local stack or a deployed stack):
  seatctl table create                      # local stack only; a deployed stack owns its table
  seatctl profile add box --id acme-box --name \"Acme\" --enterprise-id 900001 --plan business_plus
  seatctl entitlement set acme-box --license-type business_plus --purchased 50 --price 33.00
  printf %s \"$SECRET\" | seatctl credentials set-box acme-box --client-id abc123 --client-secret-stdin
  seatctl sync acme-box
  seatctl seats acme-box --inactive-days 60 --output csv > inactive.csv

Environment:
  TABLE_NAME               the seatkeeper table (same as --table)
  AWS_PROFILE, AWS_REGION, AWS_ACCESS_KEY_ID, ...
                           AWS credentials and region from the standard chain
  AWS_ENDPOINT_URL         send AWS calls elsewhere, e.g. a local moto server
  BOX_API_URL, BOX_TOKEN_URL, DROPBOX_API_URL, DROPBOX_AUTHORIZE_URL, DROPBOX_TOKEN_URL
                           provider endpoints (tests and local sandbox only)
  RECLAIM_QUEUE_URL        the reclaim queue (the stack's ReclaimQueueUrl output), for `reclaim`,
                           `approve` and the sync of a profile in auto mode
  OAUTH_REDIRECT_URL       the stack's callback URL (for `seatctl connect dropbox`)
  NOTICE_SENDER, KEEP_BASE_URL, DIGEST_RECIPIENT
                           notify mode (for `seatctl sync` of a profile in notify mode): the SES
                           sender, the HTTP API's base URL for keep links, the admins' digest
  RUST_LOG                 overrides -v with a tracing filter, e.g. seatkeeper=debug
  NO_COLOR                 no colours in tables";

/// seatctl — the operator CLI of seatkeeper: register Box and Dropbox integration profiles,
/// store and connect their credentials, sync seats into DynamoDB and find the licenses nobody uses.
#[derive(Debug, Parser)]
#[command(name = "seatctl", version, propagate_version = true, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// The seatkeeper DynamoDB table (the SAM stack's TableName output); required.
    #[arg(
        long,
        env = "TABLE_NAME",
        global = true,
        value_name = "NAME",
        help_heading = "Global options"
    )]
    pub table: Option<String>,

    /// More logging on stderr: -v info, -vv debug, -vvv trace (AWS SDK and HTTP stay quieter).
    /// Logs never contain secrets. Default: warnings and errors only.
    #[arg(
        short,
        long,
        action = ArgAction::Count,
        global = true,
        help_heading = "Global options"
    )]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the DynamoDB table (local stack only)
    #[command(subcommand)]
    Table(table::TableCommand),
    /// Register, list, show, enable and disable integration profiles
    #[command(subcommand)]
    Profile(profile::ProfileCommand),
    /// Record what was purchased per license type: seats and price per seat per month
    #[command(subcommand)]
    Entitlement(entitlement::EntitlementCommand),
    /// Store a profile's provider credentials in Secrets Manager
    #[command(subcommand)]
    Credentials(credentials::CredentialsCommand),
    /// Connect a provider account through OAuth in the browser (Dropbox slots)
    #[command(subcommand)]
    Connect(connect::ConnectCommand),
    /// Sync a profile now: roster, license types, logins and license summary
    Sync(sync::SyncArgs),
    /// List a profile's seats with their last login and days of inactivity
    Seats(seats::SeatsArgs),
    /// Show recorded task runs (task tracking), newest first
    Tasks(tasks::TasksArgs),
    /// Show or change a profile's reclamation rules
    #[command(subcommand)]
    Rules(reclaim::RulesCommand),
    /// List reclaim candidates with their evidence
    Candidates(reclaim::CandidatesArgs),
    /// Approve candidates: enqueue their reclaim requests (approve and auto modes)
    Approve(reclaim::ApproveArgs),
    /// Enqueue a reclaim request for one user (transfer content, then remove the seat)
    Reclaim(reclaim::ReclaimArgs),
    /// Kill switch: stop enqueueing and executing reclaims for a profile
    Pause {
        /// The profile id (see `seatctl profile list`).
        #[arg(value_parser = parse_profile_id)]
        id: String,
    },
    /// Lift the kill switch
    Resume {
        /// The profile id (see `seatctl profile list`).
        #[arg(value_parser = parse_profile_id)]
        id: String,
    },
    /// The reclaim requests of a profile and their steps (the audit trail)
    Reclaims(reclaim::ReclaimsArgs),
    /// Give a reclaimed seat back: unsuspend during the undo window, or recover a removed
    /// Dropbox member
    Restore(undo::RestoreCliArgs),
    /// Notify mode's notices of a profile: sent, kept (with the reason), due, failed
    Notices(notices::NoticesArgs),
    /// Write a profile's savings report: one self-contained HTML file (or JSON)
    Report(report::ReportArgs),
    /// Print a shell completion script (bash, zsh or fish)
    #[command(after_help = "\
Install, e.g.:
  seatctl completions bash > ~/.local/share/bash-completion/completions/seatctl
  seatctl completions zsh > \"${fpath[1]}/_seatctl\"
  seatctl completions fish > ~/.config/fish/completions/seatctl.fish")]
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: CompletionShell,
    },
}

/// Shells `seatctl completions` writes a script for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

/// Writes the completion script of `shell` (needs no table and no AWS).
pub fn completions(shell: CompletionShell, out: &mut dyn Write) -> std::io::Result<()> {
    use clap::CommandFactory;
    let shell = match shell {
        CompletionShell::Bash => clap_complete::Shell::Bash,
        CompletionShell::Zsh => clap_complete::Shell::Zsh,
        CompletionShell::Fish => clap_complete::Shell::Fish,
    };
    // generated into memory first: clap_complete panics on a failed write (a closed pipe)
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "seatctl", &mut script);
    out.write_all(&script)
}

/// What every command works with: config, AWS clients, the store, the secrets, and the clock.
pub struct Ctx {
    pub config: Config,
    pub aws: AwsClients,
    pub store: Store,
    pub secrets: SecretStore,
    pub style: Style,
    pub now: DateTime<Utc>,
}

impl Ctx {
    pub async fn connect(table: &str) -> Result<Self, CliError> {
        let config = config_for_table(table, |k| std::env::var(k).ok())?;
        let aws = AwsClients::from_env().await;
        Ok(Ctx {
            store: Store::new(aws.dynamodb.clone(), &config.table_name),
            secrets: SecretStore::new(aws.secrets.clone()),
            config,
            aws,
            style: Style::detect(),
            now: Utc::now(),
        })
    }

    /// The profile, or a clear "does not exist".
    pub async fn profile(&self, id: &str) -> Result<Profile, CliError> {
        self.store
            .profiles
            .get(id)
            .await?
            .ok_or_else(|| CliError::UnknownProfile(id.to_owned()))
    }
}

/// The library config from the environment, with `--table` taking the place of `TABLE_NAME`.
pub fn config_for_table(
    table: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Config, CliError> {
    Ok(Config::from_lookup(|k| {
        if k == "TABLE_NAME" {
            Some(table.to_owned())
        } else {
            env(k)
        }
    })?)
}

/// Runs the command; output goes to `out`, progress and logs to stderr.
pub async fn run(cli: Cli, table: &str, out: &mut dyn Write) -> Result<(), CliError> {
    let ctx = Ctx::connect(table).await?;
    match cli.command {
        Command::Table(c) => table::run(&ctx, c, out).await,
        Command::Profile(c) => profile::run(&ctx, c, out).await,
        Command::Entitlement(c) => entitlement::run(&ctx, c, out).await,
        Command::Credentials(c) => credentials::run(&ctx, c, out).await,
        Command::Connect(c) => connect::run(&ctx, c, out).await,
        Command::Sync(a) => sync::run(&ctx, a, out).await,
        Command::Seats(a) => seats::run(&ctx, a, out).await,
        Command::Tasks(a) => tasks::run(&ctx, a, out).await,
        Command::Rules(c) => reclaim::rules(&ctx, c, out).await,
        Command::Candidates(a) => reclaim::candidates(&ctx, a, out).await,
        Command::Approve(a) => reclaim::approve(&ctx, a, out).await,
        Command::Reclaim(a) => reclaim::reclaim(&ctx, a, out).await,
        Command::Pause { id } => reclaim::set_paused(&ctx, &id, true, out).await,
        Command::Resume { id } => reclaim::set_paused(&ctx, &id, false, out).await,
        Command::Reclaims(a) => reclaim::reclaims(&ctx, a, out).await,
        Command::Restore(a) => undo::restore(&ctx, a, out).await,
        Command::Notices(a) => notices::run(&ctx, a, out).await,
        Command::Report(a) => report::run(&ctx, a, out).await,
        Command::Completions { shell } => completions(shell, out).map_err(CliError::Output),
    }
}

// ------------------------------------------------------------------ argument parsers

/// A profile id as the library accepts it.
pub fn parse_profile_id(s: &str) -> Result<String, String> {
    Profile::validate_id(s).map_err(|e| e.to_string())?;
    Ok(s.to_owned())
}

/// License type names are compared lower case (as the sync derives them).
pub fn parse_license_type(s: &str) -> Result<String, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("license type is empty".to_owned());
    }
    if t.chars().any(char::is_control) {
        return Err("license type contains control characters".to_owned());
    }
    Ok(t.to_lowercase())
}

/// A non-empty, trimmed text value.
pub fn parse_text(s: &str) -> Result<String, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if t.chars().any(char::is_control) {
        return Err("must not contain control characters".to_owned());
    }
    Ok(t.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Every argument and flag of every command says what it is for.
    #[test]
    fn every_argument_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for a in cmd.get_arguments() {
                let id = a.get_id().as_str();
                if matches!(id, "help" | "version") {
                    continue;
                }
                if a.get_help().is_none() && a.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                if sub.get_about().is_none() && sub.get_name() != "help" {
                    missing.push(format!("{path} {} (no about)", sub.get_name()));
                }
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "seatctl", &mut missing);
        assert!(missing.is_empty(), "without help: {missing:#?}");
    }

    #[test]
    fn completions_name_the_commands() {
        for shell in [
            CompletionShell::Bash,
            CompletionShell::Zsh,
            CompletionShell::Fish,
        ] {
            let mut buf = Vec::new();
            completions(shell, &mut buf).unwrap();
            let text = String::from_utf8(buf).unwrap();
            assert!(text.contains("seatctl"), "{shell:?}");
            assert!(
                text.contains("candidates") && text.contains("report"),
                "{shell:?}"
            );
        }
    }

    #[test]
    fn table_flag_replaces_table_name() {
        let c = config_for_table("from-flag", |k| match k {
            "TABLE_NAME" => Some("from-env".into()),
            "BOX_API_URL" => Some("http://127.0.0.1:9/2.0".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.table_name, "from-flag");
        assert_eq!(c.box_endpoints.api_url.as_str(), "http://127.0.0.1:9/2.0");
        assert!(matches!(
            config_for_table(" ", |_| None),
            Err(CliError::Config(_))
        ));
    }

    #[test]
    fn parsers() {
        assert_eq!(parse_profile_id("acme-box").unwrap(), "acme-box");
        assert!(parse_profile_id("Acme Box")
            .unwrap_err()
            .contains("lowercase letters"));
        assert_eq!(
            parse_license_type(" Business_Plus ").unwrap(),
            "business_plus"
        );
        assert!(parse_license_type("  ").is_err());
        assert_eq!(parse_text(" Acme ").unwrap(), "Acme");
        assert!(parse_text("").is_err());
    }

    #[test]
    fn global_options_work_after_the_subcommand() {
        let cli =
            Cli::try_parse_from(["seatctl", "profile", "list", "--table", "t", "-vv"]).unwrap();
        assert_eq!(cli.global.table.as_deref(), Some("t"));
        assert_eq!(cli.global.verbose, 2);
    }
}
