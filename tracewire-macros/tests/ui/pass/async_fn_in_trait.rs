trait Repository {
    async fn find(&self, id: u64) -> Option<String>;

    #[tracewire::traced]
    async fn exists(&self, id: u64) -> bool {
        self.find(id).await.is_some()
    }
}

struct Memory;

impl Repository for Memory {
    #[tracewire::traced(fields(id))]
    async fn find(&self, id: u64) -> Option<String> {
        (id == 1).then(|| "one".to_owned())
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    assert!(runtime.block_on(Memory.exists(1)));
    assert!(!runtime.block_on(Memory.exists(2)));
}
