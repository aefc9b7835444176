//! Which upstream hosts a plugin may address.
//!
//! A request leaves the gateway only when its host is both declared by the plugin in
//! `describe` and allowed by the operator. Secrets are filled in after this check, so a
//! plugin cannot send a key anywhere the operator did not agree to.

use std::fmt;

use url::Url;

/// One host pattern: `name`, `name:port` or `*.domain[:port]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    /// Lower-case host name or IP literal. With `wildcard`, the domain below the `*.`.
    host: String,
    /// `None` matches only the scheme's default port.
    port: Option<u16>,
    wildcard: bool,
}

impl HostPattern {
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("a host pattern is empty".to_string());
        }
        if text.contains("://") || text.contains('/') {
            return Err(format!(
                "host pattern `{text}` must be a host name with an optional port, such as `api.openai.com` or `127.0.0.1:8080`, not a URL"
            ));
        }
        let (wildcard, rest) = match text.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        // Parse through `Url` so IPv6 literals, ports and case follow the URL standard.
        let url = Url::parse(&format!("http://{rest}"))
            .map_err(|error| format!("host pattern `{text}` is invalid: {error}"))?;
        let host = url
            .host_str()
            .ok_or_else(|| format!("host pattern `{text}` has no host"))?
            .to_ascii_lowercase();
        if host.contains('*') {
            return Err(format!(
                "host pattern `{text}` may use `*` only as a leading `*.` before a domain"
            ));
        }
        let port = explicit_port(rest);
        Ok(Self { host, port, wildcard })
    }

    fn matches(&self, host: &str, port: u16, default_port: u16) -> bool {
        let port_matches = match self.port {
            Some(expected) => expected == port,
            None => port == default_port,
        };
        if !port_matches {
            return false;
        }
        if self.wildcard {
            return host
                .strip_suffix(&self.host)
                .is_some_and(|prefix| prefix.ends_with('.') && prefix.len() > 1);
        }
        host == self.host
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.wildcard {
            f.write_str("*.")?;
        }
        f.write_str(&self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

/// `Url` drops a port equal to the scheme default, so read an explicit port from the text.
fn explicit_port(authority: &str) -> Option<u16> {
    let after_bracket = authority.rsplit(']').next().unwrap_or(authority);
    let (_, port) = after_bracket.rsplit_once(':')?;
    port.parse().ok()
}

/// The hosts one plugin may address.
#[derive(Debug, Clone)]
pub struct AllowedHosts {
    declared: Vec<HostPattern>,
    /// `None` when the operator allows everything the plugin declares.
    operator: Option<Vec<HostPattern>>,
}

/// Why a request was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostDenied {
    #[error("URL `{url}` is invalid: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("URL scheme `{0}` is not allowed; only http and https are")]
    Scheme(String),
    #[error(
        "host `{0}` is not among the hosts the plugin declared in describe; a plugin may only address hosts it declares"
    )]
    Undeclared(String),
    #[error(
        "host `{0}` is declared by the plugin but not allowed by the operator; add it to the provider's `allowed_hosts` to permit it"
    )]
    NotAllowed(String),
}

impl AllowedHosts {
    /// Builds the policy from the plugin's declared hosts and the operator's optional list.
    pub fn new(declared: &[String], operator: Option<&[String]>) -> Result<Self, String> {
        let declared = declared
            .iter()
            .map(|text| HostPattern::parse(text))
            .collect::<Result<Vec<_>, _>>()?;
        let operator = operator
            .map(|list| list.iter().map(|text| HostPattern::parse(text)).collect())
            .transpose()?;
        Ok(Self { declared, operator })
    }

