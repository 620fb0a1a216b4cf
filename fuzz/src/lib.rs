//! What the fuzz targets share.

/// Makes a stack overflow in the code under test a crash like any other, reported with the
/// input that caused it. Called once, from each target's `init`.
///
/// libFuzzer's SIGSEGV handler must run on an alternate stack to survive an exhausted one, and
/// none is set up: Rust's runtime does that from its own `main`, and libFuzzer's `main` runs
/// instead. Without it (and without a sanitizer, see scripts/fuzz.sh) the process dies without
/// saving the input. libFuzzer installs its handler after `init`, with `SA_ONSTACK` only if the
/// disposition it replaces had it: hence the default disposition with that flag here.
pub fn catch_stack_overflow() {
    const SIZE: usize = 256 * 1024;
    let stack: &'static mut [u8] = Vec::leak(vec![0u8; SIZE]);
    let alt = libc::stack_t {
        ss_sp: stack.as_mut_ptr().cast(),
        ss_flags: 0,
        ss_size: SIZE,
    };
    // SAFETY: `alt` describes memory that is never freed; the disposition set is the default one.
    unsafe {
        let rc = libc::sigaltstack(&alt, std::ptr::null_mut());
        assert_eq!(rc, 0, "sigaltstack: {}", std::io::Error::last_os_error());
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = libc::SIG_DFL;
        action.sa_flags = libc::SA_ONSTACK;
        let rc = libc::sigaction(libc::SIGSEGV, &action, std::ptr::null_mut());
        assert_eq!(rc, 0, "sigaction: {}", std::io::Error::last_os_error());
    }
}
