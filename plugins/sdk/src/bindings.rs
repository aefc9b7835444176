//! Guest bindings for `wit/provider.wit`, generated once here so that every plugin shares
//! one copy of the types and one `export!` macro.

wit_bindgen::generate!({
    path: "../../wit",
    world: "plugin",
    // `export!` is used from plugin crates, so it must be exported from this crate and
    // must find the generated modules through this crate's path.
    pub_export_macro: true,
    default_bindings_module: "voxgate_plugin_sdk::bindings",
    // Lets plugin tests compare whole requests, steps and errors with `assert_eq!`.
    additional_derives: [PartialEq],
});
