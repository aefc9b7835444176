//! Recognising a Cloudflare AI Gateway base URL,
//! `https://gateway.ai.cloudflare.com/v1/{account_id}/{gateway_id}/{provider}`, so that a
//! plugin builds the provider's path after the gateway's prefix.

use crate::BaseUrl;

/// The parts of an AI Gateway base URL path, `/v1/{account}/{gateway}/{provider}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AiGatewayPath<'a> {
    /// The Cloudflare account id.
    pub account: &'a str,
    /// The gateway id.
    pub gateway: &'a str,
    /// The provider segment, such as `openai` or `workers-ai`.
    pub provider: &'a str,
}

impl BaseUrl {
    /// Returns the parts of this base URL's path when it has AI Gateway's shape,
    /// `/v1/{account}/{gateway}/{provider}`, on any host.
    ///
    /// The shape decides, not the host name, so that a gateway emulator on a loopback address
    /// is addressed exactly as `gateway.ai.cloudflare.com` would be.
    pub fn ai_gateway_path(&self) -> Option<AiGatewayPath<'_>> {
        let mut segments = self.path().strip_prefix('/')?.split('/');
        let version = segments.next()?;
        let account = segments.next()?;
        let gateway = segments.next()?;
        let provider = segments.next()?;
        if segments.next().is_some() || version != "v1" {
            return None;
        }
        if account.is_empty() || gateway.is_empty() || provider.is_empty() {
            return None;
        }

        Some(AiGatewayPath {
            account,
            gateway,
            provider,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(url: &str) -> BaseUrl {
        BaseUrl::parse("base-url", url).unwrap()
    }

    #[test]
    fn gateway_path_is_recognised_on_any_host() {
        // (base URL, expected account, gateway, provider)
        let cases = [
            (
                "https://gateway.ai.cloudflare.com/v1/acc123/my-gw/workers-ai",
                Some(("acc123", "my-gw", "workers-ai")),
            ),
            (
                "http://127.0.0.1:9000/v1/a/g/openai/",
                Some(("a", "g", "openai")),
            ),
            ("https://api.openai.com", None),
            ("https://api.openai.com/v1", None),
            ("https://api.cloudflare.com/client/v4", None),
            ("http://127.0.0.1:9000/v2/a/g/openai", None),
            ("http://127.0.0.1:9000/v1/a/g", None),
            ("http://127.0.0.1:9000/v1/a/g/openai/extra", None),
            ("http://127.0.0.1:9000/v1//g/openai", None),
        ];

        for (url, expected) in cases {
            let base = base(url);
            let found = base
                .ai_gateway_path()
                .map(|path| (path.account, path.gateway, path.provider));

            assert_eq!(found, expected, "{url}");
        }
    }
}
