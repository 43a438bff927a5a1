# The Rust crate's tests (integration tests and doc examples) with
# `cargo test --offline --locked`: no dependencies, no network, and nothing
# written outside $(BUILD): cargo's home and target folders live there, and
# Cargo.lock is committed (--locked keeps cargo from rewriting it).
# Included by the top Makefile.
#
#   check-rust            the crate's tests, linked to the shared library
#                         of this build (--no-default-features,
#                         RPO_BUILD_DIR; see its build.rs)
#   check-rust-dependent  what a user does: a new crate (cargo new) that
#                         depends on the crate by path, built with the
#                         default features (librpo bundled, static) and its
#                         binary run with no RPO_* or LD_LIBRARY_PATH set

CARGO ?= cargo
RUST_HOME = CARGO_HOME=$(abspath $(BUILD)/cargo-home)
# LD_LIBRARY_PATH: older cargo does not pass build.rs's rpath to doc tests.
RUST_ENV = $(RUST_HOME) \
           CARGO_TARGET_DIR=$(abspath $(BUILD)/rust) RPO_BUILD_DIR=$(abspath $(BUILD)) \
           LD_LIBRARY_PATH=$(abspath $(BUILD))$${LD_LIBRARY_PATH:+:$$LD_LIBRARY_PATH}

.PHONY: check-rust check-rust-dependent
CHECK_TARGETS += check-rust check-rust-dependent

## check-rust: the Rust crate's tests (offline)
check-rust: $(LIB_FILES)
	cd examples/rust/rpo && $(RUST_ENV) $(CARGO) test --offline --locked --quiet \
	    --no-default-features

DEPENDENT := $(BUILD)/rust-dependent/rpo_user
## check-rust-dependent: a crate made by cargo new depends on the crate by path, builds and runs
check-rust-dependent:
	@rm -rf $(dir $(DEPENDENT)) && mkdir -p $(dir $(DEPENDENT))
	@cd $(dir $(DEPENDENT)) && $(RUST_HOME) $(CARGO) new --offline --vcs none --quiet rpo_user
	@printf 'rpo = { path = "%s" }\n' $(abspath examples/rust/rpo) >> $(DEPENDENT)/Cargo.toml
	@cp examples/rust/dependent_main.rs $(DEPENDENT)/src/main.rs
	@cd $(DEPENDENT) && $(RUST_HOME) $(CARGO) build --offline --quiet
	@env -u LD_LIBRARY_PATH -u RPO_LIB_DIR -u RPO_BUILD_DIR $(DEPENDENT)/target/debug/rpo_user
	@if ldd $(DEPENDENT)/target/debug/rpo_user | grep -q librpo; then \
	    echo "check-rust-dependent: the binary loads a shared librpo"; exit 1; fi
	@echo "check-rust-dependent: a crate created with cargo new builds on rpo and its binary runs"
