//! `seatctl table create`: the table for a local stack (moto). In AWS the SAM stack creates it.
use std::io::Write;

use clap::Subcommand;

use super::Ctx;
use crate::error::CliError;
use crate::output::{line, warn_user};

#[derive(Debug, Subcommand)]
pub enum TableCommand {
    /// Create the seatkeeper table (pk/sk strings, on-demand billing, TTL on `ttl`) if it does not
    /// exist. For a local stack (moto server via AWS_ENDPOINT_URL) and tests only: a deployed SAM
    /// stack creates and owns its table.
    Create,
}

pub async fn run(ctx: &Ctx, cmd: TableCommand, out: &mut dyn Write) -> Result<(), CliError> {
    match cmd {
        TableCommand::Create => {
            if std::env::var_os("AWS_ENDPOINT_URL").is_none() {
                warn_user(
                    "AWS_ENDPOINT_URL is not set: creating the table in your AWS account; \
                     a deployed seatkeeper stack already creates its own table",
                );
            }
            let table = ctx.store.table();
            if ctx.store.create_table().await? {
                line(out, format!("created table {table}"))
            } else {
                line(out, format!("table {table} already exists"))
            }
        }
    }
}
