//! `cargo gocache observe -- CMD...` (hidden): run a command under the
//! observer that build-script runs are keyed with, and print what it saw:
//! every path and how it was touched, and the refusals. For diagnosing a
//! build script's misses and for measuring the observer's cost.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Result};

/// Run and report; the exit code is the command's.
pub fn run(summary: bool, command: &[OsString]) -> Result<i32> {
    let mut program = PathBuf::from(&command[0]);
    if program.components().count() == 1 {
        // A bare name: found on PATH, as a shell would.
        if let Some(found) = std::env::split_paths(&crate::env::var_os("PATH").unwrap_or_default())
            .map(|d| d.join(&program))
            .find(|p| p.is_file())
        {
            program = found;
        }
    }
    let started = Instant::now();
    let observed = crate::observe::observe(&crate::observe::Run {
        program: &program,
        args: &command[1..],
        own_exe: std::env::current_exe().ok(),
    });
    let secs = started.elapsed().as_secs_f64();
    let (obs, _, _) = match observed {
        Ok(o) => o,
        Err(why) => bail!("cannot observe {}: {}", program.display(), why.0),
    };
    if !summary {
        for (p, a) in &obs.paths {
            let kinds: String = [
                (a.read, 'r'),
                (a.nofollow, 'l'),
                (a.exec, 'x'),
                (a.list, 'd'),
                (a.write, 'w'),
            ]
            .iter()
            .map(|&(on, c)| if on { c } else { '-' })
            .collect();
            eprintln!("{kinds} {}", p.display());
        }
    }
    for r in &obs.refusals {
        eprintln!("refused: {r}");
    }
    eprintln!(
        "observed {} paths in {secs:.3}s; exit {}",
        obs.paths.len(),
        obs.code.map_or("by signal".to_string(), |c| c.to_string())
    );
    Ok(obs.code.unwrap_or(1))
}
