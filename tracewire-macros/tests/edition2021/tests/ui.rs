//! tracewire-macros' UI cases, compiled as edition 2021 code: every supported shape compiles and
//! runs in a 2021 crate too (the lifetimes an `async fn`'s future captures follow the 2024 rules in
//! either edition), and a body that is not `Send` still makes a future that is not `Send`.

#[test]
fn supported_function_shapes_compile_and_run_in_edition_2021() {
    trybuild::TestCases::new().pass("../ui/pass/*.rs");
}

#[rustversion::attr(
    not(stable(1.95)),
    ignore = "the .stderr files hold rustc 1.95's wording; regenerate them with TRYBUILD=overwrite"
)]
#[test]
fn a_body_that_is_not_send_makes_a_future_that_is_not_send_in_edition_2021() {
    trybuild::TestCases::new().compile_fail("fail/*.rs");
}
