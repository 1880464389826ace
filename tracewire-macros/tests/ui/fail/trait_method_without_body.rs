trait Store {
    #[tracewire::traced]
    fn get(&self, key: &str) -> Option<String>;
}

fn main() {}
