//! Elided lifetimes in an `async fn`: references, `'_`, and a lifetime hidden in a path
//! (`fmt::Formatter`, `Parser` without `<'_>`), which the future must capture as the `async fn`'s
//! did, in edition 2021 crates as well as 2024.
#![allow(elided_lifetimes_in_paths)]

use std::fmt;

struct Parser<'a> {
    input: &'a str,
}

#[tracewire::traced]
async fn first_word(text: &str) -> &str {
    text.split(' ').next().unwrap_or_default()
}

#[tracewire::traced]
async fn longest<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.len() >= b.len() { a } else { b }
}

#[tracewire::traced]
async fn hidden(parser: Parser, extra: &mut Vec<u8>) -> usize {
    extra.push(1);
    parser.input.len() + extra.len()
}

#[tracewire::traced]
async fn anonymous(parser: &Parser<'_>, suffix: &str) -> usize {
    parser.input.len() + suffix.len()
}

#[tracewire::traced(err)]
async fn write_to(f: &mut fmt::Formatter, text: &str) -> fmt::Result {
    f.write_str(text)
}

struct Shown;

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(write_to(f, "shown"))
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let text = String::from("hello world");
    assert_eq!(runtime.block_on(first_word(&text)), "hello");
    assert_eq!(runtime.block_on(longest("ab", "abc")), "abc");
    let mut extra = Vec::new();
    assert_eq!(runtime.block_on(hidden(Parser { input: "abc" }, &mut extra)), 4);
    assert_eq!(runtime.block_on(anonymous(&Parser { input: "x" }, "yz")), 3);
    assert_eq!(Shown.to_string(), "shown");
}
