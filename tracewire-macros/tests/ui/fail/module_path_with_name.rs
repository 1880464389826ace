#[tracewire::traced(module_path, name = "load")]
fn load() {}

fn main() {}
