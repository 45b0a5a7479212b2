//! Rendering: tables (comfy-table), JSON and CSV. Commands build rows; this module decides how
//! they look. Everything renders into a `Write` so it is testable and a closed pipe is not a panic.
use std::io::{self, IsTerminal, Write};

use chrono::{DateTime, Utc};
use clap::ValueEnum;
use comfy_table::{presets, Cell, Color, ContentArrangement, Table};
use serde::Serialize;

use crate::error::CliError;

/// Output of commands that show records: a table for people, JSON for programs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Format {
    /// Aligned columns for reading in a terminal.
    #[default]
    Table,
    /// Pretty-printed JSON, every field untruncated; timestamps are RFC 3339 UTC.
    Json,
}

/// Output of commands that list rows: also CSV for spreadsheets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum RowFormat {
    /// Aligned columns for reading in a terminal.
    #[default]
    Table,
    /// A JSON array of objects, every field untruncated; timestamps are RFC 3339 UTC.
    Json,
    /// CSV with a header row; timestamps are RFC 3339 UTC, absent values are empty.
    Csv,
}

/// Narrower terminals get unwrapped tables (wrapping would make columns unreadable).
const MIN_WRAP_WIDTH: u16 = 60;

/// Width of tables when stdout is not a terminal and `COLUMNS` is not set.
pub const PIPE_WIDTH: u16 = 160;

/// How tables are drawn: colours only on a terminal; long cells wrap so that a table fits the
/// terminal (or `COLUMNS`, or 160 columns when stdout is a pipe or a file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub tty: bool,
    pub color: bool,
    /// The width tables wrap to; `None`: the terminal's own width.
    pub width: Option<u16>,
}

impl Style {
    /// For stdout as it is now (`NO_COLOR` turns colours off).
    pub fn detect() -> Self {
        let tty = io::stdout().is_terminal();
        Style {
            tty,
            color: tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
            width: table_width(tty, std::env::var("COLUMNS").ok().as_deref()),
        }
    }

    /// No terminal: what pipes and files get.
    #[cfg(test)]
    pub fn plain() -> Self {
        Style {
            tty: false,
            color: false,
            width: Some(PIPE_WIDTH),
        }
    }

    /// A table with a header row.
    pub fn table<I, S>(&self, header: I) -> Table
    where
        I: IntoIterator<Item = S>,
        S: Into<Cell>,
    {
        let mut t = self.new_table();
        t.set_header(header);
        t
    }

    /// A two-column key/value table without a header.
    pub fn key_values(&self, rows: Vec<(&str, String)>) -> Table {
        let mut t = self.new_table();
        for (k, v) in rows {
            t.add_row(vec![Cell::new(k), Cell::new(v)]);
        }
        t
    }

    fn new_table(&self) -> Table {
        let mut t = Table::new();
        if self.tty {
            t.load_preset(presets::UTF8_FULL_CONDENSED);
        } else {
            // no width detection, no styling and plain ASCII borders: stable output for pipes,
            // files and CI logs (one byte per column, whatever reads it)
            t.load_preset(presets::ASCII_FULL_CONDENSED);
            t.force_no_tty();
        }
        if let Some(w) = self.width {
            t.set_width(w);
            t.set_content_arrangement(ContentArrangement::Dynamic);
        } else if t.width().is_some_and(|w| w >= MIN_WRAP_WIDTH) {
            // wrap long cells to the terminal; a terminal that reports no or a tiny width
            // (some ptys say 0) gets unwrapped rows rather than one-letter columns
            t.set_content_arrangement(ContentArrangement::Dynamic);
        }
        t
    }

    /// A cell coloured by meaning (only on a colour terminal).
    pub fn status_cell(&self, text: &str) -> Cell {
        let cell = Cell::new(text);
        if !self.color {
            return cell;
        }
        match text {
            "succeeded" | "enabled" | "yes" => cell.fg(Color::Green),
            "failed" | "disabled" => cell.fg(Color::Red),
            "running" => cell.fg(Color::Yellow),
            "skipped" => cell.fg(Color::DarkGrey),
            _ => cell,
        }
    }
}

