#[tracewire::traced(name = checkout)]
fn checkout() {}

fn main() {}
