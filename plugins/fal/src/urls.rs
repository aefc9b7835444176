//! Checking URLs that come from fal's responses: the queue URLs of a job and the audio file URL.
//!
//! The plugin sends these URLs as they are, so it first checks where they point. Queue URLs
//! must stay on the queue host, because they carry the API key. Audio URLs must be on one of
//! the operator's media host patterns, and carry no key at all.

use voxgate_plugin_sdk::BaseUrl;

/// An absolute `http` or `https` URL from a provider response, with its parts checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedUrl {
    /// The URL exactly as fal sent it.
    pub url: String,
    /// Scheme, host and any non-default port, such as `https://queue.fal.run`.
    pub origin: String,
    /// The host as `provider-info.hosts` lists it: `name` or `name:port`.
    pub host: String,
    host_name: String,
    port: u16,
}

impl CheckedUrl {
    /// Parses `url`, which must be an absolute `http` or `https` URL of printable ASCII
    /// without user information.
    ///
    /// # Errors
    ///
    /// Returns what is wrong with the URL, without quoting it, so that a message built on the
    /// error stays short and carries nothing fal put in the URL.
    pub fn parse(url: &str) -> Result<Self, String> {
        if url.is_empty() || !url.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(
                "it is empty or contains spaces, control or non-ASCII characters".to_string(),
            );
        }
        let Some(scheme_end) = url.find("://") else {
            return Err("it is not an absolute http or https URL".to_string());
        };

        // The authority ends where the path, query or fragment starts. A backslash also ends
        // it for the host's WHATWG parser, so one in the authority is rejected outright.
        let after_scheme = scheme_end + 3;
        let authority_end = url[after_scheme..]
            .find(['/', '?', '#'])
            .map_or(url.len(), |offset| after_scheme + offset);
        if url[after_scheme..authority_end].contains('\\') {
            return Err("its authority contains a backslash".to_string());
        }

        let base = BaseUrl::parse("url", &url[..authority_end]).map_err(|error| error.message)?;
        let default_port = if base.scheme() == "https" { 443 } else { 80 };
        let port = base
            .host()
            .rsplit_once(':')
            .filter(|_| !base.host().ends_with(']'))
            .and_then(|(_, port)| port.parse().ok())
            .unwrap_or(default_port);

        Ok(CheckedUrl {
            url: url.to_string(),
            origin: format!("{}://{}", base.scheme(), base.host()),
            host: base.host(),
            host_name: base.host_name().to_string(),
            port,
        })
    }
}

/// One media host pattern: `name`, `name:port`, `*.domain` or `*.domain:port`, with the same
/// meaning as the host's allow-list. Without a port a pattern matches only the scheme's
/// default port, and `*.domain` matches names below `domain` but not `domain` itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    wildcard: bool,
    host_name: String,
    port: Option<u16>,
}

impl HostPattern {
    /// Parses one pattern.
    ///
    /// # Errors
    ///
    /// Returns what is wrong with `text`: a scheme or path, a `*` anywhere but a leading
    /// `*.`, or an invalid host name or port.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.contains("://") || text.contains('/') {
            return Err(format!(
                "`{}` must be a host name with an optional port, such as `v3.fal.media` or \
                 `*.fal.media`, not a URL",
                printable(text)
            ));
        }
        let (wildcard, rest) = match text.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        if rest.contains('*') {
            return Err(format!(
                "`{}` may use `*` only as a leading `*.` before a domain",
                printable(text)
            ));
        }

        let (host, port) =
            split_port(rest).map_err(|reason| format!("`{}` {reason}", printable(text)))?;
        let base = BaseUrl::parse("media-hosts", &format!("http://{host}"))
            .map_err(|error| format!("`{}`: {}", printable(text), error.message))?;

        Ok(HostPattern {
            wildcard,
            host_name: base.host_name().to_string(),
            port,
        })
    }

    /// Checks whether `url` is on a host this pattern allows.
    pub fn matches(&self, url: &CheckedUrl) -> bool {
        let default_port = if url.origin.starts_with("https:") {
            443
        } else {
            80
        };
        if url.port != self.port.unwrap_or(default_port) {
            return false;
        }

        if self.wildcard {
            return url
                .host_name
                .strip_suffix(&self.host_name)
                .is_some_and(|prefix| prefix.len() > 1 && prefix.ends_with('.'));
        }
        url.host_name == self.host_name
    }
}

impl std::fmt::Display for HostPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.wildcard {
            f.write_str("*.")?;
        }
        f.write_str(&self.host_name)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

