//! Comparing a run with what its case expects.

use crate::audio::{container_name, parse_container};
use crate::plugin::wit::{HeaderValue, HttpRequest, Method, ProviderError, SynthesisRequest};

use super::case::{Expect, OutcomeKind, StepSpec};
use super::driver::{Outcome, Run, StepKind, TraceStep, error_kind};

/// Returns every way `run` differs from `expect`; empty when it matches.
pub fn check(expect: &Expect, request: &SynthesisRequest, run: &Run) -> Vec<String> {
    let mut failures = Vec::new();

    match &run.outcome {
        Outcome::Fault(reason) => failures.push(format!("the plugin {reason}")),
        Outcome::CaseError(reason) => failures.push(format!("the case is unusable: {reason}")),
        outcome => failures.extend(check_outcome(expect, outcome)),
    }
    if let Outcome::Error(error) = &run.outcome {
        failures.extend(check_error(expect, error));
    }

    failures.extend(check_steps(expect, &run.steps));
    if expect.text_in_request {
        failures.extend(check_text(request, &run.steps));
    }
    failures
}

fn check_outcome(expect: &Expect, outcome: &Outcome) -> Vec<String> {
    let Some(kind) = outcome.kind() else {
        return Vec::new();
    };
    let accepted = match (&expect.outcome, &expect.error) {
        (Some(outcome), _) => outcome.to_vec(),
        (None, Some(_)) => vec![OutcomeKind::Error],
        (None, None) => vec![
            OutcomeKind::Unanswered,
            OutcomeKind::Streamed,
            OutcomeKind::Audio,
            OutcomeKind::Error,
        ],
    };
    if accepted.contains(&kind) {
        return Vec::new();
    }
    let names: Vec<String> = accepted.iter().map(|kind| format!("{kind:?}").to_ascii_lowercase()).collect();
    vec![format!(
        "expected the run to end as {}, but it ended as {}",
        names.join(" or "),
        super::driver::describe_outcome(outcome)
    )]
}

fn check_error(expect: &Expect, error: &ProviderError) -> Vec<String> {
    let mut failures = Vec::new();
    let kind = error_kind(error);

    if let Some(accepted) = &expect.error {
        let accepted = accepted.to_vec();
        if !accepted.iter().any(|name| name == kind) {
            failures.push(format!(
                "expected error {}, but the plugin returned {kind}: {}",
                accepted.join(" or "),
                super::driver::excerpt(&crate::synthesis::describe_provider_error(error), 300)
            ));
        }
    }

    if let Some(expected) = expect.retry_after_ms
        && let ProviderError::RateLimited(limit) = error
    {
        let expected = u64::try_from(expected).ok();
        if limit.retry_after_ms != expected {
            failures.push(format!(
                "expected retry-after-ms {}, but the plugin returned {}",
                show_delay(expected),
                show_delay(limit.retry_after_ms)
            ));
        }
    }

    let message = crate::synthesis::describe_provider_error(error);
    if let Some(fragment) = &expect.message_contains
        && !message.contains(fragment.as_str())
    {
        failures.push(format!(
            "expected the error message to contain `{fragment}`, but it is `{}`",
            super::driver::excerpt(&message, 300)
        ));
    }
    for fragment in &expect.message_excludes {
        if message.contains(fragment.as_str()) {
            failures.push(format!("expected the error message not to contain `{fragment}`, but it does"));
        }
    }
    failures
}

fn show_delay(delay: Option<u64>) -> String {
    delay.map_or_else(|| "none".to_string(), |ms| ms.to_string())
}

fn check_steps(expect: &Expect, steps: &[TraceStep]) -> Vec<String> {
    let mut failures = Vec::new();
    if expect.steps.is_empty() {
        return failures;
    }
    let exact = expect.exact_steps.unwrap_or(true);
    if steps.len() < expect.steps.len() || (exact && steps.len() != expect.steps.len()) {
        failures.push(format!(
            "expected {} step{}, but the plugin returned {}",
            expect.steps.len(),
            if expect.steps.len() == 1 { "" } else { "s" },
            steps.len()
        ));
    }
    for (index, (spec, step)) in expect.steps.iter().zip(steps).enumerate() {
        for failure in check_step(spec, step) {
            failures.push(format!("step {}: {failure}", index + 1));
        }
    }
    failures
}

