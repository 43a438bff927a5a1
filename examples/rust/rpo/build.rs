//! Links librpo. By default (the `bundled` feature) librpo is built from
//! the source tree this crate sits in, with the project's Makefile, into
//! cargo's OUT_DIR, and linked statically with pthread and libm: a crate
//! that depends on this one builds binaries that run with no environment
//! variable and no installed librpo (as zstd-sys and libsqlite3-sys do with
//! their bundled C).
//!
//! The shared library instead:
//!   - RPO_LIB_DIR names a folder holding librpo.so (an installed or
//!     prebuilt librpo); it wins over everything else;
//!   - without the `bundled` feature (`default-features = false`): the
//!     build folder of the source tree (`make` puts librpo.so there;
//!     RPO_BUILD_DIR overrides its path), then pkg-config (`pkg-config
//!     --libs rpo`) for an installed librpo.
//! A shared librpo's folder is written into the run path of this crate's
//! own tests and examples only: rustc-link-arg reaches no dependent
//! crate's binary, which then needs librpo.so.1 where the loader looks
//! (README, "Installing").
use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn link_shared(dir: &Path) {
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

/// The librpo source tree: the crate is examples/rust/rpo inside it.
fn source_tree() -> PathBuf {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    manifest.join("../../..")
}

/// Builds librpo.a from the source tree into OUT_DIR and links it.
fn link_bundled() {
    let root = source_tree();
    if !root.join("Makefile").exists() || !root.join("lib").is_dir() {
        panic!(
            "the librpo source tree is not where this crate expects it ({}): \
             set RPO_LIB_DIR to a folder holding librpo.so, or turn off the \
             `bundled` feature to link an installed librpo",
            root.display()
        );
    }
    for input in ["Makefile", "lib", "include"] {
        println!("cargo:rerun-if-changed={}", root.join(input).display());
    }
    let build = PathBuf::from(env::var("OUT_DIR").unwrap()).join("librpo");
    let archive = build.join("librpo.a");
    let jobs = env::var("NUM_JOBS").unwrap_or_else(|_| "1".into());
    // The make that may have started cargo must not hand its jobserver
    // and flags to this one.
    let status = Command::new(env::var("MAKE").unwrap_or_else(|_| "make".into()))
        .arg("-C")
        .arg(&root)
        .arg(format!("-j{jobs}"))
        .arg(format!("BUILD={}", build.display()))
        .arg(&archive)
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .env_remove("MAKELEVEL")
        .status()
        .unwrap_or_else(|e| panic!("could not run make to build librpo: {e}"));
    if !status.success() {
        panic!("building librpo with make failed ({status})");
    }
    println!("cargo:rustc-link-search=native={}", build.display());
    println!("cargo:rustc-link-lib=static=rpo");
    // librpo's own dependencies (the Makefile's LDLIBS)
    println!("cargo:rustc-link-lib=dylib=pthread");
    println!("cargo:rustc-link-lib=dylib=m");
}

fn link_installed() {
    println!("cargo:rerun-if-env-changed=RPO_BUILD_DIR");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    let build = env::var("RPO_BUILD_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| source_tree().join("build"));
    if build.join("librpo.so").exists() {
        let build = build.canonicalize().unwrap_or(build);
        println!("cargo:rerun-if-changed={}", build.join("librpo.so").display());
        link_shared(&build);
        return;
    }
    match from_pkg_config() {
        Some(dir) if dir.as_os_str().is_empty() => {
            println!("cargo:rustc-link-lib=dylib=rpo");
        }
        Some(dir) => link_shared(&dir),
        None => panic!(
            "librpo not found: run `make` in the source tree, set RPO_LIB_DIR, \
             or install it where pkg-config finds rpo.pc"
        ),
    }
}

fn main() {
    println!("cargo:rerun-if-env-changed=RPO_LIB_DIR");
    if let Ok(dir) = env::var("RPO_LIB_DIR") {
        link_shared(Path::new(&dir));
    } else if env::var_os("CARGO_FEATURE_BUNDLED").is_some() {
        link_bundled();
    } else {
        link_installed();
    }
}
