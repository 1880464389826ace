#[tracewire::traced(fields(id, id = id + 1))]
fn load(id: u64) -> u64 {
    id
}

fn main() {}
