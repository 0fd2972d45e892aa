//! Ctrl-C, SIGTERM and SIGHUP counted for the whole process.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

/// Ctrl-C / SIGTERM count for the whole process (first: graceful stop, second: stop now).
pub(crate) fn interrupts() -> &'static Arc<AtomicUsize> {
    static COUNT: OnceLock<Arc<AtomicUsize>> = OnceLock::new();
    COUNT.get_or_init(|| {
        let count = Arc::new(AtomicUsize::new(0));
        // SIGHUP (the terminal went away) stops the same graceful way: the report is written.
        if let Ok(mut signals) = signal_hook::iterator::Signals::new([
            signal_hook::consts::SIGINT,
            signal_hook::consts::SIGTERM,
            signal_hook::consts::SIGHUP,
        ]) {
            let c = count.clone();
            // The run loop tells the user (through its live view, which may own the terminal).
            let _ = std::thread::Builder::new()
                .name("stampede-signals".into())
                .spawn(move || {
                    for _ in signals.forever() {
                        c.fetch_add(1, Ordering::SeqCst);
                    }
                });
        }
        count
    })
}
