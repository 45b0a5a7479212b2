//! The sync functions (box-sync, dropbox-sync): a ScheduleV2 input `{"profile":"<id>"}` syncs that
//! profile; `{}` syncs every enabled profile of the function's provider.
use lambda_runtime::Diagnostic;
use serde::Deserialize;
use thiserror::Error;

use crate::domain::{Provider, TaskKind};
use crate::metrics;
use crate::ports::{MailEvents, Mailer, ProviderAccess, Repos, RequestQueue};
use crate::sync::{NoProgress, SyncError, SyncReport, Syncer};

/// The schedule's `Input`. Unknown fields are refused: a typo like `{"profle":"x"}` must not
/// silently sync every profile.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncInput {
    #[serde(default)]
    pub profile: Option<String>,
}

#[derive(Debug, Error)]
pub enum HandlerError {
    #[error("bad input: {0} (expected {{}} or {{\"profile\":\"<id>\"}})")]
    BadInput(String),
    #[error("{failed} of {total} profile sync(s) failed: {summary}")]
    SyncFailed {
        failed: usize,
        total: usize,
        summary: String,
    },
    #[error(transparent)]
    Sync(#[from] SyncError),
}

impl From<HandlerError> for Diagnostic {
    fn from(e: HandlerError) -> Self {
        let error_type = match &e {
            HandlerError::BadInput(_) => "BadInput",
            HandlerError::SyncFailed { .. } => "SyncFailed",
            HandlerError::Sync(_) => "SyncError",
        };
        Diagnostic {
            error_type: error_type.into(),
            error_message: e.to_string(),
        }
    }
}

pub fn parse_input(payload: serde_json::Value) -> Result<SyncInput, HandlerError> {
    let input = match payload {
        // a scheduler with no Input, or an empty invoke
        serde_json::Value::Null => SyncInput::default(),
        v => serde_json::from_value::<SyncInput>(v)
            .map_err(|e| HandlerError::BadInput(e.to_string()))?,
    };
    if let Some(p) = &input.profile {
        crate::domain::ids::ProfileId::parse(p)
            .map_err(|e| HandlerError::BadInput(e.to_string()))?;
    }
    Ok(input)
}

/// Runs the sync the input asks for. The invocation fails if any profile failed, after every
/// profile has had its turn.
pub async fn handle<R: Repos, P: ProviderAccess, Q: RequestQueue, M: Mailer, E: MailEvents>(
    sync: &Syncer<R, P, Q, M, E>,
    payload: serde_json::Value,
) -> Result<SyncReport, HandlerError> {
    let input = parse_input(payload)?;
    let report = match input.profile {
        Some(id) => SyncReport {
            profiles: vec![Box::pin(sync.sync_or_record(&id, &NoProgress)).await],
        },
        None => Box::pin(sync.sync_all(&NoProgress)).await?,
    };
    crate::metrics::emit(&metric_lines(sync.provider, &report));
    let failed = report.failed();
    if failed.is_empty() {
        Ok(report)
    } else {
        Err(HandlerError::SyncFailed {
            failed: failed.len(),
            total: report.profiles.len(),
            summary: failed
                .iter()
                .map(|o| {
                    format!(
                        "{}: {}",
                        o.profile_id,
                        o.error.as_deref().unwrap_or("failed")
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
        })
    }
}

/// The EMF lines of an invocation (`docs/metrics.md`): one `task` line per task run that ran,
/// and one `sync` line per finished profile sync.
pub fn metric_lines(provider: Provider, report: &SyncReport) -> Vec<serde_json::Value> {
    let mut lines = Vec::new();
    for o in &report.profiles {
        lines.extend(
            o.tasks
                .iter()
                .filter_map(|t| metrics::task_line(provider, t)),
        );
        if o.succeeded {
            let last = o.tasks.iter().filter_map(|t| t.ended_at).max();
            let candidates = o
                .task(TaskKind::Reclamation)
                .map_or(0, |t| t.counts.candidates);
            lines.push(metrics::sync_line(
                provider,
                &o.profile_id,
                &o.run_id,
                &o.summaries,
                candidates,
                last.unwrap_or_else(chrono::Utc::now),
            ));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn input_forms() {
        assert_eq!(parse_input(json!({})).unwrap().profile, None);
        assert_eq!(parse_input(serde_json::Value::Null).unwrap().profile, None);
        assert_eq!(
            parse_input(json!({"profile":"acme"}))
                .unwrap()
                .profile
                .as_deref(),
            Some("acme")
        );
        for bad in [
            json!({"profle":"acme"}),
            json!({"profile":5}),
            json!({"profile":"Bad Id"}),
            json!([1]),
        ] {
            let e = parse_input(bad.clone()).unwrap_err();
            assert!(matches!(e, HandlerError::BadInput(_)), "{bad}: {e}");
        }
        let d: Diagnostic = parse_input(json!({"x":1})).unwrap_err().into();
        assert_eq!(d.error_type, "BadInput");
    }
}