/// Splits `host[:port]` or `[ipv6][:port]`.
fn split_port(authority: &str) -> Result<(&str, Option<u16>), String> {
    let port_start = if authority.starts_with('[') {
        authority
            .find(']')
            .map(|end| end + 1)
            .filter(|&end| end < authority.len())
    } else {
        authority.rfind(':')
    };
    let Some(colon) = port_start else {
        return Ok((authority, None));
    };
    if authority.as_bytes().get(colon) != Some(&b':') {
        return Err("has text after the IPv6 address that is not `:port`".to_string());
    }

    let digits = &authority[colon + 1..];
    match digits.parse::<u16>() {
        Ok(port) if port > 0 && digits.bytes().all(|b| b.is_ascii_digit()) => {
            Ok((&authority[..colon], Some(port)))
        }
        _ => Err("has an invalid port, expected a number from 1 to 65535".to_string()),
    }
}

/// Shortens operator text for a message and drops control characters.
fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> CheckedUrl {
        CheckedUrl::parse(text).unwrap_or_else(|error| panic!("{text}: {error}"))
    }

    #[test]
    fn parse_reads_origin_and_host() {
        // (URL, origin, host)
        let cases = [
            (
                "https://v3.fal.media/files/koala/x.wav",
                "https://v3.fal.media",
                "v3.fal.media",
            ),
            (
                "https://QUEUE.fal.run:443/fal-ai/kokoro/requests/1/status?logs=0",
                "https://queue.fal.run",
                "queue.fal.run",
            ),
            (
                "http://127.0.0.2:40123/files/a.wav",
                "http://127.0.0.2:40123",
                "127.0.0.2:40123",
            ),
            ("http://[::1]:9/x#frag", "http://[::1]:9", "[::1]:9"),
            ("https://fal.media", "https://fal.media", "fal.media"),
        ];

        for (text, origin, host) in cases {
            let parsed = url(text);

            assert_eq!(parsed.origin, origin, "{text}");
            assert_eq!(parsed.host, host, "{text}");
            assert_eq!(parsed.url, text, "{text}");
        }
    }

    #[test]
    fn parse_rejects_hostile_urls() {
        let cases = [
            "",
            "/files/a.wav",
            "ftp://v3.fal.media/a",
            "file:///etc/passwd",
            "https://user:pw@v3.fal.media/a",
            "https://evil.test@v3.fal.media/a",
            "https://v3.fal.media\\@evil.test/a",
            "https://v3.fal.me\ndia/a",
            "https://v3.fal.media/a b",
            "https://v3%2efal.media/a",
            "https://bücher.example/a",
            "https://v3.fal.media:99999/a",
            "javascript:alert(1)",
        ];

        for text in cases {
            assert!(CheckedUrl::parse(text).is_err(), "{text:?} was accepted");
        }
    }

    #[test]
    fn pattern_matching_table() {
        // (pattern, URL, matches)
        let cases = [
            ("v3.fal.media", "https://v3.fal.media/f/a.wav", true),
            ("v3.fal.media", "http://v3.fal.media/f/a.wav", true),
            ("v3.fal.media", "https://v3.fal.media:8443/f", false),
            ("v3.fal.media", "https://v3b.fal.media/f", false),
            ("*.fal.media", "https://v3b.fal.media/f", true),
            ("*.fal.media", "https://a.b.fal.media/f", true),
            ("*.fal.media", "https://fal.media/f", false),
            ("*.fal.media", "https://evilfal.media/f", false),
            ("*.fal.media", "https://fal.media.evil.test/f", false),
            ("fal.media", "https://fal.media/f", true),
            ("127.0.0.2:40123", "http://127.0.0.2:40123/f", true),
            ("127.0.0.2:40123", "http://127.0.0.2:40124/f", false),
            ("127.0.0.2:40123", "http://127.0.0.1:40123/f", false),
            ("127.0.0.2", "http://127.0.0.2/f", true),
            ("[::1]:9", "http://[::1]:9/f", true),
            ("V3.FAL.MEDIA", "https://v3.fal.media/f", true),
        ];

        for (pattern, text, expected) in cases {
            let pattern = HostPattern::parse(pattern).unwrap();

            assert_eq!(
                pattern.matches(&url(text)),
                expected,
                "{pattern} against {text}"
            );
        }
    }

    #[test]
    fn pattern_display_round_trips() {
        for text in ["v3.fal.media", "*.fal.media", "127.0.0.2:40123", "[::1]:9"] {
            assert_eq!(HostPattern::parse(text).unwrap().to_string(), text);
        }
    }

    #[test]
    fn pattern_rejects_invalid_text() {
        // (pattern, a fragment of the message)
        let cases = [
            ("https://v3.fal.media", "not a URL"),
            ("v3.fal.media/files", "not a URL"),
            ("*", "leading `*.`"),
            ("v3.*.media", "leading `*.`"),
            ("**.fal.media", "leading `*.`"),
            ("", "no host name"),
            ("fal.media:0", "invalid port"),
            ("fal.media:http", "invalid port"),
            ("fal media", "only letters"),
            ("[::1]x", "not `:port`"),
        ];

        for (text, fragment) in cases {
            let error = HostPattern::parse(text).unwrap_err();

            assert!(error.contains(fragment), "{text:?}: {error}");
        }
    }
}
