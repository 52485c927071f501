//! Where the server is and how to reach it: resolved once from `--dsn`, the
//! standard `PG*` variables, `~/.pgpass` and the caller's fallback (odoo.conf,
//! read by the caller: this layer knows no Odoo), then used both for our
//! own connections and for the environment of pg_dump/psql children.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use thiserror::Error;
use tokio_postgres::{Client, NoTls};

pub use super::tls::SslMode;
use super::{dsn, pgpass, tls};

pub const APP_NAME: &str = "upgrade-pilot";

#[derive(Debug, Error)]
pub enum ConnError {
    #[error("{0}")]
    Config(String),
    #[error("TLS: {0}")]
    Tls(String),
    #[error(
        "database {db:?} does not exist on {server}: check the name (upgrade-pilot status lists campaigns)"
    )]
    NoDatabase { db: String, server: String },
    #[error(
        "database {db:?} on {server} does not accept connections (it is frozen or being cloned): unfreeze it or wait"
    )]
    NotAccepting { db: String, server: String },
    #[error("authentication failed for role {user:?} on {server}: set PGPASSWORD or ~/.pgpass")]
    Auth { user: String, server: String },
    #[error(
        "cannot reach PostgreSQL at {server}: {detail} (is the server running? check --dsn / PGHOST / PGPORT)"
    )]
    Unreachable { server: String, detail: String },
    #[error("{server}: {detail}")]
    Other { server: String, detail: String },
}

/// A password that never prints.
#[derive(Clone, Default)]
pub struct Password(String);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<hidden>")
    }
}

#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// Host name, IP address, or a Unix socket directory (starts with `/`).
    pub host: String,
    pub port: u16,
    pub user: String,
    password: Option<Password>,
    pub sslmode: SslMode,
    pub sslrootcert: Option<PathBuf>,
    /// The database named by `dbname` / PGDATABASE (else `postgres`): the first
    /// choice for server-wide work (listing, CREATE/DROP DATABASE, locks), unless
    /// it is an Odoo database ([`ConnInfo::connect_maintenance`]).
    pub maintenance_db: String,
    /// The database server-wide work goes to, once chosen; shared by clones.
    maintenance: Arc<OnceLock<String>>,
    /// The server's identity once asked ([`ConnInfo::server_key`]); shared by clones.
    identity: Arc<OnceLock<String>>,
}

/// Prefix of keys made from the server's identity; any other key is an address (older files).
pub const IDENTITY_PREFIX: &str = "cluster:";

/// Where to look for each setting, in order of precedence.
pub struct Sources<'a> {
    pub dsn: Option<&'a str>,
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// Settings a file of the caller's holds (odoo.conf), below the DSN and the environment.
    pub fallback: Fallback,
    pub pgpass: Option<PathBuf>,
}

/// The connection settings a caller found elsewhere (Odoo's `db_*` options).
#[derive(Debug, Clone, Default)]
pub struct Fallback {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub password: Option<String>,
}

fn default_host() -> String {
    for dir in ["/var/run/postgresql", "/run/postgresql", "/tmp"] {
        if Path::new(dir).join(".s.PGSQL.5432").exists() {
            return dir.to_string();
        }
    }
    "localhost".to_string()
}

fn os_user() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| "postgres".to_string())
}

