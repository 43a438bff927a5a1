//! Finds librpo for linking, in this order:
//!   1. RPO_LIB_DIR: a folder holding librpo.so (e.g. a staging prefix);
//!   2. the build folder of the source tree this crate sits in
//!      (`make` puts librpo.so there; RPO_BUILD_DIR overrides its path);
//!   3. pkg-config (`pkg-config --libs rpo`), for an installed librpo.
//! The folder found is also written into the binaries' run path, so tests
//! and examples run without LD_LIBRARY_PATH.
use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn link_dir(dir: &Path) {
    println!("cargo:rustc-link-search=native={}", dir.display());
    println!("cargo:rustc-link-lib=dylib=rpo");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
}

fn from_pkg_config() -> Option<PathBuf> {
    let out = Command::new("pkg-config")
        .args(["--libs-only-L", "rpo"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let dir = text
        .split_whitespace()
        .find_map(|flag| flag.strip_prefix("-L"))
        .map(PathBuf::from);
    // A librpo in a default linker folder needs no -L: pkg-config prints
    // nothing, and the system's linker finds it.
    Some(dir.unwrap_or_default())
}

fn main() {
    println!("cargo:rerun-if-env-changed=RPO_LIB_DIR");
    println!("cargo:rerun-if-env-changed=RPO_BUILD_DIR");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");

    if let Ok(dir) = env::var("RPO_LIB_DIR") {
        link_dir(Path::new(&dir));
        return;
    }
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let build = env::var("RPO_BUILD_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| manifest.join("../../../build"));
    if build.join("librpo.so").exists() {
        let build = build.canonicalize().unwrap_or(build);
        println!("cargo:rerun-if-changed={}", build.join("librpo.so").display());
        link_dir(&build);
        return;
    }
    match from_pkg_config() {
        Some(dir) if dir.as_os_str().is_empty() => {
            println!("cargo:rustc-link-lib=dylib=rpo");
        }
        Some(dir) => link_dir(&dir),
        None => panic!(
            "librpo not found: run `make` in the source tree, set RPO_LIB_DIR, \
             or install it where pkg-config finds rpo.pc"
        ),
    }
}
