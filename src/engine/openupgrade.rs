//! The OpenUpgrade engine (UPGRADE-ENGINES.md Part B): the plan is derived, one
//! hop per major from the source to the target, each running that series' Odoo
//! (`[odoo."<series>"]`) on the working copy with OpenUpgrade's framework loaded
//! and its scripts as the upgrade path. A hop's verdict comes from the database,
//! not from the log alone: exit 0, base at the hop's series, nothing pending.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use tokio_util::sync::CancellationToken;

use super::emit::Emitter;
use super::job::{self, JobRecord};
use super::job::{HopOutcome, HopSpec};
use super::plan::{PlanError, ReadyPlan, RunCtx};
use super::preflight::{Level, Note};
use super::{Engine, EngineError};
use crate::campaign::anomaly::Draft;
use crate::config::OdooInstall;
use crate::odoo::conf::OdooConf;
use crate::odoo::oulog::{self, HopLog, Seen};
use crate::odoo::version::Series;
use crate::pg::conn::ConnInfo;

/// One series' Odoo as configured, with an odoo.conf's keys folded in.
#[derive(Debug, Clone)]
pub struct Install {
    pub series: Series,
    pub command: Vec<String>,
    pub addons_path: Vec<PathBuf>,
    pub openupgrade: Option<PathBuf>,
    pub db_user: Option<String>,
    pub conf: Option<PathBuf>,
}

/// Which engine makes the upgrade: a written plan, or OpenUpgrade driven natively.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EngineChoice {
    #[default]
    Plan,
    OpenUpgrade,
    /// Odoo's upgrade platform (Enterprise): src/engine/platform.
    OdooPlatform,
}

impl std::str::FromStr for EngineChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "plan" => Ok(EngineChoice::Plan),
            "openupgrade" => Ok(EngineChoice::OpenUpgrade),
            "odoo-platform" => Ok(EngineChoice::OdooPlatform),
            _ => Err(format!(
                "unknown engine {s:?}: use openupgrade, odoo-platform or plan"
            )),
        }
    }
}

impl EngineChoice {
    /// Without a choice (the TUI): a written plan for the target wins; else
    /// OpenUpgrade when the target's Odoo is configured.
    pub fn for_target(config: &crate::config::Config, target: &str) -> EngineChoice {
        if !config.plans.contains_key(target) && config.odoo.installs.contains_key(target) {
            EngineChoice::OpenUpgrade
        } else {
            EngineChoice::Plan
        }
    }
}

impl Install {
    pub fn resolve(key: &str, cfg: &OdooInstall) -> Result<Install, String> {
        let series: Series = key.parse().map_err(|e| format!("{e}"))?;
        let mut install = Install {
            series,
            command: cfg.command.clone(),
            addons_path: cfg.addons_path.clone(),
            openupgrade: cfg.openupgrade.clone(),
            db_user: cfg.db_user.clone(),
            conf: cfg.conf.clone(),
        };
        if let Some(conf) = &cfg.conf {
            let c = OdooConf::load(conf).map_err(|e| e.to_string())?;
            if install.addons_path.is_empty() {
                install.addons_path = c.addons_path;
            }
            if install.db_user.is_none() {
                install.db_user = c.db_user;
            }
        }
        if install.command.is_empty() {
            return Err(format!(
                "[odoo.\"{key}\"] has no command: say how this series' Odoo starts, e.g. command = [\"/srv/odoo{}/venv/bin/python\", \"/srv/odoo{}/odoo-bin\"]",
                series.major, series.major
            ));
        }
        Ok(install)
    }

    /// The configured install of `series`, or the line saying how to add one.
    pub fn for_series(
        installs: &BTreeMap<String, OdooInstall>,
        series: Series,
    ) -> Result<Install, String> {
        let key = series.to_string();
        match installs.get(&key) {
            Some(cfg) => Install::resolve(&key, cfg),
            None => Err(format!(
                "no Odoo {key} configured: add [odoo.\"{key}\"] (command, addons_path, openupgrade) to the config, then run upgrade-pilot doctor"
            )),
        }
    }

    /// Addons folders as Odoo gets them: OpenUpgrade's folder added when missing.
    pub fn full_addons_path(&self) -> Vec<PathBuf> {
        let mut out = self.addons_path.clone();
        if let Some(ou) = &self.openupgrade {
            if !out.iter().any(|p| p == ou) {
                out.push(ou.clone());
            }
        }
        out
    }

    pub fn scripts_dir(&self) -> Option<PathBuf> {
        self.openupgrade
            .as_ref()
            .map(|p| p.join("openupgrade_scripts").join("scripts"))
    }

