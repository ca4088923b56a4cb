//! What a proc-macro reads while rustc expands it (issue 21, items 3 and
//! 5): a file found through `CARGO_MANIFEST_DIR` (as `include_dir!` and
//! sqlx's offline data), a directory's listing, an environment variable
//! read with `std::env::var` (its name in the macro, or in the macro's
//! input), and `CARGO_MANIFEST_DIR` itself emitted into the program
//! (rust-embed's debug mode). Each: built under `cargo gocache`, `cargo
//! clean`, the input changed, built again: the program prints what plain
//! cargo's prints. Local proc-macro crates, real cargo and rustc.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::e2e::take_stats;
use crate::support::{cargo, copy_tree, gocache, run};

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

/// `macros` (a proc-macro crate on `proc_macro` alone), `assets` (a lib
/// whose macros read files only) and `app` (a bin: the variables, and its
/// own directory emitted).
fn workspace(ws: &Path) {
    write(
        &ws.join("Cargo.toml"),
        "[workspace]\nmembers = [\"macros\", \"assets\", \"app\"]\nresolver = \"2\"\n",
    );
    write(
        &ws.join("macros/Cargo.toml"),
        "[package]\nname = \"macros\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[lib]\nproc-macro = true\n",
    );
    write(
        &ws.join("macros/src/lib.rs"),
        r#"use proc_macro::{TokenStream, TokenTree};

fn arg(input: TokenStream) -> String {
    match input.into_iter().next() {
        Some(TokenTree::Literal(l)) => l.to_string().trim_matches('"').to_string(),
        _ => panic!("a string literal"),
    }
}

fn lit(s: &str) -> TokenStream {
    format!("{s:?}").parse().unwrap()
}

fn package() -> std::path::PathBuf {
    std::env::var("CARGO_MANIFEST_DIR").unwrap().into()
}

/// A file of the package, as `include_dir!` and sqlx's offline data.
#[proc_macro]
pub fn read_file(input: TokenStream) -> TokenStream {
    let text = std::fs::read_to_string(package().join(arg(input))).unwrap_or_default();
    lit(text.trim())
}

/// How many files a directory of the package holds.
#[proc_macro]
pub fn count_files(input: TokenStream) -> TokenStream {
    let n = std::fs::read_dir(package().join(arg(input))).map_or(0, |d| d.count());
    format!("{n}usize").parse().unwrap()
}

/// A variable the macro names itself.
#[proc_macro]
pub fn greeting(_input: TokenStream) -> TokenStream {
    lit(&std::env::var("PM_TEST_GREETING").unwrap_or_else(|_| "unset".into()))
}

/// A variable the macro's input names (`dotenv!("NAME")`).
#[proc_macro]
pub fn env_named(input: TokenStream) -> TokenStream {
    lit(&std::env::var(arg(input)).unwrap_or_else(|_| "unset".into()))
}

/// The package's directory, into the program (rust-embed's debug mode).
#[proc_macro]
pub fn manifest_dir(_input: TokenStream) -> TokenStream {
    lit(&package().display().to_string())
}
"#,
    );
    write(
        &ws.join("assets/Cargo.toml"),
        "[package]\nname = \"assets\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nmacros = { path = \"../macros\" }\n",
    );
    write(
        &ws.join("assets/src/lib.rs"),
        "pub fn data() -> &'static str { macros::read_file!(\"data/query.json\") }\npub fn count() -> usize { macros::count_files!(\"data\") }\n",
    );
    write(&ws.join("assets/data/query.json"), "{\"q\": 1}\n");
    write(
        &ws.join("app/Cargo.toml"),
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nmacros = { path = \"../macros\" }\nassets = { path = \"../assets\" }\n",
    );
    write(
        &ws.join("app/src/main.rs"),
        r#"fn main() {
    println!(
        "{} {} {} {} {}",
        assets::data(),
        assets::count(),
        macros::greeting!(),
        macros::env_named!("PM_TEST_NAMED"),
        macros::manifest_dir!(),
    );
}
"#,
    );
}

struct Env {
    store: PathBuf,
    ws: PathBuf,
    target: PathBuf,
}

impl Env {
    fn new(root: &Path, name: &str) -> Env {
        Env {
            store: root.join("store"),
            ws: root.join(name).join("ws"),
            target: root.join(name).join("target"),
        }
    }

    /// `cargo gocache build`, then the program's output and the Rust stats.
    #[track_caller]
    fn gocache_build(&self, vars: &[(&str, &str)]) -> (String, Value) {
        let mut cmd = gocache(&self.store);
        cmd.args(["gocache", "build", "--offline"])
            .current_dir(&self.ws)
            .env("CARGO_TARGET_DIR", &self.target)
            .env("CARGO_INCREMENTAL", "0");
        for (k, v) in vars {
            cmd.env(k, v);
        }
        run(&mut cmd).success();
        let out = self.run_app(&self.target, vars);
        (out, take_stats(&self.store)["rust"].clone())
    }

    /// Plain cargo's build of the same tree (its own target directory),
    /// then the program's output.
    #[track_caller]
    fn plain_build(&self, vars: &[(&str, &str)]) -> String {
        let target = self.target.with_extension("plain");
        let mut cmd = cargo();
        cmd.args(["build", "--offline"])
            .current_dir(&self.ws)
            .env("CARGO_TARGET_DIR", &target)
            .env("CARGO_INCREMENTAL", "0");
        for (k, v) in vars {
            cmd.env(k, v);
        }
        run(&mut cmd).success();
        let out = self.run_app(&target, vars);
        // Plain cargo rebuilds on none of these inputs: clean for the next.
        let _ = fs::remove_dir_all(&target);
        out
    }

