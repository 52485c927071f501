//! Odoo knowledge: versions, inspection, neutralization, verification, filestore, odoo.conf.

pub mod compare;
pub mod conf;
pub mod filestore;
pub mod golive;
pub mod inspect;
pub mod neutralize;
pub mod neutralize_rules;
pub mod oucoverage;
pub mod oulog;
pub mod platform;
pub mod schema;
pub mod verify;
pub mod version;