    /// Where `odoo/release.py` should be: next to odoo-bin, or above an `odoo/addons` folder.
    pub fn release_py(&self) -> Option<PathBuf> {
        let mut candidates = Vec::new();
        for arg in &self.command {
            let p = Path::new(arg);
            if p.file_name().is_some_and(|n| n == "odoo-bin") {
                if let Some(dir) = p.parent() {
                    candidates.push(dir.join("odoo").join("release.py"));
                }
            }
        }
        for a in &self.addons_path {
            candidates.push(a.join("..").join("release.py"));
            candidates.push(a.join("..").join("odoo").join("release.py"));
        }
        candidates.into_iter().find(|p| p.is_file())
    }

    /// The series `odoo/release.py` declares (`version_info = (17, 0, 0, FINAL, 0, '')`).
    pub fn release_series(&self) -> Result<Series, String> {
        let path = self.release_py().ok_or_else(|| {
            "odoo/release.py not found next to odoo-bin nor above an addons folder: is command the Odoo source's odoo-bin?".to_string()
        })?;
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        release_series(&text).ok_or_else(|| format!("{}: no version_info found", path.display()))
    }

    /// Module folders (with a manifest) on this install's addons path, by name.
    pub fn modules(&self) -> BTreeMap<String, PathBuf> {
        let mut out = BTreeMap::new();
        for dir in self.full_addons_path() {
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in rd.flatten() {
                let p = e.path();
                if p.join("__manifest__.py").is_file() {
                    if let Some(n) = p.file_name().and_then(|n| n.to_str()) {
                        // The first folder on the path wins, as in Odoo.
                        out.entry(n.to_string()).or_insert(p.clone());
                    }
                }
            }
        }
        out
    }

    /// Problems found without starting anything: files and folders, the role.
    pub fn static_problems(&self, role: &str) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(prog) = self.command.first() {
            if let Err(e) = super::plan::check_program(prog, Path::new(".")) {
                out.push(format!("command: {e}"));
            }
        }
        for a in &self.addons_path {
            if !a.is_dir() {
                out.push(format!("addons path {} does not exist", a.display()));
            }
        }
        if self.addons_path.is_empty() {
            out.push(
                "no addons_path (nor conf with addons_path): Odoo would not find its modules"
                    .into(),
            );
        }
        match &self.openupgrade {
            None => out.push(
                "no openupgrade folder: set openupgrade = \"/srv/OpenUpgrade-<series>\" (git checkout of OCA/OpenUpgrade at this series)"
                    .into(),
            ),
            Some(ou) => {
                if !ou.join("openupgrade_framework").join("__manifest__.py").is_file() {
                    out.push(format!(
                        "{} has no openupgrade_framework module: clone OCA/OpenUpgrade at branch {} there",
                        ou.display(),
                        self.series
                    ));
                }
                if !ou.join("openupgrade_scripts").join("scripts").is_dir() {
                    out.push(format!(
                        "{} has no openupgrade_scripts/scripts: Odoo would refuse it as --upgrade-path",
                        ou.display()
                    ));
                }
            }
        }
        if role == "postgres" {
            out.push(
                "Odoo refuses to connect as role postgres: set db_user = \"odoo\" (a role owning the databases)"
                    .into(),
            );
        }
        match self.release_series() {
            Ok(s) if s != self.series => out.push(format!(
                "odoo/release.py says {s}, not {}: command points at another Odoo",
                self.series
            )),
            Ok(_) => {}
            Err(e) => out.push(e),
        }
        out
    }

    /// The role Odoo will connect as.
    pub fn role<'a>(&'a self, conn: &'a ConnInfo) -> &'a str {
        self.db_user.as_deref().unwrap_or(&conn.user)
    }

    /// `<command> [-c conf] --addons-path=… -d DB --db_host=… …`: what every use shares.
    pub fn base_args(&self, sub: Option<&str>, conn: &ConnInfo, db: &str) -> Vec<String> {
        let mut argv = self.command.clone();
        if let Some(s) = sub {
            argv.push(s.to_string());
        }
        if let Some(c) = &self.conf {
            argv.push(format!("--config={}", c.display()));
        }
        let addons: Vec<String> = self
            .full_addons_path()
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        argv.push(format!("--addons-path={}", addons.join(",")));
        argv.push(format!("--database={db}"));
        argv.push(format!("--db_host={}", conn.host));
        argv.push(format!("--db_port={}", conn.port));
        argv.push(format!("--db_user={}", self.role(conn)));
        argv.push(format!("--db_sslmode={}", conn.sslmode.as_str()));
        argv
    }

    /// Environment for the child: the password only when Odoo's role is ours
    /// (another role's comes from ~/.pgpass), never on the command line.
    pub fn env(&self, conn: &ConnInfo) -> Vec<(String, String)> {
        let mut env = app_name_env();
        env.extend(secret_env(conn, self.role(conn) == conn.user));
        env
    }
}

