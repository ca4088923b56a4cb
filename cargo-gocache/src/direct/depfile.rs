//! Reading the Makefile-syntax dependency files that `gcc -MD -MF` and
//! `clang -MD -MF` write, to learn which headers a compile read.

use std::path::PathBuf;

/// A parsed depfile: its targets and the prerequisites of all its rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Depfile {
    /// The targets, in order (usually one: the object).
    pub targets: Vec<PathBuf>,
    /// Every prerequisite, in order of first appearance, without duplicates.
    /// The first is normally the source file itself.
    pub prerequisites: Vec<PathBuf>,
}

/// Parse depfile text. Returns `None` if it is not of the expected shape.
///
/// Handles the escapes GCC and Clang write: `\ ` for a space, `\#` for `#`,
/// `$$` for `$`, and `\` + newline line continuations. Phony rules added by
/// `-MP` (`header.h:` with nothing after) contribute no prerequisites.
pub fn parse(text: &str) -> Option<Depfile> {
    let mut dep = Depfile::default();
    let mut seen = std::collections::HashSet::new();
    let mut word = String::new();
    let mut words: Vec<String> = Vec::new();
    let mut chars = text.chars().peekable();
    let mut rules: Vec<(Vec<String>, Vec<String>)> = Vec::new();
    let mut cur_targets: Option<Vec<String>> = None;
    let mut cur_prereqs: Vec<String> = Vec::new();

    let flush_word = |word: &mut String, words: &mut Vec<String>| {
        if !word.is_empty() {
            words.push(std::mem::take(word));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                // Make's rule, as gcc's `munge` writes it: a blank after
                // 2N+1 backslashes is N backslashes and a blank in the
                // name; after 2N, N backslashes ending the name. `\#` is
                // `#`. Backslashes anywhere else are part of the name.
                let mut k = 1;
                while chars.peek() == Some(&'\\') {
                    chars.next();
                    k += 1;
                }
                match chars.peek() {
                    Some(' ') | Some('\t') => {
                        word.extend(std::iter::repeat_n('\\', k / 2));
                        if k % 2 == 1 {
                            word.push(chars.next().unwrap());
                        }
                    }
                    Some('#') => {
                        word.extend(std::iter::repeat_n('\\', k - 1));
                        word.push(chars.next().unwrap());
                    }
                    Some('\n') => {
                        word.extend(std::iter::repeat_n('\\', k - 1));
                        chars.next();
                        flush_word(&mut word, &mut words);
                    }
                    Some('\r') => {
                        word.extend(std::iter::repeat_n('\\', k - 1));
                        chars.next();
                        if chars.peek() == Some(&'\n') {
                            chars.next();
                        }
                        flush_word(&mut word, &mut words);
                    }
                    _ => word.extend(std::iter::repeat_n('\\', k)),
                }
            }
            '$' if chars.peek() == Some(&'$') => {
                chars.next();
                word.push('$');
            }
            ':' if cur_targets.is_none()
                && matches!(
                    chars.peek(),
                    None | Some(' ') | Some('\t') | Some('\n') | Some('\r')
                ) =>
            {
                flush_word(&mut word, &mut words);
                cur_targets = Some(std::mem::take(&mut words));
            }
            ' ' | '\t' => flush_word(&mut word, &mut words),
            '\n' | '\r' => {
                flush_word(&mut word, &mut words);
                if let Some(t) = cur_targets.take() {
                    cur_prereqs.append(&mut words);
                    rules.push((t, std::mem::take(&mut cur_prereqs)));
                } else if !words.is_empty() {
                    return None;
                }
            }
            _ => word.push(c),
        }
    }
    flush_word(&mut word, &mut words);
    if let Some(t) = cur_targets.take() {
        cur_prereqs.append(&mut words);
        rules.push((t, cur_prereqs));
    } else if !words.is_empty() {
        return None;
    }
    if rules.is_empty() {
        return None;
    }
    for (i, (targets, prereqs)) in rules.into_iter().enumerate() {
        if i == 0 {
            dep.targets = targets.into_iter().map(PathBuf::from).collect();
        }
        for p in prereqs {
            if seen.insert(p.clone()) {
                dep.prerequisites.push(PathBuf::from(p));
            }
        }
    }
    Some(dep)
}

/// Write a depfile in GCC's style: one target, prerequisites escaped, one
/// per continuation line, and with `phony` a `-MP` style empty rule per header.
pub fn render(target: &str, prerequisites: &[PathBuf], phony: bool) -> String {
    let esc = |s: &str| s.replace('$', "$$").replace('#', "\\#").replace(' ', "\\ ");
    let mut out = format!("{}:", esc(target));
    for p in prerequisites {
        out.push_str(" \\\n ");
        out.push_str(&esc(&p.to_string_lossy()));
    }
    out.push('\n');
    if phony {
        for p in prerequisites.iter().skip(1) {
            out.push('\n');
            out.push_str(&esc(&p.to_string_lossy()));
            out.push_str(":\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_gcc_output() {
        let text = "out/a.o: src/a.c /usr/include/stdio.h \\\n include/my\\ h.h inc/x\\#y.h \\\n  $$weird.h\n\ninclude/my\\ h.h:\n";
        let d = parse(text).unwrap();
        assert_eq!(d.targets, vec![PathBuf::from("out/a.o")]);
        let p: Vec<_> = d
            .prerequisites
            .iter()
            .map(|p| p.to_str().unwrap())
            .collect();
        assert_eq!(
            p,
            [
                "src/a.c",
                "/usr/include/stdio.h",
                "include/my h.h",
                "inc/x#y.h",
                "$weird.h"
            ]
        );
    }

    #[test]
    fn windows_drive_colon_is_not_a_rule() {
        let d = parse("a.o: C:/src/a.c C:/inc/b.h\n").unwrap();
        assert_eq!(d.prerequisites.len(), 2);
    }

    #[test]
    fn render_round_trips() {
        let pre = vec![PathBuf::from("a b.c"), PathBuf::from("x$#.h")];
        let d = parse(&render("o.o", &pre, true)).unwrap();
        assert_eq!(d.prerequisites, pre);
        assert_eq!(d.targets, vec![PathBuf::from("o.o")]);
    }

    #[test]
    fn backslashes_as_gcc_writes_them() {
        let d = parse("a.o: a.c x\\y.h s\\\\\\ p.h d\\\\e.h\n").unwrap();
        let p: Vec<_> = d
            .prerequisites
            .iter()
            .map(|p| p.to_str().unwrap())
            .collect();
        assert_eq!(p, ["a.c", "x\\y.h", "s\\ p.h", "d\\\\e.h"]);
    }

    #[test]
    fn garbage_is_none() {
        assert_eq!(parse("no rule here\n"), None);
        assert_eq!(parse(""), None);
    }
}
