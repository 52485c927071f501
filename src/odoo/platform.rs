//! Odoo's upgrade platform as its own `upgrade` script speaks to it
//! (shared/UPGRADE-ENGINES.md, Part A): the JSON-RPC endpoints and their
//! fields, the request states, the data channel's fixed user and path, and
//! what the platform's errors mean for a user. No transport here: the engine
//! sends and receives (src/engine/platform).

use serde::{Deserialize, Serialize};

/// Odoo's platform; `[odoo_platform] url` replaces it (a stand-in, a proxy).
pub const DEFAULT_URL: &str = "https://upgrade.odoo.com";
/// The API version the current script announces at `create`.
pub const API_VERSION: &str = "0.2";
/// The data channel: rsync over SSH as this user, files under this folder.
pub const DATA_USER: &str = "odoo";
pub const DATA_PATH: &str = "/data";
/// What the uploaded dump is called on the platform (a directory dump).
pub const UPLOAD_NAME: &str = "origin.dump";
/// What a download brings besides the dump (each may be missing).
pub const REPORT_FILE: &str = "upgrade-report.html";
pub const LOG_FILE: &str = "upgrade.log";
pub const FILESTORE_DIR: &str = "filestore";
/// The data channel's ports: rsync's SSH listens on one of these (Odoo's docs).
pub const DATA_PORTS: &str = "TCP 32768–60999";
/// The ticket type Odoo's support asks for before production runs on the result.
pub const SUPPORT_TICKET: &str = "An issue related to my upgrade";
/// The parameter that holds the Enterprise subscription code.
pub const CONTRACT_PARAM: &str = "database.enterprise_code";

/// The token and the contract: kept in the job file (0600) and nowhere else,
/// never printed, never logged (Debug hides them).
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<secret>")
    }
}

pub mod endpoint {
    pub const CREATE: &str = "upgrade/request/create";
    pub const TRANSFER_START: &str = "upgrade/request/transfer/start";
    pub const TRANSFER_STOP: &str = "upgrade/request/transfer/stop";
    pub const PROCESS: &str = "upgrade/request/process";
    pub const STATUS: &str = "upgrade/request/status";
    pub const LOGS: &str = "upgrade/request/logs";
}

/// `aim` at `create`: a test request (the platform neutralizes the result) or production.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aim {
    Test,
    Production,
}

impl Aim {
    pub fn as_str(self) -> &'static str {
        match self {
            Aim::Test => "test",
            Aim::Production => "production",
        }
    }
}

/// A request's state as `status` reports it: `new → pending → progress → done | failed | cancelled`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Created, no data yet: the dump is to be uploaded.
    New,
    /// Queued for processing.
    Pending,
    /// The upgrade runs.
    Progress,
    /// The upgraded dump is ready to download.
    Done,
    Failed,
    Cancelled,
    /// A state this client does not know (a newer platform).
    #[serde(untagged)]
    Other(String),
}

impl State {
    pub fn parse(s: &str) -> State {
        match s {
            "new" => State::New,
            "pending" => State::Pending,
            "progress" => State::Progress,
            "done" => State::Done,
            "failed" => State::Failed,
            "cancelled" => State::Cancelled,
            other => State::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            State::New => "new",
            State::Pending => "pending",
            State::Progress => "progress",
            State::Done => "done",
            State::Failed => "failed",
            State::Cancelled => "cancelled",
            State::Other(s) => s,
        }
    }

    /// What the state means, in a user's words.
    pub fn describe(&self) -> String {
        match self {
            State::New => "created, waiting for the dump".into(),
            State::Pending => "queued at Odoo".into(),
            State::Progress => "upgrading at Odoo".into(),
            State::Done => "upgraded, ready to download".into(),
            State::Failed => "failed at Odoo".into(),
            State::Cancelled => "cancelled at Odoo".into(),
            State::Other(s) => format!("{s} (a state this version does not know)"),
        }
    }

