//! `seatctl connect dropbox --profile P --slot sync|reclaim`: starts the OAuth authorization-code
//! flow for one credential slot and prints the URL an admin of the Dropbox team opens. The
//! browser comes back to the stack's oauth-callback function, which stores the tokens.
//! Starting a connect needs operator rights: write access to the table and read access to the
//! slot's secret (the callback function has neither).
use std::io::Write;

use clap::{Args, Subcommand};
use seatkeeper::wiring;

use super::credentials::parse_slot;
use super::{parse_profile_id, Ctx};
use crate::error::CliError;
use crate::output::line;
use seatkeeper::providers::dropbox_api::Slot;

#[derive(Debug, Subcommand)]
pub enum ConnectCommand {
    /// Connect a Dropbox credential slot: prints the authorize URL (valid 10 minutes, once).
    /// The admin who approves the reclaim slot receives the files of reclaimed members;
    /// connecting the slot again with another admin changes that.
    Dropbox(ConnectDropboxArgs),
}

#[derive(Debug, Args)]
pub struct ConnectDropboxArgs {
    /// The Dropbox profile.
    #[arg(long, value_parser = parse_profile_id)]
    pub profile: String,

    /// `sync` or `reclaim`.
    #[arg(long, value_parser = parse_slot)]
    pub slot: Slot,

    /// The callback URL registered as the app's redirect URI: the stack's CallbackUrl output,
    /// ending in /oauth/dropbox/callback.
    #[arg(long, env = "OAUTH_REDIRECT_URL", value_name = "URL")]
    pub redirect_url: Option<url::Url>,
}

pub async fn run(ctx: &Ctx, cmd: ConnectCommand, out: &mut dyn Write) -> Result<(), CliError> {
    match cmd {
        ConnectCommand::Dropbox(a) => {
            let mut config = ctx.config.clone();
            if a.redirect_url.is_some() {
                config.oauth_redirect_url = a.redirect_url;
            }
            let svc = wiring::connect_service(&config, &ctx.aws)?;
            let who = std::env::var("USER").unwrap_or_else(|_| "seatctl".to_owned());
            let started = svc
                .start(&a.profile, a.slot, &format!("seatctl ({who})"), ctx.now)
                .await?;
            line(
                out,
                format!(
                    "Open this URL as an admin of the Dropbox team (valid until {}, once):",
                    started.expires_at.format("%Y-%m-%d %H:%M:%S UTC")
                ),
            )?;
            line(out, started.url)
        }
    }
}
