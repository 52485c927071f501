//! Reads the connection and data_dir keys of an `odoo.conf` (INI, `[options]`).

use std::path::{Path, PathBuf};

#[derive(Debug, Default, Clone)]
pub struct OdooConf {
    pub db_host: Option<String>,
    pub db_port: Option<u16>,
    pub db_user: Option<String>,
    pub db_password: Option<String>,
    pub data_dir: Option<PathBuf>,
    /// Comma-separated folders, as Odoo writes them.
    pub addons_path: Vec<PathBuf>,
}

impl OdooConf {
    /// Its `db_*` options, where the DSN and the environment say nothing.
    pub fn connection(&self) -> crate::pg::conn::Fallback {
        crate::pg::conn::Fallback {
            host: self.db_host.clone(),
            port: self.db_port,
            user: self.db_user.clone(),
            password: self.db_password.clone(),
        }
    }

    pub fn load(path: &Path) -> color_eyre::Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            color_eyre::eyre::eyre!("cannot read odoo config {}: {e}", path.display())
        })?;
        Self::parse(&text)
            .map_err(|e| color_eyre::eyre::eyre!("odoo config {}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let mut conf = OdooConf::default();
        let mut in_options = false;
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if line.starts_with('[') {
                in_options = line == "[options]";
                continue;
            }
            if !in_options {
                continue;
            }
            let Some((k, v)) = line.split_once('=') else {
                return Err(format!("line {}: expected key = value", n + 1));
            };
            let v = v.trim();
            // Odoo writes unset options as the Python literal False.
            let value = (!v.is_empty() && v != "False" && v != "None").then(|| v.to_string());
            match k.trim() {
                "db_host" => conf.db_host = value,
                "db_port" => {
                    conf.db_port = value
                        .map(|p| {
                            p.parse()
                                .map_err(|_| format!("line {}: db_port {p:?} is not a port", n + 1))
                        })
                        .transpose()?
                }
                "db_user" => conf.db_user = value,
                "db_password" => conf.db_password = value,
                "data_dir" => conf.data_dir = value.map(PathBuf::from),
                "addons_path" => {
                    conf.addons_path = value
                        .iter()
                        .flat_map(|v| v.split(','))
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(PathBuf::from)
                        .collect()
                }
                _ => {}
            }
        }
        Ok(conf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_options_and_false_as_unset() {
        let c = OdooConf::parse(
            "[options]\nadmin_passwd = x\ndb_host = False\ndb_port = 5433\ndb_user = odoo\ndb_password = s3cret\ndata_dir = /var/lib/odoo\n[other]\ndb_user = no\n",
        )
        .unwrap();
        assert_eq!(c.db_host, None);
        assert_eq!(c.db_port, Some(5433));
        assert_eq!(c.db_user.as_deref(), Some("odoo"));
        assert_eq!(c.db_password.as_deref(), Some("s3cret"));
        assert_eq!(c.data_dir, Some(PathBuf::from("/var/lib/odoo")));
        assert!(OdooConf::parse("[options]\ndb_port = abc\n").is_err());
        let c = OdooConf::parse("[options]\naddons_path = /a/addons, /b\n").unwrap();
        assert_eq!(
            c.addons_path,
            [PathBuf::from("/a/addons"), PathBuf::from("/b")]
        );
    }
}
