//! A cache prefetch hint, for loops that know which cold memory they will read a few steps
//! ahead.

/// Asks the CPU to bring the cache line holding `at` into the cache. Only a hint: it never
/// faults, whatever the address, and does nothing on targets without the instruction.
#[inline(always)]
pub fn prefetch<T>(at: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `prefetcht0` reads no memory the program can observe and never faults, for any
    // address (x86-64 manuals: "a prefetch to an invalid address is ignored").
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(at.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}
