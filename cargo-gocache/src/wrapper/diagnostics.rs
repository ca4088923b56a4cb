//! The compiler's output (diagnostics) stored by stable names.
//!
//! gcc names files in its diagnostics by the paths it opened them by, not
//! through `-ffile-prefix-map`: with an absolute `-I` or source, a warning
//! names this checkout's directories. A result shared with another
//! checkout (the key hashes stable names) must replay that checkout's
//! paths, so the output is stored with every mapped directory written as
//! its stable name, and a hit puts back this build's directory.
//!
//! Directories are matched as whole path components (`/w/ab` is not under
//! `/w/a`). When that cannot be undone exactly (the output already holds
//! a stable name, or one stable name stands for two spellings of a
//! directory, a symlinked checkout and its target), the compile is not
//! cached, and a hit that would need the guess is a miss.

use crate::key::pathmap::PathMap;

/// Can `b` continue a file name (so a match ending before it is only part
/// of a longer name)?
fn name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'+' | b'~' | b'/')
}

/// Every occurrence of `from` in `text` that is a whole path prefix: not
/// preceded by a name byte, not followed by one other than `/`.
fn occurrences(text: &[u8], from: &[u8]) -> Vec<usize> {
    if from.is_empty() || text.len() < from.len() {
        return Vec::new();
    }
    let mut at = Vec::new();
    let mut i = 0;
    while i + from.len() <= text.len() {
        let whole = text[i..].starts_with(from)
            && (i == 0 || !name_byte(text[i - 1]))
            && text
                .get(i + from.len())
                .is_none_or(|&b| b == b'/' || !name_byte(b));
        if whole {
            at.push(i);
            i += from.len();
        } else {
            i += 1;
        }
    }
    at
}

fn replace(text: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let at = occurrences(text, from);
    if at.is_empty() {
        return text.to_vec();
    }
    let mut out = Vec::with_capacity(text.len());
    let mut last = 0;
    for i in at {
        out.extend_from_slice(&text[last..i]);
        out.extend_from_slice(to);
        last = i + from.len();
    }
    out.extend_from_slice(&text[last..]);
    out
}

/// `output` as stored: mapped directories written as their stable names;
/// `None` if that could not be undone exactly on this machine.
pub fn store_form(output: &[u8], map: &PathMap) -> Option<Vec<u8>> {
    let mut text = output.to_vec();
    for (real, name) in map.entries() {
        let real = real.to_str()?;
        text = replace(&text, real.as_bytes(), name.as_bytes());
    }
    (replay_form(&text, map).as_deref() == Some(output)).then_some(text)
}

/// Stored `output` as this build shows it: stable names back to this
/// build's directories; `None` if a stable name it holds has two
/// spellings here (which one gcc would print is not known).
pub fn replay_form(output: &[u8], map: &PathMap) -> Option<Vec<u8>> {
    let mut text = output.to_vec();
    let mut done: Vec<&str> = Vec::new();
    for (_, name) in map.entries() {
        if done.contains(&name.as_str()) {
            continue;
        }
        done.push(name);
        let reals: Vec<&str> = map
            .entries()
            .iter()
            .filter(|(_, n)| n == name)
            .filter_map(|(r, _)| r.to_str())
            .collect();
        if occurrences(&text, name.as_bytes()).is_empty() {
            continue;
        }
        let [real] = reals[..] else {
            return None;
        };
        text = replace(&text, name.as_bytes(), real.as_bytes());
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_round_trip_by_component() {
        let mut a = PathMap::new();
        a.add("/home/u/a", "/gocache/workspace");
        let out = b"/home/u/a/inc/w.h:1:2: warning: x\n/home/u/ab/x.h /home/u/a\n";
        let stored = store_form(out, &a).unwrap();
        assert_eq!(
            stored,
            b"/gocache/workspace/inc/w.h:1:2: warning: x\n/home/u/ab/x.h /gocache/workspace\n"
        );
        let mut b = PathMap::new();
        b.add("/srv/b", "/gocache/workspace");
        assert_eq!(
            replay_form(&stored, &b).unwrap(),
            b"/srv/b/inc/w.h:1:2: warning: x\n/home/u/ab/x.h /srv/b\n"
        );
        // Unmapped output is kept as is.
        assert_eq!(replay_form(b"plain", &b).unwrap(), b"plain");
    }

    #[test]
    fn ambiguous_output_is_refused() {
        let mut m = PathMap::new();
        m.add("/home/u/a", "/gocache/workspace");
        // Already holds the stable name: undoing it would invent a path.
        assert!(store_form(b"/gocache/workspace/x.h", &m).is_none());
        // Two spellings of one directory (a symlink and its target).
        m.add("/real/a", "/gocache/workspace");
        assert!(replay_form(b"/gocache/workspace/x.h", &m).is_none());
        assert_eq!(store_form(b"no paths", &m).unwrap(), b"no paths");
    }
}
