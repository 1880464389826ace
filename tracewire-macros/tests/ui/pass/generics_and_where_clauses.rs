use std::fmt::Debug;

#[tracewire::traced(fields(first = items.first().copied()))]
fn largest<T: PartialOrd + Copy + Debug>(items: &[T]) -> Option<T>
where
    T: Default,
{
    items.iter().copied().fold(None, |max, x| match max {
        Some(m) if m >= x => Some(m),
        _ => Some(x),
    })
}

struct Wrapper<T>(T);

impl<T> Wrapper<T>
where
    T: Clone + Debug,
{
    #[tracewire::traced(ret)]
    fn get(&self) -> T {
        self.0.clone()
    }

    #[tracewire::traced]
    fn map<U, F: FnOnce(T) -> U>(self, f: F) -> Wrapper<U> {
        Wrapper(f(self.0))
    }

    #[tracewire::traced]
    async fn get_async<'a>(&'a self, _extra: &'a str) -> T {
        self.0.clone()
    }
}

#[tracewire::traced(fields(n = items.len()))]
async fn largest_later<T, const N: usize>(items: [T; N]) -> Option<T>
where
    T: PartialOrd + Copy + Debug + Default + Send,
{
    tokio::task::yield_now().await;
    largest(&items)
}

trait Store {
    type Item;
    fn load(&self) -> Self::Item;
}

#[tracewire::traced]
async fn load_all<S>(stores: &[S]) -> Vec<S::Item>
where
    S: Store + Sync,
    S::Item: Send,
{
    stores.iter().map(Store::load).collect()
}

struct Ten;

impl Store for Ten {
    type Item = u8;
    fn load(&self) -> u8 {
        10
    }
}

#[tracewire::traced]
fn with_impl_arg(items: impl IntoIterator<Item = u32>) -> u32 {
    items.into_iter().sum()
}

fn main() {
    assert_eq!(largest(&[3, 9, 2]), Some(9));
    let wrapper = Wrapper(vec![1]);
    assert_eq!(wrapper.get(), vec![1]);
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    assert_eq!(runtime.block_on(wrapper.get_async("x")), vec![1]);
    assert_eq!(wrapper.map(|v| v.len()).0, 1);
    assert_eq!(with_impl_arg([1, 2]), 3);
    assert_eq!(runtime.block_on(largest_later([1, 7, 3])), Some(7));
    assert_eq!(runtime.block_on(load_all(&[Ten, Ten])), vec![10, 10]);
}