/// The width tables wrap to: `COLUMNS` when set (and sensible), else the terminal's (`None`),
/// else [`PIPE_WIDTH`].
pub fn table_width(tty: bool, columns: Option<&str>) -> Option<u16> {
    match columns.and_then(|c| c.trim().parse::<u16>().ok()) {
        Some(c) if c >= MIN_WRAP_WIDTH => Some(c),
        _ if tty => None,
        _ => Some(PIPE_WIDTH),
    }
}

/// Keeps the given columns on one line each (short labels, numbers, dates): only the other
/// columns wrap when the table is narrowed to its width.
pub fn no_wrap(t: &mut Table, columns: impl IntoIterator<Item = usize>) {
    for i in columns {
        if let Some(c) = t.column_mut(i) {
            c.set_constraint(comfy_table::ColumnConstraint::ContentWidth);
        }
    }
}

/// Writes a table followed by a newline.
pub fn write_table(out: &mut dyn Write, table: &Table) -> Result<(), CliError> {
    writeln!(out, "{table}").map_err(CliError::Output)
}

/// Writes pretty JSON followed by a newline.
pub fn write_json<T: Serialize + ?Sized>(out: &mut dyn Write, value: &T) -> Result<(), CliError> {
    serde_json::to_writer_pretty(&mut *out, value)
        .map_err(|e| CliError::Output(io::Error::from(e)))?;
    writeln!(out).map_err(CliError::Output)
}

/// Writes CSV: `header`, then one record per row (flat structs whose fields match `header`).
/// The header is written even when there are no rows, so an empty result is still valid CSV.
pub fn write_csv<T: Serialize>(
    out: &mut dyn Write,
    header: &[&str],
    rows: &[T],
) -> Result<(), CliError> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(&mut *out);
    w.write_record(header).map_err(csv_error)?;
    for r in rows {
        w.serialize(r).map_err(csv_error)?;
    }
    w.flush().map_err(CliError::Output)
}

/// The header serde would write for `row` (for tests that keep a fixed header in step).
#[cfg(test)]
pub fn csv_header_of<T: Serialize>(row: &T) -> String {
    let mut w = csv::WriterBuilder::new()
        .has_headers(true)
        .from_writer(Vec::new());
    w.serialize(row).unwrap();
    let bytes = w.into_inner().unwrap();
    String::from_utf8(bytes)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_owned()
}

fn csv_error(e: csv::Error) -> CliError {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => CliError::Output(io),
        other => CliError::Encode(format!("CSV: {other:?}")),
    }
}

/// Writes one line of text.
pub fn line(out: &mut dyn Write, text: impl std::fmt::Display) -> Result<(), CliError> {
    writeln!(out, "{text}").map_err(CliError::Output)
}

/// A warning for the operator on stderr (`warning: …`), outside the logs. Best effort.
pub fn warn_user(text: impl std::fmt::Display) {
    let _ = writeln!(io::stderr(), "warning: {text}");
}

/// `2026-11-23`
pub fn date(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

/// `2026-11-23 12:00:05` (UTC)
pub fn datetime(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

pub fn opt_date(t: Option<DateTime<Utc>>) -> String {
    t.map(date).unwrap_or_else(|| "-".to_owned())
}

pub fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "-".to_owned())
}

/// Shortens `s` to at most `max` characters, ending in `…` when cut (never splits a character).
/// Line breaks become spaces so one record stays one table row.
pub fn truncate(s: &str, max: usize) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() <= max {
        return flat;
    }
    let keep = max.saturating_sub(1);
    let mut out: String = flat.chars().take(keep).collect();
    out.push('…');
    out
}

