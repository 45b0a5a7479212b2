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

    pub fn exit_code(&self) -> u8 {
        match self {
            e if e.is_broken_pipe() => 0,
            CliError::Usage(_) => 2,
            _ => 1,
        }
    }
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
