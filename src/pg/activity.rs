//! What the server itself says about a database's use: its cumulative
//! statistics (`pg_stat_database`, readable by any role). Taken when
//! production is frozen and compared before it is swapped, so that a freeze
//! lifted by hand (or by another state dir) is seen, not only the tool's own
//! record of it.

use serde::{Deserialize, Serialize};
use tokio_postgres::Client;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DbActivity {
    /// Client sessions ever opened on the database (PostgreSQL 14+): the
    /// server's workers (autovacuum) are not counted, refused logins neither.
    pub sessions: Option<i64>,
    pub xact_commit: i64,
    /// Rows inserted, updated and deleted (also counts catalog rows).
    pub tup_written: i64,
    /// When the database's statistics were last reset (as the server prints it).
    pub db_reset: Option<String>,
    /// When the cluster's statistics were last reset: a crash resets them all.
    pub cluster_reset: Option<String>,
}

/// What changed between two readings.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    None,
    /// Client sessions were opened since: the database was reopened.
    Reopened {
        sessions: i64,
    },
    /// Rows were written since (servers without a session count).
    Written {
        rows: i64,
    },
    /// The statistics were reset since (a crash, pg_stat_reset): nothing can be told.
    Unknown(String),
}

pub async fn read(client: &Client, db: &str) -> Result<Option<DbActivity>, tokio_postgres::Error> {
    let has_sessions = super::server::server_major(client).await? >= 14;
    let sessions = if has_sessions {
        "sessions"
    } else {
        "NULL::bigint"
    };
    let q = format!(
        "SELECT {sessions}, xact_commit, tup_inserted + tup_updated + tup_deleted, \
         to_char(stats_reset AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US \"UTC\"'), \
         (SELECT to_char(stats_reset AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US \"UTC\"') FROM pg_stat_bgwriter) FROM pg_stat_database WHERE datname = $1"
    );
    Ok(client.query_opt(&q, &[&db]).await?.map(|r| DbActivity {
        sessions: r.get(0),
        xact_commit: r.get(1),
        tup_written: r.get(2),
        db_reset: r.get(3),
        cluster_reset: r.get(4),
    }))
}

impl DbActivity {
    /// What happened on the database between `self` (earlier) and `now`.
    pub fn change_to(&self, now: &DbActivity) -> Change {
        if self.db_reset != now.db_reset || self.cluster_reset != now.cluster_reset {
            let at = now
                .cluster_reset
                .clone()
                .max(now.db_reset.clone())
                .unwrap_or_else(|| "an unknown time".into());
            return Change::Unknown(format!(
                "the server's statistics were reset at {at} (a crash or pg_stat_reset)"
            ));
        }
        match (self.sessions, now.sessions) {
            (Some(a), Some(b)) if b > a => Change::Reopened { sessions: b - a },
            (Some(a), Some(b)) if b < a => {
                Change::Unknown("the server's session count went back".into())
            }
            (Some(_), Some(_)) => Change::None,
            _ if now.tup_written > self.tup_written => Change::Written {
                rows: now.tup_written - self.tup_written,
            },
            _ if now.tup_written < self.tup_written => {
                Change::Unknown("the server's row counts went back".into())
            }
            _ => Change::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(sessions: Option<i64>, rows: i64) -> DbActivity {
        DbActivity {
            sessions,
            xact_commit: 10,
            tup_written: rows,
            db_reset: None,
            cluster_reset: None,
        }
    }

    #[test]
    fn sessions_rows_and_resets() {
        assert_eq!(a(Some(3), 5).change_to(&a(Some(3), 9)), Change::None);
        assert_eq!(
            a(Some(3), 5).change_to(&a(Some(5), 5)),
            Change::Reopened { sessions: 2 }
        );
        assert_eq!(
            a(None, 5).change_to(&a(None, 9)),
            Change::Written { rows: 4 }
        );
        assert!(matches!(
            a(Some(3), 5).change_to(&a(Some(0), 0)),
            Change::Unknown(_)
        ));
        let mut reset = a(Some(3), 5);
        reset.cluster_reset = Some("2026-12-01 08:00:00.000000 UTC".into());
        assert!(matches!(
            a(Some(3), 5).change_to(&reset),
            Change::Unknown(_)
        ));
    }
}
