//! PostgreSQL plumbing: connections (TLS), identifier quoting, client tools, and
//! the embedded throwaway cluster.

pub mod cluster;
pub mod conn;
pub mod dsn;
pub mod ident;
pub mod pgpass;
pub mod server;
pub mod tls;
pub mod tools;
