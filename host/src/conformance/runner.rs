//! Running one case file against the loaded plugin and turning the runs into results.

use std::collections::HashMap;
use std::time::Instant;

use crate::plugin::PluginInstance;
use crate::plugin::check_provider_info;
use crate::plugin::wit::{ProviderInfo, Setting};

use super::case::{CaseKind, LoadedCase};
use super::describe_check;
use super::driver::{self, Outcome, Run, StepKind, Subject};
use super::expect;
use super::report::{CaseResult, Status};
use super::request::variants;

/// After this many plugin faults (traps, time budget, memory), the remaining cases are
/// skipped: a plugin that loops in every call would otherwise keep the kit busy for the call
/// budget times the number of cases, and the verdict is already a failure.
pub const MAX_FAULTS: usize = 3;

/// Runs cases against one plugin, counting its faults.
pub struct Runner<'a> {
    subject: &'a Subject,
    /// The operator's settings for the provider, from the configuration file.
    settings: Vec<Setting>,
    faults: usize,
    /// Whether the first step was `audio`, by settings and request. A `needs_request` case
    /// for a request already seen to give audio is skipped without calling the plugin, which
    /// matters for plugins that compute speech in the component.
    audio_first: HashMap<String, bool>,
}

impl<'a> Runner<'a> {
    pub fn new(subject: &'a Subject) -> Self {
        Self { settings: subject.plugin.settings.clone(), subject, faults: 0, audio_first: HashMap::new() }
    }

    /// Runs every variant of `loaded` and returns one result per variant.
    pub fn run_case(&mut self, loaded: &LoadedCase) -> Vec<CaseResult> {
        let started = Instant::now();
        let result = |status, reasons: Vec<String>, trace: Vec<String>| CaseResult {
            name: loaded.name.clone(),
            source: loaded.source.clone(),
            file: loaded.file.display().to_string(),
            description: loaded.case.description.clone(),
            status,
            reasons,
            trace,
            duration: started.elapsed(),
        };

        if self.faults >= MAX_FAULTS {
            let reason = format!("not run: the plugin already faulted in {} cases", self.faults);
            return vec![result(Status::Skipped, vec![reason], Vec::new())];
        }

        let settings = self.settings_for(loaded);
        let info = match self.describe(&settings, !loaded.case.settings.is_empty()) {
            Ok(info) => info,
            Err(reason) => return vec![result(Status::Failed, vec![reason], Vec::new())],
        };

        if loaded.case.kind == CaseKind::Describe {
            let mut problems = describe_check::check(&info);
            problems.extend(self.describe_is_stable(&settings, &info));
            let status = if problems.is_empty() { Status::Passed } else { Status::Failed };
            return vec![result(status, problems, Vec::new())];
        }

        let variants = match variants(&loaded.case, &info) {
            Ok(variants) => variants,
            Err(reason) => return vec![result(Status::Failed, vec![format!("the case is unusable: {reason}")], Vec::new())],
        };
        let mut results = Vec::new();
        for variant in variants {
            let started = Instant::now();
            let (status, reasons, trace) = self.run_variant(loaded, &info, &settings, &variant.request);
            let mut one = result(status, reasons, trace);
            if !variant.label.is_empty() {
                one.name = format!("{} [{}]", loaded.name, variant.label);
            }
            one.duration = started.elapsed();
            results.push(one);
        }
        results
    }

