//! The Box enterprise the sandbox serves: users, `admin_logs` events and access tokens.
//!
//! A tenant is generated deterministically from a [`BoxTenantSpec`] (same seed, size and `now`
//! give the same users and events), then mutated by tests through [`BoxTenantHandle`].

use std::collections::{BTreeMap, HashMap};
use std::sync::MutexGuard;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::rngs::{SmallRng, StdRng};
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::generate::{
    between, each_login, from_secs, insert_event, joined, last_login, now_secs, pick, random_ip,
    sequence, People, Timed, DAY,
};
use crate::util::{mix64, random_token, Shared};

/// Id of the first generated user; the others follow in order.
pub const FIRST_USER_ID: u64 = 10_000_001;
/// Id of the service account that a client-credentials token for the enterprise acts as
/// (`GET /users/me`). It is not an enterprise user and is not listed by `GET /users`.
pub const SERVICE_ACCOUNT_ID: u64 = 9_999_999;
const _: () = assert!(SERVICE_ACCOUNT_ID < FIRST_USER_ID);
/// Box renders actors it can't name (e.g. a deleted or unknown user) as user `2`.
const ANONYMOUS_USER_ID: u64 = 2;
/// Files owned by generated users: user `FIRST_USER_ID + i` owns `GENERATED_FILE_BASE + 4i + k`.
const GENERATED_FILE_BASE: u64 = 500_000_000_000;
/// Files made by [`BoxTenantHandle::set_owned_files`] and folders made by transfers.
const FIRST_FRESH_ITEM_ID: u64 = 600_000_000_001;

const UNLIMITED_SPACE: i64 = 999_999_999_999_999;
const TEN_GB: i64 = 10_737_418_240;

/// What to generate.
#[derive(Clone, Debug)]
pub struct BoxTenantSpec {
    pub seed: u64,
    pub users: usize,
    pub enterprise_id: String,
    pub client_id: String,
    pub client_secret: String,
    /// The reference time: every generated timestamp is before it.
    pub now: DateTime<Utc>,
}

impl BoxTenantSpec {
    /// Enterprise `900001`, client `sandbox-box-client` / `sandbox-box-secret`, `now` = the
    /// current time truncated to seconds.
    pub fn new(users: usize, seed: u64) -> Self {
        BoxTenantSpec {
            seed,
            users,
            enterprise_id: "900001".to_string(),
            client_id: "sandbox-box-client".to_string(),
            client_secret: "sandbox-box-secret".to_string(),
            now: now_secs(),
        }
    }
}

/// A user of the enterprise, as the sandbox holds it (ground truth for tests).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoxUser {
    pub id: String,
    pub name: String,
    pub login: String,
    /// `admin` | `coadmin` | `user`
    pub role: String,
    /// `active` | `inactive` | `cannot_delete_edit` | `cannot_delete_edit_upload`
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
    /// True for App Users (they hold no paid seat and never log in).
    pub is_platform_access_only: bool,
    pub space_used: i64,
    /// `(name, value)` pairs, e.g. `("license", "business_plus")`.
    pub tracking_codes: Vec<(String, String)>,
    pub space_amount: i64,
    pub language: String,
    pub timezone: String,
    pub job_title: String,
    pub phone: String,
    pub external_app_user_id: Option<String>,
    pub notification_email: Option<String>,
}

/// A user to add with [`BoxTenantHandle::add_user`] (or `POST /_sandbox/box/users`).
/// In JSON only `name` and `login` are required; `role` defaults to `user`, `status` to
/// `active`, `created_at` to now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewBoxUser {
    pub name: String,
    pub login: String,
    #[serde(default = "default_role")]
    pub role: String,
    #[serde(default = "default_status")]
    pub status: String,
    #[serde(default)]
    pub is_platform_access_only: bool,
    #[serde(default = "now_secs")]
    pub created_at: DateTime<Utc>,
}

fn default_role() -> String {
    "user".to_string()
}

fn default_status() -> String {
    "active".to_string()
}

impl NewBoxUser {
    /// An active, regular (`user` role) managed user created now.
    pub fn member(name: impl Into<String>, login: impl Into<String>) -> Self {
        NewBoxUser {
            name: name.into(),
            login: login.into(),
            role: default_role(),
            status: default_status(),
            is_platform_access_only: false,
            created_at: now_secs(),
        }
    }

    /// The user with this id: modified when created, no space used, nothing else set.
    fn into_user(self, id: u64) -> BoxUser {
        BoxUser {
            id: id.to_string(),
            name: self.name,
            login: self.login,
            role: self.role,
            status: self.status,
            created_at: self.created_at,
            modified_at: self.created_at,
            is_platform_access_only: self.is_platform_access_only,
            space_used: 0,
            tracking_codes: Vec::new(),
            space_amount: UNLIMITED_SPACE,
            language: "en".to_string(),
            timezone: "America/Los_Angeles".to_string(),
            job_title: String::new(),
            phone: String::new(),
            external_app_user_id: None,
            notification_email: None,
        }
    }
}

/// An `admin_logs` event (ground truth for tests). `user_id` is the event's `created_by`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BoxEvent {
    pub event_id: String,
    pub event_type: String,
    pub created_at: DateTime<Utc>,
    pub user_id: String,
}

/// What an event's `source` refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SourceRef {
    User(u64),
    File(u64),
}

/// An event as stored: compact, because a 100k-user tenant has a few hundred thousand.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EventRec {
    pub at: i64,
    /// Unique and increasing in insertion order; `(at, seq)` orders the stream.
    pub seq: u32,
    pub etype: u16,
    pub user: u64,
    pub source: SourceRef,
    pub id: u128,
    pub ip: u32,
}