/// How Odoo's sessions show in pg_stat_activity. Odoo names them itself
/// (odoo/sql_db.py: ODOO_PGAPPNAME with `{pid}` replaced, else `odoo-<pid>`),
/// overriding libpq's PGAPPNAME, which older series still follow.
fn app_name_env() -> Vec<(String, String)> {
    vec![
        (
            "ODOO_PGAPPNAME".to_string(),
            "upgrade-pilot-odoo-{pid}".to_string(),
        ),
        ("PGAPPNAME".to_string(), "upgrade-pilot-odoo".to_string()),
    ]
}

/// PGPASSWORD (and the CA file) for a child that connects as our role.
pub fn secret_env(conn: &ConnInfo, ours: bool) -> Vec<(String, String)> {
    if !ours {
        return Vec::new();
    }
    conn.child_env()
        .into_iter()
        .filter(|(k, _)| k == "PGPASSWORD" || k == "PGSSLROOTCERT")
        .map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.to_string_lossy().into_owned(),
            )
        })
        .collect()
}

/// `version_info = (17, 0, 0, FINAL, 0, '')` → 17.0; `(17, 2, …)` → saas~17.2.
pub fn release_series(text: &str) -> Option<Series> {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("version_info"))?;
    let inner = &line[line.find('(')? + 1..];
    let mut parts = inner.split(',').map(str::trim);
    let major: u32 = parts.next()?.parse().ok()?;
    let minor: u32 = parts.next()?.trim_start_matches('~').parse().ok()?;
    Some(Series::new(major, minor))
}

/// The `--load` list: framework server-wide; from 19.0 keep `rpc`, which the
/// default load has there (harmless for a hop, needed by XML-RPC tooling).
fn load_list(to: Series) -> &'static str {
    if to.major >= 19 {
        "base,rpc,web,openupgrade_framework"
    } else {
        "base,web,openupgrade_framework"
    }
}

/// The hops from `source` to `target`, one per major, each with its argv.
pub fn derive(
    installs: &BTreeMap<String, OdooInstall>,
    conn: &ConnInfo,
    source: Series,
    target: Series,
    db: &str,
    data_dir: &Path,
) -> Result<Vec<HopSpec>, String> {
    if target.is_saas() {
        return Err(format!(
            "OpenUpgrade migrates between major versions only: choose {}.0, not {target}",
            target.major
        ));
    }
    let mut hops = Vec::new();
    let mut from = source;
    for major in source.major + 1..=target.major {
        let to = Series::new(major, 0);
        let install = Install::for_series(installs, to)?;
        let scripts = install.scripts_dir().ok_or_else(|| {
            format!("[odoo.\"{to}\"] has no openupgrade folder: set openupgrade = \"/srv/OpenUpgrade-{major}\"")
        })?;
        let mut argv = install.base_args(None, conn, db);
        argv.extend([
            format!("--data-dir={}", data_dir.display()),
            format!("--load={}", load_list(to)),
            format!("--upgrade-path={}", scripts.display()),
            "-u".into(),
            "all".into(),
            "--stop-after-init".into(),
            "--workers=0".into(),
            // A hop serves nothing: no port taken from a running Odoo.
            "--no-http".into(),
        ]);
        hops.push(HopSpec {
            from,
            to,
            argv,
            env: [("OPENUPGRADE_TARGET_VERSION".to_string(), target.to_string())]
                .into_iter()
                .chain(app_name_env())
                .collect(),
            our_password: install.role(conn) == conn.user,
        });
        from = to;
    }
    Ok(hops)
}

/// Problems that stop an OpenUpgrade job before anything is copied.
pub fn preflight_problems(
    installs: &BTreeMap<String, OdooInstall>,
    conn: &ConnInfo,
    hops: &[HopSpec],
) -> Vec<String> {
    let mut out = Vec::new();
    for h in hops {
        match Install::for_series(installs, h.to) {
            Ok(i) => {
                for p in i.static_problems(i.role(conn)) {
                    out.push(format!("Odoo {}: {p}", h.to));
                }
            }
            Err(e) => out.push(e),
        }
    }
    out
}

