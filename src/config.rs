//! The TOML configuration file (`--config`, else `<config dir>/config.toml`).
//! `config/upgrade-pilot.example.toml` documents every key.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use color_eyre::Result;
use color_eyre::eyre::{WrapErr, eyre};
use serde::Deserialize;

use crate::text::one_line;

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where campaigns, job files and logs live (default: the platform data dir).
    pub state_dir: Option<PathBuf>,
    /// Odoo's data_dir (holds `filestore/<db>`), as `--data-dir` gives it.
    pub data_dir: Option<PathBuf>,
    #[serde(default)]
    pub odoo: OdooSection,
    #[serde(default)]
    pub neutralize: NeutralizeSection,
    #[serde(default)]
    pub clone: CloneSection,
    /// Upgrade plan per target series, e.g. `"17.0" = "/etc/upgrade-pilot/plans/17.toml"`.
    #[serde(default)]
    pub plans: BTreeMap<String, PathBuf>,
    #[serde(default)]
    pub freeze: FreezeSection,
    #[serde(default)]
    pub odoo_platform: PlatformSection,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "toml::Table")]
pub struct OdooSection {
    /// Modules to report as custom even when their author says Odoo S.A.
    pub custom_modules: Vec<String>,
    /// Series Odoo's upgrade service accepts as a target (a warning outside);
    /// default: the last three majors of the version table.
    pub supported_targets: Vec<String>,
    /// `[odoo."17.0"]`: how each series' Odoo is installed here (OpenUpgrade engine, serve).
    pub installs: BTreeMap<String, OdooInstall>,
}

/// One series' Odoo: `[odoo."17.0"]`.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OdooInstall {
    /// How this series' Odoo starts, e.g. `["/srv/odoo17/venv/bin/python", "/srv/odoo17/odoo-bin"]`.
    #[serde(default)]
    pub command: Vec<String>,
    /// Addons folders, in Odoo's order; default: the conf file's addons_path.
    #[serde(default)]
    pub addons_path: Vec<PathBuf>,
    /// The folder holding openupgrade_framework and openupgrade_scripts.
    pub openupgrade: Option<PathBuf>,
    /// The role Odoo connects as; default: the conf's db_user, else ours.
    pub db_user: Option<String>,
    /// An odoo.conf to take addons_path and db_user from (and pass with -c).
    pub conf: Option<PathBuf>,
}

const ODOO_KEYS: &str =
    "custom_modules, supported_targets, or a series table such as [odoo.\"17.0\"]";

impl TryFrom<toml::Table> for OdooSection {
    type Error = String;
    fn try_from(t: toml::Table) -> Result<Self, String> {
        let mut s = OdooSection::default();
        for (k, v) in t {
            match k.as_str() {
                "custom_modules" => {
                    s.custom_modules = v.try_into().map_err(|e| format!("custom_modules: {e}"))?
                }
                "supported_targets" => {
                    s.supported_targets = v
                        .try_into()
                        .map_err(|e| format!("supported_targets: {e}"))?
                }
                _ if k.parse::<crate::odoo::version::Series>().is_ok() => {
                    let i: OdooInstall = v
                        .try_into()
                        .map_err(|e| format!("[odoo.\"{k}\"]: {}", one_line(&e.to_string())))?;
                    s.installs.insert(k, i);
                }
                _ => return Err(format!("unknown key {k:?} in [odoo]: expected {ODOO_KEYS}")),
            }
        }
        Ok(s)
    }
}

fn default_supported() -> Vec<String> {
    crate::odoo::version::default_window()
}

