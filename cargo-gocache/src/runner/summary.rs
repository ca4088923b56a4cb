//! The line `cargo gocache <cmd>` ends with.

use crate::stats::{Counters, Outcome};

use crate::human::{format_secs, format_size};

/// The run's counters as one line, e.g.
/// `gocache: 412 hits, 3 misses, 9 uncacheable (link 6, -E 3); 2m31s of compiling saved`.
pub fn summary_line(c: &Counters) -> String {
    let mut line = c_summary(c);
    let r = &c.rust;
    let uncacheable: u64 = r.uncacheable.values().sum();
    if r.hits + r.misses + uncacheable + r.errors > 0 {
        let plural =
            |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        line.push_str(&format!(
            "; Rust: {}, {}, {uncacheable} uncacheable",
            plural(r.hits, "hit", "hits"),
            plural(r.misses, "miss", "misses"),
        ));
        if uncacheable > 0 {
            let mut reasons: Vec<(&String, &u64)> = r.uncacheable.iter().collect();
            reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            let reasons: Vec<String> = reasons.iter().map(|(r, n)| format!("{r} {n}")).collect();
            line.push_str(&format!(" ({})", reasons.join(", ")));
        }
        if r.errors > 0 {
            line.push_str(&format!(
                ", {} (cache faults; rustc ran)",
                plural(r.errors, "error", "errors")
            ));
        }
        line.push_str(&format!(", {} saved", format_secs(r.saved_secs)));
    }
    let b = &c.build_scripts;
    let refused: u64 = b.uncacheable.values().sum();
    if b.hits + b.misses + refused + b.errors > 0 {
        line.push_str(&format!(
            "; build scripts: {} restored, {} run",
            b.hits,
            b.misses + refused + b.errors
        ));
        let mut reasons: Vec<(String, u64)> =
            b.uncacheable.iter().map(|(r, n)| (r.clone(), *n)).collect();
        if b.misses > 0 {
            reasons.push(("stored".into(), b.misses));
        }
        if b.errors > 0 {
            reasons.push(("cache-fault".into(), b.errors));
        }
        reasons.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let reasons: Vec<String> = reasons.iter().map(|(r, n)| format!("{r} {n}")).collect();
        if !reasons.is_empty() {
            line.push_str(&format!(" ({})", reasons.join(", ")));
        }
    }
    line
}

/// The C/C++ part of the summary line (all of it when no rustc ran
/// through the cache).
fn c_summary(c: &Counters) -> String {
    let uncacheable: u64 = c.uncacheable.values().sum();
    if c.hits + c.misses + uncacheable + c.errors == 0 {
        return "gocache: no C/C++ compiles ran".to_string();
    }
    let plural = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut line = format!(
        "gocache: {}, {}, {uncacheable} uncacheable",
        plural(c.hits, "hit", "hits"),
        plural(c.misses, "miss", "misses"),
    );
    if uncacheable > 0 {
        // Most frequent reason first; ties by name, so the line is stable.
        let mut reasons: Vec<(&String, &u64)> = c.uncacheable.iter().collect();
        reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let reasons: Vec<String> = reasons.iter().map(|(r, n)| format!("{r} {n}")).collect();
        line.push_str(&format!(" ({})", reasons.join(", ")));
    }
    if c.errors > 0 {
        line.push_str(&format!(
            ", {} (cache faults; the compiler ran)",
            plural(c.errors, "error", "errors")
        ));
    }
    line.push_str(&format!(
        "; {} of compiling saved",
        format_secs(c.saved_secs)
    ));
    let r = &c.remote;
    if !r.is_empty() {
        line.push_str(&format!(
            "; remote: {}, {}, {}, {} down, {} up",
            plural(r.hits, "hit", "hits"),
            plural(r.misses, "miss", "misses"),
            // Requests skipped while the remote was off are not errors of their own.
            plural(
                r.errors - r.skipped.min(r.errors) + r.rejected,
                "error",
                "errors"
            ),
            format_size(r.bytes_down),
            format_size(r.bytes_up)
        ));
    }
    if c.nondeterministic > 0 {
        line.push_str(&format!("; {} nondeterministic", c.nondeterministic));
    }
    line
}

/// The compiles left uncached because they use `__DATE__`/`__TIME__`,
/// named, with how to opt in (`time-macros = "pin"`); `None` when none.
pub fn time_macro_hint(events: &[crate::stats::Event]) -> Option<String> {
    let mut sources: Vec<&str> = events
        .iter()
        .filter(|e| matches!(&e.outcome, Outcome::Uncacheable(r) if r == "time-macros"))
        .map(|e| e.source.as_str())
        .collect();
    sources.sort();
    sources.dedup();
    if sources.is_empty() {
        return None;
    }
    const SHOWN: usize = 5;
    let mut list = sources[..sources.len().min(SHOWN)].join(", ");
    if sources.len() > SHOWN {
        list.push_str(&format!(" and {} more", sources.len() - SHOWN));
    }
    Some(format!(
        "gocache: not cached, they use __DATE__/__TIME__: {list}; to cache them with \
         SOURCE_DATE_EPOCH fixed at their first compile, set time-macros = \"pin\" \
         ([workspace.metadata.gocache]) or CARGO_GOCACHE_TIME_MACROS=pin"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_line_names_reasons_by_count() {
        let mut c = Counters {
            hits: 412,
            misses: 3,
            saved_secs: 151.0,
            ..Counters::default()
        };
        c.uncacheable.insert("-E".into(), 3);
        c.uncacheable.insert("link".into(), 6);
        assert_eq!(
            summary_line(&c),
            "gocache: 412 hits, 3 misses, 9 uncacheable (link 6, -E 3); 2m31s of compiling saved"
        );
        c.uncacheable.clear();
        c.hits = 1;
        c.misses = 1;
        c.errors = 2;
        c.saved_secs = 0.25;
        assert_eq!(
            summary_line(&c),
            "gocache: 1 hit, 1 miss, 0 uncacheable, 2 errors (cache faults; the compiler ran); 0.2s of compiling saved"
        );
        assert_eq!(
            summary_line(&Counters::default()),
            "gocache: no C/C++ compiles ran"
        );
        let mut c = Counters::default();
        c.rust.hits = 40;
        c.rust.misses = 1;
        c.rust.saved_secs = 12.0;
        c.rust.uncacheable.insert("incremental".into(), 2);
        assert_eq!(
            summary_line(&c),
            "gocache: no C/C++ compiles ran; Rust: 40 hits, 1 miss, 2 uncacheable (incremental 2), 12.0s saved"
        );
    }
}
