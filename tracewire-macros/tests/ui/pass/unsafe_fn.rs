/// Reads through a raw pointer.
///
/// # Safety
///
/// `ptr` must be valid for reads.
#[tracewire::traced]
unsafe fn read(ptr: *const u32) -> u32 {
    // SAFETY: the caller's contract.
    unsafe { *ptr }
}

#[tracewire::traced]
async unsafe fn read_later(ptr: *const u32) -> u32 {
    // SAFETY: the caller's contract.
    unsafe { *ptr }
}

fn main() {
    let value = 7;
    // SAFETY: `value` lives for the calls.
    assert_eq!(unsafe { read(&value) }, 7);
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    // SAFETY: as above.
    assert_eq!(runtime.block_on(unsafe { read_later(&value) }), 7);
}
