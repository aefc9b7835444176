//! The imports a provider component may have.
//!
//! A provider is a pure translator. It needs nothing beyond what Rust's standard library
//! pulls in on wasm32-wasip2: command-line plumbing (stdio, environment, exit), streams,
//! and clocks and random numbers when used. The host links these with an empty context.
//! Anything else, such as `wasi:filesystem`, `wasi:sockets` or `wasi:http`, would give the
//! plugin a capability the design withholds, so such a component is rejected at load time.

use wasmtime::Engine;
use wasmtime::component::Component;

/// Interface prefixes a provider component may import. The version after `@` is not
/// checked here: the linker matches it by semver against what the host provides.
const ALLOWED_IMPORT_PREFIXES: &[&str] = &[
    "wasi:cli/",
    "wasi:io/",
    "wasi:clocks/",
    "wasi:random/",
    // Type-only interface of the contract itself.
    "voxgate:provider/types",
];

/// Returns the names of imports outside the allowed set, in the component's order.
pub fn check_imports(engine: &Engine, component: &Component) -> Vec<String> {
    component
        .component_type()
        .imports(engine)
        .map(|(name, _)| name.to_string())
        .filter(|name| !is_allowed(name))
        .collect()
}

fn is_allowed(name: &str) -> bool {
    ALLOWED_IMPORT_PREFIXES.iter().any(|prefix| name.starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use super::is_allowed;

    #[test]
    fn allowed_import_table() {
        let cases = [
            ("wasi:cli/stdout@0.2.6", true),
            ("wasi:cli/environment@0.2.12", true),
            ("wasi:io/streams@0.2.6", true),
            ("wasi:clocks/monotonic-clock@0.2.6", true),
            ("wasi:random/random@0.2.6", true),
            ("voxgate:provider/types@0.1.0", true),
            ("wasi:filesystem/preopens@0.2.6", false),
            ("wasi:sockets/tcp@0.2.6", false),
            ("wasi:http/outgoing-handler@0.2.6", false),
            ("voxgate:provider/provider@0.1.0", false),
            ("wasi:clis/stdout@0.2.6", false),
            ("evil:thing/x", false),
        ];
        for (name, expected) in cases {
            assert_eq!(is_allowed(name), expected, "{name}");
        }
    }
}

/// The contract versions this host loads.
pub const SUPPORTED_CONTRACTS: &[&str] = &["0.1.0"];

/// Explains a component whose exports do not match the contract: names the contract version
/// it was built for, when it exports some `voxgate:provider/provider`, or says it exports
/// none.
pub fn describe_contract_mismatch(engine: &Engine, component: &Component) -> String {
    let exported: Vec<String> = component
        .component_type()
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .filter(|name| name.starts_with("voxgate:provider/provider"))
        .collect();
    let supported = SUPPORTED_CONTRACTS.join(", ");
    match exported.first() {
        None => format!(
            "does not export voxgate:provider/provider; build it against the contract in wit/ (supported versions: {supported})"
        ),
        Some(name) => {
            let version = name.rsplit_once('@').map_or("unknown", |(_, version)| version);
            format!(
                "was built for voxgate:provider@{version}, which this host does not load (supported versions: {supported}); rebuild it against a supported contract or upgrade voxgate"
            )
        }
    }
}