impl ConnInfo {
    pub fn resolve(src: Sources<'_>) -> Result<Self, ConnError> {
        let d = match src.dsn {
            Some(s) => dsn::parse(s).map_err(|e| ConnError::Config(e.to_string()))?,
            None => Default::default(),
        };
        if d.contains_key("password") {
            return Err(ConnError::Config(
                "--dsn must not carry a password (it would show in the process list): use PGPASSWORD or ~/.pgpass"
                    .into(),
            ));
        }
        let env = src.env;
        let pick = |key: &str, var: &str, odoo: Option<String>| -> Option<String> {
            d.get(key)
                .cloned()
                .or_else(|| env(var).filter(|v| !v.is_empty()))
                .or(odoo)
        };
        let fallback = src.fallback;
        let host = pick("host", "PGHOST", fallback.host).unwrap_or_else(default_host);
        let port = match pick("port", "PGPORT", fallback.port.map(|p| p.to_string())) {
            Some(p) => p
                .parse()
                .map_err(|_| ConnError::Config(format!("port {p:?} is not a number")))?,
            None => 5432,
        };
        let user = pick("user", "PGUSER", fallback.user).unwrap_or_else(os_user);
        let sslmode =
            SslMode::parse(&pick("sslmode", "PGSSLMODE", None).unwrap_or_else(|| "prefer".into()))
                .map_err(ConnError::Config)?;
        let sslrootcert = pick("sslrootcert", "PGSSLROOTCERT", None)
            .map(PathBuf::from)
            .or_else(|| {
                let p = Path::new(&env("HOME")?).join(".postgresql/root.crt");
                p.exists().then_some(p)
            });
        let maintenance_db =
            pick("dbname", "PGDATABASE", None).unwrap_or_else(|| "postgres".into());
        let mut info = ConnInfo {
            host,
            port,
            user,
            password: None,
            sslmode,
            sslrootcert,
            maintenance_db,
            maintenance: Default::default(),
            identity: Default::default(),
        };
        info.password = env("PGPASSWORD")
            .or(fallback.password)
            .or_else(|| {
                let file = src.pgpass.clone()?;
                pgpass::lookup(&file, &info.host, info.port, "*", &info.user).or_else(|| {
                    pgpass::lookup(
                        &file,
                        &info.host,
                        info.port,
                        &info.maintenance_db,
                        &info.user,
                    )
                })
            })
            .map(Password);
        Ok(info)
    }

    /// Connection to a Unix socket directory (embedded cluster, tests, demo).
    pub fn socket(dir: &Path, port: u16, user: &str) -> Self {
        ConnInfo {
            host: dir.display().to_string(),
            port,
            user: user.to_string(),
            password: None,
            sslmode: SslMode::Disable,
            sslrootcert: None,
            maintenance_db: "postgres".into(),
            maintenance: Default::default(),
            identity: Default::default(),
        }
    }

    pub fn with_password(mut self, password: Option<String>) -> Self {
        self.password = password.map(Password);
        // Another login may be let into other databases.
        self.maintenance = Default::default();
        self
    }

    pub fn with_user(mut self, user: &str) -> Self {
        self.user = user.to_string();
        self.maintenance = Default::default();
        self
    }

    pub fn is_socket(&self) -> bool {
        self.host.starts_with('/')
    }

