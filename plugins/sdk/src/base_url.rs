//! Parsing a `base-url` setting into the URL prefix that requests use and the host that
//! `provider-info.hosts` must declare.

use crate::SettingsError;

/// An `http` or `https` URL that requests are built on, such as `https://api.openai.com` or
/// `https://gateway.ai.cloudflare.com/v1/ACCOUNT/GATEWAY/openai`.
///
/// The host name is lower-cased, a port equal to the scheme's default (80 for `http`, 443 for
/// `https`) is dropped, and trailing slashes are removed from the path. The URLs that
/// [`BaseUrl::join`] builds and the string that [`BaseUrl::host`] returns therefore always
/// agree, so the host's allow-list check matches the requests the plugin sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    scheme: &'static str,
    host_name: String,
    port: Option<u16>,
    path: String,
}

impl BaseUrl {
    /// Parses `value`, the value of the setting `setting`.
    ///
    /// # Errors
    ///
    /// Returns a [`SettingsError`] naming `setting` when the value is not an absolute `http`
    /// or `https` URL, carries user information, a query or a fragment, or has an invalid
    /// host or port. The message never repeats the whole value, because a URL with user
    /// information may contain a password.
    pub fn parse(setting: &str, value: &str) -> Result<Self, SettingsError> {
        let invalid = |message: String| SettingsError {
            name: setting.to_string(),
            message,
        };
        let value = value.trim();

        let Some((scheme, rest)) = value.split_once("://") else {
            return Err(invalid(
                "expected an absolute http or https URL, such as https://api.example.com"
                    .to_string(),
            ));
        };
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => "http",
            "https" => "https",
            other => {
                return Err(invalid(format!(
                    "the URL scheme `{}` is not supported, use http or https",
                    printable_prefix(other)
                )));
            }
        };

        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(authority_end);
        if path.contains(['?', '#']) {
            return Err(invalid(
                "a base URL cannot carry a query or a fragment, remove everything from `?` or `#`"
                    .to_string(),
            ));
        }
        if authority.contains('@') {
            return Err(invalid(
                "a base URL cannot carry user information (`user:password@`), configure \
                 credentials as secrets instead"
                    .to_string(),
            ));
        }

        let (host_name, port) = split_authority(authority).map_err(invalid)?;
        let default_port = if scheme == "https" { 443 } else { 80 };
        let port = port.filter(|&port| port != default_port);

        let path = path.trim_end_matches('/');
        if !path.chars().all(|c| c.is_ascii_graphic()) {
            return Err(invalid(
                "the URL path may contain only printable ASCII, percent-encode spaces and \
                 other characters"
                    .to_string(),
            ));
        }

        Ok(BaseUrl {
            scheme,
            host_name,
            port,
            path: path.to_string(),
        })
    }

    /// Returns the host as `provider-info.hosts` lists it: `name`, or `name:port` when the URL names
    /// a port other than the scheme's default.
    pub fn host(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{port}", self.host_name),
            None => self.host_name.clone(),
        }
    }

    /// Returns the host name alone, lower-case, with brackets around an IPv6 address.
    pub fn host_name(&self) -> &str {
        &self.host_name
    }

    /// Returns the scheme, `http` or `https`.
    pub fn scheme(&self) -> &'static str {
        self.scheme
    }

    /// Returns the path prefix without a trailing slash, such as `/v1/ACCOUNT/GATEWAY/openai`, or an
    /// empty string when the URL has no path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Builds the absolute URL of `path` under this base. `path` starts with `/`.
    pub fn join(&self, path: &str) -> String {
        format!("{}://{}{}{path}", self.scheme, self.host(), self.path)
    }
}

/// Splits `host[:port]` or `[ipv6][:port]` and checks both parts.
fn split_authority(authority: &str) -> Result<(String, Option<u16>), String> {
    let (host_name, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let Some((address, after)) = bracketed.split_once(']') else {
            return Err("the IPv6 address has no closing `]`".to_string());
        };
        let valid = !address.is_empty()
            && address
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.');
        if !valid {
            return Err("the IPv6 address in brackets is invalid".to_string());
        }
        let port = match after {
            "" => None,
            _ => match after.strip_prefix(':') {
                Some(port) => Some(port),
                None => return Err("expected `:port` after the IPv6 address".to_string()),
            },
        };
        (format!("[{}]", address.to_ascii_lowercase()), port)
    } else {
        let (name, port) = match authority.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (authority, None),
        };
        if name.is_empty() {
            return Err("the URL has no host name".to_string());
        }
        if !name.is_ascii() {
            return Err(
                "the host name must be ASCII, write an internationalised name in its \
                        punycode (`xn--`) form"
                    .to_string(),
            );
        }
        let valid = name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
        if !valid {
            return Err(
                "the host name may contain only letters, digits, `-`, `.` and `_`".to_string(),
            );
        }
        (name.to_ascii_lowercase(), port)
    };

    let port = match port {
        None => None,
        Some(text) => Some(parse_port(text)?),
    };

    Ok((host_name, port))
}

