//! `limit_arenas` in a process of its own (arenas are made as threads first
//! allocate, so the test binary's own threads must not come first): eight
//! threads allocating at once, then glibc's `malloc_info` counts the arenas.

#![cfg(all(target_os = "linux", target_env = "gnu"))]

use std::process::Command;

/// The arenas glibc reports for this process (`<heap nr=…>` of `malloc_info`).
#[allow(unsafe_code)]
fn arenas() -> usize {
    let path = std::env::temp_dir().join(format!("portos-heap-info-{}", std::process::id()));
    let c_path = std::ffi::CString::new(path.to_string_lossy().as_bytes()).unwrap();
    // SAFETY: a FILE opened and closed here, written by malloc_info(3) alone.
    unsafe {
        let f = nix::libc::fopen(c_path.as_ptr(), c"w".as_ptr());
        assert!(!f.is_null());
        nix::libc::malloc_info(0, f);
        nix::libc::fclose(f);
    }
    let xml = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    xml.matches("<heap nr=").count()
}

/// Eight threads each holding allocations at the same time.
fn busy_threads() {
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let held: Vec<Vec<u8>> = (0..64).map(|i| vec![i as u8; 4096]).collect();
                barrier.wait();
                std::hint::black_box(&held);
                barrier.wait();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

fn arenas_of_a_child(limit: bool) -> usize {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("PORTOS_HEAP_CHILD", if limit { "limit" } else { "default" })
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.split("arenas=").nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count from the child:\n{text}"))
}

#[test]
fn child_process() {
    let Ok(mode) = std::env::var("PORTOS_HEAP_CHILD") else {
        return;
    };
    if mode == "limit" {
        portos_heap::limit_arenas();
    }
    busy_threads();
    println!("arenas={}", arenas());
}

#[test]
fn threads_share_at_most_two_arenas_once_limited() {
    let limited = arenas_of_a_child(true);
    assert!(limited <= 2, "{limited} arenas");
    // The default makes more, or the test shows nothing.
    let default = arenas_of_a_child(false);
    assert!(default > 2, "{default} arenas without the limit");
}
