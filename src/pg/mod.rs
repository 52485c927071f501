//! PostgreSQL plumbing: connections (TLS), identifier quoting, client tools, and
//! the embedded throwaway cluster.

pub mod activity;
pub mod cluster;
pub mod conn;
pub mod dsn;
pub mod ident;
pub mod pgpass;
pub mod rowcopy;
pub mod server;
pub mod tls;
pub mod tools;

/// The server's own message for a database error ("permission denied for …"),
/// without tokio-postgres's "db error: ERROR:" prefix; the whole error otherwise.
pub fn db_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => d.message().to_string(),
        None => e.to_string(),
    }
}
