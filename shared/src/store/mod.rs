//! DynamoDB adapters of the repository ports ([`crate::ports::repos`]): one table, keys in
//! [`keys`], design written down in `docs/dynamodb.md`. Each aggregate has its own adapter over
//! the shared [`Table`]; [`Store`] bundles them for the services ([`Repos`]).
mod connects;
pub mod keys;
mod notices;
mod profiles;
mod reclaims;
mod runs;
mod seats;
mod table;

use aws_sdk_dynamodb::Client;

pub use crate::ports::StoreError;
pub use connects::ConnectTable;
pub use notices::NoticeTable;
pub use profiles::ProfileTable;
pub use reclaims::ReclaimTable;
pub use runs::RunTable;
pub use seats::SeatTable;
pub use table::Table;

use crate::ports::Repos;

/// Every repository of one table.
#[derive(Debug, Clone)]
pub struct Store {
    pub profiles: ProfileTable,
    pub seats: SeatTable,
    pub reclaims: ReclaimTable,
    pub runs: RunTable,
    pub connects: ConnectTable,
    pub notices: NoticeTable,
    table: Table,
}

impl Store {
    pub fn new(client: Client, table_name: impl Into<String>) -> Self {
        let table = Table::new(client, table_name);
        Self {
            profiles: ProfileTable::new(table.clone()),
            seats: SeatTable::new(table.clone()),
            reclaims: ReclaimTable::new(table.clone()),
            runs: RunTable::new(table.clone()),
            connects: ConnectTable::new(table.clone()),
            notices: NoticeTable::new(table.clone()),
            table,
        }
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        self.table.name()
    }

    /// Creates the table as the SAM template does (local stack and tests; in AWS the stack owns
    /// it). False if it exists already.
    pub async fn create_table(&self) -> Result<bool, StoreError> {
        self.table.create_table().await
    }
}

impl Repos for Store {
    type Profiles = ProfileTable;
    type Seats = SeatTable;
    type Reclaims = ReclaimTable;
    type Runs = RunTable;
    type Connects = ConnectTable;
    type Notices = NoticeTable;

    fn profiles(&self) -> &ProfileTable {
        &self.profiles
    }
    fn seats(&self) -> &SeatTable {
        &self.seats
    }
    fn reclaims(&self) -> &ReclaimTable {
        &self.reclaims
    }
    fn runs(&self) -> &RunTable {
        &self.runs
    }
    fn connects(&self) -> &ConnectTable {
        &self.connects
    }
    fn notices(&self) -> &NoticeTable {
        &self.notices
    }
}