/// `'version': '17.0.1.0'` from a manifest, without a Python parser.
pub fn manifest_version(text: &str) -> Option<String> {
    let i = text
        .find("'version'")
        .or_else(|| text.find("\"version\""))?;
    let rest = &text[i + "'version'".len()..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let q = rest.chars().next()?;
    if q != '\'' && q != '"' {
        return None;
    }
    let body = &rest[1..];
    Some(body[..body.find(q)?].to_string())
}

/// Names, at most `n` of them, then how many more.
fn some(names: &[&str], n: usize) -> String {
    let mut s = names.iter().take(n).copied().collect::<Vec<_>>().join(", ");
    if names.len() > n {
        s.push_str(&format!(" and {} more", names.len() - n));
    }
    s
}

/// Coverage before testing: per hop, installed modules the hop's Odoo lacks
/// (unless OpenUpgrade renames or merges them), custom modules whose manifest
/// has no version for that series, and what OpenUpgrade itself says of the
/// standard ones (its coverage table, else which have a script). (level, text).
pub fn coverage(
    installs: &BTreeMap<String, OdooInstall>,
    hops: &[HopSpec],
    installed: &[String],
    custom: &[String],
) -> Vec<(Level, String)> {
    use crate::odoo::oucoverage::{Coverage, Status};
    let mut notes = Vec::new();
    for h in hops {
        let Ok(i) = Install::for_series(installs, h.to) else {
            continue;
        };
        let have = i.modules();
        let cov = i
            .openupgrade
            .as_deref()
            .map(|p| Coverage::load(p, h.to))
            .unwrap_or_default();
        let absent: Vec<&str> = installed
            .iter()
            .filter(|m| !have.contains_key(*m))
            .map(String::as_str)
            .collect();
        let (moved, missing): (Vec<&str>, Vec<&str>) = absent
            .into_iter()
            .partition(|m| cov.moved.get(*m).is_some_and(|to| have.contains_key(to)));
        if !missing.is_empty() {
            notes.push((Level::Warn, format!(
                "{} installed module(s) not on Odoo {}'s addons path, which cannot migrate them: {}",
                missing.len(),
                h.to,
                missing.join(", ")
            )));
        }
        if !moved.is_empty() {
            let pairs: Vec<String> = moved
                .iter()
                .map(|m| format!("{m} → {}", cov.moved[*m]))
                .collect();
            notes.push((
                Level::Info,
                format!(
                    "{} installed module(s) renamed or merged by OpenUpgrade {} (apriori.py): {}",
                    moved.len(),
                    h.to,
                    pairs.join(", ")
                ),
            ));
        }
        let prefix = format!("{}.", h.to);
        let unversioned: Vec<&str> = custom
            .iter()
            .filter(|m| have.contains_key(*m))
            .filter(|m| {
                let v = std::fs::read_to_string(have[*m].join("__manifest__.py"))
                    .ok()
                    .and_then(|t| manifest_version(&t));
                !v.is_some_and(|v| v.starts_with(&prefix))
            })
            .map(String::as_str)
            .collect();
        if !unversioned.is_empty() {
            notes.push((Level::Warn, format!(
                "{} custom module(s) without a {} version in their manifest (not ported yet?): {}",
                unversioned.len(),
                h.to,
                unversioned.join(", ")
            )));
        }
        if i.openupgrade.is_none() {
            continue;
        }
        // OpenUpgrade migrates Odoo's own modules; custom ones bring their own scripts.
        let standard: Vec<&str> = installed
            .iter()
            .filter(|m| have.contains_key(*m) && !custom.contains(m))
            .map(String::as_str)
            .collect();
        let table_name = crate::odoo::oucoverage::table_name(h.to);
        match &cov.table {
            Some(table) => {
                let of = |want: fn(&Status) -> bool| -> Vec<&str> {
                    standard
                        .iter()
                        .copied()
                        .filter(|m| table.get(*m).is_some_and(want))
                        .collect()
                };
                let done = of(|s| *s == Status::Done);
                let nothing = of(|s| *s == Status::NothingToDo);
                let other = of(|s| matches!(s, Status::Other(_)));
                // An empty status with a scripts folder is work the table has not caught up with.
                let uncovered: Vec<&str> = of(|s| *s == Status::NotCovered)
                    .into_iter()
                    .filter(|m| !cov.has_script(m))
                    .collect();
                let rest =
                    standard.len() - done.len() - nothing.len() - uncovered.len() - other.len();
                notes.push((Level::Info, format!(
                    "OpenUpgrade {} coverage of {} installed standard module(s) ({table_name}): {} done, {} nothing to do, {} not covered yet, {} other, {rest} unmarked with a script or not listed",
                    h.to,
                    standard.len(),
                    done.len(),
                    nothing.len(),
                    uncovered.len(),
                    other.len()
                )));
                if !uncovered.is_empty() {
                    notes.push((Level::Warn, format!(
                        "{} installed module(s) not covered yet by OpenUpgrade {} (empty status in {table_name}, no script): their data is only what Odoo's -u makes of it: {}",
                        uncovered.len(),
                        h.to,
                        some(&uncovered, 30)
                    )));
                }
                for m in other {
                    if let Some(Status::Other(s)) = table.get(m) {
                        notes.push((
                            Level::Info,
                            format!("OpenUpgrade {} says of {m}: {s}", h.to),
                        ));
                    }
                }
            }
            None => {
                let unscripted: Vec<&str> = standard
                    .iter()
                    .copied()
                    .filter(|m| !cov.has_script(m))
                    .collect();
                if !unscripted.is_empty() {
                    notes.push((Level::Info, format!(
                        "{} of {} installed standard module(s) have no OpenUpgrade {} script (right when there is nothing to do; {} in OpenUpgrade's git checkout, not in its wheels, tells 'Nothing to do' from 'not covered yet'): {}",
                        unscripted.len(),
                        standard.len(),
                        h.to,
                        cov.table_path.display(),
                        some(&unscripted, 30)
                    )));
                }
            }
        }
    }
    notes
}

/// What `--dry-run` prints and the job records: one block per hop.
pub fn describe(hops: &[HopSpec]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, h) in hops.iter().enumerate() {
        out.push(format!(
            "hop {} of {}: {} → {}",
            i + 1,
            hops.len(),
            h.from,
            h.to
        ));
        let env: Vec<String> = h.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.push(format!("  {} {}", env.join(" "), h.argv.join(" ")));
    }
    out
}

