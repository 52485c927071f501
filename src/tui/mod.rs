//! The guided TUI (Elm shape): `update` changes the model, `view` draws it,
//! and side effects (`effects.rs`) run as tasks that answer with messages.
//! Redraws happen only after a message; a tick runs only while a job runs.
//! docs/ARCHITECTURE.md says how a key and a job event travel.
//!
//! Dependencies between the parts run one way: `model`, `keymap`, `theme`
//! ← `overlays` ← `screens` ← `update`, `view`, `effects`, `run`; all of
//! them may use [`App`], which holds the state of every screen.

mod effects;
#[cfg(test)]
mod fixtures;
pub mod keymap;
pub mod model;
pub mod overlays;
mod run;
pub mod screens;
mod stepper;
pub mod theme;
pub mod update;
pub mod view;

pub use run::run;

use model::{CampView, Cmd, JobView};
use overlays::confirm::Confirm;
use overlays::prompt::Prompt;
use screens::{Purpose, Screen, anomaly_form::Form};

pub struct App {
    pub screen: Screen,
    /// The screens shown before, for Esc (back).
    pub history: Vec<Screen>,
    pub server: String,
    pub supported: Vec<String>,
    pub job: Option<JobView>,
    pub camp: Option<CampView>,
    pub request: screens::request::State,
    pub wait: screens::wait::State,
    pub checklist: screens::checklist::State,
    pub anomalies: screens::anomalies::State,
    pub form: Option<Form>,
    pub freeze: screens::freeze::State,
    pub restore: screens::restore::State,
    /// The test copy served by its Odoo (`s` on the Test database screen).
    pub serving: Option<screens::ready::Serving>,
    pub confirm: Option<Confirm>,
    pub prompt: Option<Prompt<Purpose>>,
    pub help: bool,
    pub walkthrough: bool,
    pub message: Option<String>,
    pub quit: bool,
    /// The first campaign read decides the opening screen (where the campaign stands).
    pub opened: bool,
}

impl App {
    pub fn new(server: String, supported: Vec<String>) -> App {
        App {
            screen: Screen::Request,
            history: Vec::new(),
            server,
            supported,
            job: None,
            camp: None,
            request: Default::default(),
            wait: Default::default(),
            checklist: Default::default(),
            anomalies: Default::default(),
            form: None,
            freeze: Default::default(),
            restore: Default::default(),
            serving: None,
            confirm: None,
            prompt: None,
            help: false,
            walkthrough: false,
            message: None,
            quit: false,
            opened: false,
        }
    }

    /// Position in the nine steps of the design (docs/DESIGN.md).
    pub fn step(&self) -> usize {
        screens::step(self)
    }

    /// The database the campaign is about: the selected one.
    pub fn campaign_db(&self) -> Option<String> {
        self.camp
            .as_ref()
            .map(|c| c.db.clone())
            .or_else(|| self.request.selected_db().map(|d| d.name.clone()))
    }

    pub fn job_running(&self) -> bool {
        self.job.as_ref().is_some_and(JobView::running)
    }

    /// A job this process runs (an attached one belongs to another process:
    /// quitting leaves it running).
    pub fn owns_running_job(&self) -> bool {
        self.job
            .as_ref()
            .is_some_and(|j| j.running() && j.attached.is_none())
    }

    /// Asks to write the campaign's checklist and anomalies as they are now.
    pub fn save(&self) -> Option<Cmd> {
        let c = self.camp.as_ref()?;
        Some(Cmd::SaveCampaign {
            db: c.db.clone(),
            checklist: c.states.clone(),
            anomalies: c.anomalies.clone(),
        })
    }
}
