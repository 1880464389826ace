use tracewire::testing::InMemoryExporter;

#[async_trait::async_trait]
trait Repository {
    async fn find(&self, id: u64) -> Result<String, String>;
}

struct Memory {
    prefix: String,
}

#[async_trait::async_trait]
impl Repository for Memory {
    #[tracewire::traced(err, fields(id, prefix = self.prefix.as_str()))]
    async fn find(&self, id: u64) -> Result<String, String> {
        tokio::task::yield_now().await;
        if id == 0 {
            return Err("no id 0".to_owned());
        }
        Ok(format!("{}{id}", self.prefix))
    }
}

fn main() {
    let memory = InMemoryExporter::default();
    let guard = tracewire::Config::default().with_exporter(memory.clone()).init().unwrap();
    let repo: Box<dyn Repository + Send + Sync> = Box::new(Memory { prefix: "u".to_owned() });
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    assert_eq!(runtime.block_on(repo.find(1)).unwrap(), "u1");
    // The future is instrumented, not the boxing: a future never polled leaves no span.
    drop(repo.find(2));
    assert!(runtime.block_on(repo.find(0)).is_err());
    guard.shutdown().unwrap();
    let spans = memory.spans();
    assert_eq!(spans.len(), 2, "{spans:?}");
    assert!(spans.iter().all(|s| s.name == "find"));
    assert!(matches!(spans[1].status, tracewire::Status::Error { .. }));
}