    /// Checks a URL that a plugin wants to send a request to.
    pub fn check(&self, url: &str) -> Result<Url, HostDenied> {
        let parsed = Url::parse(url).map_err(|error| HostDenied::InvalidUrl {
            url: truncate(url, 200),
            reason: error.to_string(),
        })?;
        let default_port = match parsed.scheme() {
            "http" => 80,
            "https" => 443,
            other => return Err(HostDenied::Scheme(other.to_string())),
        };
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(HostDenied::InvalidUrl {
                url: "(hidden: it contains credentials)".to_string(),
                reason: "URLs with user names or passwords are not allowed".to_string(),
            });
        }
        let Some(host) = parsed.host_str() else {
            return Err(HostDenied::InvalidUrl {
                url: truncate(url, 200),
                reason: "it has no host".to_string(),
            });
        };
        let host = host.to_ascii_lowercase();
        let port = parsed.port().unwrap_or(default_port);
        let authority = match parsed.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.clone(),
        };

        if !self.declared.iter().any(|pattern| pattern.matches(&host, port, default_port)) {
            return Err(HostDenied::Undeclared(authority));
        }
        if let Some(operator) = &self.operator
            && !operator.iter().any(|pattern| pattern.matches(&host, port, default_port))
        {
            return Err(HostDenied::NotAllowed(authority));
        }
        Ok(parsed)
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(declared: &[&str], operator: Option<&[&str]>) -> AllowedHosts {
        let declared: Vec<String> = declared.iter().map(|s| s.to_string()).collect();
        let operator: Option<Vec<String>> =
            operator.map(|list| list.iter().map(|s| s.to_string()).collect());
        AllowedHosts::new(&declared, operator.as_deref()).unwrap()
    }

    #[test]
    fn check_table() {
        let cases: &[(&[&str], Option<&[&str]>, &str, Result<(), &str>)] = &[
            (&["api.openai.com"], None, "https://api.openai.com/v1/audio/speech", Ok(())),
            (&["api.openai.com"], None, "https://API.OpenAI.com/v1", Ok(())),
            (&["api.openai.com"], None, "https://api.openai.com:8443/v1", Err("undeclared")),
            (&["api.openai.com"], None, "http://api.openai.com/v1", Ok(())),
            (&["api.openai.com"], None, "https://api.openai.com.evil.test/v1", Err("undeclared")),
            (&["127.0.0.1:18001"], None, "http://127.0.0.1:18001/v1", Ok(())),
            (&["127.0.0.1:18001"], None, "http://127.0.0.1:18002/v1", Err("undeclared")),
            (&["127.0.0.1"], None, "http://127.0.0.1/v1", Ok(())),
            (&["[::1]:9000"], None, "http://[::1]:9000/v1", Ok(())),
            (&["*.fal.run"], None, "https://queue.fal.run/x", Ok(())),
            (&["*.fal.run"], None, "https://fal.run/x", Err("undeclared")),
            (&["*.fal.run"], None, "https://evilfal.run/x", Err("undeclared")),
            (&["a.test", "b.test"], Some(&["a.test"]), "https://a.test/", Ok(())),
            (&["a.test", "b.test"], Some(&["a.test"]), "https://b.test/", Err("not allowed")),
            (&["a.test"], Some(&["c.test"]), "https://c.test/", Err("undeclared")),
            (&["a.test"], None, "file:///etc/passwd", Err("scheme")),
            (&["a.test"], None, "https://user:pw@a.test/", Err("invalid")),
            (&["a.test"], None, "not a url", Err("invalid")),
        ];
        for (declared, operator, url, expected) in cases {
            let result = policy(declared, *operator).check(url);
            match (expected, &result) {
                (Ok(()), Ok(_)) => {}
                (Err("undeclared"), Err(HostDenied::Undeclared(_))) => {}
                (Err("not allowed"), Err(HostDenied::NotAllowed(_))) => {}
                (Err("scheme"), Err(HostDenied::Scheme(_))) => {}
                (Err("invalid"), Err(HostDenied::InvalidUrl { .. })) => {}
                _ => panic!("{url} with {declared:?}/{operator:?}: expected {expected:?}, got {result:?}"),
            }
        }
    }

    #[test]
    fn pattern_rejects_url() {
        let error = HostPattern::parse("https://api.openai.com").unwrap_err();
        assert!(error.contains("not a URL"), "{error}");
    }

    #[test]
    fn pattern_rejects_inner_wildcard() {
        assert!(HostPattern::parse("api.*.com").is_err());
    }

    #[test]
    fn denial_names_host() {
        let error = policy(&["api.openai.com"], None).check("http://evil.invalid/steal").unwrap_err();
        assert!(error.to_string().contains("evil.invalid"), "{error}");
    }
}
