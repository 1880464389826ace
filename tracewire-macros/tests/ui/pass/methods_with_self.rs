struct Counter {
    count: u64,
}

impl Counter {
    #[tracewire::traced]
    fn new() -> Self {
        Counter { count: 0 }
    }

    #[tracewire::traced(fields(count = self.count))]
    fn get(&self) -> u64 {
        self.count
    }

    #[tracewire::traced]
    fn name(&self) -> &str {
        "counter"
    }

    #[tracewire::traced]
    fn bump(&mut self) -> &mut Self {
        self.count += 1;
        self
    }

    #[tracewire::traced]
    fn into_count(self) -> u64 {
        self.count
    }

    #[tracewire::traced]
    fn reset(mut self) -> Self {
        self.count = 0;
        self
    }

    #[tracewire::traced]
    async fn get_later(&self) -> u64 {
        self.count
    }

    #[tracewire::traced]
    async fn bump_later(&mut self) {
        self.count += 1;
    }
}

fn main() {
    let mut counter = Counter::new();
    counter.bump().bump();
    assert_eq!(counter.get(), 2);
    assert_eq!(counter.name(), "counter");
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    runtime.block_on(counter.bump_later());
    assert_eq!(runtime.block_on(counter.get_later()), 3);
    let counter = counter.reset();
    assert_eq!(counter.into_count(), 0);
}
