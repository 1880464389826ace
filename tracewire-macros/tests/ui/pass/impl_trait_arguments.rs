//! `impl Trait` arguments (anonymous type parameters) and an `impl Trait` output of an `async fn`.

use std::fmt::Display;

#[tracewire::traced]
async fn describe(label: impl Display, items: impl IntoIterator<Item = u32>) -> String {
    let total: u32 = items.into_iter().sum();
    format!("{label}: {total}")
}

#[tracewire::traced(ret)]
async fn shown(value: impl Display + Send) -> impl Display {
    format!("<{value}>")
}

#[tracewire::traced]
async fn call(f: impl FnOnce(u8) -> u8, x: &impl AsRef<str>) -> usize {
    usize::from(f(1)) + x.as_ref().len()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    assert_eq!(runtime.block_on(describe("sum", [1, 2, 3])), "sum: 6");
    assert_eq!(runtime.block_on(shown(7)).to_string(), "<7>");
    assert_eq!(runtime.block_on(call(|x| x + 1, &"abc")), 5);
}
