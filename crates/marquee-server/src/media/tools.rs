//! The external programs real playback uses, `ffmpeg` and `ffprobe`: found
//! once when the workers start (`-version`), so a request never waits on a
//! missing one and the staff pages can say why transcoding is off.

use std::time::Duration;
use tokio::process::Command;

/// Whether a program answered `-version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tool {
    /// Not looked for yet (the workers have not started).
    Unknown,
    /// It runs; its first line of `-version` ("ffmpeg version 5.1.6-0+deb12u1 …").
    Ready {
        /// The version line.
        version: String,
    },
    /// It does not run, and why.
    Missing {
        /// Why, in words for an operator.
        reason: String,
    },
}

impl Tool {
    /// It runs.
    pub fn is_ready(&self) -> bool {
        matches!(self, Tool::Ready { .. })
    }
}

/// Runs `program -version` (5 s at most).
pub async fn detect(program: &str) -> Tool {
    let run = Command::new(program)
        .arg("-version")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(Duration::from_secs(5), run).await {
        Err(_) => Tool::Missing {
            reason: format!("`{program} -version` did not answer within 5 s"),
        },
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => Tool::Missing {
            reason: format!(
                "`{program}` was not found on this server; install ffmpeg (e.g. `apt-get install ffmpeg`) or set [playback] {}",
                if program.contains("probe") { "ffprobe" } else { "ffmpeg" }
            ),
        },
        Ok(Err(e)) => Tool::Missing {
            reason: format!("`{program}` could not be run: {e}"),
        },
        Ok(Ok(out)) if !out.status.success() => Tool::Missing {
            reason: format!("`{program} -version` failed ({})", out.status),
        },
        Ok(Ok(out)) => Tool::Ready {
            version: String::from_utf8_lossy(&out.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(120)
                .collect(),
        },
    }
}

/// The last non-empty line a failed program wrote to stderr, for an
/// error message (at most 300 characters).
pub fn last_line(stderr: &[u8]) -> String {
    String::from_utf8_lossy(stderr)
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no message")
        .chars()
        .take(300)
        .collect()
}