/// Like [`truncate`], ending in `...` (for tables read off a terminal, where `…` is three bytes).
pub fn truncate_ascii(s: &str, max: usize) -> String {
    let t = truncate(s, max);
    match t.strip_suffix('…') {
        Some(kept) if !s.ends_with('…') || t.chars().count() < s.chars().count() => {
            let mut k: String = kept.chars().take(max.saturating_sub(3)).collect();
            k.push_str("...");
            k
        }
        _ => t,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[derive(Serialize)]
    struct Row {
        id: &'static str,
        n: u32,
        at: Option<DateTime<Utc>>,
        note: Option<String>,
    }

    fn rows() -> Vec<Row> {
        vec![
            Row {
                id: "a",
                n: 1,
                at: Some(Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap()),
                note: Some("has, comma".into()),
            },
            Row {
                id: "b",
                n: 2,
                at: None,
                note: None,
            },
        ]
    }

    #[test]
    fn csv_has_header_quotes_and_empty_absent_values() {
        let mut buf = Vec::new();
        write_csv(&mut buf, &["id", "n", "at", "note"], &rows()).unwrap();
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "id,n,at,note\na,1,2026-01-02T03:04:05Z,\"has, comma\"\nb,2,,\n"
        );
    }

    #[test]
    fn csv_of_nothing_is_just_the_header() {
        let mut buf = Vec::new();
        write_csv::<Row>(&mut buf, &["id", "n", "at", "note"], &[]).unwrap();
        assert_eq!(String::from_utf8(buf).unwrap(), "id,n,at,note\n");
        assert_eq!(csv_header_of(&rows()[0]), "id,n,at,note");
    }

    #[test]
    fn json_is_an_array_of_objects() {
        let mut buf = Vec::new();
        write_json(&mut buf, &rows()).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
        assert_eq!(v[0]["id"], "a");
        assert_eq!(v[0]["at"], "2026-01-02T03:04:05Z");
        assert!(v[1]["note"].is_null());
        assert!(buf.ends_with(b"\n"));
    }

    #[test]
    fn plain_tables_have_no_escape_codes() {
        let s = Style::plain();
        let mut t = s.table(["status", "x"]);
        t.add_row(vec![s.status_cell("failed"), Cell::new("1")]);
        let text = t.to_string();
        assert!(text.contains("failed") && text.contains("status"));
        assert!(!text.contains('\u{1b}'), "{text:?}");
        let colored = Style {
            tty: false,
            color: true,
            width: None,
        };
        // colours are asked for, but comfy-table only styles on a terminal
        let mut t = colored.table(["status"]);
        t.add_row(vec![colored.status_cell("failed")]);
        assert!(!t.to_string().contains('\u{1b}'));
    }

    #[test]
    fn tables_fit_the_width() {
        assert_eq!(table_width(false, None), Some(PIPE_WIDTH));
        assert_eq!(table_width(false, Some("100")), Some(100));
        assert_eq!(table_width(true, None), None);
        assert_eq!(table_width(true, Some("junk")), None);
        assert_eq!(table_width(false, Some("10")), Some(PIPE_WIDTH));
        let s = Style::plain();
        let mut t = s.table(["id", "detail", "more"]);
        t.add_row(vec!["1".to_owned(), "word ".repeat(80), "x".repeat(300)]);
        let text = t.to_string();
        let widest = text.lines().map(|l| l.chars().count()).max().unwrap();
        assert!(widest <= usize::from(PIPE_WIDTH), "{widest}\n{text}");
    }

    #[test]
    fn key_values_render_each_pair() {
        let t = Style::plain().key_values(vec![("id", "acme".into()), ("enabled", "yes".into())]);
        let text = t.to_string();
        assert!(text.contains("id") && text.contains("acme") && text.contains("enabled"));
    }

    #[test]
    fn truncation_is_char_safe() {
        assert_eq!(truncate("short", 10), "short");
        assert_eq!(truncate("exactly10!", 10), "exactly10!");
        assert_eq!(truncate("this is too long", 8), "this is…");
        assert_eq!(truncate("ééééé", 3), "éé…");
        assert_eq!(truncate("a\nb", 5), "a b");
        assert_eq!(truncate_ascii("this is too long", 8), "this ...");
        assert_eq!(truncate_ascii("short", 8), "short");
    }

    #[test]
    fn dates() {
        let t = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 5).unwrap();
        assert_eq!(date(t), "2026-11-23");
        assert_eq!(datetime(t), "2026-11-23 12:00:05");
        assert_eq!(opt_date(None), "-");
        assert_eq!(opt(Some(3)), "3");
    }
}