    /// The platform still works on it (or waits for it): keep following.
    pub fn is_processing(&self) -> bool {
        matches!(self, State::Pending | State::Progress)
    }
}

/// `create`'s answer; `info` is a warning to show.
#[derive(Debug, Clone, Deserialize)]
pub struct Created {
    pub request_id: serde_json::Value,
    pub token: String,
    pub assigned_host_uri: String,
    #[serde(default)]
    pub info: Option<String>,
}

/// `transfer/start`'s answer: the data channel's port and host key (and, for a
/// download, the name of the upgraded dump).
#[derive(Debug, Clone, Deserialize)]
pub struct Transfer {
    pub ssh_port: u16,
    pub known_hosts: String,
    #[serde(default)]
    pub dump_name: Option<String>,
}

/// `process`'s answer: false when this server's PostgreSQL is too old to
/// restore the upgraded dump (it can still be downloaded).
#[derive(Debug, Clone, Deserialize)]
pub struct Processed {
    pub is_pg_version_compatible: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Status {
    pub status: String,
    pub host_uri: String,
    #[serde(default)]
    pub reason: Option<String>,
    /// The request can no longer be resumed.
    #[serde(default)]
    pub archived: bool,
}

impl Status {
    pub fn state(&self) -> State {
        State::parse(&self.status)
    }
}

/// A request id as the platform sends it (a number, sometimes a string).
pub fn request_id_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The SSH host of a `host_uri` (`upgrade-3.odoo.com`, or `host:port` for an
/// API on another port): the data channel's port comes from `transfer/start`.
pub fn ssh_host(host_uri: &str) -> &str {
    let h = host_uri
        .trim_start_matches("https://")
        .trim_end_matches('/');
    match h.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => h,
    }
}

/// The API base of a `host_uri`: requests are pinned to the node that holds them.
pub fn api_base(host_uri: &str) -> String {
    let h = host_uri
        .trim_start_matches("https://")
        .trim_end_matches('/');
    format!("https://{h}")
}

/// A refusal by `create`, in a user's words: the platform names the problem,
/// usually the contract.
pub fn create_refused(error: &str) -> String {
    let lower = error.to_lowercase();
    if lower.contains("contract") || lower.contains("subscription") || lower.contains("enterprise")
    {
        format!(
            "Odoo's upgrade platform refused the contract: {error}; check the subscription code ({CONTRACT_PARAM} in the database, or --contract CODE)"
        )
    } else {
        format!("Odoo's upgrade platform refused the request: {error}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_and_unknown_ones_are_kept() {
        for s in ["new", "pending", "progress", "done", "failed", "cancelled"] {
            assert_eq!(State::parse(s).as_str(), s);
        }
        assert_eq!(State::parse("frozen"), State::Other("frozen".into()));
        assert!(State::Pending.is_processing() && State::Progress.is_processing());
        assert!(!State::Done.is_processing() && !State::New.is_processing());
    }

    #[test]
    fn the_node_gives_the_api_base_and_the_ssh_host() {
        assert_eq!(ssh_host("upgrade-3.odoo.com"), "upgrade-3.odoo.com");
        assert_eq!(ssh_host("127.0.0.1:8443"), "127.0.0.1");
        assert_eq!(api_base("127.0.0.1:8443"), "https://127.0.0.1:8443");
        assert_eq!(api_base("https://up.example/"), "https://up.example");
    }

    #[test]
    fn a_contract_refusal_says_where_the_code_comes_from() {
        let m = create_refused("Invalid contract number");
        assert!(m.contains("refused the contract") && m.contains("--contract"));
        let m = create_refused("Target version not supported");
        assert!(m.contains("refused the request: Target version not supported"));
    }

    #[test]
    fn request_ids_read_as_numbers_or_strings() {
        assert_eq!(request_id_text(&serde_json::json!(4711)), "4711");
        assert_eq!(request_id_text(&serde_json::json!("R-12")), "R-12");
    }
}
