# The Rust crate's tests (integration tests and doc examples) with
# `cargo test --offline --locked`: no dependencies, no network, and nothing
# written outside $(BUILD): cargo's home and target folders live there, and
# Cargo.lock is committed (--locked keeps cargo from rewriting it). The
# crate links the library of this build (RPO_BUILD_DIR, see its build.rs).
# Included by the top Makefile.

CARGO ?= cargo
# LD_LIBRARY_PATH: older cargo does not pass build.rs's rpath to doc tests.
RUST_ENV = CARGO_HOME=$(abspath $(BUILD)/cargo-home) \
           CARGO_TARGET_DIR=$(abspath $(BUILD)/rust) RPO_BUILD_DIR=$(abspath $(BUILD)) \
           LD_LIBRARY_PATH=$(abspath $(BUILD))$${LD_LIBRARY_PATH:+:$$LD_LIBRARY_PATH}

.PHONY: check-rust
CHECK_TARGETS += check-rust

## check-rust: the Rust crate's tests (offline)
check-rust: lib
	cd examples/rust/rpo && $(RUST_ENV) $(CARGO) test --offline --locked --quiet
