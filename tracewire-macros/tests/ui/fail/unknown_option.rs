#[tracewire::traced(name = "work", level = "info")]
fn work() {}

fn main() {}
