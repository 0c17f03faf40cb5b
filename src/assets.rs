//! Where the bundled files (`assets/`: the default model, the demo stem, the default kit) are
//! found, so that an installed binary works from any folder: `assets/` in the working
//! directory first (a checkout, as the README runs it), then beside the executable or one of
//! its parent folders (`target/release/drummernet` in a checkout, a copied release folder), then
//! the checkout the binary was built from (`cargo install --path .`). `DRUMMERNET_ASSETS`
//! names the folder explicitly and disables the search.

use std::path::{Path, PathBuf};

/// The environment variable that overrides the search.
pub const ASSETS_ENV: &str = "DRUMMERNET_ASSETS";

/// The bundled model, relative to an `assets/` folder's parent.
pub const BUNDLED_MODEL: &str = "assets/model/default.safetensors";
/// The bundled kit (procedural seed 0), where adaptation and the workbench start from.
pub const BUNDLED_KIT: &str = "assets/kits/default";

/// `relative` (a path starting with `assets/`) where it exists, else `relative` as given (so
/// that an error names the path the user expects).
pub fn locate(relative: &str) -> PathBuf {
    let inside = relative.strip_prefix("assets/").unwrap_or(relative);
    if let Some(root) = std::env::var_os(ASSETS_ENV) {
        return Path::new(&root).join(inside);
    }
    candidates(relative)
        .into_iter()
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from(relative))
}

fn candidates(relative: &str) -> Vec<PathBuf> {
    let mut out = vec![PathBuf::from(relative)];
    if let Ok(exe) = std::env::current_exe() {
        out.extend(exe.ancestors().skip(1).map(|dir| dir.join(relative)));
    }
    out.push(Path::new(env!("CARGO_MANIFEST_DIR")).join(relative));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_checkouts_model_and_keeps_unknown_paths_as_given() {
        // Tests run in the checkout, with the executable under target/: both routes lead here.
        if std::env::var_os(ASSETS_ENV).is_some() {
            return;
        }
        let found = locate(BUNDLED_MODEL);
        assert!(found.is_file(), "{}", found.display());
        assert_eq!(
            locate("assets/no/such/file.bin"),
            PathBuf::from("assets/no/such/file.bin")
        );
    }
}
