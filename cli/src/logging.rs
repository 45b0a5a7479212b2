//! Logs: human-readable tracing on stderr, never JSON, no colours. WARN by default; `-v` info,
//! `-vv` debug, `-vvv` trace for seatctl and the library. Dependencies (AWS SDK, HTTP) stay at
//! WARN/INFO so request bodies (which can hold secrets) are never logged. `RUST_LOG` overrides.
use std::io::{self, Write};
use std::sync::Mutex;

use indicatif::ProgressBar;
use tracing_subscriber::EnvFilter;

/// The progress bar on screen, if any: log lines are written around it.
static ACTIVE_BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

pub fn set_active_bar(bar: Option<ProgressBar>) {
    if let Ok(mut slot) = ACTIVE_BAR.lock() {
        *slot = bar;
    }
}

/// stderr, but with the progress bar (if one is showing) cleared while a line is written.
struct StderrAroundBar;

impl Write for StderrAroundBar {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let bar = ACTIVE_BAR.lock().ok().and_then(|b| b.clone());
        match bar {
            Some(bar) => bar.suspend(|| io::stderr().write_all(buf).map(|()| buf.len())),
            None => io::stderr().write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

/// The filter for a `-v` count.
pub fn directives(verbose: u8) -> &'static str {
    match verbose {
        0 => "warn",
        1 => "warn,seatctl=info,seatkeeper=info",
        2 => "warn,seatctl=debug,seatkeeper=debug",
        _ => "info,seatctl=trace,seatkeeper=trace",
    }
}

pub fn init(verbose: u8) {
    let from_env = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .and_then(|v| EnvFilter::try_new(v).ok());
    let filter = from_env.unwrap_or_else(|| EnvFilter::new(directives(verbose)));
    // a second init (never in practice) keeps the first subscriber
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| StderrAroundBar)
        .with_ansi(false)
        .with_target(verbose >= 2)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_grow_with_v_and_parse() {
        for v in 0..5 {
            assert!(EnvFilter::try_new(directives(v)).is_ok(), "{v}");
        }
        assert_eq!(directives(0), "warn");
        assert!(directives(1).contains("seatkeeper=info"));
        assert!(directives(9).starts_with("info,"));
    }
}