fn check_step(spec: &StepSpec, step: &TraceStep) -> Vec<String> {
    let mut failures = Vec::new();

    if let Some(kinds) = &spec.kind {
        let kinds = kinds.to_vec();
        if !kinds.iter().any(|kind| kind == step.kind.name()) {
            failures.push(format!("expected a {} step, got {}", kinds.join(" or "), step.kind.name()));
        }
    }
    if let Some(format) = &step.format {
        if let Some(name) = &spec.format
            && parse_container(name) != Some(format.container)
        {
            failures.push(format!("expected format {name}, got {}", container_name(format.container)));
        }
        if spec.sample_rate.is_some() && spec.sample_rate != format.sample_rate {
            failures.push(format!("expected sample rate {:?}, got {:?}", spec.sample_rate, format.sample_rate));
        }
    }

    let Some(request) = &step.request else {
        if spec.method.is_some() || spec.host.is_some() || spec.path.is_some() {
            failures.push("expected a request, got audio".to_string());
        }
        return failures;
    };
    failures.extend(check_request(spec, request));
    failures
}

fn check_request(spec: &StepSpec, request: &HttpRequest) -> Vec<String> {
    let mut failures = Vec::new();

    if let Some(method) = &spec.method {
        let actual = match request.method {
            Method::Get => "get",
            Method::Post => "post",
            Method::Put => "put",
            Method::Delete => "delete",
        };
        if !method.eq_ignore_ascii_case(actual) {
            failures.push(format!("expected method {method}, got {actual}"));
        }
    }

    let url = url::Url::parse(&request.url).ok();
    let authority = url.as_ref().map(|url| match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_string(),
    });
    if let Some(pattern) = &spec.host
        && !authority.as_deref().is_some_and(|host| glob(pattern, host))
    {
        failures.push(format!("expected host `{pattern}`, got URL `{}`", request.url));
    }
    if let Some(pattern) = &spec.path
        && !url.as_ref().is_some_and(|url| glob(pattern, url.path()))
    {
        failures.push(format!("expected path `{pattern}`, got URL `{}`", request.url));
    }
    for (name, value) in &spec.query {
        let found = url.as_ref().and_then(|url| url.query_pairs().find(|(key, _)| key == name).map(|(_, v)| v.into_owned()));
        if found.as_deref() != Some(value.as_str()) {
            failures.push(format!("expected query parameter `{name}={value}`, got URL `{}`", request.url));
        }
    }

    failures.extend(check_headers(spec, request));
    failures.extend(check_body(spec, request));
    failures
}

fn check_headers(spec: &StepSpec, request: &HttpRequest) -> Vec<String> {
    let mut failures = Vec::new();
    let find = |name: &str| request.headers.iter().find(|header| header.name.eq_ignore_ascii_case(name));

    for name in &spec.headers {
        if find(name).is_none() {
            failures.push(format!("expected header `{name}`, which is missing"));
        }
    }
    for name in &spec.absent_headers {
        if find(name).is_some() {
            failures.push(format!("expected no header `{name}`, but it is present"));
        }
    }
    for entry in &spec.secret_headers {
        let (name, secret) = match entry.split_once('=') {
            Some((name, secret)) => (name, Some(secret)),
            None => (entry.as_str(), None),
        };
        match find(name).map(|header| &header.value) {
            Some(HeaderValue::Secret(reference)) => {
                if secret.is_some_and(|secret| secret != reference.name) {
                    failures.push(format!(
                        "expected header `{name}` to refer to secret `{}`, but it refers to `{}`",
                        secret.unwrap_or_default(),
                        reference.name
                    ));
                }
            }
            Some(HeaderValue::Text(_)) => {
                failures.push(format!("expected header `{name}` to be a secret reference, but it is a literal value"));
            }
            None => failures.push(format!("expected secret header `{name}`, which is missing")),
        }
    }
    for (name, expected) in &spec.header_values {
        match find(name).map(|header| &header.value) {
            Some(HeaderValue::Text(actual)) if actual == expected => {}
            Some(HeaderValue::Text(actual)) => {
                failures.push(format!("expected header `{name}: {expected}`, got `{name}: {actual}`"));
            }
            Some(HeaderValue::Secret(_)) => {
                failures.push(format!("expected header `{name}: {expected}`, got a secret reference"));
            }
            None => failures.push(format!("expected header `{name}: {expected}`, which is missing")),
        }
    }
    failures
}

fn check_body(spec: &StepSpec, request: &HttpRequest) -> Vec<String> {
    if spec.body_json.is_none() && spec.body_absent_keys.is_empty() {
        return Vec::new();
    }
    let body: serde_json::Value = match serde_json::from_slice(&request.body) {
        Ok(body) => body,
        Err(error) => return vec![format!("expected a JSON body, but it does not parse: {error}")],
    };

    let mut failures = Vec::new();
    if let Some(expected) = &spec.body_json
        && let Some(path) = first_difference(expected, &body, "")
    {
        failures.push(format!("the JSON body differs from body_json at `{path}`: body is {}", super::driver::excerpt(&body.to_string(), 300)));
    }
    for key in &spec.body_absent_keys {
        if body.get(key).is_some() {
            failures.push(format!("expected no JSON key `{key}` in the body"));
        }
    }
    failures
}

