#[tracewire::traced]
pub struct Config {
    pub port: u16,
}

fn main() {}
