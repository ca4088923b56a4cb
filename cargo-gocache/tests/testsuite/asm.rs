//! Plain assembly (`.s`) through the wrapper (issue 11 item 3), with gcc
//! and clang: cached, byte for byte what the uncached compile makes, and
//! keyed by its own inputs: files named by `.include` and `.incbin`
//! (searched in the working directory, the including file's directory and
//! `-Wa,-I` directories), and the assembler the driver finds on `PATH`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cargo_gocache::stats::{read_events, Outcome};

use crate::support::{bin, clean_command, require_tool, write_settled};

/// The compilers to run the tests with: gcc and clang, both required
/// (tests/run.sh installs them): a test that skips a compiler it is meant
/// to cover proves nothing for it.
pub(crate) fn compilers() -> Vec<&'static str> {
    require_tool("gcc");
    require_tool("clang");
    vec!["gcc", "clang"]
}

struct Asm {
    dir: tempfile::TempDir,
    cc: &'static str,
    path: Option<String>,
}

impl Asm {
    fn new(cc: &'static str) -> Asm {
        Asm {
            dir: tempfile::tempdir().unwrap(),
            cc,
            path: None,
        }
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, text: &str) {
        write_settled(&self.p(rel), text);
    }

    fn cmd(&self, store: &Path, args: &[&str]) -> Command {
        let mut cmd = clean_command(bin());
        cmd.arg(self.cc)
            .args(args)
            .current_dir(self.dir.path())
            .env("CARGO_GOCACHE_DIR", store)
            .env_remove("CARGO_GOCACHE_RUN_LOG")
            .env_remove("OUT_DIR")
            .env_remove("CARGO_MANIFEST_DIR")
            .env_remove("SOURCE_DATE_EPOCH");
        if let Some(path) = &self.path {
            cmd.env("PATH", path);
        }
        cmd
    }

    fn store(&self) -> PathBuf {
        self.p("store")
    }

    fn last_event(&self) -> String {
        let events = read_events(&self.store().join("stats/events.log"));
        match events.last().map(|e| &e.outcome) {
            Some(Outcome::Hit) => "hit".into(),
            Some(Outcome::Miss) => "miss".into(),
            Some(Outcome::Uncacheable(r)) => format!("uncacheable:{r}"),
            Some(Outcome::Error(r)) => format!("error:{r}"),
            other => format!("{other:?}"),
        }
    }

    /// Compile through the cache, then uncached to the same object name;
    /// assert the same bytes and stderr; return the cached compile's event.
    #[track_caller]
    fn check(&self, args: &[&str], object: &str) -> String {
        let cached = self.cmd(&self.store(), args).output().unwrap();
        assert!(cached.status.success(), "{args:?}: {}", text(&cached));
        let event = self.last_event();
        let bytes = fs::read(self.p(object)).unwrap();
        let off = self.cmd(Path::new("off"), args).output().unwrap();
        assert!(off.status.success(), "{args:?}: {}", text(&off));
        assert!(
            bytes == fs::read(self.p(object)).unwrap(),
            "{} {args:?}: the cached object ({event}) differs from the uncached one",
            self.cc
        );
        assert_eq!(text(&cached), text(&off), "{} {args:?}: stderr", self.cc);
        event
    }
}

fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const SOURCE: &str = "\t.include \"macros.s\"\n\
    \t.text\n\t.globl f\nf:\n\tMYRET\n\
    \t.section .rodata\n\t.globl blob\nblob:\n\t.incbin \"blob.bin\"\n";

