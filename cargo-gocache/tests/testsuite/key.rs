//! The key, against real gcc: the working directory as the compiler
//! records it (`$PWD` through a symlink), inputs replaced while a compile
//! runs (full stamps), and why each lookup missed (typed miss reasons).
//! Every object is compared byte for byte with the same compile uncached,
//! in the same directory spelling.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use cargo_gocache::direct::lookup::MissReason;
use cargo_gocache::stats::{read_events, Event, Outcome};
use cargo_gocache::{ActionId, Store};

use crate::support::{bin, output_ok as ok, write_settled};

struct Tree {
    dir: tempfile::TempDir,
}

impl Tree {
    fn new() -> Tree {
        crate::support::require_tool("gcc");
        Tree {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn store_dir(&self) -> PathBuf {
        self.path("store")
    }

    fn store(&self) -> Store {
        Store::open(self.store_dir()).unwrap()
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.path(rel);
        write_settled(&p, text);
        p
    }

    /// `program ARGS` run in `dir` with `PWD=dir` as a shell would set
    /// it, and a clean environment with `HOME` in the tree.
    fn cmd(&self, program: impl AsRef<std::ffi::OsStr>, dir: &Path, args: &[&str]) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(args).current_dir(dir).env("PWD", dir);
        crate::support::scrub(&mut cmd);
        cmd.env("HOME", self.path("home"));
        cmd
    }

    /// `cargo-gocache COMPILER ARGS` in `dir`.
    fn gocache(&self, compiler: &str, dir: &Path, args: &[&str]) -> Command {
        let mut cmd = self.cmd(bin(), dir, &[compiler]);
        cmd.args(args).env("CARGO_GOCACHE_DIR", self.store_dir());
        cmd
    }

    /// Compile through the cache, then uncached with plain gcc in the same
    /// directory spelling; assert the objects are the same bytes. Returns
    /// the event the cached compile recorded.
    #[track_caller]
    fn check(&self, dir: &Path, args: &[&str], object: &str) -> Event {
        ok(&mut self.gocache("gcc", dir, args));
        let event = self.last_event();
        let cached = fs::read(dir.join(object)).unwrap();
        fs::remove_file(dir.join(object)).unwrap();
        ok(&mut self.cmd("gcc", dir, args));
        let reference = fs::read(dir.join(object)).unwrap();
        assert!(
            cached == reference,
            "{args:?} in {}: the cached object ({:?}) differs from the uncached compile's",
            dir.display(),
            event.outcome
        );
        event
    }

    fn events(&self) -> Vec<Event> {
        read_events(&self.store_dir().join("stats/events.log"))
    }

    #[track_caller]
    fn last_event(&self) -> Event {
        self.events().pop().expect("an event")
    }
}

#[track_caller]
fn assert_miss(e: &Event, why: MissReason) {
    assert_eq!((&e.outcome, e.miss), (&Outcome::Miss, Some(why)), "{e:?}");
}

#[track_caller]
fn assert_hit(e: &Event) {
    assert_eq!(e.outcome, Outcome::Hit, "{e:?}");
}

/// `real/` and `L -> real`, with a source that `-g` records the directory of.
fn symlinked_tree() -> (Tree, PathBuf, PathBuf) {
    let t = Tree::new();
    t.write("real/a.c", "#include \"u.h\"\nint f(void) { return U; }\n");
    t.write("real/u.h", "#define U 1\n");
    let real = t.path("real");
    let link = t.path("L");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    (t, real, link)
}

const G: &[&str] = &["-g", "-c", "a.c", "-o", "a.o"];

/// Issue 14: gcc records `$PWD` (when it names the working directory) as
/// `DW_AT_comp_dir`: a compile through the symlink first must not be
/// served to the compile through the real name, nor the other way round.
#[test]
fn symlinked_cwd_first_then_real_name() {
    let (t, real, link) = symlinked_tree();
    assert_miss(&t.check(&link, G, "a.o"), MissReason::NoEntry);
    assert_miss(&t.check(&real, G, "a.o"), MissReason::NoEntry);
    // And each spelling hits its own object.
    assert_hit(&t.check(&link, G, "a.o"));
    assert_hit(&t.check(&real, G, "a.o"));
}

#[test]
fn real_name_first_then_symlinked_cwd() {
    let (t, real, link) = symlinked_tree();
    assert_miss(&t.check(&real, G, "a.o"), MissReason::NoEntry);
    assert_miss(&t.check(&link, G, "a.o"), MissReason::NoEntry);
    assert_hit(&t.check(&real, G, "a.o"));
    assert_hit(&t.check(&link, G, "a.o"));
}

/// A `$PWD` that does not name the working directory is not what the
/// compiler records (it falls back to `getcwd()`), and not what the key
/// says either.
#[test]
fn stale_pwd_is_ignored_like_the_compiler_does() {
    let (t, real, link) = symlinked_tree();
    assert_miss(&t.check(&real, G, "a.o"), MissReason::NoEntry);
    // In L, with PWD still naming some other directory.
    let elsewhere = t.path("home");
    fs::create_dir_all(&elsewhere).unwrap();
    let mut cmd = t.gocache("gcc", &link, G);
    cmd.env("PWD", &elsewhere);
    ok(&mut cmd);
    assert_hit(&t.last_event());
    let cached = fs::read(link.join("a.o")).unwrap();
    let mut cmd = t.cmd("gcc", &link, G);
    cmd.env("PWD", &elsewhere);
    ok(&mut cmd);
    assert_eq!(cached, fs::read(link.join("a.o")).unwrap());
}

/// Relocation maps both spellings: with the working directory relocated
/// (`CARGO_GOCACHE_MAP_CWD=1`), the object names neither the real
/// directory nor the symlink, whichever the compile went through, and the
/// two spellings share one entry.
#[test]
fn relocation_maps_the_symlinked_spelling_too() {
    let (t, real, link) = symlinked_tree();
    let compile = |dir: &Path| {
        let mut cmd = t.gocache("gcc", dir, G);
        cmd.env("CARGO_GOCACHE_MAP_CWD", "1");
        ok(&mut cmd);
        fs::read(dir.join("a.o")).unwrap()
    };
    let via_link = compile(&link);
    assert_miss(&t.last_event(), MissReason::NoEntry);
    let via_real = compile(&real);
    assert_hit(&t.last_event());
    assert_eq!(via_link, via_real);
    let text = String::from_utf8_lossy(&via_link);
    assert!(text.contains("/gocache/cwd"), "comp_dir not relocated");
    for dir in [&real, &link] {
        assert!(
            !text.contains(&*dir.to_string_lossy()),
            "the object names {}",
            dir.display()
        );
    }
}

/// A compiler (a script around gcc) that, after one compile, copies
/// `from` over `to` in its working directory with `cp -p` (the old mtime
/// kept), once: when `trigger` exists there. Arms it.
fn compiler_that_then_copies(t: &Tree, w: &Path, from: &str, to: &str) -> String {
    let cc = t.write(
        &format!("bin/cc-then-copy-{to}"),
        &format!(
            "#!/bin/sh\ngcc \"$@\"; st=$?\n\
             case \" $* \" in *\" -c \"*) if [ -e trigger ]; then rm trigger; cp -p {from} {to}; fi;; esac\n\
             exit $st\n"
        ),
    );
    ok(Command::new("chmod").arg("+x").arg(&cc));
    write_settled(&w.join("trigger"), "");
    cc.to_str().unwrap().to_string()
}

/// Issue 14: a header replaced while the compile runs, its old mtime kept
/// (`cp -p`), must not get the object built from the old header stored
/// under the new header's hash.
#[test]
fn header_replaced_during_the_compile_is_not_stored() {
    let t = Tree::new();
    let w = t.path("w");
    t.write("w/a.c", "#include \"u.h\"\nint f(void) { return U; }\n");
    t.write("w/u.h", "#define U 1\n");
    t.write("w/new.h", "#define U 2\n");
    // Both headers old, the same size: only the ctime can tell.
    for h in ["w/u.h", "w/new.h"] {
        ok(Command::new("touch")
            .args(["-d", "2020-01-01 00:00:00"])
            .arg(t.path(h)));
    }
    // A compiler that replaces the header after compiling, once, as
    // `cp -p` would.
    let cc = compiler_that_then_copies(&t, &w, "new.h", "u.h");
    let cc = cc.as_str();
    let args = ["-c", "a.c", "-o", "a.o"];
    ok(&mut t.gocache(cc, &w, &args));
    let e = t.last_event();
    assert_eq!(
        e.outcome,
        Outcome::Uncacheable("modified-during-compile".into()),
        "{e:?}"
    );
    assert!(!w.join("trigger").exists());
    assert_eq!(fs::read_to_string(w.join("u.h")).unwrap(), "#define U 2\n");

    // Again: the object must be built from the header now on disk.
    ok(&mut t.gocache(cc, &w, &args));
    assert_miss(&t.last_event(), MissReason::NoEntry);
    let cached = fs::read(w.join("a.o")).unwrap();
    ok(&mut t.cmd("gcc", &w, &args));
    assert_eq!(cached, fs::read(w.join("a.o")).unwrap());
    ok(&mut t.gocache(cc, &w, &args));
    assert_hit(&t.last_event());
    assert_eq!(cached, fs::read(w.join("a.o")).unwrap());
}

/// The same, for a header the manifest already knows (stamped before the
/// compile): a replacement keeping size, mtime and inode is still seen.
#[test]
fn known_header_replaced_during_the_compile_is_not_stored() {
    let t = Tree::new();
    let w = t.path("w");
    t.write("w/a.c", "#include \"u.h\"\nint f(void) { return U; }\n");
    t.write("w/u.h", "#define U 1\n");
    ok(Command::new("touch")
        .args(["-d", "2020-01-01 00:00:00"])
        .arg(t.path("w/u.h")));
    let args = ["-c", "a.c", "-o", "a.o"];
    t.check(&w, &args, "a.o");
    // u.h -> V2 (a new header set), then back to V1 during the compile.
    t.write("w/v1.h", "#define U 1\n");
    t.write("w/u.h", "#define U 2\n");
    for h in ["w/u.h", "w/v1.h"] {
        ok(Command::new("touch")
            .args(["-d", "2020-01-01 00:00:00"])
            .arg(t.path(h)));
    }
    let cc = compiler_that_then_copies(&t, &w, "v1.h", "u.h");
    ok(&mut t.gocache(&cc, &w, &args));
    assert_eq!(
        t.last_event().outcome,
        Outcome::Uncacheable("modified-during-compile".into())
    );
}

/// Give `path` an mtime a minute ahead: whatever the clock's tick, the
/// file reads as written during the compile that follows.
fn set_future_mtime(path: &Path) {
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
    fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(later)
        .unwrap();
}

/// Issue 11: `configure` writes `conftest.c` and compiles it within the
/// same tick of the file system's clock. The source's bytes were hashed
/// before the compile and are the same after it, and its stamp did not
/// move: that is no change during the compile, so the result is stored and
/// the next run of the same probe hits (with gcc's own object).
#[test]
fn a_source_written_in_the_compiles_tick_is_cached() {
    let t = Tree::new();
    let w = t.path("w");
    let src = t.write("w/conftest.c", "int main(void) { return 0; }\n");
    set_future_mtime(&src);
    let args = ["-c", "conftest.c", "-o", "conftest.o"];
    ok(&mut t.gocache("gcc", &w, &args));
    assert_miss(&t.last_event(), MissReason::NoEntry);
    let cached = fs::read(w.join("conftest.o")).unwrap();
    fs::remove_file(w.join("conftest.o")).unwrap();
    ok(&mut t.gocache("gcc", &w, &args));
    assert_hit(&t.last_event());
    assert_eq!(cached, fs::read(w.join("conftest.o")).unwrap());
    ok(&mut t.cmd("gcc", &w, &args));
    assert_eq!(cached, fs::read(w.join("conftest.o")).unwrap());
}

/// The same fresh source, rewritten while the compiler runs (the old
/// mtime kept): its bytes after the compile are not the ones hashed
/// before, so nothing is stored, and the next compile builds the new text.
#[test]
fn a_fresh_source_rewritten_during_the_compile_is_not_stored() {
    let t = Tree::new();
    let w = t.path("w");
    let src = t.write("w/a.c", "int f(void) { return 1; }\n");
    t.write("w/new.c", "int f(void) { return 2; }\n");
    set_future_mtime(&src);
    set_future_mtime(&t.path("w/new.c"));
    let cc = compiler_that_then_copies(&t, &w, "new.c", "a.c");
    let cc = cc.as_str();
    let args = ["-c", "a.c", "-o", "a.o"];
    ok(&mut t.gocache(cc, &w, &args));
    assert_eq!(
        t.last_event().outcome,
        Outcome::Uncacheable("modified-during-compile".into())
    );
    assert!(!w.join("trigger").exists());
    ok(&mut t.gocache(cc, &w, &args));
    assert_miss(&t.last_event(), MissReason::NoEntry);
    let cached = fs::read(w.join("a.o")).unwrap();
    ok(&mut t.cmd("gcc", &w, &args));
    assert_eq!(cached, fs::read(w.join("a.o")).unwrap());
}

/// The action of the last event.
fn last_action(t: &Tree) -> ActionId {
    t.last_event().action.expect("an action")
}

/// Item 5: each lookup says why it missed, and the event keeps it.
#[test]
fn every_miss_says_why_the_lookup_missed() {
    let t = Tree::new();
    let w = t.path("w");
    t.write("w/a.c", "#include \"u.h\"\nint f(void) { return U; }\n");
    t.write("w/u.h", "#define U 1\n");
    // Argument orders with the same key but their own stat memo, so no
    // step is answered by an earlier step's snapshot.
    let a = ["-c", "a.c", "-o", "a.o"];
    let b = ["-o", "a.o", "-c", "a.c"];
    let c = ["a.c", "-c", "-o", "a.o"];
    let d = ["-c", "-o", "a.o", "a.c"];

    assert_miss(&t.check(&w, &a, "a.o"), MissReason::NoEntry);
    assert_hit(&t.check(&w, &b, "a.o"));

    t.write("w/u.h", "#define U 2\n");
    assert_miss(&t.check(&w, &a, "a.o"), MissReason::NoHeaderSetMatched);
    let final_id = last_action(&t);
    let store = t.store();

    // The object of that result gone from the store.
    let record = store.get_bytes(&final_id).expect("the result record").1;
    let record = String::from_utf8(record).unwrap();
    let object = record
        .lines()
        .find_map(|l| l.strip_prefix("object "))
        .and_then(|l| l.split(' ').next())
        .and_then(cargo_gocache::OutputId::from_hex)
        .expect("an object line");
    fs::remove_file(store.output_path(&object)).unwrap();
    assert_miss(&t.check(&w, &c, "a.o"), MissReason::OutputMissing);

    // The manifest of these inputs replaced by something unreadable.
    let inputs = store.key_inputs(&final_id).expect("key inputs");
    let pre = inputs
        .lines()
        .find_map(|l| l.strip_prefix("pre "))
        .and_then(ActionId::from_hex)
        .expect("a pre line");
    store
        .put(
            &cargo_gocache::direct::manifest::manifest_key(&pre),
            b"not a manifest",
        )
        .unwrap();
    assert_miss(&t.check(&w, &d, "a.o"), MissReason::EntryDamaged);
    assert_hit(&t.check(&w, &a, "a.o"));
}

/// A remote's answer that the store rejects is a miss for that reason.
/// (Through the library's lookup with a tier that lies; the wrapper picks
/// `remote-rejected` when the store's rejection count moved during its
/// lookup.)
#[test]
fn a_rejected_remote_answer_is_counted_by_the_store() {
    use std::sync::Arc;
    struct Liar;
    impl cargo_gocache::Tier for Liar {
        fn get(&self, _: cargo_gocache::TierKey<'_>) -> Option<Vec<u8>> {
            Some(b"garbage".to_vec())
        }
        fn put(&self, _: cargo_gocache::TierKey<'_>, _: &[u8]) {}
        fn rejected(&self, _: cargo_gocache::TierKey<'_>) {}
    }
    let d = tempfile::tempdir().unwrap();
    let store = Store::open(d.path()).unwrap().with_tier(Arc::new(Liar));
    let before = store.rejections();
    let pre = ActionId([7; 32]);
    assert_eq!(
        cargo_gocache::direct::manifest::Manifest::load_checked(&store, &pre).unwrap_err(),
        MissReason::NoEntry
    );
    assert_eq!(store.rejections(), before + 1);
}

/// Through the wrapper and a real HTTP remote (nginx): every output in the
/// remote tampered with, a machine with an empty local store misses with
/// `remote-rejected`, and still compiles the right object.
#[test]
fn a_tampered_remote_answer_is_a_remote_rejected_miss() {
    let server = crate::servers::Nginx::start();
    let t = Tree::new();
    let w = t.path("w");
    t.write("w/a.c", "#include \"u.h\"\nint f(void) { return U; }\n");
    t.write("w/u.h", "#define U 1\n");
    let args = ["-c", "a.c", "-o", "a.o"];
    let mut first = t.gocache("gcc", &w, &args);
    first.env("CARGO_GOCACHE_REMOTE", server.url());
    ok(&mut first);
    // The last event is the remote's traffic; the miss comes before it.
    let events = t.events();
    let miss = events.iter().find(|e| e.outcome == Outcome::Miss);
    assert_miss(miss.expect("a miss"), MissReason::NoEntry);
    let outputs: Vec<String> = server
        .files()
        .into_iter()
        .filter(|f| f.starts_with("cas/"))
        .collect();
    assert!(!outputs.is_empty(), "nothing reached the remote");
    for f in &outputs {
        fs::write(server.root().join(f), "tampered with in the remote").unwrap();
    }

    let other = t.path("store-b");
    let mut second = t.gocache("gcc", &w, &args);
    second
        .env("CARGO_GOCACHE_REMOTE", server.url())
        .env("CARGO_GOCACHE_DIR", &other);
    ok(&mut second);
    let events = read_events(&other.join("stats/events.log"));
    let miss = events
        .iter()
        .find(|e| e.outcome == Outcome::Miss)
        .unwrap_or_else(|| panic!("no miss in {events:?}"));
    assert_miss(miss, MissReason::RemoteRejected);
    let cached = fs::read(w.join("a.o")).unwrap();
    ok(&mut t.cmd("gcc", &w, &args));
    assert_eq!(cached, fs::read(w.join("a.o")).unwrap());
}