/// Runs one hop on `ctx.db` and judges it. The log goes to the job's log, to
/// `log` (the hop's own file) and through the progress channel.
pub async fn run_hop(
    spec: &HopSpec,
    ctx: &RunCtx<'_>,
    log: Option<&Path>,
    base: f64,
    span: f64,
) -> Result<HopOutcome, PlanError> {
    let t0 = Instant::now();
    let hop = format!("{} → {}", spec.from, spec.to);
    let err = |detail: String| PlanError::Command {
        step: format!("openupgrade {hop}"),
        detail,
    };
    ctx.emit.log(format!("$ {}", spec.argv.join(" ")));
    let mut cmd = tokio::process::Command::new(&spec.argv[0]);
    cmd.args(&spec.argv[1..])
        .envs(spec.env.iter().cloned())
        .envs(secret_env(ctx.conn, spec.our_password))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    super::child::die_with_us(&mut cmd);
    let mut child = cmd
        .spawn()
        .map_err(|e| err(format!("cannot start {}: {e}", spec.argv[0])))?;
    let pid = child.id().map(|p| nix::unistd::Pid::from_raw(p as i32));
    let mut file = match log {
        Some(p) => {
            let _ = p.parent().map(crate::campaign::store::ensure_dir);
            tokio::fs::File::create(p).await.ok()
        }
        None => None,
    };
    let mut line_rx = super::child::lines(&mut child, 1024);
    let mut hl = HopLog::new();
    let mut last_progress = Instant::now() - Duration::from_secs(1);
    let status = loop {
        tokio::select! {
            line = line_rx.recv() => match line {
                Some(l) => {
                    if let Some(f) = file.as_mut() {
                        let _ = f.write_all(l.as_bytes()).await;
                        let _ = f.write_all(b"\n").await;
                    }
                    let seen = hl.feed(&l);
                    let show = matches!(seen, Seen::Module { .. }) || last_progress.elapsed() > Duration::from_millis(500);
                    if show {
                        last_progress = Instant::now();
                        let eta = hl.eta().map(|d| format!(", ETA {}", oulog::human_duration(d))).unwrap_or_default();
                        let module = hl.module.clone().unwrap_or_default();
                        ctx.emit.fraction(
                            Some(base + span * hl.fraction().unwrap_or(0.0)),
                            format!("hop {hop}: module {}/{} {module}, {} migration(s), {} error(s){eta}", hl.done, hl.total, hl.migrations, hl.errors),
                        );
                    }
                    ctx.emit.log(l);
                }
                None => break child.wait().await.map_err(|e| err(e.to_string()))?,
            },
            _ = ctx.cancel.cancelled() => {
                super::plan::stop_group(pid, &mut child).await;
                return Err(PlanError::Cancelled);
            }
        }
    };
    if let Some(f) = file.as_mut() {
        let _ = f.flush().await;
    }
    let code = status.code();
    // The verdict is the database's: base at the hop's series, nothing pending.
    let (base_version, pending) = match ctx.conn.connect(ctx.db).await {
        Ok(c) => {
            let v = crate::odoo::inspect::base_version(&c, ctx.db)
                .await
                .ok()
                .map(|(_, v, _)| v);
            let p: Vec<String> = c
                .query(
                    "SELECT name::text || ' (' || state || ')' FROM ir_module_module WHERE state IN ('to install', 'to upgrade', 'to remove') ORDER BY name",
                    &[],
                )
                .await
                .map(|rows| rows.iter().map(|r| r.get(0)).collect())
                .unwrap_or_default();
            (v, p)
        }
        Err(_) => (None, Vec::new()),
    };
    let at_series = base_version
        .as_deref()
        .and_then(Series::from_module_version)
        .is_some_and(|s| s == spec.to);
    let mut why = Vec::new();
    if code != Some(0) {
        why.push(match code {
            Some(c) => format!("Odoo exited with {c}"),
            None => "Odoo was killed by a signal".into(),
        });
    }
    if let Some(f) = hl.fatal.first() {
        why.push(format!("log: {f}"));
    }
    if !at_series {
        why.push(format!(
            "base is at {}, not {}",
            base_version.as_deref().unwrap_or("?"),
            spec.to
        ));
    }
    if !pending.is_empty() {
        why.push(format!("modules left pending: {}", pending.join(", ")));
    }
    let outcome = HopOutcome {
        from: spec.from.to_string(),
        to: spec.to.to_string(),
        ok: why.is_empty(),
        exit_code: code,
        seconds: t0.elapsed().as_secs_f64(),
        modules: hl.total,
        migrations: hl.migrations,
        warnings: hl.warnings,
        errors: hl.errors,
        base_version,
        pending,
        log: log.map(Path::to_path_buf),
        verdict: why.join("; "),
        issues: hl.issues,
    };
    ctx.emit.log(format!(
        "hop {hop}: {} in {:.1}s, {} modules, {} migration scripts, {} warning(s), {} error(s)",
        if outcome.ok { "done" } else { "FAILED" },
        outcome.seconds,
        outcome.modules,
        outcome.migrations,
        outcome.warnings,
        outcome.errors
    ));
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_and_manifest_versions() {
        assert_eq!(
            release_series("RELEASE_LEVELS = []\nversion_info = (17, 0, 0, FINAL, 0, '')\n"),
            Some(Series::new(17, 0))
        );
        assert_eq!(
            release_series("version_info = (17, 2, 0, ALPHA, 1, '')"),
            Some(Series::new(17, 2))
        );
        assert_eq!(
            manifest_version("{\n    'name': 'X',\n    'version': '17.0.1.2',\n}"),
            Some("17.0.1.2".into())
        );
        assert_eq!(
            manifest_version("{\"version\" : \"1.0\"}"),
            Some("1.0".into())
        );
    }

    #[test]
    fn one_hop_per_major_with_rpc_kept_from_19() {
        let mut installs = BTreeMap::new();
        for s in ["17.0", "18.0", "19.0"] {
            installs.insert(
                s.to_string(),
                OdooInstall {
                    command: vec![format!("/srv/odoo{s}/odoo-bin")],
                    addons_path: vec![format!("/srv/odoo{s}/addons").into()],
                    openupgrade: Some(format!("/srv/OU{s}").into()),
                    db_user: Some("odoo".into()),
                    conf: None,
                },
            );
        }
        let conn = ConnInfo::socket(Path::new("/run/pg"), 5432, "odoo");
        let hops = derive(
            &installs,
            &conn,
            Series::new(16, 0),
            Series::new(19, 0),
            "copy",
            Path::new("/var/lib/odoo"),
        )
        .unwrap();
        let tos: Vec<String> = hops.iter().map(|h| h.to.to_string()).collect();
        assert_eq!(tos, ["17.0", "18.0", "19.0"]);
        let a = &hops[0].argv;
        assert_eq!(a[0], "/srv/odoo17.0/odoo-bin");
        for want in [
            "--addons-path=/srv/odoo17.0/addons,/srv/OU17.0",
            "--database=copy",
            "--db_user=odoo",
            "--data-dir=/var/lib/odoo",
            "--load=base,web,openupgrade_framework",
            "--upgrade-path=/srv/OU17.0/openupgrade_scripts/scripts",
            "-u",
            "--stop-after-init",
            "--workers=0",
        ] {
            assert!(a.iter().any(|x| x == want), "{want} in {a:?}");
        }
        assert!(
            hops[2]
                .argv
                .iter()
                .any(|x| x == "--load=base,rpc,web,openupgrade_framework")
        );
        assert!(hops.iter().all(|h| h.env[0] == ("OPENUPGRADE_TARGET_VERSION".to_string(), "19.0".to_string())));
        installs.remove("18.0");
        let e = derive(
            &installs,
            &conn,
            Series::new(16, 0),
            Series::new(19, 0),
            "copy",
            Path::new("/d"),
        )
        .unwrap_err();
        assert!(e.contains("no Odoo 18.0 configured"), "{e}");
    }
}

