//! The execution log the fuzzer compares with the sidecar's audit trail: one JSON line per tool run.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::{Arc, Mutex};

use serde::Serialize;

/// Appends `{"sdk":"rust","tool":..,"arguments":..}` lines to the `--log` file.
#[derive(Clone)]
pub struct ExecutionLog {
    // Append mode, so a harness truncating the file between cases never leaves a hole before our line.
    file: Arc<Mutex<File>>,
}

#[derive(Serialize)]
struct Entry<'a, A: Serialize> {
    sdk: &'static str,
    tool: &'a str,
    arguments: &'a A,
}

impl ExecutionLog {
    pub fn open(path: &str) -> std::io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Self { file: Arc::new(Mutex::new(file)) })
    }

    /// Records one execution; returns only once the line is in the file (File is unbuffered), so the
    /// harness can read it as soon as the result arrives.
    pub fn record<A: Serialize>(&self, tool: &str, arguments: &A) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(&Entry { sdk: "rust", tool, arguments })?;
        line.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // One write call per line keeps lines whole under concurrent tool calls.
        file.write_all(&line)?;
        file.flush()
    }
}