impl Default for OdooSection {
    fn default() -> Self {
        OdooSection {
            custom_modules: Vec::new(),
            supported_targets: default_supported(),
            installs: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeutralizeSection {
    /// Action names to leave out (see `upgrade-pilot neutralize --help`).
    #[serde(default)]
    pub skip: Vec<String>,
    /// Extra SQL files run in the same transaction, after the rules.
    #[serde(default)]
    pub extra_sql: Vec<PathBuf>,
    /// Your own rules files (the format of assets/neutralize/*.toml), run after the built-in ones.
    #[serde(default)]
    pub extra_rules: Vec<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloneSection {
    /// auto | template | snapshot
    #[serde(default = "default_method")]
    pub method: String,
    /// Parallel jobs for pg_dump/pg_restore where a format allows it, and
    /// the session pairs a snapshot copy streams rows on.
    #[serde(default = "default_jobs")]
    pub jobs: u32,
}

fn default_method() -> String {
    "auto".into()
}
fn default_jobs() -> u32 {
    2
}

impl Default for CloneSection {
    fn default() -> Self {
        CloneSection {
            method: default_method(),
            jobs: default_jobs(),
        }
    }
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreezeSection {
    /// Command run before freezing production, e.g. `["systemctl", "stop", "odoo"]`.
    #[serde(default)]
    pub stop: Vec<String>,
    /// Command run after unfreezing, e.g. `["systemctl", "start", "odoo"]`.
    #[serde(default)]
    pub start: Vec<String>,
}

/// `[odoo_platform]`: where Odoo's upgrade platform is (`--engine odoo-platform`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformSection {
    /// HTTPS only; default Odoo's own.
    pub url: Option<String>,
    /// A PEM CA the platform's certificate must lead to (a private stand-in);
    /// default: the system's roots.
    pub ca_file: Option<PathBuf>,
    /// Seconds between two readings of the request's state and log.
    #[serde(default = "default_poll")]
    pub poll_seconds: f64,
    /// The data channel's SSH user (Odoo's is `odoo`; a stand-in may use another).
    #[serde(default = "default_data_user")]
    pub data_user: String,
    /// `--contract CODE`: from the command line only, never from the file.
    #[serde(skip)]
    pub contract: Option<crate::odoo::platform::Secret>,
}

fn default_data_user() -> String {
    crate::odoo::platform::DATA_USER.into()
}

fn default_poll() -> f64 {
    5.0
}

impl Default for PlatformSection {
    fn default() -> Self {
        PlatformSection {
            url: None,
            ca_file: None,
            poll_seconds: default_poll(),
            data_user: default_data_user(),
            contract: None,
        }
    }
}

impl PlatformSection {
    pub fn url(&self) -> &str {
        self.url
            .as_deref()
            .unwrap_or(crate::odoo::platform::DEFAULT_URL)
    }
}

impl Config {
    /// Reads `path`, or the default file when it exists; no file means defaults.
    pub fn load(path: Option<&Path>) -> Result<Config> {
        let (path, required) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => match default_config_file() {
                Some(p) => (p, false),
                None => return Ok(Config::default()),
            },
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Config::default());
            }
            Err(e) => return Err(eyre!("cannot read config {}: {e}", path.display())),
        };
        let mut cfg: Config = toml::from_str(&text)
            .map_err(|e| eyre!("config {}: {}", path.display(), one_line(&e.to_string())))?;
        // Relative paths in the file are relative to the file.
        let base = path.parent().unwrap_or(Path::new("."));
        let installs = cfg.odoo.installs.values_mut().flat_map(|i| {
            i.addons_path
                .iter_mut()
                .chain(i.openupgrade.iter_mut())
                .chain(i.conf.iter_mut())
        });
        for p in cfg
            .plans
            .values_mut()
            .chain(cfg.neutralize.extra_sql.iter_mut())
            .chain(cfg.neutralize.extra_rules.iter_mut())
            .chain(cfg.odoo_platform.ca_file.iter_mut())
            .chain(installs)
        {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        Ok(cfg)
    }

    pub fn state_dir(&self) -> Result<PathBuf> {
        if let Some(d) = std::env::var_os("UPGRADE_PILOT_STATE_DIR") {
            return Ok(PathBuf::from(d));
        }
        if let Some(d) = &self.state_dir {
            return Ok(d.clone());
        }
        directories::ProjectDirs::from("", "", "upgrade-pilot")
            .map(|p| p.data_dir().to_path_buf())
            .ok_or_else(|| eyre!("no home directory to keep state in: set state_dir in the config"))
            .wrap_err("state directory")
    }
}

pub fn config_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "upgrade-pilot").map(|p| p.config_dir().to_path_buf())
}

fn default_config_file() -> Option<PathBuf> {
    config_dir().map(|d| d.join("config.toml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_documents_valid_keys() {
        let cfg: Config = toml::from_str(include_str!("../config/upgrade-pilot.example.toml"))
            .expect("example config parses");
        assert_eq!(cfg.clone.method, "auto");
        assert_eq!(cfg.odoo.supported_targets, ["18.0", "19.0", "20.0"]);
        assert_eq!(
            Config::default().odoo.supported_targets,
            ["18.0", "19.0", "20.0"]
        );
    }

    #[test]
    fn odoo_series_tables_and_unknown_odoo_keys() {
        let cfg: Config = toml::from_str(
            "[odoo]\ncustom_modules = [\"x\"]\n[odoo.\"17.0\"]\ncommand = [\"/srv/odoo-bin\"]\nopenupgrade = \"/srv/OU\"\n",
        )
        .unwrap();
        assert_eq!(cfg.odoo.custom_modules, ["x"]);
        assert_eq!(cfg.odoo.installs["17.0"].command, ["/srv/odoo-bin"]);
        let e = toml::from_str::<Config>("[odoo]\ncustom_module = []\n").unwrap_err();
        assert!(
            e.to_string().contains("unknown key \"custom_module\""),
            "{e}"
        );
        let e = toml::from_str::<Config>("[odoo.\"17.0\"]\ncomand = []\n").unwrap_err();
        assert!(e.to_string().contains("comand"), "{e}");
    }

    #[test]
    fn unknown_keys_are_errors_with_a_line() {
        let e = toml::from_str::<Config>("[clone]\nmethod = \"auto\"\nspeed = 3\n").unwrap_err();
        assert!(one_line(&e.to_string()).contains("line 3"), "{e}");
    }
}
