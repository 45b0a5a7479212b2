//! `seatctl restore`: gives a seat back during the undo window (or, for Dropbox, after the
//! removal while the member is recoverable), and says plainly what cannot be undone.
use std::io::Write;

use clap::Args;
use seatkeeper::undo::{self, RestoreArgs, RestoreError};
use seatkeeper::wiring;

use super::reclaim::operator;
use super::{parse_profile_id, parse_text, Ctx};
use crate::error::CliError;
use crate::output::line;

#[derive(Debug, Args)]
#[command(after_help = "\
During the undo window (rules `--removal suspend-first`) the user is unsuspended (Box: status
active again), the request ends `restored`, and the user is kept out of the candidates for the
rules' keep days. After a Dropbox removal the member is recovered with team/members/recover
while Dropbox still allows it (7 days); the files transferred at the removal stay with the
transfer admin. A deleted Box user cannot be restored: the message names the folder that holds
their files.

A user an admin had suspended before seatkeeper acted is not unsuspended (exit 3).

Exit status: 0 restored; 3 nothing restored (cannot be undone, refused by the provider, nothing
to restore, suspended by an admin before seatkeeper, unknown user); 4 busy (a removal or delivery is under way: try again); 1 other
errors.")]
pub struct RestoreCliArgs {
    /// The profile id (see `seatctl profile list`).
    #[arg(value_parser = parse_profile_id)]
    pub id: String,
    /// The user: the provider's user id (Box user id, Dropbox team_member_id) or the login.
    #[arg(value_parser = parse_text)]
    pub user: String,
    /// Why (e.g. a ticket number); recorded in the audit trail and with the keep.
    #[arg(long, value_name = "TEXT", value_parser = parse_text)]
    pub reason: Option<String>,
    /// Who restores (recorded in the audit trail). Default: $USER.
    #[arg(long, value_name = "NAME", value_parser = parse_text)]
    pub by: Option<String>,
}

pub async fn restore(ctx: &Ctx, a: RestoreCliArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let p = ctx.profile(&a.id).await?;
    let providers = wiring::provider_adapters(&ctx.config, &ctx.aws)?;
    let args = RestoreArgs {
        profile_id: p.id.clone(),
        user: a.user.clone(),
        by: operator(&a.by),
        reason: a.reason.clone(),
    };
    let r = undo::restore(&ctx.store, &providers, &args, ctx.now)
        .await
        .map_err(|e| match e {
            RestoreError::Busy(m) => CliError::Busy(m),
            RestoreError::CannotBeUndone(m)
            | RestoreError::SuspendedBefore(m)
            | RestoreError::NothingToRestore(m)
            | RestoreError::NotFound(m) => CliError::NotRestored(m),
            RestoreError::Refused(r) => CliError::NotRestored(format!(
                "{} refused the restore ({}): {}; nothing was changed",
                p.provider, r.code, r.reason
            )),
            RestoreError::NoProfile(id) => CliError::UnknownProfile(id),
            RestoreError::Store(e) => CliError::Store(e),
            other => CliError::Invalid(format!(
                "the restore of {} did not complete: {other}; run it again (a repeat is safe)",
                a.user
            )),
        })?;
    if r.recovered {
        line(
            out,
            format!(
                "recovered {} ({}) in {}: back in the team, and using a license again",
                r.login, r.user_id, p.id
            ),
        )?;
        line(
            out,
            format!(
                "the files transferred at the removal stay with admin {} (in that admin's Dropbox); move them back by hand if needed",
                r.files_with.as_deref().unwrap_or("(unknown)")
            ),
        )?;
    } else {
        line(
            out,
            format!(
                "restored {} ({}) in {}: unsuspended, nothing was removed",
                r.login, r.user_id, p.id
            ),
        )?;
    }
    line(
        out,
        format!(
            "kept: exempt from the rules until {} UTC (keep_days)",
            crate::output::datetime(r.kept_until)
        ),
    )?;
    line(
        out,
        format!(
            "request {} is now restored; see `seatctl reclaims {} --request {}`",
            r.request_id, p.id, r.request_id
        ),
    )
}
