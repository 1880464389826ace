use std::fmt::Display;

#[tracewire::traced]
fn evens(limit: u32) -> impl Iterator<Item = u32> {
    (0..limit).filter(|n| n % 2 == 0)
}

#[tracewire::traced(ret)]
fn label(n: u32) -> impl Display {
    format!("#{n}")
}

#[tracewire::traced]
fn boxed() -> Box<dyn Fn(u32) -> u32> {
    Box::new(|n| n * 2)
}

#[tracewire::traced]
async fn later() -> impl Display {
    7
}

fn main() {
    assert_eq!(evens(5).collect::<Vec<_>>(), [0, 2, 4]);
    assert_eq!(label(3).to_string(), "#3");
    assert_eq!(boxed()(4), 8);
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    assert_eq!(runtime.block_on(later()).to_string(), "7");
}
