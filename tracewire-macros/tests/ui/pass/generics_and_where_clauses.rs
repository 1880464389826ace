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
}
