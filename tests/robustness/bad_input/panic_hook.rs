//! The workbench's panic hook restores the terminal for a panic on the UI thread only: a job
//! thread's panic must leave the screen alone (the job reports it as a failure instead).

use std::panic::catch_unwind;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use drummernet::tui::terminal::install_panic_hook;

#[test]
fn the_terminal_is_restored_for_a_ui_thread_panic_and_only_then() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let restored = Arc::new(AtomicUsize::new(0));
    let r = restored.clone();
    install_panic_hook(move || {
        r.fetch_add(1, Ordering::SeqCst);
    });
    let job = std::thread::Builder::new()
        .name("open".into())
        .spawn(|| panic!("a job fails"))
        .expect("spawn");
    assert!(job.join().is_err());
    assert_eq!(
        restored.load(Ordering::SeqCst),
        0,
        "a job's panic restored the terminal"
    );
    assert!(catch_unwind(|| panic!("the UI fails")).is_err());
    assert_eq!(
        restored.load(Ordering::SeqCst),
        1,
        "the UI's panic did not restore it"
    );
    std::panic::set_hook(previous);
}
