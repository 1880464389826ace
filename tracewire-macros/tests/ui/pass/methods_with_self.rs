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

    #[tracewire::traced]
    async fn name_later(&self) -> &str {
        tokio::task::yield_now().await;
        "counter"
    }

    #[tracewire::traced(ret)]
    async fn into_count_later(self) -> u64 {
        self.count
    }

    #[tracewire::traced]
    async fn reset_later(mut self) -> Self {
        self.count = 0;
        self
    }

    #[tracewire::traced]
    async fn pinned(self: std::pin::Pin<&mut Self>) -> u64 {
        self.get_mut().count
    }

    #[tracewire::traced]
    async fn boxed(self: Box<Self>) -> u64 {
        self.count
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
    assert_eq!(runtime.block_on(counter.name_later()), "counter");
    assert_eq!(runtime.block_on(std::pin::pin!(Counter { count: 4 }).as_mut().pinned()), 4);
    assert_eq!(runtime.block_on(Box::new(Counter { count: 5 }).boxed()), 5);
    let counter = runtime.block_on(counter.reset_later());
    assert_eq!(runtime.block_on(counter.into_count_later()), 0);
    let counter = Counter::new().reset();
    assert_eq!(counter.into_count(), 0);
}
