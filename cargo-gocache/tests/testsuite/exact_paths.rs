//! `paths = "exact"` (`CARGO_GOCACHE_PATHS=exact`, issue 22): nothing is
//! relocated, so what a program prints of its own paths (C's `__FILE__`
//! in a build script's compile, a path dependency's `file!()` and panic
//! location) is what plain cargo gives, in every checkout, even with one
//! store shared by two checkouts. By default those read stable names.
//! `CARGO_INCREMENTAL=0` throughout: cargo compiles a path dependency
//! incrementally otherwise, which the Rust wrapper does not cache (nor
//! relocate).

use std::fs;
use std::path::Path;

use crate::support::{cargo, copy_tree, example, gocache, require_tool, run};

/// `app` (a workspace of its own, with a build script compiling a C file
/// by its absolute path) and `dep` beside it, a path dependency outside the
/// workspace (cargo gives rustc its absolute path).
fn write_checkout(root: &Path) {
    let app = root.join("app");
    fs::create_dir_all(app.join("src")).unwrap();
    fs::create_dir_all(root.join("dep/src")).unwrap();
    fs::write(
        app.join("Cargo.toml"),
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n\n\
         [dependencies]\ndep = { path = \"../dep\" }\n\n[build-dependencies]\ncc = \"1.2\"\n",
    )
    .unwrap();
    fs::copy(
        example("mixed-sys").join("Cargo.lock"),
        app.join("Cargo.lock"),
    )
    .unwrap();
    fs::write(
        app.join("build.rs"),
        r#"fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    cc::Build::new().file(format!("{dir}/src/file.c")).compile("file");
}
"#,
    )
    .unwrap();
    fs::write(
        app.join("src/file.c"),
        "const char *c_file(void) { return __FILE__; }\n",
    )
    .unwrap();
    fs::write(
        app.join("src/main.rs"),
        r#"extern "C" {
    fn c_file() -> *const std::os::raw::c_char;
}

fn main() {
    let c = unsafe { std::ffi::CStr::from_ptr(c_file()) };
    println!("{}", c.to_str().unwrap());
    println!("{}", dep::file());
    dep::boom();
}
"#,
    )
    .unwrap();
    fs::write(
        root.join("dep/Cargo.toml"),
        "[package]\nname = \"dep\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .unwrap();
    fs::write(
        root.join("dep/src/lib.rs"),
        "pub fn file() -> &'static str { file!() }\npub fn boom() { panic!(\"boom\") }\n",
    )
    .unwrap();
}

/// What the program prints: its stdout and the panic line of its stderr.
fn printed(bin: &Path) -> String {
    let out = std::process::Command::new(bin)
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // `thread 'main' (<tid>) panicked at <location>:`: the location.
    let panic = stderr
        .lines()
        .find_map(|l| l.split_once("panicked at ").map(|(_, at)| at))
        .unwrap_or_else(|| panic!("no panic in {stderr}"))
        .to_string();
    format!("{}{panic}", String::from_utf8_lossy(&out.stdout))
}

#[test]
fn exact_paths_print_what_plain_cargo_prints_in_each_checkout() {
    require_tool("gcc");
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let a = dir.path().join("a");
    write_checkout(&a);
    let b = dir.path().join("b");
    copy_tree(&a, &b);
    for root in [&a, &b] {
        let app = root.join("app");
        // Plain cargo, its own target directory.
        run(cargo()
            .args(["build", "--offline"])
            .current_dir(&app)
            .env("CARGO_TARGET_DIR", root.join("plain"))
            .env("CARGO_INCREMENTAL", "0"))
        .success();
        let plain = printed(&root.join("plain/debug/app"));
        assert!(
            plain.contains(&format!("{}/app/src/file.c", root.display()))
                && plain.contains(&format!("{}/dep/src/lib.rs", root.display())),
            "{plain}"
        );
        // Under gocache with exact paths, one store for both checkouts.
        run(gocache(&store)
            .args(["gocache", "build", "--offline"])
            .current_dir(&app)
            .env("CARGO_TARGET_DIR", root.join("exact"))
            .env("CARGO_INCREMENTAL", "0")
            .env("CARGO_GOCACHE_PATHS", "exact"))
        .success();
        assert_eq!(printed(&root.join("exact/debug/app")), plain, "{root:?}");
    }
    // The default: stable names, which is what lets checkouts share.
    run(gocache(&store)
        .args(["gocache", "build", "--offline"])
        .current_dir(b.join("app"))
        .env("CARGO_TARGET_DIR", b.join("stable"))
        .env("CARGO_INCREMENTAL", "0"))
    .success();
    let stable = printed(&b.join("stable/debug/app"));
    assert!(
        stable.contains("/gocache/pkg/app-0.1.0/src/file.c")
            && stable.contains("dep-0.1.0/src/lib.rs")
            && !stable.contains(&b.display().to_string()),
        "{stable}"
    );
    // `cargo gocache config` shows the setting.
    let config = run(gocache(&store)
        .args(["gocache", "config"])
        .env("CARGO_GOCACHE_PATHS", "exact"))
    .success()
    .stdout();
    assert!(
        config
            .lines()
            .any(|l| l.contains("paths") && l.contains("exact")),
        "{config}"
    );
}
