//! A command told to read `-` while stdin is a terminal says what it waits for, instead of
//! waiting in silence until Ctrl-D; with a pipe or a file on stdin it says nothing.

use std::os::fd::{FromRawFd, OwnedFd};
use std::process::Stdio;
use std::time::Duration;

use crate::support::{send, tagstream};

/// A pseudo-terminal: (controller, the terminal side a child reads as its stdin).
fn pty() -> (OwnedFd, OwnedFd) {
    let (mut controller, mut terminal) = (0, 0);
    // SAFETY: openpty writes two new descriptors into the integers it is given; the null
    // name, settings and size ask for the defaults.
    let rc = unsafe {
        libc::openpty(
            &mut controller,
            &mut terminal,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just opened by openpty and are owned by nothing else.
    unsafe {
        (
            OwnedFd::from_raw_fd(controller),
            OwnedFd::from_raw_fd(terminal),
        )
    }
}

#[test]
fn run_reading_a_terminal_says_how_to_end_the_input() {
    use std::io::BufRead;
    let (_controller, terminal) = pty();
    let mut child = tagstream()
        .args(["run", "--input", "-", "--output", "/dev/null"])
        .stdin(Stdio::from(terminal))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Stderr line by line, until the hint (the run waits for input meanwhile) or its end.
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    let mut err = String::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(20)) {
        err.push_str(&line);
        err.push('\n');
        if line.contains("from the terminal") {
            break;
        }
    }
    send(&child, "INT");
    let status = child.wait().unwrap();
    reader.join().unwrap();
    err.extend(rx.try_iter().map(|l| l + "\n"));
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(
        err.contains(
            "tagstream: reading events from the terminal: paste or type JSON lines, end with Ctrl-D"
        ),
        "{err}"
    );
}

#[test]
fn a_pipe_on_stdin_gets_no_hint() {
    let out = tagstream()
        .args(["run", "--input", "-", "--output", "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("from the terminal"), "{err}");
}