impl Timed for EventRec {
    fn key(&self) -> (i64, u32) {
        (self.at, self.seq)
    }
    fn set_seq(&mut self, seq: u32) {
        self.seq = seq;
    }
}

/// Event types whose `source` is a file rather than the acting user.
const FILE_EVENT_TYPES: &[&str] = &[
    "UPLOAD",
    "DOWNLOAD",
    "PREVIEW",
    "EDIT",
    "DELETE",
    "UNDELETE",
    "COPY",
    "MOVE",
    "LOCK",
    "UNLOCK",
    "RENAME",
    "ITEM_OPEN",
    "ITEM_MODIFY",
    "ITEM_SYNC",
    "ITEM_UNSYNC",
];

/// A transfer made by `PUT /users/{user_id}/folders/0` (ground truth for tests), in call order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BoxTransfer {
    pub from_user_id: String,
    pub to_user_id: String,
    /// The folder created for the destination user (`"<name>'s Files and Folders"`).
    pub folder_id: String,
    /// How many items the source owned directly (files and earlier transferred folders), all
    /// moved into the new folder; 0 for a transfer of a user who owned nothing.
    pub items_moved: usize,
}

/// An item a user owns directly, or that a folder holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Item {
    File(u64),
    Folder(u64),
}

impl Item {
    pub(crate) fn id(self) -> u64 {
        match self {
            Item::File(id) | Item::Folder(id) => id,
        }
    }
}

/// A folder made by a transfer.
#[derive(Clone, Debug)]
pub(crate) struct FolderRec {
    pub name: String,
    pub items: Vec<Item>,
    pub created_at: DateTime<Utc>,
}

pub(crate) struct TenantState {
    pub enterprise_id: String,
    pub enterprise_name: String,
    pub client_id: String,
    pub client_secret: String,
    pub now: DateTime<Utc>,
    /// Current users by numeric id (Box's listing order).
    pub users: BTreeMap<u64, BoxUser>,
    /// Deleted users, kept so that their events still name them.
    removed: HashMap<u64, BoxUser>,
    next_user_id: u64,
    /// Sorted by [`EventRec::key`].
    pub events: Vec<EventRec>,
    next_seq: u32,
    event_types: Vec<String>,
    event_type_ids: HashMap<String, u16>,
    tokens: HashMap<String, Instant>,
    /// Every access token ever issued, in order (for leak checks).
    issued: Vec<String>,
    pub token_ttl: Duration,
    pub service_account: BoxUser,
    /// Ownership of generated users derives from it.
    seed: u64,
    /// Users `FIRST_USER_ID..generated_end` were generated: until their holdings change they own
    /// [`TenantState::default_items`] (nothing is allocated per user or per file for them).
    generated_end: u64,
    /// The holdings of every user whose content changed (set, transferred away or received).
    owned: HashMap<u64, Vec<Item>>,
    /// Folders made by transfers, with what they hold.
    pub folders: HashMap<u64, FolderRec>,
    next_item_id: u64,
    transfers: Vec<BoxTransfer>,
    /// Users deleted by `DELETE /users/{user_id}`, in order.
    deleted: Vec<String>,
}

impl TenantState {
    /// The user an id names (current, deleted or the service account).
    pub(crate) fn any_user(&self, id: u64) -> Option<&BoxUser> {
        self.users
            .get(&id)
            .or_else(|| self.removed.get(&id))
            .or_else(|| (id == SERVICE_ACCOUNT_ID).then_some(&self.service_account))
    }

    /// What a generated user owns until their holdings change: non-app users 1-4 files (derived
    /// from the seed and the id), app users and added users nothing.
    fn default_items(&self, id: u64) -> Vec<Item> {
        let generated = (FIRST_USER_ID..self.generated_end).contains(&id);
        match self.users.get(&id) {
            Some(u) if generated && !u.is_platform_access_only => {
                let count = 1 + mix64(self.seed ^ id.rotate_left(29)) % 4;
                let first = GENERATED_FILE_BASE + (id - FIRST_USER_ID) * 4;
                (first..first + count).map(Item::File).collect()
            }
            _ => Vec::new(),
        }
    }

    /// What a current user owns directly (nothing for unknown or deleted users).
    pub(crate) fn holdings(&self, id: u64) -> Vec<Item> {
        if !self.users.contains_key(&id) {
            return Vec::new();
        }
        match self.owned.get(&id) {
            Some(items) => items.clone(),
            None => self.default_items(id),
        }
    }

    /// Forgets items (and, for folders, what they hold).
    fn drop_items(&mut self, items: Vec<Item>) {
        let mut stack = items;
        while let Some(item) = stack.pop() {
            if let Item::Folder(id) = item {
                if let Some(folder) = self.folders.remove(&id) {
                    stack.extend(folder.items);
                }
            }
        }
    }

    /// Replaces what a current user owns with `count` fresh files. False for unknown users.
    pub(crate) fn set_owned_files(&mut self, id: u64, count: usize) -> bool {
        if !self.users.contains_key(&id) {
            return false;
        }
        let old = self.holdings(id);
        self.drop_items(old);
        let first = self.next_item_id;
        self.next_item_id += count as u64;
        self.owned
            .insert(id, (first..first + count as u64).map(Item::File).collect());
        true
    }

