//! Nothing but a home for `tests/ui.rs`: trybuild compiles each UI case with the edition of the
//! crate under test, and this crate is edition 2021 where tracewire and tracewire-macros are 2024.
//! The cases themselves are tracewire-macros' (`../ui`), so both editions run the same files.
