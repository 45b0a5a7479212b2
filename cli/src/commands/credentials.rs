//! `seatctl credentials set-box`: a profile's Box app credentials into Secrets Manager. The client
//! secret is read from stdin or a no-echo prompt, held in a `SecretString`, and never printed,
//! logged or put in an error message.
use std::io::{self, IsTerminal, Read, Write};

use clap::{Args, Subcommand};
use seatkeeper::domain::{Profile, Provider};
use seatkeeper::providers::box_api::BoxCredentials;
use seatkeeper::providers::dropbox_api::{DropboxCredentials, Slot};
use secrecy::zeroize::Zeroize;
use secrecy::SecretString;

use super::{parse_profile_id, parse_text, Ctx};
use crate::error::CliError;
use crate::output::line;

/// More than any real client secret; stops `seatctl … < big-file` early.
const MAX_SECRET_BYTES: u64 = 64 * 1024;

#[derive(Debug, Subcommand)]
pub enum CredentialsCommand {
    /// Store a Box profile's Client Credentials Grant app (client id and secret) in Secrets
    /// Manager, in the profile's secret (seatkeeper/<ID>/box), creating or replacing it. The
    /// enterprise id comes from the profile. The secret is never echoed or logged.
    SetBox(SetBoxArgs),
    /// Store the Dropbox app of one of a Dropbox profile's two credential slots (app key and
    /// secret) in seatkeeper/<ID>/dropbox-<SLOT>. Then connect it with `seatctl connect dropbox`.
    /// Replacing the app forgets the slot's connection (its refresh token belongs to the old app).
    SetDropboxApp(SetDropboxAppArgs),
}

#[derive(Debug, Args)]
pub struct SetDropboxAppArgs {
    /// The profile id (a Dropbox profile).
    #[arg(value_parser = parse_profile_id)]
    pub id: String,

    /// Which slot: `sync` (scopes members.read team_data.member events.read team_info.read
    /// sessions.list) or
    /// `reclaim` (team_info.read members.write members.delete team_data.member). Each is its
    /// own scoped app in the Dropbox App Console.
    #[arg(long, value_parser = parse_slot)]
    pub slot: Slot,

    /// The app key (App Console → your app → Settings).
    #[arg(long, value_name = "KEY", value_parser = parse_text)]
    pub app_key: String,

    /// Read the app secret from stdin (as --client-secret-stdin of set-box); otherwise prompt.
    #[arg(long)]
    pub app_secret_stdin: bool,
}

pub fn parse_slot(s: &str) -> Result<Slot, String> {
    s.parse()
}

#[derive(Debug, Args)]
pub struct SetBoxArgs {
    /// The profile id.
    #[arg(value_parser = parse_profile_id)]
    pub id: String,

    /// The Box app's client id (Developer Console → your app → Configuration → OAuth 2.0
    /// Credentials).
    #[arg(long, value_name = "X", value_parser = parse_text)]
    pub client_id: String,

    /// Read the client secret from stdin (all of it; surrounding whitespace is trimmed), e.g.
    /// `printf %s "$SECRET" | seatctl credentials set-box ID --client-id X --client-secret-stdin`.
    /// Without this flag seatctl prompts for it without echo, which needs a terminal.
    #[arg(long)]
    pub client_secret_stdin: bool,
}

pub async fn run(ctx: &Ctx, cmd: CredentialsCommand, out: &mut dyn Write) -> Result<(), CliError> {
    match cmd {
        CredentialsCommand::SetBox(a) => set_box(ctx, a, out).await,
        CredentialsCommand::SetDropboxApp(a) => set_dropbox_app(ctx, a, out).await,
    }
}

/// Where the secret comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretSource {
    Stdin,
    Prompt,
}

/// Typed on a terminal, stdin would echo: a terminal always gets the no-echo prompt.
pub fn secret_source(from_stdin: bool, stdin_is_tty: bool) -> Result<SecretSource, CliError> {
    match (from_stdin, stdin_is_tty) {
        (_, true) => Ok(SecretSource::Prompt),
        (true, false) => Ok(SecretSource::Stdin),
        (false, false) => Err(CliError::Invalid(
            "no client secret: stdin is not a terminal, so seatctl cannot prompt for it; pipe the \
             secret in and pass --client-secret-stdin"
                .to_owned(),
        )),
    }
}

/// Reads the whole secret from `r`.
pub fn read_secret(r: impl Read) -> Result<SecretString, CliError> {
    let mut raw = String::new();
    let read = r
        .take(MAX_SECRET_BYTES + 1)
        .read_to_string(&mut raw)
        .map_err(|e| CliError::Io {
            context: "could not read the client secret from stdin",
            source: e,
        });
    let result = read.and_then(|n| {
        if n as u64 > MAX_SECRET_BYTES {
            Err(CliError::Invalid(format!(
                "the client secret on stdin is longer than {MAX_SECRET_BYTES} bytes; pipe only the secret"
            )))
        } else {
            clean_secret(&raw)
        }
    });
    raw.zeroize();
    result
}

/// Trims the secret and refuses what cannot be a client secret (without quoting it).
pub fn clean_secret(raw: &str) -> Result<SecretString, CliError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(CliError::Invalid("the client secret is empty".to_owned()));
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(CliError::Invalid(
            "the client secret contains spaces, line breaks or control characters; provide only \
             the secret"
                .to_owned(),
        ));
    }
    Ok(SecretString::from(s.to_owned()))
}

