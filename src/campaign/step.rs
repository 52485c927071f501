//! The steps a job goes through, by name. Serialized as the names job files
//! have always held ("clone", "neutralize_again", …) so older files still load.

use serde::{Deserialize, Serialize};
use strum::IntoStaticStr;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, IntoStaticStr, strum::Display,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Step {
    Preflight,
    Clone,
    Neutralize,
    Backup,
    Plan,
    NeutralizeAgain,
    Verify,
    Compare,
    /// Odoo's upgrade platform (`--engine odoo-platform`): the dump sent, the
    /// request made, the upload, the upgrade at Odoo, the download, and the
    /// result imported as the working copy.
    Dump,
    Request,
    Upload,
    OdooUpgrade,
    Download,
    Import,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

#[cfg(test)]
mod tests {
    use super::Step;

    #[test]
    fn serialized_as_the_names_job_files_hold() {
        let all = [
            Step::Preflight,
            Step::Clone,
            Step::Neutralize,
            Step::Backup,
            Step::Plan,
            Step::NeutralizeAgain,
            Step::Verify,
            Step::Compare,
            Step::Dump,
            Step::Request,
            Step::Upload,
            Step::OdooUpgrade,
            Step::Download,
            Step::Import,
        ];
        for s in all {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(serde_json::from_str::<Step>(&json).unwrap(), s);
        }
        assert_eq!(
            serde_json::from_str::<Step>("\"neutralize_again\"").unwrap(),
            Step::NeutralizeAgain
        );
        assert_eq!(format!("{:<6}|", Step::Plan), "plan  |");
        assert_eq!(Step::OdooUpgrade.as_str(), "odoo_upgrade");
    }
}
