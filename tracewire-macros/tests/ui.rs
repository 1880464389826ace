//! The macro's UI tests: every supported function shape compiles and runs (`ui/pass`), and every
//! misuse is a compile error at the offending token (`ui/fail`, with the expected `.stderr`).
//!
//! The `.stderr` files hold rustc's exact wording, which changes between releases, so the `fail`
//! cases run on the toolchain they were written with (rustc 1.95, the one CI uses) and are ignored,
//! with that reason shown, on any other. Regenerate them with `TRYBUILD=overwrite`.

#[test]
fn supported_function_shapes_compile_and_run() {
    trybuild::TestCases::new().pass("tests/ui/pass/*.rs");
}

#[rustversion::attr(
    not(stable(1.95)),
    ignore = "the .stderr files hold rustc 1.95's wording; regenerate them with TRYBUILD=overwrite"
)]
#[test]
fn misuse_is_a_compile_error_at_the_offending_token() {
    trybuild::TestCases::new().compile_fail("tests/ui/fail/*.rs");
}