/// Finds the first path where `actual` fails to contain `expected`: objects by their keys, recursively, and
/// everything else by equality. Numbers compare as floating point, since `1.1` in a case
/// file and `1.100000023841858` from an `f32` speed are meant to be equal.
fn first_difference(expected: &serde_json::Value, actual: &serde_json::Value, path: &str) -> Option<String> {
    use serde_json::Value;
    match (expected, actual) {
        (Value::Object(expected), Value::Object(actual)) => expected.iter().find_map(|(key, value)| {
            let path = format!("{path}/{key}");
            match actual.get(key) {
                Some(actual) => first_difference(value, actual, &path),
                None => Some(path),
            }
        }),
        (Value::Number(expected), Value::Number(actual)) => {
            let (Some(expected), Some(actual)) = (expected.as_f64(), actual.as_f64()) else {
                return Some(path.to_string());
            };
            let close = (expected - actual).abs() <= 1e-6 * expected.abs().max(1.0);
            (!close).then(|| path.to_string())
        }
        (expected, actual) => (expected != actual).then(|| if path.is_empty() { "/".to_string() } else { path.to_string() }),
    }
}

/// Checks that the request text reaches the first request unchanged.
fn check_text(request: &SynthesisRequest, steps: &[TraceStep]) -> Vec<String> {
    let Some(first) = steps.first() else {
        return vec!["expected the text in a request, but the plugin returned no step".to_string()];
    };
    if first.kind == StepKind::Audio {
        // Audio straight away: nothing leaves the plugin, so there is nothing to check.
        return Vec::new();
    }
    let Some(http_request) = &first.request else {
        return Vec::new();
    };

    let text = request.text.as_str();
    if contains_bytes(&http_request.body, text.as_bytes()) {
        return Vec::new();
    }
    if let Ok(body) = serde_json::from_slice::<serde_json::Value>(&http_request.body)
        && json_contains_string(&body, text)
    {
        return Vec::new();
    }
    if let Ok(url) = url::Url::parse(&http_request.url)
        && url.query_pairs().any(|(_, value)| value.contains(text))
    {
        return Vec::new();
    }
    vec![format!(
        "the text `{}` does not reach the first request unchanged: it is neither in the body, raw or as a JSON string, nor in the URL query",
        super::driver::excerpt(text, 80)
    )]
}

fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|window| window == needle)
}

fn json_contains_string(value: &serde_json::Value, text: &str) -> bool {
    match value {
        serde_json::Value::String(string) => string.contains(text),
        serde_json::Value::Array(items) => items.iter().any(|item| json_contains_string(item, text)),
        serde_json::Value::Object(map) => map.values().any(|item| json_contains_string(item, text)),
        _ => false,
    }
}

/// Matches `text` against a glob where `*` is any run of characters and `?` one character.
pub fn glob(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    // Iterative matching with one backtrack point: linear in practice, never exponential.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn glob_table() {
        let cases = [
            ("api.openai.com", "api.openai.com", true),
            ("*.fal.run", "queue.fal.run", true),
            ("*.fal.run", "fal.run", false),
            ("/v1/text-to-speech/*", "/v1/text-to-speech/abc/stream", true),
            ("/v1/*/speech", "/v1/audio/speech", true),
            ("/v1/?udio/speech", "/v1/audio/speech", true),
            ("/v1/audio", "/v1/audio/speech", false),
            ("*", "", true),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(glob(pattern, text), expected, "{pattern} {text}");
        }
    }

    #[test]
    fn json_subset_table() {
        let body = json!({"model": "tts-1", "speed": 1.100000023841858, "voice": {"id": "v"}});
        let cases = [
            (json!({"model": "tts-1"}), None),
            (json!({"speed": 1.1}), None),
            (json!({"voice": {"id": "v"}}), None),
            (json!({"model": "tts-1-hd"}), Some("/model")),
            (json!({"missing": 1}), Some("/missing")),
        ];
        for (expected, difference) in cases {
            assert_eq!(first_difference(&expected, &body, "").as_deref(), difference, "{expected}");
        }
    }

    #[test]
    fn json_string_search() {
        let body = json!({"input": "Grüße \"quoted\"", "n": 1});

        assert!(json_contains_string(&body, "Grüße \"quoted\""));
        assert!(!json_contains_string(&body, "absent"));
    }
}
