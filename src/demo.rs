//! The demo: an embedded throwaway PostgreSQL holding a sample Odoo 16.0
//! database (assets/demo/seed.sql), a filestore, and the demo upgrade plan.
//! `upgrade-pilot demo` and the test suite share it.

use std::path::{Path, PathBuf};

use color_eyre::Result;
use color_eyre::eyre::WrapErr;
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::engine::Engine;
use crate::pg::cluster::{Cluster, ClusterOptions};
use crate::pg::conn::ConnInfo;
use crate::pg::ident::quote_ident;

pub const DEMO_DB: &str = "demo_manufacturing";
pub const SEED: &str = include_str!("../assets/demo/seed.sql");

/// The demo plan, embedded so that the binary works away from the source tree.
const PLAN_FILES: &[(&str, &str)] = &[
    ("demo.toml", include_str!("../assets/plans/demo.toml")),
    (
        "demo/fake-odoo-update.sh",
        include_str!("../assets/plans/demo/fake-odoo-update.sh"),
    ),
    (
        "demo/17.0/pre/010_mail_alias_domain.sql",
        include_str!("../assets/plans/demo/17.0/pre/010_mail_alias_domain.sql"),
    ),
    (
        "demo/17.0/pre/020_cron_name_plain_text.sql",
        include_str!("../assets/plans/demo/17.0/pre/020_cron_name_plain_text.sql"),
    ),
    (
        "demo/17.0/pre/030_account_move_checked.sql",
        include_str!("../assets/plans/demo/17.0/pre/030_account_move_checked.sql"),
    ),
    (
        "demo/17.0/pre/040_webhook_actions.sql",
        include_str!("../assets/plans/demo/17.0/pre/040_webhook_actions.sql"),
    ),
    (
        "demo/17.0/post/010_new_version_data.sql",
        include_str!("../assets/plans/demo/17.0/post/010_new_version_data.sql"),
    ),
    (
        "demo/17.0/post/090_module_versions.sql",
        include_str!("../assets/plans/demo/17.0/post/090_module_versions.sql"),
    ),
];

/// Creates `db` and loads the demo seed into it.
pub async fn load_seed(conn: &ConnInfo, db: &str) -> Result<()> {
    let maint = conn.connect_maintenance().await?;
    maint
        .batch_execute(&format!("CREATE DATABASE {}", quote_ident(db)))
        .await?;
    let c = conn.connect(db).await?;
    c.batch_execute(SEED)
        .await
        .wrap_err("loading the demo seed")?;
    Ok(())
}

/// Writes `count` small files into `<data_dir>/filestore/<db>`, named by content
/// hash in two-character folders, as Odoo stores attachments.
pub fn write_filestore(data_dir: &Path, db: &str, count: usize) -> Result<PathBuf> {
    let root = crate::odoo::filestore::path(data_dir, db);
    for i in 0..count {
        let body = format!("%PDF-1.4 demo attachment {i}\n");
        let h = hex::encode(Sha256::digest(body.as_bytes()));
        let dir = root.join(&h[..2]);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join(&h[..40]), body)?;
    }
    Ok(root)
}

/// Writes the demo plan under `dir` and returns the plan file. `pace` (seconds
/// per module line of the stand-in `odoo -u all`) lets a person watch progress.
pub fn write_plan(dir: &Path, pace: Option<&str>) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    for (rel, text) in PLAN_FILES {
        let p = dir.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let text = match pace {
            Some(pace) if *rel == "demo.toml" => {
                text.replace("\"{to}\"]", &format!("\"{{to}}\", \"{pace}\"]"))
            }
            _ => text.to_string(),
        };
        std::fs::write(&p, text)?;
        if rel.ends_with(".sh") {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))?;
        }
    }
    Ok(dir.join("demo.toml"))
}

/// A running demo: server, sample db, filestore, plan, and an engine over them.
pub struct Demo {
    pub cluster: Cluster,
    pub engine: Engine,
    pub plan: PathBuf,
    pub db: String,
}

impl Demo {
    pub async fn start(keep: bool) -> Result<Demo> {
        let cluster = tokio::task::spawn_blocking(move || {
            Cluster::start(ClusterOptions {
                keep,
                ..Default::default()
            })
        })
        .await??;
        let root = cluster.root().to_path_buf();
        let conn = cluster.conn_info();
        load_seed(&conn, DEMO_DB).await?;
        let data_dir = root.join("odoo-data");
        write_filestore(&data_dir, DEMO_DB, 40)?;
        let plan = write_plan(&root.join("plans"), Some("0.15"))?;
        let mut config = Config::default();
        config.plans.insert("17.0".into(), plan.clone());
        let engine = Engine {
            conn,
            config,
            state_dir: root.join("state"),
            data_dir: Some(data_dir),
        };
        Ok(Demo {
            cluster,
            engine,
            plan,
            db: DEMO_DB.to_string(),
        })
    }
}
