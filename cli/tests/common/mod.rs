//! What seatctl's integration tests share: running the real binary with the test environment.
#![allow(dead_code)] // each test binary uses its own subset

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use seatkeeper_e2e::TestEnv;
use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_seatctl");

#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs seatctl with the test environment (and nothing else from ours), recording every byte
/// it prints.
pub struct Seatctl<'a> {
    pub env: &'a TestEnv,
    transcript: Mutex<String>,
}

impl<'a> Seatctl<'a> {
    pub fn new(env: &'a TestEnv) -> Self {
        Seatctl {
            env,
            transcript: Mutex::new(String::new()),
        }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env_clear()
            .envs(self.env.env_vars())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    pub fn finish(&self, args: &[&str], out: std::process::Output) -> Run {
        let run = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        let mut t = self.transcript.lock().unwrap();
        t.push_str(&format!(
            "$ seatctl {}\n{}{}",
            args.join(" "),
            run.stdout,
            run.stderr
        ));
        assert!(
            !run.stderr.contains("panicked"),
            "seatctl {args:?} panicked: {}",
            run.stderr
        );
        run
    }

    pub fn run(&self, args: &[&str]) -> Run {
        let out = self
            .command(args)
            .stdin(Stdio::null())
            .output()
            .expect("run seatctl");
        self.finish(args, out)
    }

    pub fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Run {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .spawn()
            .expect("spawn seatctl");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(stdin.as_bytes())
            .expect("write stdin");
        let out = child.wait_with_output().expect("wait for seatctl");
        self.finish(args, out)
    }

    /// Runs with `set` added to (and `remove` taken out of) the environment.
    pub fn run_env(&self, args: &[&str], set: &[(&str, &str)], remove: &[&str]) -> Run {
        let mut cmd = self.command(args);
        for (k, v) in set {
            cmd.env(k, v);
        }
        for k in remove {
            cmd.env_remove(k);
        }
        let out = cmd.stdin(Stdio::null()).output().expect("run seatctl");
        self.finish(args, out)
    }

    /// Runs and expects failure with `code` and nothing on stdout; returns stderr.
    pub fn fails_quietly(&self, args: &[&str], code: i32) -> String {
        let r = self.run(args);
        assert_eq!(r.code, code, "seatctl {args:?}: {r:?}");
        assert!(r.stdout.is_empty(), "seatctl {args:?}: {r:?}");
        r.stderr
    }

    /// Runs and expects success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let r = self.run(args);
        assert_eq!(r.code, 0, "seatctl {args:?} failed: {r:?}");
        r.stdout
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let out = self.ok(args);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("seatctl {args:?}: {e}: {out}"))
    }

    /// Runs and expects failure with `code`; returns stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let r = self.run(args);
        assert_eq!(r.code, code, "seatctl {args:?}: {r:?}");
        r.stderr
    }

    pub fn transcript(&self) -> String {
        self.transcript.lock().unwrap().clone()
    }

    pub fn add_box_profile(&self, id: &str) {
        let enterprise = self.env.sandbox.box_tenant().enterprise_id();
        self.ok(&[
            "profile",
            "add",
            "box",
            "--id",
            id,
            "--name",
            "Sandbox Box",
            "--enterprise-id",
            &enterprise,
            "--plan",
            "business_plus",
        ]);
    }
}
