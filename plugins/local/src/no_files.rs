//! Keeps `wasi:filesystem` out of the component's imports.
//!
//! The host refuses a provider component that imports `wasi:filesystem` (see
//! host/src/plugin/imports.rs). tract-onnx's tensor loader can read tensor data from an
//! external file next to the model, and resolves that file's path with
//! `std::fs::canonicalize`, which wasi-libc implements with `realpath`. That single
//! reachable call links wasi-libc's preopen and file-descriptor machinery, and with it the
//! `wasi:filesystem/types` and `wasi:filesystem/preopens` imports, although the plugin
//! never opens a file: the prepared voices keep all their tensors inside the model bytes,
//! and the plugin's ONNX resolver refuses external data before any path is resolved
//! (see `piper::model`).
//!
//! Defining `realpath` here means the linker never takes wasi-libc's, so the import is
//! gone. The definition fails the way `realpath` fails on a system without a file system.
//! Found with `wasm-tools print` and a walk of the call graph from the import back to
//! `tract_onnx::model::ParsingContext::load_tensor`.

use std::ffi::c_char;

/// WASI's `ENOTSUP` (wasi-libc `__WASI_ERRNO_NOTSUP`).
const ENOTSUP: i32 = 58;

unsafe extern "C" {
    /// wasi-libc's location of the calling thread's `errno`.
    fn __errno_location() -> *mut i32;
}

/// `realpath(3)` for a component with no file system: always fails with `ENOTSUP`.
///
/// # Safety
///
/// Callable with any arguments: it reads neither pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn realpath(_path: *const c_char, _resolved: *mut c_char) -> *mut c_char {
    // SAFETY: wasi-libc returns a valid pointer to the thread's errno.
    unsafe {
        *__errno_location() = ENOTSUP;
    }
    std::ptr::null_mut()
}