/// Lines of a draft's excerpt: the error and the head of its traceback.
const EXCERPT_LINES: usize = 25;

/// One draft per module that logged errors during a hop.
pub fn drafts(outcome: &HopOutcome, job: &str, test_db: Option<&str>) -> Vec<Draft> {
    let hop = format!("{} → {}", outcome.from, outcome.to);
    let mut groups: Vec<(Option<String>, Vec<&oulog::Issue>)> = Vec::new();
    for i in &outcome.issues {
        match groups.iter_mut().find(|(m, _)| *m == i.module) {
            Some((_, v)) => v.push(i),
            None => groups.push((i.module.clone(), vec![i])),
        }
    }
    groups
        .into_iter()
        .map(|(module, issues)| {
            let lines: Vec<&str> = issues
                .iter()
                .flat_map(|i| i.lines.iter().map(String::as_str))
                .take(EXCERPT_LINES)
                .collect();
            let level = if issues.iter().any(|i| i.level == "CRITICAL") {
                "CRITICAL"
            } else {
                "ERROR"
            };
            Draft {
                id: 0,
                job: job.to_string(),
                hop: hop.clone(),
                module,
                level: level.to_string(),
                excerpt: lines.join("\n"),
                count: issues.len(),
                failed_hop: !outcome.ok,
                test_db: test_db.map(str::to_string),
                created_at: chrono::Utc::now(),
            }
        })
        .collect()
}

