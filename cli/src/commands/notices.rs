//! `seatctl notices P`: notify mode's notices of a profile and where each stands.
use std::io::Write;

use clap::Args;
use seatkeeper::domain::{Notice, NoticeState};
use seatkeeper::ports::NoticeRepo;

use super::{parse_profile_id, Ctx};
use crate::error::CliError;
use crate::output::{self, line, write_json, write_table, Format};

#[derive(Debug, Args)]
pub struct NoticesArgs {
    /// The profile id (see `seatctl profile list`).
    #[arg(value_parser = parse_profile_id)]
    pub id: String,
    /// Only notices in this state (pending, sent, kept, due, requested, cancelled,
    /// notice_failed, no_email).
    #[arg(long, value_parser = |s: &str| s.parse::<NoticeState>())]
    pub state: Option<NoticeState>,
    /// Print the admins' digest as the next one would say it (everything since the last
    /// digest: new notices, keeps with their reasons, reclaims due tomorrow, done and failed),
    /// without sending it.
    #[arg(long, conflicts_with_all = ["state", "output", "resend"])]
    pub digest: bool,
    /// Send these users' failed notices again (`notice_failed` → `pending`; the next sync mails
    /// them, and their notice period starts then). `all` for every failed notice.
    #[arg(long, value_name = "USER|all", num_args = 1.., conflicts_with_all = ["state", "output"])]
    pub resend: Vec<String>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t)]
    pub output: Format,
}

/// What the last column says: the keep's reason, the failure, or the request.
fn note(n: &Notice) -> String {
    match n.state {
        NoticeState::Kept => format!(
            "kept until {}: {}",
            n.kept_until.map(output::date).unwrap_or_default(),
            n.keep_reason.as_deref().unwrap_or("(no reason given)")
        ),
        NoticeState::NoEmail => {
            "no email address in the roster: not notified, not reclaimed".into()
        }
        NoticeState::Requested => format!("request {}", n.request_id.as_deref().unwrap_or("?")),
        _ => n.last_error.clone().unwrap_or_default(),
    }
}

pub async fn run(ctx: &Ctx, a: NoticesArgs, out: &mut dyn Write) -> Result<(), CliError> {
    let p = ctx.profile(&a.id).await?;
    if a.digest {
        return match seatkeeper::notify::preview_digest(&ctx.store, &p, chrono::Utc::now()).await? {
            Some((subject, text)) => line(out, format!("Subject: {subject}\n\n{text}")),
            None => line(
                out,
                format!("nothing for {}'s digest since the last one", p.id),
            ),
        };
    }
    if !a.resend.is_empty() {
        return resend(ctx, &p.id, &a.resend, out).await;
    }
    let mut list = ctx.store.notices.notices(&p.id).await?;
    if let Some(s) = a.state {
        list.retain(|n| n.state == s);
    }
    // newest first
    list.sort_by(|x, y| {
        y.created_at
            .cmp(&x.created_at)
            .then_with(|| x.user_id.cmp(&y.user_id))
    });
    match a.output {
        Format::Json => write_json(out, &list),
        Format::Table if list.is_empty() => line(
            out,
            format!(
                "no notices for {} (mode {}; notices go out in notify mode after a sync)",
                p.id, p.rules.mode
            ),
        ),
        Format::Table => {
            let mut t = ctx.style.table([
                "user",
                "login",
                "state",
                "sent",
                "due",
                "reminders",
                "keep reason / error",
            ]);
            for n in &list {
                t.add_row(vec![
                    n.user_id.clone(),
                    n.login.clone(),
                    n.state.as_str().to_owned(),
                    n.sent_at
                        .map(output::datetime)
                        .unwrap_or_else(|| "-".into()),
                    n.due_at.map(output::date).unwrap_or_else(|| "-".into()),
                    if n.reminders_sent.is_empty() {
                        "-".into()
                    } else {
                        n.reminders_sent
                            .iter()
                            .map(|d| format!("{d}d"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    },
                    output::truncate(&note(n), 60),
                ]);
            }
            write_table(out, &t)
        }
    }
}

/// `--resend`: failed notices back to `pending` for the next sync.
async fn resend(
    ctx: &Ctx,
    profile_id: &str,
    users: &[String],
    out: &mut dyn Write,
) -> Result<(), CliError> {
    let all = users.iter().any(|u| u == "all");
    let now = chrono::Utc::now();
    let mut done = Vec::new();
    for mut n in ctx.store.notices.notices(profile_id).await? {
        let named = all
            || users
                .iter()
                .any(|u| *u == n.user_id || u.eq_ignore_ascii_case(&n.login));
        if named && n.resend(now).is_ok() {
            ctx.store.notices.save_notice(&mut n).await?;
            done.push(n.login.clone());
        }
    }
    if done.is_empty() {
        return Err(CliError::Invalid(format!(
            "no failed notice of {} for {} (see `seatctl notices {profile_id} --state notice_failed`)",
            if all { "any user".to_owned() } else { users.join(", ") },
            profile_id
        )));
    }
    line(
        out,
        format!(
            "{} notice(s) will be sent again by the next sync of {profile_id}: {}",
            done.len(),
            done.join(", ")
        ),
    )
}
