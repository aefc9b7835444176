//! The kit's results: a summary for people on stdout, and JUnit XML or JSON for CI.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use serde::Serialize;

/// The result status of one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Passed,
    Failed,
    Skipped,
}

/// The result of one case variant.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    /// Such as `generic/http-errors/429 [tts-1]`.
    pub name: String,
    /// `generic`, `load`, or the cases folder's name.
    pub source: String,
    /// The case file, empty for built-in checks.
    pub file: String,
    pub description: String,
    pub status: Status,
    /// The reasons for a failure or a skip.
    pub reasons: Vec<String>,
    /// The steps and outcome of each run, one line each.
    pub trace: Vec<String>,
    #[serde(serialize_with = "as_seconds")]
    pub duration: Duration,
}

fn as_seconds<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64())
}

/// Facts about the plugin, gathered before the cases run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PluginSummary {
    pub file: String,
    /// Size of the component file in bytes.
    pub bytes: u64,
    pub sha256: String,
    pub id: String,
    pub version: String,
    /// The component's imports, as the host's import check saw them.
    pub imports: Vec<String>,
    /// Time to compile the component, or to read it from the compile cache, in seconds.
    pub load_seconds: f64,
    /// `compiled` or `cached`.
    pub load_source: String,
    pub memory_limit_mib: u64,
    pub call_timeout_ms: u64,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub plugin: PluginSummary,
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub cases: Vec<CaseResult>,
}

impl Report {
    pub fn new(plugin: PluginSummary, cases: Vec<CaseResult>) -> Self {
        let count = |status| cases.iter().filter(|case| case.status == status).count();
        Self { passed: count(Status::Passed), failed: count(Status::Failed), skipped: count(Status::Skipped), plugin, cases }
    }

    /// Formats the closing line: `N passed, N failed, N skipped`.
    pub fn footer(&self) -> String {
        format!("{} passed, {} failed, {} skipped\n", self.passed, self.failed, self.skipped)
    }

    /// Writes the report as `format` (`junit` or `json`) to `file`.
    pub fn write(&self, format: ReportFormat, file: &Path) -> anyhow::Result<()> {
        let text = match format {
            ReportFormat::Junit => self.junit(),
            ReportFormat::Json => serde_json::to_string_pretty(self).context("failed to encode the JSON report")?,
        };
        if let Some(parent) = file.parent().filter(|parent| !parent.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).with_context(|| format!("failed to create {}", parent.display()))?;
        }
        std::fs::write(file, text).with_context(|| format!("failed to write the report to {}", file.display()))
    }

    /// JUnit XML in the shape Jenkins, GitLab and GitHub test reporters read: one
    /// `testsuite` for the plugin, one `testcase` per case variant.
    pub fn junit(&self) -> String {
        let total: f64 = self.cases.iter().map(|case| case.duration.as_secs_f64()).sum();
        let suite = if self.plugin.id.is_empty() { self.plugin.file.clone() } else { self.plugin.id.clone() };
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            xml,
            "<testsuites name=\"voxgate conformance\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{total:.3}\">",
            self.cases.len(),
            self.failed,
            self.skipped
        );
        let _ = writeln!(
            xml,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{total:.3}\">",
            escape(&suite),
            self.cases.len(),
            self.failed,
            self.skipped
        );
        let _ = writeln!(xml, "    <properties>");
        for (name, value) in [
            ("file", self.plugin.file.clone()),
            ("sha256", self.plugin.sha256.clone()),
            ("version", self.plugin.version.clone()),
            ("imports", self.plugin.imports.join(" ")),
        ] {
            let _ = writeln!(xml, "      <property name=\"{name}\" value=\"{}\"/>", escape(&value));
        }
        let _ = writeln!(xml, "    </properties>");

        for case in &self.cases {
            let _ = write!(
                xml,
                "    <testcase classname=\"{}.{}\" name=\"{}\" file=\"{}\" time=\"{:.3}\"",
                escape(&suite),
                escape(&case.source),
                escape(&case.name),
                escape(&case.file),
                case.duration.as_secs_f64()
            );
            let first = case.reasons.first().cloned().unwrap_or_default();
            match case.status {
                Status::Passed => xml.push_str("/>\n"),
                Status::Skipped => {
                    let _ = writeln!(xml, ">\n      <skipped message=\"{}\"/>\n    </testcase>", escape(&first));
                }
                Status::Failed => {
                    let mut body = case.reasons.join("\n");
                    if !case.trace.is_empty() {
                        body.push_str("\n\n");
                        body.push_str(&case.trace.join("\n"));
                    }
                    let _ = writeln!(
                        xml,
                        ">\n      <failure message=\"{}\" type=\"conformance\">{}</failure>\n    </testcase>",
                        escape(&first),
                        escape(&body)
                    );
                }
            }
        }
        xml.push_str("  </testsuite>\n</testsuites>\n");
        xml
    }
}

