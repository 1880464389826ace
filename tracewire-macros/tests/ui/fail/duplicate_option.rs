#[tracewire::traced(name = "first", err, name = "second")]
fn work() -> Result<(), String> {
    Ok(())
}

fn main() {}
