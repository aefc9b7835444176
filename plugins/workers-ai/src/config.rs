//! The operator's settings for this plugin and the URL a model runs at, read and checked in one
//! place so that `describe` and `synthesize` agree.
//!
//! Two URL shapes exist:
//!
//! - the REST API, `{base-url}/accounts/{account-id}/ai/run/{model}`, with `base-url`
//!   `https://api.cloudflare.com/client/v4` (Cloudflare's `workers-ai/get-started/rest-api.mdx`);
//! - AI Gateway, `{base-url}/{model}`, when `base-url` is
//!   `https://gateway.ai.cloudflare.com/v1/{account}/{gateway}/workers-ai`: the gateway's
//!   `workers-ai` segment stands for `.../accounts/{account}/ai/run` (Cloudflare's
//!   `ai-gateway/usage/providers/workersai.mdx`), so the account is already in the URL and
//!   `account-id` is not needed.

use voxgate_plugin_sdk::{
    AiGatewayHeaders, BaseUrl, Setting, SettingInfo, SettingsError, setting, setting_or,
};

/// The setting that points the plugin at Cloudflare's API, AI Gateway or a local emulator.
pub const BASE_URL: &str = "base-url";
/// The setting that contains the Cloudflare account id for the REST API.
pub const ACCOUNT_ID: &str = "account-id";

/// Cloudflare's REST API root.
pub const DEFAULT_BASE_URL: &str = "https://api.cloudflare.com/client/v4";

/// The host name of Cloudflare AI Gateway.
const AI_GATEWAY_HOST: &str = "gateway.ai.cloudflare.com";
/// AI Gateway's path segment for Workers AI.
const AI_GATEWAY_PROVIDER: &str = "workers-ai";

/// Cloudflare account ids are 32 hexadecimal digits; this bound only keeps a mistaken value
/// (a pasted token, a whole URL) out of the request path.
const MAX_ACCOUNT_ID_CHARS: usize = 64;

/// The endpoint that runs models.
#[derive(Debug, Clone, PartialEq)]
enum Endpoint {
    /// The REST API, which needs the account id.
    Rest {
        base_url: BaseUrl,
        account_id: Option<String>,
    },
    /// AI Gateway's Workers AI route, whose base URL already names the account.
    Gateway { base_url: BaseUrl },
}

/// The checked settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The host that requests address, as `provider-info.hosts` lists it.
    pub host: String,
    /// The `cf-aig-*` headers the operator configured.
    pub ai_gateway: AiGatewayHeaders,
    endpoint: Endpoint,
}

impl Config {
    /// Reads and checks `settings`.
    ///
    /// A missing `account-id` is not an error here: the plugin then loads and lists its
    /// models, and only a synthesis through the REST API fails (see [`Config::run_url`]).
    /// Operators who never use Workers AI therefore see no load error for it.
    ///
    /// # Errors
    ///
    /// A [`SettingsError`] naming the setting when `base-url` is not an absolute http(s) URL,
    /// names AI Gateway's host with a path that is not
    /// `/v1/{account}/{gateway}/workers-ai`, or names another provider's gateway route; when
    /// `account-id` contains characters other than letters, digits, `-` and `_`; or when an
    /// `aig-*` setting is invalid.
    pub fn from_settings(settings: &[Setting]) -> Result<Self, SettingsError> {
        let base_url = BaseUrl::parse(BASE_URL, setting_or(settings, BASE_URL, DEFAULT_BASE_URL))?;
        let account_id = setting(settings, ACCOUNT_ID)
            .map(check_account_id)
            .transpose()?;
        let ai_gateway = AiGatewayHeaders::from_settings(settings, &base_url)?;

        let endpoint = match base_url.ai_gateway_path() {
            Some(path) if path.provider == AI_GATEWAY_PROVIDER => Endpoint::Gateway {
                base_url: base_url.clone(),
            },
            Some(path) => {
                return Err(invalid_base_url(format!(
                    "the AI Gateway route is for provider `{}`, the Workers AI plugin needs \
                     .../v1/ACCOUNT/GATEWAY/workers-ai",
                    printable(path.provider)
                )));
            }
            None if base_url.host_name() == AI_GATEWAY_HOST => {
                return Err(invalid_base_url(
                    "an AI Gateway base URL must be \
                     https://gateway.ai.cloudflare.com/v1/ACCOUNT/GATEWAY/workers-ai"
                        .to_string(),
                ));
            }
            None => Endpoint::Rest {
                base_url: base_url.clone(),
                account_id,
            },
        };

        Ok(Config {
            host: base_url.host(),
            ai_gateway,
            endpoint,
        })
    }

    /// Builds the URL that runs `model`, a model id such as `@cf/deepgram/aura-2-en`, which goes
    /// into the path verbatim (Cloudflare's own examples do the same).
    ///
    /// # Errors
    ///
    /// A [`SettingsError`] naming `account-id` when the REST API is used and no account id is
    /// set.
    pub fn run_url(&self, model: &str) -> Result<String, SettingsError> {
        match &self.endpoint {
            Endpoint::Gateway { base_url } => Ok(base_url.join(&format!("/{model}"))),
            Endpoint::Rest {
                base_url,
                account_id: Some(account_id),
            } => Ok(base_url.join(&format!("/accounts/{account_id}/ai/run/{model}"))),
            Endpoint::Rest {
                account_id: None, ..
            } => Err(SettingsError {
                name: ACCOUNT_ID.to_string(),
                message: "is not set; set it to your Cloudflare account id (32 hexadecimal \
                          digits, shown in the Cloudflare dashboard), or point base-url at \
                          AI Gateway's workers-ai route, which names the account itself"
                    .to_string(),
            }),
        }
    }
}