    fn run_app(&self, target: &Path, _vars: &[(&str, &str)]) -> String {
        run(&mut std::process::Command::new(target.join("debug/app")))
            .success()
            .stdout()
    }

    #[track_caller]
    fn cargo_clean(&self) {
        run(cargo()
            .args(["clean", "--offline"])
            .current_dir(&self.ws)
            .env("CARGO_TARGET_DIR", &self.target))
        .success();
    }

    /// Clean, build under gocache and plainly: the same program output.
    #[track_caller]
    fn rebuild_matches_plain(&self, stage: &str, vars: &[(&str, &str)]) -> (String, Value) {
        self.cargo_clean();
        let (out, stats) = self.gocache_build(vars);
        let plain = self.plain_build(vars);
        assert_eq!(
            out, plain,
            "{stage}: gocache's program differs from plain cargo's\n{stats}"
        );
        (out, stats)
    }
}

fn n(v: &Value, f: &str) -> u64 {
    v[f].as_u64().unwrap_or_else(|| panic!("no {f} in {v}"))
}

const VARS: &[(&str, &str)] = &[("PM_TEST_GREETING", "hello"), ("PM_TEST_NAMED", "one")];

#[test]
fn a_file_a_proc_macro_reads_is_keyed() {
    let dir = tempfile::tempdir().unwrap();
    let e = Env::new(dir.path(), "a");
    workspace(&e.ws);
    let (out, cold) = e.gocache_build(VARS);
    assert!(out.starts_with("{\"q\": 1} 1 hello one "), "{out}");
    assert_eq!(n(&cold, "errors"), 0, "{cold}");

    // Unchanged: every compile hits after `cargo clean`.
    let (_, warm) = e.rebuild_matches_plain("unchanged", VARS);
    assert_eq!(n(&warm, "misses"), 0, "{warm}");

    // The file the macro reads, edited: the new content, not the old.
    write(&e.ws.join("assets/data/query.json"), "{\"q\": 2}\n");
    let (out, _) = e.rebuild_matches_plain("file edited", VARS);
    assert!(out.starts_with("{\"q\": 2} 1 "), "{out}");

    // A file added to the directory it lists.
    write(&e.ws.join("assets/data/other.json"), "{}\n");
    let (out, _) = e.rebuild_matches_plain("file added", VARS);
    assert!(out.starts_with("{\"q\": 2} 2 "), "{out}");

    // Removed again: the first result comes back from the store.
    fs::remove_file(e.ws.join("assets/data/other.json")).unwrap();
    write(&e.ws.join("assets/data/query.json"), "{\"q\": 1}\n");
    let (out, back) = e.rebuild_matches_plain("put back", VARS);
    assert!(out.starts_with("{\"q\": 1} 1 "), "{out}");
    assert_eq!(n(&back, "misses"), 0, "{back}");
}

#[test]
fn an_environment_variable_a_proc_macro_reads_is_keyed() {
    let dir = tempfile::tempdir().unwrap();
    let e = Env::new(dir.path(), "a");
    workspace(&e.ws);
    let (out, _) = e.gocache_build(VARS);
    assert!(out.contains(" hello one "), "{out}");

    // The name is in the macro's library.
    let vars = [("PM_TEST_GREETING", "bonjour"), ("PM_TEST_NAMED", "one")];
    let (out, _) = e.rebuild_matches_plain("named in the macro, changed", &vars);
    assert!(out.contains(" bonjour one "), "{out}");

    // The name is in the macro's input (the crate's source).
    let vars = [("PM_TEST_GREETING", "bonjour"), ("PM_TEST_NAMED", "two")];
    let (out, _) = e.rebuild_matches_plain("named in the input, changed", &vars);
    assert!(out.contains(" bonjour two "), "{out}");

    // Unset at the first build, set since: a miss, not the `unset` result.
    let (out, _) = e.rebuild_matches_plain("unset", &[]);
    assert!(out.contains(" unset unset "), "{out}");
    let (out, _) = e.rebuild_matches_plain("set since", &[("PM_TEST_NAMED", "three")]);
    assert!(out.contains(" unset three "), "{out}");

    // The first values again: all hits.
    let (_, again) = e.rebuild_matches_plain("first values again", VARS);
    assert_eq!(n(&again, "misses"), 0, "{again}");
}

#[test]
fn a_proc_macro_emitting_its_package_dir_never_hands_a_second_checkout_the_first_path() {
    let dir = tempfile::tempdir().unwrap();
    let e = Env::new(dir.path(), "a");
    workspace(&e.ws);
    let (out, cold) = e.gocache_build(VARS);
    let first = e.ws.join("app").display().to_string();
    assert!(out.trim_end().ends_with(&first), "{out}");

    let other = Env::new(dir.path(), "b");
    copy_tree(&e.ws, &other.ws);
    let (out, now) = other.gocache_build(VARS);
    assert_eq!(out, other.plain_build(VARS));
    let second = other.ws.join("app").display().to_string();
    assert!(out.trim_end().ends_with(&second), "{out}");
    // Only the crate whose output holds its directory compiles again:
    // `assets` finds its files through `CARGO_MANIFEST_DIR` without
    // emitting it, and hits.
    assert_eq!(n(&now, "misses"), 1, "{now}\ncold: {cold}");
}