fn fail(msg: impl Into<String>) -> EngineError {
    EngineError::Preflight(msg.into())
}

/// The source's modules, for the coverage notes (none known for a frozen production).
#[derive(Clone, Copy, Default)]
pub(super) struct Modules<'a> {
    pub installed: &'a [String],
    pub custom: &'a [String],
}

impl Engine {
    /// The derived plan, refused at preflight (before anything is copied) when a
    /// hop's Odoo is missing or wrong, or when the filestore is not found.
    pub(super) fn derive_openupgrade(
        &self,
        source_db: &str,
        work_db: &str,
        source: Series,
        target: Series,
        modules: Modules<'_>,
        notes: &mut Vec<Note>,
    ) -> Result<(ReadyPlan, Vec<HopSpec>), EngineError> {
        let dd = self.data_dir.as_deref().ok_or_else(|| {
            fail("the OpenUpgrade engine needs the filestore: give --data-dir (Odoo's data_dir, holding filestore/<db>), data_dir in the config, or --odoo-config")
        })?;
        let fs = crate::odoo::filestore::path(dd, source_db);
        if !fs.is_dir() {
            return Err(fail(format!(
                "no filestore at {}: the OpenUpgrade engine runs Odoo on the copy's filestore; check --data-dir (it must hold filestore/{source_db})",
                fs.display()
            )));
        }
        let installs = &self.config.odoo.installs;
        let hops = derive(installs, &self.conn, source, target, work_db, dd).map_err(fail)?;
        let problems = preflight_problems(installs, &self.conn, &hops);
        if !problems.is_empty() {
            return Err(fail(problems.join("; ")));
        }
        for (level, text) in coverage(installs, &hops, modules.installed, modules.custom) {
            notes.push(Note { level, text });
        }
        Ok((ReadyPlan::openupgrade(hops.clone()), hops))
    }

    /// Keeps what the hops reported: in the job record (durations, logs,
    /// verdicts) and, for errors, as anomaly drafts in the campaign.
    pub(super) fn record_hops(
        &self,
        record: &mut JobRecord,
        outcomes: Vec<HopOutcome>,
        test_db: Option<&str>,
        emit: &Emitter,
    ) -> Result<(), EngineError> {
        if outcomes.is_empty() {
            return Ok(());
        }
        let mut new = Vec::new();
        for o in &outcomes {
            new.extend(drafts(o, &record.id, test_db));
        }
        if !new.is_empty() {
            // The job's preflight identified the server (its key is in the record).
            let key = self
                .conn
                .known_server_key()
                .unwrap_or_else(|| record.server.clone());
            let added = crate::campaign::add_drafts(&self.state_dir, &key, &record.source_db, new)?;
            emit.log(format!(
                "{} anomaly draft(s) from the hop's errors, to keep or drop (Anomalies screen; listed by report)",
                added.len()
            ));
            record.anomaly_drafts.extend(added);
        }
        record.hops.extend(outcomes);
        job::save(&self.state_dir, record)?;
        Ok(())
    }