/// Formats the lines printed before the cases: the file, the plugin, its limits and imports.
pub fn header(plugin: &PluginSummary) -> String {
    let mut text = String::new();
    let _ = writeln!(text, "conformance: {}", plugin.file);
    if !plugin.id.is_empty() {
        let _ = writeln!(
            text,
            "plugin {} v{}, {} bytes, {} in {:.2} s, limits {} MiB and {} ms per call",
            plugin.id, plugin.version, plugin.bytes, plugin.load_source, plugin.load_seconds, plugin.memory_limit_mib, plugin.call_timeout_ms
        );
        let _ = writeln!(text, "imports: {}", plugin.imports.join(", "));
    }
    text
}

/// Formats the lines for one case: `ok`, `FAIL` or `skip` and its name, then the reasons and, for a
/// failure, the steps the plugin returned.
pub fn case_lines(case: &CaseResult) -> String {
    let mut text = String::new();
    let label = match case.status {
        Status::Passed => "ok  ",
        Status::Failed => "FAIL",
        Status::Skipped => "skip",
    };
    let _ = writeln!(text, "{label} {}", case.name);
    if case.status == Status::Passed {
        return text;
    }
    for reason in &case.reasons {
        let _ = writeln!(text, "       {reason}");
    }
    if case.status == Status::Failed {
        for line in &case.trace {
            let _ = writeln!(text, "         | {line}");
        }
    }
    text
}

/// The report file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Junit,
    Json,
}

impl ReportFormat {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "junit" | "xml" => Some(Self::Junit),
            "json" => Some(Self::Json),
            _ => None,
        }
    }
}

/// Escapes text for an XML attribute or element, dropping characters XML 1.0 cannot carry.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            '\n' => escaped.push_str("&#10;"),
            '\t' | '\r' => escaped.push(' '),
            c if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(name: &str, status: Status, reasons: &[&str]) -> CaseResult {
        CaseResult {
            name: name.to_string(),
            source: "generic".to_string(),
            file: String::new(),
            description: String::new(),
            status,
            reasons: reasons.iter().map(|r| r.to_string()).collect(),
            trace: vec!["stream POST https://a/ [x]".to_string()],
            duration: Duration::from_millis(5),
        }
    }

    fn report() -> Report {
        let plugin = PluginSummary { id: "p".to_string(), file: "p.wasm".to_string(), ..Default::default() };
        Report::new(
            plugin,
            vec![
                case("a", Status::Passed, &[]),
                case("b <x>", Status::Failed, &["expected \"x\" & y"]),
                case("c", Status::Skipped, &["no request"]),
            ],
        )
    }

    #[test]
    fn footer_counts_statuses() {
        assert_eq!(report().footer(), "1 passed, 1 failed, 1 skipped\n");
    }

    #[test]
    fn failure_lines_show_reason_and_trace() {
        let lines = case_lines(&report().cases[1]);

        assert!(lines.starts_with("FAIL b <x>\n"), "{lines}");
        assert!(lines.contains("expected \"x\" & y"), "{lines}");
        assert!(lines.contains("| stream POST"), "{lines}");
    }

    #[test]
    fn junit_escapes_and_counts() {
        let xml = report().junit();

        assert!(xml.contains("tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\""), "{xml}");
        assert!(xml.contains("name=\"b &lt;x&gt;\""), "{xml}");
        assert!(xml.contains("message=\"expected &quot;x&quot; &amp; y\""), "{xml}");
        assert!(xml.contains("<skipped message=\"no request\"/>"), "{xml}");
    }

    #[test]
    fn escape_drops_control_characters() {
        assert_eq!(escape("a\u{1}b\nc"), "ab&#10;c");
    }
}