    fn run_variant(
        &mut self,
        loaded: &LoadedCase,
        info: &ProviderInfo,
        settings: &[Setting],
        request: &crate::plugin::wit::SynthesisRequest,
    ) -> (Status, Vec<String>, Vec<String>) {
        let case = &loaded.case;
        let not_applicable = || {
            let reason = "not applicable: the plugin returns audio without sending a request, so there is no upstream response to play back";
            vec![reason.to_string()]
        };
        if self.faults >= MAX_FAULTS {
            return (Status::Skipped, vec![format!("not run: the plugin already faulted in {} cases", self.faults)], Vec::new());
        }
        let key = format!("{settings:?} {request:?}");
        if case.needs_request && self.audio_first.get(&key) == Some(&true) {
            return (Status::Skipped, not_applicable(), Vec::new());
        }

        let first = driver::run(self.subject, info, settings, case, request);
        let mut trace = trace_lines(&first);
        let audio_first = first.steps.first().is_some_and(|step| step.kind == StepKind::Audio);
        self.audio_first.insert(key, audio_first);

        if matches!(first.outcome, Outcome::Fault(_)) {
            self.faults += 1;
        }
        if case.needs_request && audio_first {
            return (Status::Skipped, not_applicable(), trace);
        }

        let mut reasons = first.violations.clone();
        reasons.extend(expect::check(&case.expect, request, &first));

        let expected = driver::fingerprint(&first);
        for number in 2..=case.runs {
            if self.faults >= MAX_FAULTS {
                break;
            }
            let again = driver::run(self.subject, info, settings, case, request);
            if matches!(again.outcome, Outcome::Fault(_)) {
                self.faults += 1;
            }
            if driver::fingerprint(&again) != expected {
                reasons.push(format!(
                    "run {number} of the same request differs from run 1; a plugin's output must depend only on its input"
                ));
                trace.push(format!("run {number}:"));
                trace.extend(trace_lines(&again));
            }
        }

        let status = if reasons.is_empty() { Status::Passed } else { Status::Failed };
        (status, reasons, trace)
    }

    /// Merges the operator's settings with the case's; the case's value wins for a name in both.
    fn settings_for(&self, loaded: &LoadedCase) -> Vec<Setting> {
        let mut settings: Vec<Setting> =
            self.settings.iter().filter(|setting| !loaded.case.settings.contains_key(&setting.name)).cloned().collect();
        settings.extend(
            loaded.case.settings.iter().map(|(name, value)| Setting { name: name.clone(), value: value.clone() }),
        );
        settings
    }

    /// Returns the provider info for `settings`: the loaded plugin's when the case adds no
    /// settings, else a fresh `describe` call checked like the loader checks it.
    fn describe(&mut self, settings: &[Setting], fresh: bool) -> Result<ProviderInfo, String> {
        if !fresh {
            return Ok(self.subject.plugin.info.clone());
        }
        let info = self.call_describe(settings)?;
        let problems = check_provider_info(&info);
        if !problems.is_empty() {
            return Err(format!("describe with the case's settings returned an unusable provider: {}", problems.join("; ")));
        }
        Ok(info)
    }

    fn call_describe(&mut self, settings: &[Setting]) -> Result<ProviderInfo, String> {
        let plugin = &self.subject.plugin;
        let mut instance = PluginInstance::new(&self.subject.engine, &plugin.limits, &plugin.pre)
            .map_err(|fault| format!("the plugin cannot be instantiated: {fault}"))?;
        match instance.describe(settings) {
            Ok(Ok(info)) => Ok(info),
            Ok(Err(error)) => Err(format!("describe rejected setting `{}`: {}", error.name, error.message)),
            Err(fault) => {
                self.faults += 1;
                Err(format!("describe: the plugin {fault}"))
            }
        }
    }

    /// `describe` must depend on nothing but its settings: two more calls in fresh instances
    /// must return the same provider.
    fn describe_is_stable(&mut self, settings: &[Setting], info: &ProviderInfo) -> Vec<String> {
        let expected = format!("{info:?}");
        for _ in 0..2 {
            match self.call_describe(settings) {
                Ok(again) if format!("{again:?}") == expected => {}
                Ok(_) => return vec!["describe returned a different provider for the same settings".to_string()],
                Err(reason) => return vec![reason],
            }
        }
        Vec::new()
    }
}

fn trace_lines(run: &Run) -> Vec<String> {
    let mut lines: Vec<String> = run.steps.iter().map(driver::describe_step).collect();
    lines.push(driver::describe_outcome(&run.outcome));
    lines
}
