//! The binary's two wrapper modes, run once per tool invocation of a build
//! script: [`cc`], the C/C++ compiler wrapper (`cargo-gocache gcc -c a.c`,
//! as `ccache gcc ...`), and [`ar`], the archiver wrapper that stamps build
//! IDs (`cargo-gocache ar cq libfoo.a ...`, or the `gocache-ar` link).
//!
//! A wrapper runs on every compile, so this folder may not depend on
//! `commands`, `runner` or `cli` (clap's parser is never built here), and
//! every fault in it ends in running the real tool, never a failed build.

pub mod ar;
mod asm;
pub mod buildscript;
pub mod cc;
pub mod diagnostics;
pub mod filememo;
pub mod masquerade;
mod probe;
pub mod rerun;
pub mod rust;

/// The exit code a wrapped tool's status stands for: its own code, or
/// `128 + signal` as a shell reports a killed process.
pub(crate) fn exit_code(status: &std::process::ExitStatus) -> i32 {
    if let Some(code) = status.code() {
        return code;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return 128 + sig;
        }
    }
    1
}

/// A wrapper's panic as the fault it records and warns with:
/// `internal error (panic: <message>)`.
pub(crate) fn panic_fault(payload: &(dyn std::any::Any + Send)) -> String {
    let msg = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown".into());
    format!("internal error (panic: {msg})")
}