#[test]
fn plain_assembly_is_cached_byte_for_byte_with_its_includes_in_the_key() {
    for cc in compilers() {
        let t = Asm::new(cc);
        t.write("a.s", SOURCE);
        t.write("inc/macros.s", ".macro MYRET\n\tret\n.endm\n");
        t.write("data/blob.bin", "one\n");
        let args = ["-c", "a.s", "-o", "a.o", "-Wa,-Iinc", "-Wa,-I,data"];
        assert_eq!(t.check(&args, "a.o"), "miss", "{cc}");
        assert_eq!(t.check(&args, "a.o"), "hit", "{cc}");

        // An `.incbin`ed file is an input.
        t.write("data/blob.bin", "two, longer\n");
        assert_eq!(t.check(&args, "a.o"), "miss", "{cc}: blob edited");
        assert_eq!(t.check(&args, "a.o"), "hit", "{cc}");
        // So is an `.include`d one.
        t.write("inc/macros.s", ".macro MYRET\n\tnop\n\tret\n.endm\n");
        assert_eq!(t.check(&args, "a.o"), "miss", "{cc}: include edited");
        // A file earlier in the search (the working directory) shadows it.
        t.write("macros.s", ".macro MYRET\n\tint3\n\tret\n.endm\n");
        assert_eq!(t.check(&args, "a.o"), "miss", "{cc}: include shadowed");
        assert_eq!(t.check(&args, "a.o"), "hit", "{cc}");
        fs::remove_file(t.p("macros.s")).unwrap();
        assert_eq!(
            t.check(&args, "a.o"),
            "hit",
            "{cc}: back to the earlier result"
        );

        // CMake's ASM compile line: the dependency options are the
        // compiler's (gcc ignores them for `.s`, clang warns), no depfile.
        let cmake = [
            "-MD",
            "-MT",
            "a.o",
            "-MF",
            "a.o.d",
            "-c",
            "a.s",
            "-o",
            "a.o",
            "-Wa,-Iinc",
            "-Wa,-Idata",
        ];
        assert_eq!(t.check(&cmake, "a.o"), "miss", "{cc}");
        assert_eq!(t.check(&cmake, "a.o"), "hit", "{cc}");
        assert!(
            !t.p("a.o.d").exists(),
            "{cc}: a depfile the compiler never writes"
        );
        // `-x assembler` on another extension.
        t.write("b.asm", SOURCE);
        let x = [
            "-x",
            "assembler",
            "-c",
            "b.asm",
            "-o",
            "b.o",
            "-Wa,-Iinc,-Idata",
        ];
        assert_eq!(t.check(&x, "b.o"), "miss", "{cc}");
        assert_eq!(t.check(&x, "b.o"), "hit", "{cc}");
    }
}

#[test]
fn assembly_inputs_that_cannot_be_followed_are_refused() {
    for cc in compilers() {
        let t = Asm::new(cc);
        t.write(
            "m.s",
            ".macro inc name\n\t.include \"\\name\"\n.endm\n\tinc \"x.s\"\n",
        );
        t.write("x.s", "\t.text\nret\n");
        let event = t.check(&["-c", "m.s", "-o", "m.o"], "m.o");
        assert_eq!(event, "uncacheable:asm-include-not-a-string", "{cc}");
        if cc == "gcc" {
            // GNU as's listing file (clang's integrated assembler has none).
            t.write("l.s", "\t.text\nret\n");
            let event = t.check(&["-c", "l.s", "-o", "l.o", "-Wa,-adhln=l.lst"], "l.o");
            assert_eq!(event, "uncacheable:asm-option:listing", "{cc}");
        }
    }
}

/// gcc runs the `as` it finds on `PATH`: another one is another key.
#[test]
fn the_assembler_gcc_finds_is_in_the_key() {
    let mut t = Asm::new("gcc");
    t.write("a.s", "\t.text\n\t.globl f\nf:\n\tret\n");
    let args = ["-c", "a.s", "-o", "a.o"];
    assert_eq!(t.check(&args, "a.o"), "miss");
    assert_eq!(t.check(&args, "a.o"), "hit");
    // Another `as` first on PATH (it runs binutils' own, so the object is
    // the same, but the cache cannot know that).
    t.write(
        "bin/as",
        "#!/bin/sh\n# another assembler\nexec /usr/bin/as \"$@\"\n",
    );
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(t.p("bin/as"), fs::Permissions::from_mode(0o755)).unwrap();
    t.path = Some(format!(
        "{}:{}",
        t.p("bin").display(),
        std::env::var("PATH").unwrap()
    ));
    assert_eq!(t.check(&args, "a.o"), "miss");
    assert_eq!(t.check(&args, "a.o"), "hit");
}