    /// Odoo's own `neutralize` (16.0+) on a test copy, after ours, when the
    /// copy's series has an Odoo configured. Its failure is reported, not fatal:
    /// ours has been applied and is verified next.
    pub(super) async fn odoo_neutralize(
        &self,
        record: &mut JobRecord,
        series: Series,
        emit: &Emitter,
        cancel: &CancellationToken,
    ) -> Option<String> {
        if series.major < 16 {
            return None;
        }
        let key = series.to_string();
        let cfg = self.config.odoo.installs.get(&key)?;
        let install = match Install::resolve(&key, cfg) {
            Ok(i) => i,
            Err(e) => return Some(format!("Odoo {key}'s neutralize not run: {e}")),
        };
        let argv = install.base_args(Some("neutralize"), &self.conn, &record.work_db);
        emit.log(format!("$ {}", argv.join(" ")));
        let t0 = Instant::now();
        let mut cmd = tokio::process::Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .envs(install.env(&self.conn))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        super::child::die_with_us(&mut cmd);
        let out = tokio::select! {
            o = cmd.output() => o,
            _ = cancel.cancelled() => return Some("Odoo's neutralize cancelled".into()),
        };
        let text = match out {
            Ok(o) => {
                let all = format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                );
                for l in all.lines() {
                    emit.log(l.to_string());
                }
                if o.status.success() {
                    format!(
                        "Odoo {key}'s own neutralize ran on the copy after ours ({:.1}s)",
                        t0.elapsed().as_secs_f64()
                    )
                } else {
                    let last = all
                        .lines()
                        .rev()
                        .find(|l| !l.trim().is_empty())
                        .unwrap_or_default()
                        .to_string();
                    emit.warn(format!("Odoo {key}'s neutralize failed: {last}"))
                        .await;
                    format!(
                        "Odoo {key}'s own neutralize FAILED (exit {}: {last}); ours was applied and is verified",
                        o.status.code().unwrap_or(-1)
                    )
                }
            }
            Err(e) => format!("Odoo {key}'s own neutralize could not start: {e}"),
        };
        emit.log(text.clone());
        record.odoo_neutralize = Some(text.clone());
        Some(text)
    }
}

/// The `ssh -L` line that brings a port on 127.0.0.1 here to the user's machine.
pub fn ssh_tunnel(port: u16) -> String {
    // Over SSH, SSH_CONNECTION names the address the user came to.
    let host = std::env::var("SSH_CONNECTION")
        .ok()
        .and_then(|s| s.split_whitespace().nth(2).map(str::to_string))
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .unwrap_or_else(|| "this-server".into());
    let user = crate::campaign::who::os_user();
    format!("ssh -N -L {port}:127.0.0.1:{port} {user}@{host}")
}

/// How `serve` starts Odoo on a test copy.
#[derive(Debug, Clone)]
pub struct ServePlan {
    pub series: Series,
    pub port: u16,
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
}

/// A port nobody listens on now, on 127.0.0.1.
fn free_port() -> Result<u16, EngineError> {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| EngineError::Io(format!("no free port on 127.0.0.1: {e}")))
}

/// `^name$` for Odoo's --db-filter, regex characters escaped.
fn db_filter(db: &str) -> String {
    let mut out = String::from("^");
    for c in db.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('$');
    out
}

impl Engine {
    /// The command that serves `db` with its series' Odoo: that database only,
    /// no database manager, 127.0.0.1. Refuses production and non-neutralized dbs.
    pub async fn serve_plan(&self, db: &str, port: Option<u16>) -> Result<ServePlan, EngineError> {
        crate::pg::ident::check_db_name(db).map_err(|e| fail(e.to_string()))?;
        let key = self.server_key().await?;
        if crate::campaign::is_production(&self.state_dir, &key, db)?
            || crate::campaign::holds_production(&self.state_dir, &key, db)?
        {
            return Err(fail(format!(
                "{db:?} holds production data: serve only a neutralized test copy (upgrade-pilot test makes one)"
            )));
        }
        let c = self.conn.connect(db).await?;
        let (series, _, _) = crate::odoo::inspect::base_version(&c, db).await?;
        let flag = crate::odoo::inspect::config_param(&c, "database.is_neutralized").await?;
        if !flag.is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return Err(fail(format!(
                "{db:?} is not neutralized (database.is_neutralized is not true): serve only test copies made by upgrade-pilot test, or run upgrade-pilot neutralize --db {db} first"
            )));
        }
        drop(c);
        let install = Install::for_series(&self.config.odoo.installs, series).map_err(fail)?;
        let port = match port {
            Some(p) => p,
            None => free_port()?,
        };
        let mut argv = install.base_args(None, &self.conn, db);
        argv.extend([
            format!("--db-filter={}", db_filter(db)),
            "--no-database-list".into(),
            "--http-interface=127.0.0.1".into(),
            format!("--http-port={port}"),
            "--workers=0".into(),
        ]);
        if let Some(dd) = &self.data_dir {
            argv.push(format!("--data-dir={}", dd.display()));
        }
        Ok(ServePlan {
            series,
            port,
            argv,
            env: install.env(&self.conn),
        })
    }
}
