//! Finding the case folders and the case files in them.

use std::path::{Path, PathBuf};

use super::case::{CaseError, LoadedCase, read_case};

/// The generic cases' folder, relative to the repository root.
pub const GENERIC_DIR: &str = "tests/conformance/generic";

/// A folder of cases and the label its case names start with.
#[derive(Debug, Clone)]
pub struct CaseFolder {
    pub label: String,
    pub dir: PathBuf,
}

/// Finds the repository root that contains the generic cases: the current folder or one above
/// it, else the folder the `voxgate` binary was built in (`target/debug/..`).
pub fn repository_root() -> Option<PathBuf> {
    let from_cwd = std::env::current_dir().ok();
    let from_exe = std::env::current_exe().ok().and_then(|exe| exe.parent().map(Path::to_path_buf));
    [from_cwd, from_exe]
        .into_iter()
        .flatten()
        .find_map(|start| start.ancestors().find(|dir| dir.join(GENERIC_DIR).is_dir()).map(Path::to_path_buf))
}

/// Lists the folders to run for plugin `id`: the generic folder, the first-party folder
/// `plugins/<id>/conformance` (or `plugins/polyglot/<id>/conformance`) when it exists, and
/// each `extra` folder, without duplicates.
pub fn case_folders(generic: Option<PathBuf>, id: &str, extra: &[PathBuf]) -> Vec<CaseFolder> {
    let root = repository_root();
    let mut folders = Vec::new();

    let generic = generic.or_else(|| root.as_ref().map(|root| root.join(GENERIC_DIR)));
    if let Some(dir) = generic {
        folders.push(CaseFolder { label: "generic".to_string(), dir });
    }
    if let Some(root) = &root {
        for dir in [root.join("plugins").join(id).join("conformance"), root.join("plugins/polyglot").join(id).join("conformance")] {
            if dir.is_dir() {
                folders.push(CaseFolder { label: id.to_string(), dir });
            }
        }
    }
    for dir in extra {
        folders.push(CaseFolder { label: folder_label(dir), dir: dir.clone() });
    }

    let mut seen = Vec::new();
    folders.retain(|folder| {
        let key = folder.dir.canonicalize().unwrap_or_else(|_| folder.dir.clone());
        if seen.contains(&key) {
            return false;
        }
        seen.push(key);
        true
    });
    folders
}

/// `plugins/openai/conformance` is labelled `openai`; any other folder by its own name.
fn folder_label(dir: &Path) -> String {
    let canonical = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let name = |path: &Path| path.file_name().map(|name| name.to_string_lossy().into_owned());
    match name(&canonical).as_deref() {
        Some("conformance") => canonical.parent().and_then(name).unwrap_or_else(|| "cases".to_string()),
        Some(other) => other.to_string(),
        None => "cases".to_string(),
    }
}

/// Reads every `*.toml` and `*.json` file under `folder`, recursively, in path order.
pub fn load_cases(folder: &CaseFolder) -> Result<Vec<LoadedCase>, CaseError> {
    let mut files = Vec::new();
    collect(&folder.dir, &mut files).map_err(|reason| CaseError { file: folder.dir.display().to_string(), reason })?;
    files.sort();

    let mut cases = Vec::new();
    for file in files {
        let case = read_case(&file)?;
        let relative = file.strip_prefix(&folder.dir).unwrap_or(&file).with_extension("");
        let relative = relative.to_string_lossy().replace('\\', "/");
        cases.push(LoadedCase { name: format!("{}/{relative}", folder.label), source: folder.label.clone(), file, case });
    }
    Ok(cases)
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|error| format!("cannot read the cases folder: {error}"))?;
    for entry in entries {
        let path = entry.map_err(|error| format!("cannot read the cases folder: {error}"))?.path();
        if path.is_dir() {
            collect(&path, files)?;
        } else if path.extension().is_some_and(|ext| ext == "toml" || ext == "json") {
            files.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases_are_read_recursively_in_order() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        let case = "description = \"x\"\n[expect]\n";
        std::fs::write(dir.path().join("b.toml"), case).unwrap();
        std::fs::write(dir.path().join("sub/a.toml"), case).unwrap();
        std::fs::write(dir.path().join("notes.md"), "ignored").unwrap();
        let folder = CaseFolder { label: "mine".to_string(), dir: dir.path().to_path_buf() };

        let cases = load_cases(&folder).unwrap();

        let names: Vec<&str> = cases.iter().map(|case| case.name.as_str()).collect();
        assert_eq!(names, vec!["mine/b", "mine/sub/a"]);
    }

    #[test]
    fn conformance_folder_takes_parent_name() {
        let dir = tempfile::tempdir().unwrap();
        let cases = dir.path().join("openai/conformance");
        std::fs::create_dir_all(&cases).unwrap();

        assert_eq!(folder_label(&cases), "openai");
    }

    #[test]
    fn broken_case_names_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bad.toml"), "description = 3\n").unwrap();
        let folder = CaseFolder { label: "x".to_string(), dir: dir.path().to_path_buf() };

        let error = load_cases(&folder).unwrap_err();

        assert!(error.to_string().contains("bad.toml"), "{error}");
    }
}
