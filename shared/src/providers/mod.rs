//! Provider adapters. Each module is the only code that knows its provider's wire format.
pub mod box_api;
pub mod dropbox_api;