/// Lists the settings this plugin accepts, for `provider-info.settings`.
pub fn setting_infos() -> Vec<SettingInfo> {
    vec![
        SettingInfo {
            name: BASE_URL.to_string(),
            description: "Root of Cloudflare's REST API, or AI Gateway's Workers AI route \
                          (https://gateway.ai.cloudflare.com/v1/ACCOUNT/GATEWAY/workers-ai). \
                          Models run at {base-url}/accounts/{account-id}/ai/run/{model}, or at \
                          {base-url}/{model} on AI Gateway."
                .to_string(),
            default: Some(DEFAULT_BASE_URL.to_string()),
        },
        SettingInfo {
            name: ACCOUNT_ID.to_string(),
            description: "Cloudflare account id for the REST API. Plugins cannot read the \
                          environment, so the operator sets it in the configuration file \
                          (for example from CLOUDFLARE_ACCOUNT_ID). Not needed on AI Gateway."
                .to_string(),
            default: None,
        },
    ]
}

fn check_account_id(value: &str) -> Result<String, SettingsError> {
    let value = value.trim();
    let valid = value.chars().count() <= MAX_ACCOUNT_ID_CHARS
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        // The value is not repeated: a mistaken paste could be a token.
        return Err(SettingsError {
            name: ACCOUNT_ID.to_string(),
            message: format!(
                "expected a Cloudflare account id: at most {MAX_ACCOUNT_ID_CHARS} letters, \
                 digits, `-` or `_`"
            ),
        });
    }

    Ok(value.to_string())
}

fn invalid_base_url(message: String) -> SettingsError {
    SettingsError {
        name: BASE_URL.to_string(),
        message,
    }
}

fn printable(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_graphic())
        .take(40)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Vec<Setting> {
        pairs
            .iter()
            .map(|(name, value)| Setting {
                name: name.to_string(),
                value: value.to_string(),
            })
            .collect()
    }

    fn run_url(pairs: &[(&str, &str)], model: &str) -> Result<String, SettingsError> {
        Config::from_settings(&settings(pairs))
            .unwrap()
            .run_url(model)
    }

    #[test]
    fn rest_url_has_account_and_model() {
        let url = run_url(&[(ACCOUNT_ID, "0123abcd")], "@cf/deepgram/aura-2-en").unwrap();

        assert_eq!(
            url,
            "https://api.cloudflare.com/client/v4/accounts/0123abcd/ai/run/@cf/deepgram/aura-2-en"
        );
    }

    #[test]
    fn emulator_base_url_declares_port() {
        let pairs = [
            (BASE_URL, "http://127.0.0.1:18002/client/v4/"),
            (ACCOUNT_ID, " acc-1 "),
        ];
        let config = Config::from_settings(&settings(&pairs)).unwrap();

        assert_eq!(config.host, "127.0.0.1:18002");
        assert_eq!(
            config.run_url("@cf/myshell-ai/melotts").unwrap(),
            "http://127.0.0.1:18002/client/v4/accounts/acc-1/ai/run/@cf/myshell-ai/melotts"
        );
    }

    #[test]
    fn gateway_url_drops_account_path() {
        let pairs = [(
            BASE_URL,
            "https://gateway.ai.cloudflare.com/v1/acc123/voice/workers-ai",
        )];

        let url = run_url(&pairs, "@cf/deepgram/aura-1").unwrap();

        assert_eq!(
            url,
            "https://gateway.ai.cloudflare.com/v1/acc123/voice/workers-ai/@cf/deepgram/aura-1"
        );
    }

    #[test]
    fn missing_account_is_error_at_run_time() {
        let error = run_url(&[], "@cf/deepgram/aura-1").unwrap_err();

        assert_eq!(error.name, "account-id");
        assert!(error.message.starts_with("is not set"), "{}", error.message);
        assert!(!error.message.contains('{'), "{}", error.message);
    }

    #[test]
    fn account_id_is_checked() {
        for value in ["acc/../x", "acc id", "a?b", "é", &"a".repeat(65)] {
            let error = Config::from_settings(&settings(&[(ACCOUNT_ID, value)])).unwrap_err();

            assert_eq!(error.name, "account-id", "{value}");
            assert!(!error.message.contains(value), "{value} echoed");
        }
    }

    #[test]
    fn wrong_gateway_routes_are_errors() {
        let cases = [
            "https://gateway.ai.cloudflare.com/v1/acc/gw/openai",
            "https://gateway.ai.cloudflare.com/v1/acc/gw",
            "https://gateway.ai.cloudflare.com",
        ];

        for url in cases {
            let error = Config::from_settings(&settings(&[(BASE_URL, url)])).unwrap_err();

            assert_eq!(error.name, "base-url", "{url}");
        }
    }

    #[test]
    fn aig_settings_are_read() {
        let pairs = [
            (BASE_URL, "http://127.0.0.1:9000/v1/acc/gw/workers-ai"),
            ("aig-cache-ttl", "600"),
        ];
        let config = Config::from_settings(&settings(&pairs)).unwrap();

        let mut headers = Vec::new();
        config.ai_gateway.append_to(&mut headers);
        assert_eq!(headers.len(), 1);
        assert_eq!(headers[0].name, "cf-aig-cache-ttl");
    }
}
