//! The `fintechapi` binary as an operator uses it.

mod admin;
mod certificates;
mod settings;
mod startup;

use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use crate::support::{fintechapi_command as fintechapi, store_args};
use fintechapi_testkit::TestDb;

fn run(args: &[&str]) -> Output {
    fintechapi().args(args).output().unwrap()
}

/// `args` run on `db`'s store.
fn run_on(db: &TestDb, args: &[&str]) -> Output {
    fintechapi()
        .args(args)
        .args(store_args(db))
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The command failed as a usage or configuration error (exit 2) that says `says`.
#[track_caller]
fn assert_refused_saying(out: &Output, says: &str) {
    assert_eq!(out.status.code(), Some(2), "{}", stderr(out));
    assert!(stderr(out).contains(says), "{}", stderr(out));
}

fn terminate(mut child: Child) -> std::process::ExitStatus {
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "server ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}