    /// `host:port` (or the socket path) for messages; never the password.
    pub fn server(&self) -> String {
        if self.is_socket() {
            format!("{}/.s.PGSQL.{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The key older versions named this server by in campaign files: the
    /// address string, which differs for one cluster reached by socket,
    /// 127.0.0.1 or a host name.
    pub fn address_key(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// A key naming this server in campaign files, freeze records and guards:
    /// the cluster's `system_identifier` (set by initdb, readable by any role)
    /// and the port it listens on (two clusters copied from one data directory
    /// share the identifier, not the port). The same whatever address reaches
    /// it. Falls back to the address when the server does not say (a server
    /// before 9.6, or one that revoked `pg_control_system` from PUBLIC).
    pub async fn server_key(&self) -> Result<String, ConnError> {
        if let Some(k) = self.identity.get() {
            return Ok(k.clone());
        }
        let c = self.connect_maintenance().await?;
        let port = c
            .query_one("SELECT current_setting('port')", &[])
            .await
            .map_err(|e| self.classify(e, &self.maintenance_db))?
            .get::<_, String>(0);
        let key = match c
            .query_one(
                "SELECT system_identifier::text FROM pg_control_system()",
                &[],
            )
            .await
        {
            Ok(r) => format!("{IDENTITY_PREFIX}{}:{port}", r.get::<_, String>(0)),
            Err(e) => {
                tracing::warn!(error = %e, "the server's identity is not readable: campaigns are keyed by address");
                self.address_key()
            }
        };
        Ok(self.identity.get_or_init(|| key).clone())
    }

    /// [`ConnInfo::server_key`] when it was already asked, without asking.
    pub fn known_server_key(&self) -> Option<String> {
        self.identity.get().cloned()
    }

    pub async fn connect(&self, db: &str) -> Result<Client, ConnError> {
        let mut cfg = tokio_postgres::Config::new();
        cfg.host(&self.host)
            .port(self.port)
            .user(&self.user)
            .dbname(db)
            .application_name(APP_NAME)
            .connect_timeout(Duration::from_secs(15));
        if let Some(p) = &self.password {
            cfg.password(p.0.as_bytes());
        }
        let map = |e: tokio_postgres::Error| self.classify(e, db);
        if self.is_socket() || self.sslmode == SslMode::Disable {
            cfg.ssl_mode(tokio_postgres::config::SslMode::Disable);
            let (client, conn) = cfg.connect(NoTls).await.map_err(map)?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            // Session counts leave our own connections out.
            super::server::note_own(&client).await;
            return Ok(client);
        }
        cfg.ssl_mode(match self.sslmode {
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            _ => tokio_postgres::config::SslMode::Require,
        });
        let tls_cfg = tls::client_config(self.sslmode, self.sslrootcert.as_deref())
            .map_err(ConnError::Tls)?;
        let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls_cfg);
        let (client, conn) = cfg.connect(tls).await.map_err(map)?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        // Session counts leave our own connections out.
        super::server::note_own(&client).await;
        Ok(client)
    }

    /// A connection for server-wide work. Never to an Odoo database: the tool
    /// freezes, renames, copies and drops those, and PostgreSQL refuses each
    /// to a session connected to the database (`dbname=prod` in --dsn, or
    /// PGDATABASE, is libpq's habit of naming the database one works on). So:
    /// the named database unless it is an Odoo one, else `postgres`, else
    /// `template1`, the first that lets this role in.
    pub async fn connect_maintenance(&self) -> Result<Client, ConnError> {
        if let Some(db) = self.maintenance.get() {
            return self.connect(db).await;
        }
        let named = self.maintenance_db.as_str();
        let mut tried: Vec<String> = Vec::new();
        let mut first_err = None;
        let mut odoo_named = false;
        let mut candidates = vec![named];
        candidates.extend(["postgres", "template1"].iter().filter(|d| **d != named));
        for db in candidates {
            match self.connect(db).await {
                Ok(c) => {
                    if db == named && named != "postgres" && is_odoo(&c).await {
                        tracing::info!(db, "not a maintenance database: it is an Odoo database");
                        odoo_named = true;
                        continue;
                    }
                    let _ = self.maintenance.set(db.to_string());
                    return Ok(c);
                }
                Err(e @ (ConnError::Unreachable { .. } | ConnError::Tls(_))) => return Err(e),
                Err(e) => {
                    tracing::info!(db, error = %e, "not usable as the maintenance database");
                    tried.push(format!("{db}: {e}"));
                    first_err.get_or_insert(e);
                }
            }
        }
        match first_err {
            Some(_) if odoo_named => Err(ConnError::Config(format!(
                "no database for server-wide work on {}: {named:?} (dbname in --dsn or PGDATABASE) is an Odoo database (upgrade-pilot freezes, renames and copies those: PostgreSQL refuses that while connected to one), and role {:?} may not connect to postgres or template1 ({}): let it connect to postgres (GRANT CONNECT ON DATABASE postgres TO \"{}\", pg_hba.conf), or name a database that is not Odoo's with dbname= in --dsn",
                self.server(),
                self.user,
                tried.join("; "),
                self.user
            ))),
            Some(e) => Err(e),
            None => Err(ConnError::Config(format!(
                "{named:?} is an Odoo database: name a database for server-wide work with dbname= in --dsn"
            ))),
        }
    }

    fn classify(&self, e: tokio_postgres::Error, db: &str) -> ConnError {
        let server = self.server();
        if let Some(dbe) = e.as_db_error() {
            let code = dbe.code().code();
            return match code {
                "3D000" => ConnError::NoDatabase {
                    db: db.to_string(),
                    server,
                },
                "28P01" | "28000" => ConnError::Auth {
                    user: self.user.clone(),
                    server,
                },
                "55000" => ConnError::NotAccepting {
                    db: db.to_string(),
                    server,
                },
                // Shutting down, starting up, or our session ended by the server: it went away.
                c if c.starts_with("57P") || c.starts_with("08") => ConnError::Unreachable {
                    server,
                    detail: dbe.message().to_string(),
                },
                _ => ConnError::Other {
                    server,
                    detail: dbe.message().to_string(),
                },
            };
        }
        let mut detail = e.to_string();
        let mut src = std::error::Error::source(&e);
        while let Some(s) = src {
            detail = format!("{detail}: {s}");
            src = s.source();
        }
        if detail.contains("certificate") || detail.contains("TLS") || detail.contains("tls") {
            return ConnError::Tls(format!("{server}: {detail}"));
        }
        if detail.contains("password") {
            return ConnError::Auth {
                user: self.user.clone(),
                server,
            };
        }
        ConnError::Unreachable { server, detail }
    }

    /// libpq conninfo naming just the database, quoted so that any name works
    /// (a name containing `=` would otherwise be read as a connection string).
    pub fn conninfo_db(db: &str) -> String {
        format!("dbname='{}'", db.replace('\\', "\\\\").replace('\'', "\\'"))
    }

    /// A psql command line a user can paste (no password in it).
    pub fn psql_line(&self, db: &str) -> String {
        let q = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
        // A name with '=' would be read as a connection string: quote it as one.
        let target = if db.contains('=') {
            Self::conninfo_db(db)
        } else {
            db.to_string()
        };
        format!(
            "psql -h {} -p {} -U {} -d {}",
            q(&self.host),
            self.port,
            q(&self.user),
            q(&target)
        )
    }

    /// Environment for client tools (pg_dump, pg_restore, psql, Odoo commands).
    /// The password travels here and never on a command line.
    pub fn child_env(&self) -> Vec<(OsString, OsString)> {
        let mut env: Vec<(OsString, OsString)> = vec![
            ("PGHOST".into(), self.host.clone().into()),
            ("PGPORT".into(), self.port.to_string().into()),
            ("PGUSER".into(), self.user.clone().into()),
            ("PGSSLMODE".into(), self.sslmode.as_str().into()),
            ("PGAPPNAME".into(), APP_NAME.into()),
            ("PGCONNECT_TIMEOUT".into(), "15".into()),
        ];
        if let Some(c) = &self.sslrootcert {
            env.push(("PGSSLROOTCERT".into(), c.clone().into()));
        }
        if let Some(p) = &self.password {
            env.push(("PGPASSWORD".into(), p.0.clone().into()));
        }
        env
    }

    pub fn has_password(&self) -> bool {
        self.password.is_some()
    }
}

/// Whether the database `c` is connected to holds Odoo's module table.
async fn is_odoo(c: &Client) -> bool {
    c.query_one(
        "SELECT to_regclass('public.ir_module_module') IS NOT NULL",
        &[],
    )
    .await
    .is_ok_and(|r| r.get::<_, bool>(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn resolve(
        dsn: Option<&str>,
        vars: &[(&str, &str)],
        fallback: Fallback,
    ) -> Result<ConnInfo, ConnError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let env = move |k: &str| map.get(k).cloned();
        ConnInfo::resolve(Sources {
            dsn,
            env: &env,
            fallback,
            pgpass: None,
        })
    }

    #[test]
    fn dsn_beats_env_beats_odoo_conf() {
        let odoo = Fallback {
            host: Some("confhost".into()),
            port: Some(6000),
            user: Some("odoo".into()),
            password: Some("pw".into()),
        };
        let c = resolve(Some("host=dsnhost"), &[("PGPORT", "7000")], odoo).unwrap();
        assert_eq!(
            (c.host.as_str(), c.port, c.user.as_str()),
            ("dsnhost", 7000, "odoo")
        );
        assert!(c.has_password());
        let env = c.child_env();
        assert!(env.iter().any(|(k, v)| k == "PGPASSWORD" && v == "pw"));
        assert!(
            !format!("{c:?}").contains("pw\""),
            "Debug must not show the password"
        );
    }

    #[test]
    fn password_in_dsn_is_refused() {
        let e = resolve(Some("postgresql://u:secret@h/db"), &[], Fallback::default()).unwrap_err();
        assert!(e.to_string().contains("PGPASSWORD"));
        assert!(!e.to_string().contains("secret"));
    }

    #[test]
    fn conninfo_quotes_any_name() {
        assert_eq!(ConnInfo::conninfo_db("a'b\\c=d"), "dbname='a\\'b\\\\c=d'");
    }
}
