//! Every way a command can fail, as one message an operator can act on. `main` prints
//! `error: <message>` and exits with [`CliError::exit_code`].
use std::io;

use seatkeeper::config::ConfigError;
use seatkeeper::domain::ProfileError;
use seatkeeper::ports::StoreError;
use seatkeeper::secrets::SecretError;
use seatkeeper::sync::SyncError;
use seatkeeper::wiring::StartupError;
use thiserror::Error;

use crate::money::MoneyError;

#[derive(Debug, Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Startup(#[from] StartupError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error(transparent)]
    Sync(#[from] SyncError),
    #[error(transparent)]
    Profile(#[from] ProfileError),
    #[error(transparent)]
    Money(#[from] MoneyError),
    #[error(transparent)]
    Connect(#[from] seatkeeper::connect::ConnectError),
    #[error(transparent)]
    Notify(#[from] seatkeeper::notify::NotifyError),
    #[error("profile {0} does not exist (see `seatctl profile list`)")]
    UnknownProfile(String),
    /// A bad argument found after parsing (exit status 2, like clap's own usage errors).
    #[error("{0}")]
    Usage(String),
    /// Input that parsed but makes no sense for this profile or state.
    #[error("{0}")]
    Invalid(String),
    #[error("sync of profile {profile} failed (run {run_id}): {message}")]
    SyncFailed {
        profile: String,
        run_id: String,
        message: String,
    },
    #[error("{context}: {source}")]
    Io {
        context: &'static str,
        #[source]
        source: io::Error,
    },
    /// `seatctl restore` restored nothing (cannot be undone, refused, nothing to restore).
    #[error("{0}")]
    NotRestored(String),
    /// Something is under way that must end first: try again (exit 4).
    #[error("{0}")]
    Busy(String),
    #[error("could not write output: {0}")]
    Output(#[source] io::Error),
    #[error("could not encode output: {0}")]
    Encode(String),
}

impl CliError {
    /// A closed pipe (`seatctl seats x | head`) is how the reader says it has enough: not an error.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, CliError::Output(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }

    /// The message for the operator: AWS connection and credential failures become one sentence
    /// saying what to check (the SDK's whole chain is logged at `-v` debug); the rest as is.
    pub fn human(&self) -> String {
        let full = self.to_string();
        aws_hint(&full).unwrap_or(full)
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            e if e.is_broken_pipe() => 0,
            CliError::Usage(_) => 2,
            CliError::NotRestored(_) => 3,
            CliError::Busy(_) => 4,
            _ => 1,
        }
    }
}

/// One sentence for the AWS failures an operator can fix, recognised in an error's text.
pub fn aws_hint(text: &str) -> Option<String> {
    let service = ["DynamoDB", "Secrets Manager", "SQS"]
        .into_iter()
        .find(|s| text.contains(s))
        .unwrap_or("AWS");
    let has = |needles: &[&str]| needles.iter().any(|n| text.contains(n));
    let endpoint = std::env::var("AWS_ENDPOINT_URL")
        .ok()
        .filter(|e| !e.is_empty());
    let hint = if has(&[
        "no credentials found",
        "credential provider was not enabled",
    ]) {
        format!(
            "no AWS credentials found for {service}: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), or run `aws sso login`"
        )
    } else if has(&["region", "Region"]) && has(&["no region", "No region", "region must be set"]) {
        "no AWS region set: set AWS_REGION (or a region in your AWS_PROFILE) to the stack's region"
            .to_owned()
    } else if has(&[
        "tcp connect error",
        "Connection refused",
        "dns error",
        "ConnectError",
        "timed out",
        "TimeoutError",
    ]) {
        match endpoint {
            Some(e) => format!(
                "could not reach {service} at {e} (AWS_ENDPOINT_URL): is the local stack running?"
            ),
            None => format!(
                "could not reach {service}: check your network and AWS_REGION (the stack's region)"
            ),
        }
    } else if has(&[
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredToken",
        "security token included in the request is invalid",
    ]) {
        format!("AWS refused the credentials for {service}: they are invalid or expired; refresh them (e.g. `aws sso login`)")
    } else if has(&["AccessDenied", "not authorized to perform"]) {
        format!("AWS denied {service} access to these credentials: grant the operator policy of docs/iam.md")
    } else if service == "DynamoDB" && has(&["ResourceNotFoundException"]) {
        "the table was not found: check TABLE_NAME (or --table) and AWS_REGION against the stack's outputs".to_owned()
    } else {
        return None;
    };
    Some(hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_pipe_is_quiet_success() {
        let e = CliError::Output(io::Error::from(io::ErrorKind::BrokenPipe));
        assert!(e.is_broken_pipe());
        assert_eq!(e.exit_code(), 0);
        assert_eq!(CliError::UnknownProfile("x".into()).exit_code(), 1);
        assert_eq!(CliError::Usage("x".into()).exit_code(), 2);
    }

    #[test]
    fn aws_failures_are_one_sentence() {
        let refused = "DynamoDB Query failed: dispatch failure: io error: client error (Connect): tcp connect error: Connection refused (os error 111) (DispatchFailure(...))";
        let h = aws_hint(refused).unwrap();
        assert!(h.starts_with("could not reach DynamoDB"), "{h}");
        assert!(!h.contains('\n') && !h.contains("DispatchFailure"));
        let creds = "DynamoDB Query failed: dispatch failure: other: the credential provider was not enabled: no credentials found in chain. Attempted:\n  Environment: ...";
        let h = aws_hint(creds).unwrap();
        assert!(h.contains("AWS_PROFILE") && !h.contains('\n'), "{h}");
        assert!(aws_hint(
            "DynamoDB GetItem failed: ResourceNotFoundException: Requested resource not found"
        )
        .unwrap()
        .contains("TABLE_NAME"));
        assert!(aws_hint("profile acme does not exist").is_none());
    }

    #[test]
    fn messages_name_the_problem() {
        assert_eq!(
            CliError::UnknownProfile("acme".into()).to_string(),
            "profile acme does not exist (see `seatctl profile list`)"
        );
        let e = CliError::SyncFailed {
            profile: "acme".into(),
            run_id: "r1".into(),
            message: "Box authentication failed".into(),
        };
        assert_eq!(
            e.to_string(),
            "sync of profile acme failed (run r1): Box authentication failed"
        );
    }
}
