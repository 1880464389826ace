#[tracewire::traced(kind = sever)]
fn handle() {}

fn main() {}
