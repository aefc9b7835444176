//! Provider plugins: loading components, checking them, and running one synthesis.

mod bindings;
mod imports;
mod instance;
mod loader;
mod validate;

pub use bindings::wit;
pub use instance::{PluginFault, PluginInstance};
pub use loader::{LoadReport, LoadedPlugin, Rejection, load_dir, load_file_checked};
pub use validate::check_provider_info;