    /// Moves everything `from` owns into a new folder owned by `to` (both current users); returns
    /// the folder id.
    pub(crate) fn transfer(&mut self, from: u64, to: u64, at: DateTime<Utc>) -> u64 {
        let items = self.holdings(from);
        self.owned.insert(from, Vec::new());
        let folder_id = self.next_item_id;
        self.next_item_id += 1;
        let name = self
            .users
            .get(&from)
            .map_or_else(String::new, |u| u.name.clone());
        let moved = items.len();
        self.folders.insert(
            folder_id,
            FolderRec {
                name: format!("{name}'s Files and Folders"),
                items,
                created_at: at,
            },
        );
        let mut dest = self.holdings(to);
        dest.push(Item::Folder(folder_id));
        self.owned.insert(to, dest);
        self.transfers.push(BoxTransfer {
            from_user_id: from.to_string(),
            to_user_id: to.to_string(),
            folder_id: folder_id.to_string(),
            items_moved: moved,
        });
        folder_id
    }

    /// Deletes a current user and what they own (their events stay). False if there was no such
    /// user.
    pub(crate) fn delete_user(&mut self, id: u64) -> bool {
        let items = self.holdings(id);
        match self.users.remove(&id) {
            Some(user) => {
                self.drop_items(items);
                self.owned.remove(&id);
                self.removed.insert(id, user);
                true
            }
            None => false,
        }
    }

    /// Records a deletion by `DELETE /users/{user_id}`.
    pub(crate) fn record_deleted(&mut self, id: u64) {
        self.deleted.push(id.to_string());
    }

    /// Bytes of an item (files have a size derived from their id; folders the sum of theirs).
    pub(crate) fn item_size(&self, item: Item) -> i64 {
        match item {
            Item::File(id) => file_size(id),
            Item::Folder(id) => self
                .folders
                .get(&id)
                .map_or(0, |f| f.items.iter().map(|i| self.item_size(*i)).sum()),
        }
    }

    pub(crate) fn event_type_name(&self, id: u16) -> &str {
        self.event_types
            .get(usize::from(id))
            .map_or("", String::as_str)
    }

    pub(crate) fn event_type_id(&self, name: &str) -> Option<u16> {
        self.event_type_ids.get(name).copied()
    }

    /// The interned ids of the event types that count as a sign-in.
    fn login_type_ids(&self) -> Vec<u16> {
        ["LOGIN", "ADD_LOGIN_ACTIVITY_DEVICE"]
            .iter()
            .filter_map(|t| self.event_type_id(t))
            .collect()
    }

    pub(crate) fn event_type_count(&self) -> usize {
        self.event_types.len()
    }

    fn intern_event_type(&mut self, name: &str) -> u16 {
        if let Some(&id) = self.event_type_ids.get(name) {
            return id;
        }
        let id = u16::try_from(self.event_types.len()).unwrap_or(u16::MAX);
        self.event_types.push(name.to_string());
        self.event_type_ids.insert(name.to_string(), id);
        id
    }

    /// Issues an access token valid for the tenant's ttl; returns it.
    pub(crate) fn issue_token(&mut self) -> String {
        let now = Instant::now();
        if self.tokens.len() >= 10_000 {
            self.tokens.retain(|_, expiry| *expiry > now);
        }
        let token = random_token(32);
        self.tokens.insert(token.clone(), now + self.token_ttl);
        self.issued.push(token.clone());
        token
    }

    pub(crate) fn token_is_valid(&self, token: &str) -> bool {
        self.tokens
            .get(token)
            .is_some_and(|expiry| *expiry > Instant::now())
    }

    fn public_event(&self, e: &EventRec) -> BoxEvent {
        BoxEvent {
            event_id: format_event_id(e.id),
            event_type: self.event_type_name(e.etype).to_string(),
            created_at: from_secs(e.at),
            user_id: e.user.to_string(),
        }
    }
}

/// The size of a file, derived from its id (10 kB to 20 MB).
pub(crate) fn file_size(id: u64) -> i64 {
    10_000 + (mix64(id) % 20_000_000) as i64
}

pub(crate) fn format_event_id(id: u128) -> String {
    uuid::Uuid::from_u128(id).hyphenated().to_string()
}

/// The running tenant: ground truth and mutation for tests. Cheap to clone; every clone
/// sees the same state.
#[derive(Clone)]
pub struct BoxTenantHandle {
    state: Shared<TenantState>,
}

impl std::fmt::Debug for BoxTenantHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("BoxTenantHandle")
            .field("enterprise_id", &state.enterprise_id)
            .field("users", &state.users.len())
            .field("events", &state.events.len())
            .finish_non_exhaustive()
    }
}

