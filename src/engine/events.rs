//! What a running job tells its front ends: discrete events on an mpsc channel
//! and the latest progress on a watch channel (always current, never a backlog).

use serde::Serialize;

use super::step::Step;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Event {
    StepStarted { step: Step },
    StepFinished { step: Step, seconds: f64 },
    StepSkipped { step: Step, why: String },
    StepFailed { step: Step, error: String },
    Warning(String),
    Log(String),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Progress {
    /// None before the first step begins.
    pub step: Option<Step>,
    /// 0-based index of the current step.
    pub index: usize,
    pub count: usize,
    /// Fraction of the current step done, when it can be known.
    pub fraction: Option<f64>,
    pub detail: String,
}

impl Progress {
    /// Fraction of the whole job, counting the current step's part.
    pub fn overall(&self) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        (self.index as f64 + self.fraction.unwrap_or(0.0)) / self.count as f64
    }
}
