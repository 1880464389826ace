#[tracewire::traced(fields(user_id, order))]
fn checkout(user_id: u64, cart: &[u32]) -> usize {
    cart.len() + user_id as usize
}

fn main() {}