impl BoxTenantHandle {
    /// Generates the tenant `spec` describes; tokens live `token_ttl`.
    pub fn generate(spec: &BoxTenantSpec, token_ttl: Duration) -> Self {
        BoxTenantHandle {
            state: Shared::new(generate(spec, token_ttl)),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, TenantState> {
        self.state.lock()
    }

    /// Every current user, app users included, ordered by id.
    pub fn users(&self) -> Vec<BoxUser> {
        self.lock().users.values().cloned().collect()
    }

    /// The current user with this id.
    pub fn user(&self, id: &str) -> Option<BoxUser> {
        let id = id.parse::<u64>().ok()?;
        self.lock().users.get(&id).cloned()
    }

    /// Every `admin_logs` event, chronological.
    pub fn events(&self) -> Vec<BoxEvent> {
        let state = self.lock();
        state.events.iter().map(|e| state.public_event(e)).collect()
    }

    /// The latest `LOGIN` or `ADD_LOGIN_ACTIVITY_DEVICE` event of a user, if any: the answer
    /// a correct activity sync derives from the event stream.
    pub fn last_login(&self, user_id: &str) -> Option<DateTime<Utc>> {
        let id = user_id.parse::<u64>().ok()?;
        let state = self.lock();
        let login_types = state.login_type_ids();
        state
            .events
            .iter()
            .rev()
            .find(|e| e.user == id && login_types.contains(&e.etype))
            .map(|e| from_secs(e.at))
    }

    /// The latest event of a user of a type in [`ACTIVITY_EVENT_TYPES`] (a sign-in or their own
    /// content event): what `activity: any` derives.
    pub fn last_activity(&self, user_id: &str) -> Option<DateTime<Utc>> {
        self.last_activities().get(user_id).copied()
    }

    /// [`Self::last_activity`] of every user who has one, in one pass over the events.
    pub fn last_activities(&self) -> HashMap<String, DateTime<Utc>> {
        let state = self.lock();
        let types: Vec<u16> = ACTIVITY_EVENT_TYPES
            .iter()
            .filter_map(|t| state.event_type_id(t))
            .collect();
        let mut out = HashMap::new();
        for e in state
            .events
            .iter()
            .filter(|e| types.contains(&e.etype) && e.user != ANONYMOUS_USER_ID)
        {
            out.insert(e.user.to_string(), from_secs(e.at));
        }
        out
    }

    /// [`Self::last_login`] of every user who has one, in one pass over the events.
    pub fn last_logins(&self) -> HashMap<String, DateTime<Utc>> {
        let state = self.lock();
        let login_types = state.login_type_ids();
        let mut out = HashMap::new();
        for e in state
            .events
            .iter()
            .filter(|e| login_types.contains(&e.etype))
        {
            out.insert(e.user.to_string(), from_secs(e.at));
        }
        out
    }

    /// The tenant's reference time (generated data is before it).
    pub fn now(&self) -> DateTime<Utc> {
        self.lock().now
    }

    /// Adds a managed user (an app user if `is_platform_access_only`) with the next free id.
    pub fn add_user(&self, u: NewBoxUser) -> BoxUser {
        let mut state = self.lock();
        let id = state.next_user_id;
        state.next_user_id += 1;
        let user = u.into_user(id);
        state.users.insert(id, user.clone());
        user
    }

    /// Deletes a user and what they own (its events stay), as `DELETE /users/{id}?force=true`
    /// does, but without the API's checks and without being listed by [`Self::deleted_users`].
    /// False if there was no such user.
    pub fn remove_user(&self, id: &str) -> bool {
        let Ok(id) = id.parse::<u64>() else {
            return false;
        };
        self.lock().delete_user(id)
    }

    /// Whether a current (not deleted) user has this id.
    pub fn has_user(&self, user_id: &str) -> bool {
        user_id
            .parse::<u64>()
            .is_ok_and(|id| self.lock().users.contains_key(&id))
    }

    /// Ids of the items (files, and folders received by transfers) the user owns directly, in
    /// the order they were acquired; empty for unknown or deleted users.
    pub fn owned_items(&self, user_id: &str) -> Vec<String> {
        let Ok(id) = user_id.parse::<u64>() else {
            return Vec::new();
        };
        self.lock()
            .holdings(id)
            .iter()
            .map(|i| i.id().to_string())
            .collect()
    }

    /// Replaces what a user owns with `count` fresh files (what they owned before is
    /// forgotten). Unknown users are ignored.
    pub fn set_owned_files(&self, user_id: &str, count: usize) {
        if let Ok(id) = user_id.parse::<u64>() {
            self.lock().set_owned_files(id, count);
        }
    }

    /// Every transfer made by `PUT /users/{user_id}/folders/0`, in call order.
    pub fn transfers(&self) -> Vec<BoxTransfer> {
        self.lock().transfers.clone()
    }

    /// Ids of the users deleted by `DELETE /users/{user_id}`, in order.
    pub fn deleted_users(&self) -> Vec<String> {
        self.lock().deleted.clone()
    }

    /// Sets a user's status (and bumps `modified_at`). Unknown users are ignored.
    pub fn set_status(&self, id: &str, status: &str) {
        let Ok(id) = id.parse::<u64>() else {
            return;
        };
        if let Some(user) = self.lock().users.get_mut(&id) {
            user.status = status.to_string();
            user.modified_at = now_secs().max(user.modified_at);
        }
    }

    /// Records an `admin_logs` event by `user_id` at `at`; returns its `event_id`. Events of
    /// file types (`UPLOAD`, `DOWNLOAD`, ...) get a file as `source`, the others the user.
    /// A non-numeric `user_id` is recorded as the anonymous user `2`.
    pub fn add_event(&self, user_id: &str, event_type: &str, at: DateTime<Utc>) -> String {
        let user = user_id.parse::<u64>().unwrap_or(ANONYMOUS_USER_ID);
        let id = uuid::Uuid::new_v4().as_u128();
        let mut state = self.lock();
        let etype = state.intern_event_type(event_type);
        let seq = state.next_seq;
        state.next_seq = state.next_seq.saturating_add(1);
        let source = if FILE_EVENT_TYPES.contains(&event_type) {
            SourceRef::File(800_000_000_000 + u64::from(seq))
        } else {
            SourceRef::User(user)
        };
        let rec = EventRec {
            at: at.timestamp().clamp(0, i64::from(u32::MAX)),
            seq,
            etype,
            user,
            source,
            id,
            ip: u32::from_be_bytes([203, 0, 113, 10]),
        };
        insert_event(&mut state.events, rec);
        format_event_id(id)
    }

    pub fn enterprise_id(&self) -> String {
        self.lock().enterprise_id.clone()
    }

    pub fn client_id(&self) -> String {
        self.lock().client_id.clone()
    }

    pub fn client_secret(&self) -> String {
        self.lock().client_secret.clone()
    }

    /// Every access token issued so far (valid or not), oldest first: what a test checks logs,
    /// stores and responses for, to prove no token leaked.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.lock().issued.clone()
    }

    /// Every access token issued so far becomes invalid (401); new grants work as before.
    pub fn expire_all_tokens(&self) {
        self.lock().tokens.clear();
    }
}

// ---------------------------------------------------------------------------------------------
// Generation

const JOB_TITLES: &[&str] = &[
    "Engineer",
    "Senior Engineer",
    "Product Manager",
    "Designer",
    "Account Executive",
    "Sales Manager",
    "Recruiter",
    "Accountant",
    "Marketing Specialist",
    "Support Agent",
    "Data Analyst",
    "Legal Counsel",
    "Office Manager",
    "Director",
];

const APP_NAMES: &[&str] = &[
    "Contract Sync",
    "Invoice Ingest",
    "Backup Service",
    "Portal Uploads",
];

const FILE_NAMES: &[&str] = &[
    "Q3 Forecast.xlsx",
    "Board Deck.pptx",
    "Contract Draft.docx",
    "Invoice 2291.pdf",
    "Onboarding Guide.pdf",
    "Team Photo.jpg",
    "Roadmap.md",
];

const FOLDER_NAMES: &[&str] = &["Projects", "Finance", "Legal", "Marketing", "Shared"];

const LANGUAGES: &[&str] = &["fr", "de", "ja", "es"];
const TIMEZONES: &[&str] = &[
    "America/New_York",
    "America/Chicago",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Tokyo",
];

/// Name and parent folder name of a generated file id (rendered as an event `source`).
pub(crate) fn file_names(file_id: u64) -> (&'static str, u64, &'static str) {
    let name = FILE_NAMES[(file_id % FILE_NAMES.len() as u64) as usize];
    let folder_id = 700_000_000_000 + file_id % 997;
    let folder = FOLDER_NAMES[(file_id % FOLDER_NAMES.len() as u64) as usize];
    (name, folder_id, folder)
}

struct EventGen {
    events: Vec<EventRec>,
    next_file: u64,
}

impl EventGen {
    fn push(&mut self, rng: &mut SmallRng, at: i64, etype: u16, user: u64, source: SourceRef) {
        let bytes: [u8; 16] = rng.random();
        let ip = random_ip(rng);
        self.events.push(EventRec {
            at,
            seq: 0,
            etype,
            user,
            source,
            id: uuid::Builder::from_random_bytes(bytes)
                .into_uuid()
                .as_u128(),
            ip,
        });
    }