fn parse_port(text: &str) -> Result<u16, String> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    let port = if digits {
        text.parse::<u16>().ok()
    } else {
        None
    };

    match port {
        Some(port) if port > 0 => Ok(port),
        _ => Err(format!(
            "the port `{}` is invalid, expected a number from 1 to 65535",
            printable_prefix(text)
        )),
    }
}

/// Shortens a fragment of a setting value for an error message, dropping control
/// characters so that the message stays one clean line.
fn printable_prefix(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(20).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: &str) -> Result<BaseUrl, SettingsError> {
        BaseUrl::parse("base-url", value)
    }

    #[test]
    fn parse_accepts_valid_urls() {
        // (value, host, path, joined "/x")
        let cases = [
            (
                "https://api.openai.com",
                "api.openai.com",
                "",
                "https://api.openai.com/x",
            ),
            (
                "https://api.openai.com/",
                "api.openai.com",
                "",
                "https://api.openai.com/x",
            ),
            (
                "http://127.0.0.1:18001",
                "127.0.0.1:18001",
                "",
                "http://127.0.0.1:18001/x",
            ),
            (
                "HTTPS://API.Example.COM:8443/",
                "api.example.com:8443",
                "",
                "https://api.example.com:8443/x",
            ),
            (
                "https://api.example.com:443",
                "api.example.com",
                "",
                "https://api.example.com/x",
            ),
            (
                "http://localhost:80/",
                "localhost",
                "",
                "http://localhost/x",
            ),
            (
                "http://[::1]:9000/v1",
                "[::1]:9000",
                "/v1",
                "http://[::1]:9000/v1/x",
            ),
            ("http://[FE80::1]", "[fe80::1]", "", "http://[fe80::1]/x"),
            (
                "https://gateway.ai.cloudflare.com/v1/acc/gw/openai/",
                "gateway.ai.cloudflare.com",
                "/v1/acc/gw/openai",
                "https://gateway.ai.cloudflare.com/v1/acc/gw/openai/x",
            ),
            (
                "  http://my_host.internal//  ",
                "my_host.internal",
                "",
                "http://my_host.internal/x",
            ),
        ];

        for (value, host, path, joined) in cases {
            let url = parse(value).unwrap_or_else(|error| panic!("{value}: {error:?}"));

            assert_eq!(url.host(), host, "host of {value}");
            assert_eq!(url.path(), path, "path of {value}");
            assert_eq!(url.join("/x"), joined, "join of {value}");
        }
    }

    #[test]
    fn parse_keeps_scheme_and_host_name() {
        let url = parse("HTTP://Example.org:8080/a").unwrap();

        assert_eq!(url.scheme(), "http");
        assert_eq!(url.host_name(), "example.org");
    }

    #[test]
    fn parse_rejects_invalid_urls() {
        // (value, a fragment the message must contain)
        let cases = [
            ("", "absolute http or https URL"),
            ("api.openai.com", "absolute http or https URL"),
            ("ftp://files.example.com", "`ftp` is not supported"),
            ("file:///etc/passwd", "`file` is not supported"),
            ("https://", "no host name"),
            ("https:///v1", "no host name"),
            ("https://:443", "no host name"),
            ("https://api.example.com?x=1", "query or a fragment"),
            ("https://api.example.com/v1#top", "query or a fragment"),
            ("https://user:hunter2@api.example.com", "user information"),
            ("https://api.example.com:0", "port `0` is invalid"),
            ("https://api.example.com:70000", "port `70000` is invalid"),
            ("https://api.example.com:", "port `` is invalid"),
            ("https://api.example.com:x1", "port `x1` is invalid"),
            ("https://api example.com", "only letters, digits"),
            ("https://bücher.example", "punycode"),
            ("http://[::1", "no closing `]`"),
            ("http://[zz::1]", "IPv6 address in brackets is invalid"),
            ("http://[::1]x", "expected `:port`"),
            ("https://api.example.com/a b", "printable ASCII"),
        ];

        for (value, expected) in cases {
            let error = parse(value).expect_err(value);

            assert_eq!(error.name, "base-url", "name for {value}");
            assert!(
                error.message.contains(expected),
                "message for {value}: {}",
                error.message
            );
        }
    }

    #[test]
    fn parse_error_hides_password() {
        let error = parse("https://user:hunter2@api.example.com").unwrap_err();

        assert!(!error.message.contains("hunter2"));
    }
}
