//! A bump allocator for chaincode: allocation moves a pointer forward, freeing is a no-op.
//!
//! A job is short-lived and its memory is thrown away with the instance, so never reusing
//! memory is the cheapest correct choice. Memory grows a page (64 KiB) at a time through
//! `memory.grow`; the engine's memory limit bounds it.
#![allow(unsafe_code)]

use core::{
    alloc::{GlobalAlloc, Layout},
    sync::atomic::{AtomicUsize, Ordering},
};

const PAGE: usize = 65_536;

/// The allocator. `next` is the first free address, `end` the end of the memory it owns
/// (0 until the first allocation).
pub struct BumpAllocator {
    next: AtomicUsize,
    end: AtomicUsize,
}

impl BumpAllocator {
    /// An allocator that owns no memory yet.
    pub const fn new() -> Self {
        BumpAllocator { next: AtomicUsize::new(0), end: AtomicUsize::new(0) }
    }
}

impl Default for BumpAllocator {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: wasm32 chaincode is single-threaded; returned blocks never overlap because `next`
// only moves forward, and every block lies in memory obtained from `memory.grow`.
unsafe impl GlobalAlloc for BumpAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let mut next = self.next.load(Ordering::Relaxed);
        let mut end = self.end.load(Ordering::Relaxed);
        if end == 0 {
            // Start after everything the linker placed: the current end of memory.
            let pages = core::arch::wasm32::memory_size(0);
            next = pages * PAGE;
            end = next;
        }
        let align = layout.align();
        let start = match next.checked_add(align - 1) {
            Some(v) => v & !(align - 1),
            None => return core::ptr::null_mut(),
        };
        let new_next = match start.checked_add(layout.size()) {
            Some(v) => v,
            None => return core::ptr::null_mut(),
        };
        if new_next > end {
            let need = new_next - end;
            let pages = need.div_ceil(PAGE);
            if core::arch::wasm32::memory_grow(0, pages) == usize::MAX {
                return core::ptr::null_mut();
            }
            end += pages * PAGE;
        }
        self.next.store(new_next, Ordering::Relaxed);
        self.end.store(end, Ordering::Relaxed);
        start as *mut u8
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
}