    fn file(&mut self) -> SourceRef {
        self.next_file += 1;
        SourceRef::File(900_000_000_000 + self.next_file)
    }
}

// Interned ids of the generated event types (in this order).
const LOGIN: u16 = 0;
const ADD_LOGIN_ACTIVITY_DEVICE: u16 = 1;
const FAILED_LOGIN: u16 = 2;
const ADMIN_LOGIN: u16 = 3;
const UPLOAD: u16 = 4;
/// The content types after `UPLOAD` (ids 5..=13).
const FIRST_MORE_CONTENT: u16 = 5;
const GENERATED_TYPES: [&str; 14] = [
    "LOGIN",
    "ADD_LOGIN_ACTIVITY_DEVICE",
    "FAILED_LOGIN",
    "ADMIN_LOGIN",
    "UPLOAD",
    "DOWNLOAD",
    "PREVIEW",
    "EDIT",
    "COPY",
    "MOVE",
    "DELETE",
    "UNDELETE",
    "LOCK",
    "UNLOCK",
];

/// The event types a user's own use of Box shows in (Box's inactive-user report's set): what
/// seatkeeper's `activity: any` counts.
pub const ACTIVITY_EVENT_TYPES: [&str; 12] = [
    "LOGIN",
    "ADD_LOGIN_ACTIVITY_DEVICE",
    "UPLOAD",
    "DOWNLOAD",
    "PREVIEW",
    "EDIT",
    "COPY",
    "MOVE",
    "DELETE",
    "UNDELETE",
    "LOCK",
    "UNLOCK",
];

/// Users' own content events, from their own generator (so the users and sign-ins drawn before
/// are what they were before content activity existed). Of the active human users who signed in
/// within 60 days, ~30% also have 1-3 content events since joining. Of those who joined over 120
/// days ago and have not signed in for 60 days (or never): ~20% only sync (Box Drive: 1-4
/// `UPLOAD` / `EDIT` / `PREVIEW` events in the last 14 days, no sign-in in the window), and ~10%
/// were last active just beyond a 90-day backfill (a `DOWNLOAD` 91-120 days ago).
fn content_activity(
    spec: &BoxTenantSpec,
    users: &BTreeMap<u64, BoxUser>,
    gen: &mut EventGen,
    now: i64,
    latest: i64,
) {
    let mut rng = SmallRng::seed_from_u64(crate::util::mix64(spec.seed ^ 0xB0C0_AC71_7174));
    let mut last_login: HashMap<u64, i64> = HashMap::new();
    for e in gen
        .events
        .iter()
        .filter(|e| e.etype == LOGIN || e.etype == ADD_LOGIN_ACTIVITY_DEVICE)
    {
        let cur = last_login.entry(e.user).or_insert(e.at);
        *cur = (*cur).max(e.at);
    }
    let content_types = u16::try_from(GENERATED_TYPES.len()).unwrap_or(u16::MAX);
    for (&id, u) in users.iter().skip(1) {
        if u.is_platform_access_only || u.status != "active" {
            continue;
        }
        let joined = u.created_at.timestamp();
        let any_type = |rng: &mut SmallRng| {
            if rng.random_bool(0.3) {
                UPLOAD
            } else {
                rng.random_range(FIRST_MORE_CONTENT..content_types)
            }
        };
        match last_login.get(&id).copied() {
            Some(last) if now - last <= 60 * DAY => {
                let also_content = rng.random_bool(0.3);
                if also_content {
                    for _ in 0..rng.random_range(1..=3) {
                        let at = between(&mut rng, joined.max(now - 364 * DAY), latest);
                        let t = any_type(&mut rng);
                        let file = gen.file();
                        gen.push(&mut rng, at, t, id, file);
                    }
                }
            }
            _ if now - joined > 120 * DAY => match rng.random::<f64>() {
                r if r < 0.20 => {
                    for _ in 0..rng.random_range(1..=4) {
                        let at = between(&mut rng, now - 14 * DAY, latest);
                        let t = [UPLOAD, FIRST_MORE_CONTENT + 1, FIRST_MORE_CONTENT + 2]
                            [rng.random_range(0..3)];
                        let file = gen.file();
                        gen.push(&mut rng, at, t, id, file);
                    }
                }
                r if r < 0.30 => {
                    let at = now - rng.random_range(91 * DAY..120 * DAY);
                    let file = gen.file();
                    gen.push(&mut rng, at, FIRST_MORE_CONTENT, id, file);
                }
                _ => {}
            },
            _ => {}
        }
    }
}

/// Builds the tenant. The mix (see README.md): user 0 is the admin; ~2% co-admins;
/// ~2% app users; status ~93/5/1/1% active/inactive/cannot_delete_edit/
/// cannot_delete_edit_upload; created over the 3 years before `now`, ~3% in the last 20 days;
/// of the humans ~10% never logged in, ~15% last logged in 61-364 days ago, the rest in the
/// last 60 days, each with 1-4 `LOGIN`s (some with `ADD_LOGIN_ACTIVITY_DEVICE`); noise
/// `FAILED_LOGIN`, `ADMIN_LOGIN` and `UPLOAD` events; all events in the 364 days before `now`
/// (inside the 365 days `admin_logs` keeps).
fn generate(spec: &BoxTenantSpec, token_ttl: Duration) -> TenantState {
    // The seed fixes everything. The bulk is drawn from a SmallRng seeded from the seed's
    // StdRng: ChaCha is ~20x slower in unoptimized (test) builds, where 100k users matter.
    let mut rng = SmallRng::from_rng(&mut StdRng::seed_from_u64(spec.seed));
    let now = spec.now.timestamp();
    // A day's margin inside Box's 365-day admin_logs history, so that a client whose clock is a
    // little past `now` still sees every generated event in a 365-day window.
    let year_ago = now - 364 * DAY;
    let latest = now - 60; // nothing in the last minute
    let domain = format!("sandbox-{}.example.com", spec.enterprise_id);
    let app_ids: [u32; 2] = [
        rng.random_range(1_000_000..9_999_999),
        rng.random_range(1_000_000..9_999_999),
    ];

    let mut users = BTreeMap::new();
    let mut people = People::new(domain.clone(), spec.users);
    let mut gen = EventGen {
        events: Vec::with_capacity(spec.users * 3),
        next_file: 0,
    };

    for i in 0..spec.users {
        let id = FIRST_USER_ID + i as u64;
        let is_admin = i == 0;
        let is_app = !is_admin && rng.random_bool(0.02);
        let role = if is_admin {
            "admin"
        } else if !is_app && rng.random_bool(0.02) {
            "coadmin"
        } else {
            "user"
        };
        let status = if is_admin {
            "active"
        } else {
            match rng.random::<f64>() {
                r if r < 0.93 => "active",
                r if r < 0.98 => "inactive",
                r if r < 0.99 => "cannot_delete_edit",
                _ => "cannot_delete_edit_upload",
            }
        };
        let created = joined(&mut rng, now, is_admin);
        let modified = between(&mut rng, created, latest);

        let (name, login, external_app_user_id) = if is_app {
            let app = pick(&mut rng, APP_NAMES);
            let app_id = app_ids[usize::from(rng.random_bool(0.5))];
            let suffix: String = (0..10)
                .map(|_| char::from(rng.sample(rand::distr::Alphanumeric)))
                .collect();
            let external = rng
                .random_bool(0.5)
                .then(|| format!("ext-{}-{i}", app.to_lowercase().replace(' ', "-")));
            (
                format!("{app} {i}"),
                format!("AppUser_{app_id}_{suffix}@boxdevedition.com"),
                external,
            )
        } else {
            let p = people.next(&mut rng);
            (format!("{} {}", p.first, p.last), p.email, None)
        };

        let tracking_codes = if is_app {
            Vec::new()
        } else {
            match rng.random::<f64>() {
                r if r < 0.05 => vec![("license".to_string(), "business_plus".to_string())],
                r if r < 0.08 => vec![("license".to_string(), "enterprise".to_string())],
                r if r < 0.09 => vec![
                    ("license".to_string(), "business".to_string()),
                    ("department".to_string(), "Sales".to_string()),
                ],
                _ => Vec::new(),
            }
        };
        let space_used = if rng.random_bool(0.1) {
            0
        } else if is_app {
            rng.random_range(0..1_000_000_000)
        } else {
            rng.random_range(0..50_000_000_000)
        };
        let space_amount = if rng.random_bool(0.8) {
            UNLIMITED_SPACE
        } else {
            TEN_GB
        };
        let job_title = if !is_app && rng.random_bool(0.6) {
            pick(&mut rng, JOB_TITLES).to_string()
        } else {
            String::new()
        };
        let phone = if !is_app && rng.random_bool(0.4) {
            format!("(555) 555-{:04}", rng.random_range(0..10_000))
        } else {
            String::new()
        };
        let language = if rng.random_bool(0.9) {
            "en"
        } else {
            pick(&mut rng, LANGUAGES)
        };
        let timezone = if rng.random_bool(0.6) {
            "America/Los_Angeles"
        } else {
            pick(&mut rng, TIMEZONES)
        };
        let notification_email = (!is_app && rng.random_bool(0.03)).then(|| {
            login
                .replace('@', ".alerts@")
                .replace(&domain, "example.org")
        });

        // Activity.
        let window_start = created.max(year_ago);
        if !is_app {
            let admin_from = is_admin.then_some(now - 2 * DAY);
            let last_login = last_login(&mut rng, now, window_start, latest, admin_from);
            if let Some(last) = last_login {
                each_login(&mut rng, window_start, last, |rng, at| {
                    gen.push(rng, at, LOGIN, id, SourceRef::User(id));
                    if rng.random_bool(0.15) {
                        gen.push(rng, at, ADD_LOGIN_ACTIVITY_DEVICE, id, SourceRef::User(id));
                    }
                });
                if rng.random_bool(0.10) {
                    for _ in 0..rng.random_range(1..=3) {
                        let at = between(&mut rng, window_start, latest);
                        let file = gen.file();
                        gen.push(&mut rng, at, UPLOAD, id, file);
                    }
                }
            }
            if rng.random_bool(0.05) {
                for _ in 0..rng.random_range(1..=3) {
                    let at = between(&mut rng, window_start, latest);
                    gen.push(&mut rng, at, FAILED_LOGIN, id, SourceRef::User(id));
                }
            }
            if !is_admin && rng.random_bool(0.02) {
                let at = between(&mut rng, window_start, latest);
                gen.push(
                    &mut rng,
                    at,
                    ADMIN_LOGIN,
                    FIRST_USER_ID,
                    SourceRef::User(id),
                );
            }
        } else if rng.random_bool(0.5) {
            for _ in 0..rng.random_range(1..=5) {
                let at = between(&mut rng, window_start, latest);
                let file = gen.file();
                gen.push(&mut rng, at, UPLOAD, id, file);
            }
        }

        users.insert(
            id,
            BoxUser {
                id: id.to_string(),
                name,
                login,
                role: role.to_string(),
                status: status.to_string(),
                created_at: from_secs(created),
                modified_at: from_secs(modified),
                is_platform_access_only: is_app,
                space_used,
                tracking_codes,
                space_amount,
                language: language.to_string(),
                timezone: timezone.to_string(),
                job_title,
                phone,
                external_app_user_id,
                notification_email,
            },
        );
    }

    content_activity(spec, &users, &mut gen, now, latest);
    let mut events = gen.events;
    let next_seq = sequence(&mut events);

    let event_types: Vec<String> = GENERATED_TYPES.iter().map(|t| t.to_string()).collect();
    let event_type_ids = event_types
        .iter()
        .enumerate()
        .filter_map(|(i, t)| Some((t.clone(), u16::try_from(i).ok()?)))
        .collect();

    let service_account = NewBoxUser {
        is_platform_access_only: true,
        created_at: from_secs(now - 1095 * DAY),
        ..NewBoxUser::member(
            "Seatkeeper Sandbox Service Account",
            format!(
                "AutomationUser_{}_sandbox0001@boxdevedition.com",
                app_ids[0]
            ),
        )
    }
    .into_user(SERVICE_ACCOUNT_ID);

    TenantState {
        enterprise_id: spec.enterprise_id.clone(),
        enterprise_name: format!("Sandbox Enterprise {}", spec.enterprise_id),
        client_id: spec.client_id.clone(),
        client_secret: spec.client_secret.clone(),
        now: spec.now,
        users,
        removed: HashMap::new(),
        next_user_id: FIRST_USER_ID + spec.users as u64,
        events,
        next_seq,
        event_types,
        event_type_ids,
        tokens: HashMap::new(),
        issued: Vec::new(),
        token_ttl,
        service_account,
        seed: spec.seed,
        generated_end: FIRST_USER_ID + spec.users as u64,
        owned: HashMap::new(),
        folders: HashMap::new(),
        next_item_id: FIRST_FRESH_ITEM_ID,
        transfers: Vec::new(),
        deleted: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(users: usize, seed: u64) -> BoxTenantSpec {
        BoxTenantSpec {
            now: crate::generate::test_now(),
            ..BoxTenantSpec::new(users, seed)
        }
    }

    fn tenant(users: usize, seed: u64) -> BoxTenantHandle {
        BoxTenantHandle::generate(&spec(users, seed), Duration::from_secs(3600))
    }

    #[test]
    fn same_seed_same_tenant() {
        let a = tenant(300, 7);
        let b = tenant(300, 7);
        assert_eq!(a.users(), b.users());
        assert_eq!(a.events(), b.events());
        let c = tenant(300, 8);
        assert_ne!(a.users(), c.users());
    }

    #[test]
    fn mix_and_invariants() {
        let t = tenant(5000, 42);
        let now = t.now();
        let users = t.users();
        assert_eq!(users.len(), 5000);
        assert_eq!(users[0].id, "10000001");
        assert_eq!(users[0].role, "admin");
        let frac = |f: &dyn Fn(&BoxUser) -> bool| {
            users.iter().filter(|u| f(u)).count() as f64 / users.len() as f64
        };
        let apps = frac(&|u| u.is_platform_access_only);
        assert!((0.01..0.03).contains(&apps), "app users {apps}");
        let coadmins = frac(&|u| u.role == "coadmin");
        assert!((0.01..0.03).contains(&coadmins), "coadmins {coadmins}");
        let active = frac(&|u| u.status == "active");
        assert!((0.90..0.96).contains(&active), "active {active}");
        let inactive = frac(&|u| u.status == "inactive");
        assert!((0.03..0.07).contains(&inactive), "inactive {inactive}");
        let new_hires = frac(&|u| u.created_at > now - chrono::Duration::days(20));
        assert!((0.015..0.05).contains(&new_hires), "new hires {new_hires}");
        let coded = frac(&|u| !u.tracking_codes.is_empty());
        assert!((0.05..0.13).contains(&coded), "tracking codes {coded}");
        let mut logins = std::collections::HashSet::new();
        for u in &users {
            assert!(
                logins.insert(u.login.clone()),
                "duplicate login {}",
                u.login
            );
            assert!(u.created_at < now && u.created_at >= now - chrono::Duration::days(1095));
            assert!(u.modified_at >= u.created_at && u.modified_at < now);
            if u.is_platform_access_only {
                assert!(u.login.starts_with("AppUser_") && u.login.ends_with("@boxdevedition.com"));
            }
        }

        let events = t.events();
        assert!(events
            .windows(2)
            .all(|w| w[0].created_at <= w[1].created_at));
        let by_id: HashMap<&str, &BoxUser> = users.iter().map(|u| (u.id.as_str(), u)).collect();
        for e in &events {
            assert!(e.created_at < now && e.created_at >= now - chrono::Duration::days(364));
            let u = by_id[e.user_id.as_str()];
            assert!(
                e.created_at >= u.created_at,
                "event before its user existed"
            );
            if u.is_platform_access_only {
                assert_eq!(e.event_type, "UPLOAD", "app users never log in");
            }
        }
        let humans: Vec<&BoxUser> = users
            .iter()
            .filter(|u| !u.is_platform_access_only)
            .collect();
        let all_last = t.last_logins();
        let last: Vec<_> = humans
            .iter()
            .map(|u| {
                let last = t.last_login(&u.id);
                assert_eq!(all_last.get(&u.id).copied(), last);
                last
            })
            .collect();
        let (never, stale) = crate::generate::never_and_stale(now, &last);
        assert!((0.07..0.13).contains(&never), "never logged in {never}");
        assert!((0.10..0.18).contains(&stale), "stale {stale}");
        for kind in [
            "FAILED_LOGIN",
            "ADMIN_LOGIN",
            "UPLOAD",
            "ADD_LOGIN_ACTIVITY_DEVICE",
        ] {
            assert!(
                events.iter().any(|e| e.event_type == kind),
                "no {kind} events"
            );
        }
        let mut ids = std::collections::HashSet::new();
        assert!(events.iter().all(|e| ids.insert(e.event_id.clone())));
    }

    #[test]
    fn mutation() {
        let t = tenant(10, 1);
        let u = t.add_user(NewBoxUser::member("New Hire", "new.hire@example.com"));
        assert_eq!(u.id, "10000011");
        assert_eq!(t.users().len(), 11);
        t.set_status(&u.id, "inactive");
        assert_eq!(
            t.user(&u.id).map(|u| u.status),
            Some("inactive".to_string())
        );
        let at = t.now() - chrono::Duration::days(3);
        let event_id = t.add_event(&u.id, "LOGIN", at);
        assert_eq!(t.last_login(&u.id), Some(at));
        let events = t.events();
        assert!(events
            .windows(2)
            .all(|w| w[0].created_at <= w[1].created_at));
        assert!(events
            .iter()
            .any(|e| e.event_id == event_id && e.user_id == u.id));
        assert!(t.remove_user(&u.id));
        assert!(!t.remove_user(&u.id));
        assert!(!t.remove_user("nope"));
        assert_eq!(t.users().len(), 10);
        assert!(t.events().iter().any(|e| e.event_id == event_id));
    }

    #[test]
    fn ownership_is_derived_until_it_changes() {
        let t = tenant(50, 4);
        let state = t.lock();
        assert!(
            state.owned.is_empty(),
            "nothing is stored per user at generation"
        );
        for u in state.users.values() {
            let id = u.id.parse::<u64>().expect("numeric");
            let items = state.holdings(id);
            assert_eq!(items.is_empty(), u.is_platform_access_only, "{}", u.id);
            assert!(items.len() <= 4);
            assert!(items.iter().all(|i| matches!(i, Item::File(_))));
        }
        drop(state);
        let (a, b) = ("10000002", "10000003");
        let a_items = t.owned_items(a);
        t.set_owned_files(a, 2);
        let mut state = t.lock();
        let folder = state.transfer(10_000_002, 10_000_003, from_secs(0));
        assert_eq!(state.folders[&folder].items.len(), 2);
        assert!(state.item_size(Item::Folder(folder)) > 0);
        let outer = state.transfer(10_000_003, 10_000_004, from_secs(0));
        assert!(state.folders[&outer].items.contains(&Item::Folder(folder)));
        assert!(state.delete_user(10_000_004));
        assert!(
            state.folders.is_empty(),
            "deleting the owner forgets nested folders"
        );
        drop(state);
        assert!(t.owned_items(b).is_empty());
        assert!(t.owned_items("10000004").is_empty());
        assert!(!a_items.is_empty());
        assert_eq!(t.transfers().len(), 2);
        assert!(
            t.deleted_users().is_empty(),
            "only the API records deletions"
        );
    }

    #[test]
    fn large_tenant_is_quick() {
        let started = std::time::Instant::now();
        let t = tenant(100_000, 3);
        let took = started.elapsed();
        assert_eq!(t.users().len(), 100_000);
        // Debug builds are several times slower than release; release takes well under 1 s.
        assert!(took < Duration::from_secs(10), "generation took {took:?}");
        eprintln!("100k users, {} events in {took:?}", t.lock().events.len());
    }
}