fn prompt_secret(what: &str, id: &str) -> Result<SecretString, CliError> {
    let mut raw =
        rpassword::prompt_password(format!("{what} for profile {id}: ")).map_err(|e| {
            CliError::Io {
                context: "could not read the client secret from the terminal",
                source: e,
            }
        })?;
    let result = clean_secret(&raw);
    raw.zeroize();
    result
}

async fn set_box(ctx: &Ctx, a: SetBoxArgs, out: &mut dyn Write) -> Result<(), CliError> {
    // the profile first, so nobody types a secret for a profile that does not exist
    let p = ctx.profile(&a.id).await?;
    if p.provider != Provider::Box {
        return Err(CliError::Invalid(format!(
            "profile {} is a {} profile; set-box stores credentials of Box profiles",
            p.id, p.provider
        )));
    }
    let enterprise_id = p
        .box_enterprise_id
        .clone()
        .ok_or_else(|| CliError::Invalid(format!("profile {} has no Box enterprise id", p.id)))?;
    let client_secret = match secret_source(a.client_secret_stdin, io::stdin().is_terminal())? {
        SecretSource::Stdin => read_secret(io::stdin().lock())?,
        SecretSource::Prompt => prompt_secret("Box client secret", &p.id)?,
    };
    let creds = BoxCredentials {
        client_id: a.client_id,
        client_secret,
        enterprise_id,
    };
    ctx.secrets
        .put_box_credentials(&p.credentials_secret, &creds)
        .await?;
    line(
        out,
        format!(
            "stored credentials for {} in secret {}",
            p.id, p.credentials_secret
        ),
    )?;
    line(
        out,
        format!(
            "check them with `seatctl sync {}` (Application Access task)",
            p.id
        ),
    )
}

async fn set_dropbox_app(
    ctx: &Ctx,
    a: SetDropboxAppArgs,
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let p = ctx.profile(&a.id).await?;
    if p.provider != Provider::Dropbox {
        return Err(CliError::Invalid(format!(
            "profile {} is a {} profile; set-dropbox-app stores apps of Dropbox profiles",
            p.id, p.provider
        )));
    }
    let app_secret = match secret_source(a.app_secret_stdin, io::stdin().is_terminal())? {
        SecretSource::Stdin => read_secret(io::stdin().lock())?,
        SecretSource::Prompt => prompt_secret("Dropbox app secret", &p.id)?,
    };
    let name = Profile::dropbox_secret_name(&p.id, a.slot.as_str());
    // The same app again keeps the slot's connection; another app starts unconnected.
    let existing = ctx.secrets.dropbox_credentials(&name).await.ok();
    let kept = existing.filter(|c| c.app_key == a.app_key);
    let connected = kept.as_ref().is_some_and(|c| c.refresh_token.is_some());
    let creds = DropboxCredentials {
        app_key: a.app_key,
        app_secret,
        refresh_token: kept.as_ref().and_then(|c| c.refresh_token.clone()),
        team_id: kept.as_ref().and_then(|c| c.team_id.clone()),
        team_name: kept.as_ref().and_then(|c| c.team_name.clone()),
        admin_team_member_id: kept.as_ref().and_then(|c| c.admin_team_member_id.clone()),
        admin_email: kept.as_ref().and_then(|c| c.admin_email.clone()),
        connected_at: kept.as_ref().and_then(|c| c.connected_at),
    };
    ctx.secrets.put_dropbox_credentials(&name, &creds).await?;
    line(
        out,
        format!(
            "stored the {} app of {} in secret {name}",
            a.slot.as_str(),
            p.id
        ),
    )?;
    if connected {
        line(out, "the slot stays connected (same app)")
    } else {
        line(
            out,
            format!(
                "next: seatctl connect dropbox --profile {} --slot {}",
                p.id,
                a.slot.as_str()
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn source_depends_on_flag_and_terminal() {
        assert_eq!(secret_source(true, false).unwrap(), SecretSource::Stdin);
        assert_eq!(secret_source(true, true).unwrap(), SecretSource::Prompt);
        assert_eq!(secret_source(false, true).unwrap(), SecretSource::Prompt);
        let e = secret_source(false, false).unwrap_err().to_string();
        assert!(e.contains("--client-secret-stdin"), "{e}");
    }

    #[test]
    fn reads_and_trims_stdin() {
        let s = read_secret("s3cr3t-value\n".as_bytes()).unwrap();
        assert_eq!(s.expose_secret(), "s3cr3t-value");
        let s = read_secret("  abc\r\n".as_bytes()).unwrap();
        assert_eq!(s.expose_secret(), "abc");
    }

    #[test]
    fn refuses_bad_secrets_without_quoting_them() {
        for bad in ["", " \n", "tw0 w0rds", "l1ne\nbr3ak"] {
            let e = read_secret(bad.as_bytes()).unwrap_err().to_string();
            assert!(e.contains("client secret"), "{e}");
            for word in ["tw0", "w0rds", "l1ne", "br3ak"] {
                assert!(!e.contains(word), "{e} quotes the input");
            }
        }
        let big = "x".repeat(MAX_SECRET_BYTES as usize + 10);
        let e = read_secret(big.as_bytes()).unwrap_err().to_string();
        assert!(e.contains("longer than"), "{e}");
        assert!(!e.contains("xxxx"));
    }
}
