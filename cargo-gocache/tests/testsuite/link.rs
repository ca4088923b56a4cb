//! Link inputs and argument text (issue 21, items 1-4): what a cached rustc link read comes
//! from the linker itself (`--dependency-file`), an rlib keys the static
//! libraries it may bundle, a link argument that writes a file is not
//! cached, and argument text reaching the output (link arguments, `-C`
//! and `--cfg` values) is keyed as written.
//! Real cargo, rustc, gcc and the linker rustc picks (lld through `cc`).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::e2e::take_stats;
use crate::support::{gocache, require_tool, run, Run};

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

/// A one-package workspace `name` at `root/name`: `build.rs` and
/// `src/main.rs` as given.
fn package(root: &Path, name: &str, build_rs: &str, main_rs: &str) -> PathBuf {
    let ws = root.join(name);
    write(
        &ws.join("Cargo.toml"),
        &format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n"),
    );
    write(&ws.join("build.rs"), build_rs);
    write(&ws.join("src/main.rs"), main_rs);
    ws
}

/// `cargo gocache build` of `ws` into `target` with `store`, then what the
/// binary prints and the Rust stats of the build.
#[track_caller]
fn build(store: &Path, ws: &Path, target: &Path, name: &str) -> (Run, String, Value) {
    let r = run(gocache(store)
        .args(["gocache", "build", "--offline"])
        .current_dir(ws)
        .env("CARGO_TARGET_DIR", target)
        .env("CARGO_INCREMENTAL", "0"))
    .success();
    let out = run(&mut Command::new(target.join("debug").join(name))).success();
    (
        r,
        out.stdout().trim().to_string(),
        take_stats(store)["rust"].clone(),
    )
}

fn gcc_object(dir: &Path, value: i32) {
    write(
        &dir.join("extra.c"),
        &format!("int extra_value(void) {{ return {value}; }}\n"),
    );
    run(Command::new("gcc")
        .args(["-c", "extra.c", "-o", "extra.o"])
        .current_dir(dir))
    .success();
}

fn n(v: &Value, f: &str) -> u64 {
    v[f].as_u64().unwrap_or_else(|| panic!("no {f} in {v}"))
}

/// An object file named in `cargo:rustc-link-arg`, rebuilt with other
/// code: the link's command line is the same, yet the binary is another.
/// Before, the link hit and the old binary was served. With rustc's own
/// lld, GNU ld and mold.
#[test]
fn an_object_named_in_a_link_arg_rebuilt_is_linked_anew_not_served_the_old_binary() {
    require_tool("gcc");
    require_tool("mold");
    for linker in ["", "bfd", "mold"] {
        object_rebuilt(linker);
    }
}

fn object_rebuilt(linker: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let ws = package(
        tmp.path(),
        "objarg",
        &format!(
            r#"fn main() {{
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    println!("cargo:rustc-link-arg={{dir}}/extra.o");
    println!("cargo:rerun-if-changed=extra.o");
{}}}
"#,
            fuse_line(linker)
        ),
        "extern \"C\" { fn extra_value() -> i32; }\nfn main() { println!(\"{}\", unsafe { extra_value() }); }\n",
    );
    gcc_object(&ws, 1);
    let store = tmp.path().join("store");
    let target = tmp.path().join("target");
    let (_, v, _) = build(&store, &ws, &target, "objarg");
    assert_eq!(v, "1");
    std::thread::sleep(std::time::Duration::from_millis(20));
    gcc_object(&ws, 2);
    let (_, v, stats) = build(&store, &ws, &target, "objarg");
    assert_eq!(v, "2", "{linker}: the old binary was served: {stats}");
    // Unchanged inputs hit, in another target directory too.
    let (_, v, stats) = build(&store, &ws, &tmp.path().join("target2"), "objarg");
    assert_eq!(v, "2");
    assert_eq!(n(&stats, "misses"), 0, "{linker}: {stats}");
}

/// A static library the crate's source names with `#[link(kind =
/// "static")]`, found in a directory its build script adds with `-L`
/// only: rustc bundles it into the rlib, and nothing on the command line
/// names it. Rebuilt with other code, the rlib must be compiled anew (before,
/// the rlib hit with the old library inside, and so did the binary).
#[test]
fn a_static_library_named_by_a_link_attribute_rebuilt_is_bundled_anew() {
    require_tool("gcc");
    require_tool("ar");
    let tmp = tempfile::tempdir().unwrap();
    let ws = package(
        tmp.path(),
        "bundled",
        r#"fn main() {
    let out = std::env::var("OUT_DIR").unwrap();
    let ok = std::process::Command::new("gcc")
        .args(["-c", "foo.c", "-o"]).arg(format!("{out}/foo.o"))
        .status().unwrap().success()
        && std::process::Command::new("ar")
            .arg("crs").arg(format!("{out}/libfoo.a")).arg(format!("{out}/foo.o"))
            .status().unwrap().success();
    assert!(ok);
    println!("cargo:rustc-link-search=native={out}");
    println!("cargo:rerun-if-changed=foo.c");
}
"#,
        "fn main() { println!(\"{}\", bundled::value()); }\n",
    );
    write(
        &ws.join("src/lib.rs"),
        "#[link(name = \"foo\", kind = \"static\")]\nextern \"C\" { fn foo_value() -> i32; }\npub fn value() -> i32 { unsafe { foo_value() } }\n",
    );
    write(&ws.join("foo.c"), "int foo_value(void) { return 1; }\n");
    let store = tmp.path().join("store");
    let target = tmp.path().join("target");
    let (_, v, _) = build(&store, &ws, &target, "bundled");
    assert_eq!(v, "1");
    std::thread::sleep(std::time::Duration::from_millis(20));
    write(&ws.join("foo.c"), "int foo_value(void) { return 2; }\n");
    let (_, v, stats) = build(&store, &ws, &target, "bundled");
    assert_eq!(v, "2", "the rlib with the old library was served: {stats}");
}

/// `-Wl,-Map=FILE` writes a file a hit would not restore: the link is not
/// cached (counted), so every build writes its map.
#[test]
fn a_link_arg_that_writes_a_map_file_is_not_cached() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = package(
        tmp.path(),
        "mapped",
        r#"fn main() {
    let out = std::env::var("OUT_DIR").unwrap();
    println!("cargo:rustc-link-arg=-Wl,-Map={out}/mapped.map");
}
"#,
        "fn main() { println!(\"7\"); }\n",
    );
    let store = tmp.path().join("store");
    for t in ["target", "target2"] {
        let target = tmp.path().join(t);
        let (_, v, stats) = build(&store, &ws, &target, "mapped");
        assert_eq!(v, "7");
        assert_eq!(stats["uncacheable"]["link-arg-writes-file"], 1, "{stats}");
        let maps: Vec<PathBuf> = fs::read_dir(target.join("debug/build"))
            .unwrap()
            .flatten()
            .map(|e| e.path().join("out/mapped.map"))
            .filter(|p| p.is_file())
            .collect();
        assert_eq!(maps.len(), 1, "{t}: no map written");
    }
}

/// `-Wl,-rpath,<package dir>/lib` reaches the binary (its `RUNPATH`): a
/// second checkout's binary must name the second checkout. Before, the key
/// mapped the package directory to a stable name and the second checkout
/// was served the first one's binary.
#[test]
fn an_rpath_to_the_checkout_is_keyed_as_written() {
    require_tool("readelf");
    let tmp = tempfile::tempdir().unwrap();
    let build_rs = r#"fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}/lib");
}
"#;
    let main_rs = "fn main() { println!(\"8\"); }\n";
    let one = package(&tmp.path().join("one"), "rpathed", build_rs, main_rs);
    let two = package(&tmp.path().join("two"), "rpathed", build_rs, main_rs);
    let store = tmp.path().join("store");
    let runpath = |target: &Path| {
        let r = run(Command::new("readelf")
            .arg("-d")
            .arg(target.join("debug/rpathed")))
        .success();
        r.stdout()
            .lines()
            .find(|l| l.contains("RUNPATH") || l.contains("RPATH"))
            .unwrap_or_else(|| panic!("no RUNPATH:\n{}", r.stdout()))
            .to_string()
    };
    let t1 = tmp.path().join("t1");
    build(&store, &one, &t1, "rpathed");
    assert!(runpath(&t1).contains(&format!("{}/lib", one.display())));
    let t2 = tmp.path().join("t2");
    build(&store, &two, &t2, "rpathed");
    let rp = runpath(&t2);
    assert!(
        rp.contains(&format!("{}/lib", two.display())),
        "the second checkout's binary names the first checkout: {rp}"
    );
}

/// A linker script copied into `OUT_DIR` and found through `-L`
/// (`memory.x` with `-Tmemory.x`, as every cortex-m-rt firmware has it),
/// edited: the link reads another script with the same command line. Before,
/// the old layout was served. With each linker there is: the one rustc
/// picks (its own lld, through `cc`), GNU ld (`-fuse-ld=bfd`) and mold.
#[test]
fn a_linker_script_found_through_l_edited_is_linked_anew() {
    require_tool("objdump");
    require_tool("mold");
    // mold reads no SECTIONS: its case is the object's test.
    for linker in ["", "bfd"] {
        linker_script_edited(linker);
    }
}

/// `cargo:rustc-link-arg=-fuse-ld=LINKER`, or nothing for rustc's choice.
fn fuse_line(linker: &str) -> String {
    if linker.is_empty() {
        String::new()
    } else {
        format!("    println!(\"cargo:rustc-link-arg=-fuse-ld={linker}\");\n")
    }
}

fn linker_script_edited(linker: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let fuse = fuse_line(linker);
    let ws = package(
        tmp.path(),
        "scripted",
        &format!(
            r#"fn main() {{
    let out = std::env::var("OUT_DIR").unwrap();
    std::fs::copy("marker.x", format!("{{out}}/marker.x")).unwrap();
    println!("cargo:rustc-link-search=native={{out}}");
    println!("cargo:rustc-link-arg=-Tmarker.x");
    println!("cargo:rerun-if-changed=marker.x");
{fuse}}}
"#
        ),
        "fn main() { println!(\"9\"); }\n",
    );
    let script = |v: u32| {
        write(
            &ws.join("marker.x"),
            &format!("SECTIONS {{ .gocache_marker : {{ LONG({v}) }} }} INSERT AFTER .text;\n"),
        )
    };
    let marker = |target: &Path| {
        let r = run(Command::new("objdump")
            .args(["-s", "-j", ".gocache_marker"])
            .arg(target.join("debug/scripted")))
        .success();
        r.stdout().lines().last().unwrap_or_default().to_string()
    };
    script(1);
    let store = tmp.path().join("store");
    let target = tmp.path().join("target");
    build(&store, &ws, &target, "scripted");
    assert!(
        marker(&target).contains(" 01000000 "),
        "{linker}: {}",
        marker(&target)
    );
    std::thread::sleep(std::time::Duration::from_millis(20));
    script(2);
    let (_, _, stats) = build(&store, &ws, &target, "scripted");
    assert!(
        marker(&target).contains(" 02000000 "),
        "{linker}: the old layout was served: {} {stats}",
        marker(&target)
    );
    assert!(
        stats["uncacheable"]
            .as_object()
            .is_some_and(|m| m.is_empty()),
        "{linker}: {stats}"
    );
}

/// A linker that cannot list its inputs (GNU ld before 2.35 refuses
/// `--dependency-file`): the link runs as it was asked for and succeeds,
/// its refusal never shown, and it is counted `link-inputs-unobserved`,
/// never cached (so never served stale).
#[test]
#[cfg(unix)]
fn a_linker_that_cannot_list_its_inputs_links_uncached() {
    let tmp = tempfile::tempdir().unwrap();
    let cc = tmp.path().join("old-cc");
    write(
        &cc,
        "#!/bin/sh\nfor a in \"$@\"; do case \"$a\" in *--dependency-file*) echo \"/usr/bin/ld: unrecognized option '--dependency-file=x'\" >&2; exit 1;; esac; done\nexec cc \"$@\"\n",
    );
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&cc, fs::Permissions::from_mode(0o755)).unwrap();
    let host = run(Command::new("rustc").arg("-vV"))
        .success()
        .stdout()
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .unwrap();
    let var = format!(
        "CARGO_TARGET_{}_LINKER",
        host.to_uppercase().replace('-', "_")
    );
    let ws = package(
        tmp.path(),
        "oldld",
        "fn main() {}\n",
        "fn main() { println!(\"5\"); }\n",
    );
    let store = tmp.path().join("store");
    for t in ["target", "target2"] {
        let target = tmp.path().join(t);
        let r = run(gocache(&store)
            .args(["gocache", "build", "--offline"])
            .current_dir(&ws)
            .env("CARGO_TARGET_DIR", &target)
            .env("CARGO_INCREMENTAL", "0")
            .env(&var, &cc))
        .success();
        assert!(!r.stderr().contains("unrecognized"), "{}", r.stderr());
        let out = run(&mut Command::new(target.join("debug/oldld"))).success();
        assert_eq!(out.stdout().trim(), "5");
        let stats = take_stats(&store)["rust"].clone();
        assert_eq!(
            stats["uncacheable"]["link-inputs-unobserved"], 2,
            "{t}: the build script and the bin: {stats}"
        );
        assert_eq!(n(&stats, "hits"), 0, "{t}: {stats}");
    }
}

/// A `--cfg` value naming the checkout (`cargo:rustc-cfg`), which the code
/// compares as gcc compares a `-D` value: a second checkout's binary must
/// take its own branch. Before, the key mapped the package directory in
/// every argument and the second checkout was served the first one's.
#[test]
fn a_cfg_value_naming_the_checkout_is_keyed_as_written() {
    let tmp = tempfile::tempdir().unwrap();
    let build_rs = r#"fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    println!("cargo:rustc-check-cfg=cfg(checkout, values(any()))");
    println!("cargo:rustc-cfg=checkout=\"{dir}\"");
}
"#;
    let one_dir = tmp.path().join("one").join("cfged");
    let main_rs = format!(
        "fn main() {{\n    #[cfg(checkout = {one:?})]\n    println!(\"one\");\n    #[cfg(not(checkout = {one:?}))]\n    println!(\"another\");\n}}\n",
        one = one_dir.display().to_string()
    );
    let one = package(&tmp.path().join("one"), "cfged", build_rs, &main_rs);
    let two = package(&tmp.path().join("two"), "cfged", build_rs, &main_rs);
    let store = tmp.path().join("store");
    let (_, v, _) = build(&store, &one, &tmp.path().join("t1"), "cfged");
    assert_eq!(v, "one");
    let (_, v, stats) = build(&store, &two, &tmp.path().join("t2"), "cfged");
    assert_eq!(
        v, "another",
        "the second checkout was served the first one's binary: {stats}"
    );
}

/// A `-C` value naming the checkout (`-C metadata=DIR`, hashed into
/// every symbol and `TypeId`), given to the wrapper as cargo runs it:
/// a second checkout's binary must be its own. Before, the key mapped the
/// checkout in every `-C` value but `link-arg`s. (Through cargo, RUSTFLAGS
/// also change cargo's `-C extra-filename`, which hides this.)
#[test]
fn a_codegen_value_naming_the_checkout_is_keyed_as_written() {
    let tmp = tempfile::tempdir().unwrap();
    let main_rs =
        "struct Marker;\nfn main() { println!(\"{:?}\", std::any::TypeId::of::<Marker>()); }\n";
    let store = tmp.path().join("store");
    let mut printed = Vec::new();
    for (name, cached) in [("one", true), ("two", true), ("two", false)] {
        let ws = tmp.path().join(name);
        write(&ws.join("src/main.rs"), main_rs);
        let out = ws.join(format!("out-{cached}"));
        fs::create_dir_all(&out).unwrap();
        let mut cmd = if cached {
            let mut c = crate::support::clean_command(crate::support::bin());
            c.arg("rustc").env("CARGO_GOCACHE_DIR", &store);
            c
        } else {
            crate::support::clean_command("rustc")
        };
        run(cmd
            .args(["--crate-name", "typed", "--edition=2021", "src/main.rs"])
            .args(["--crate-type", "bin", "--emit=dep-info,link", "-C"])
            .arg(format!("metadata={}", ws.display()))
            .arg("--out-dir")
            .arg(&out)
            .current_dir(&ws)
            .env("CARGO_GOCACHE_WORKSPACE", &ws))
        .success();
        let r = run(&mut Command::new(out.join("typed"))).success();
        printed.push(r.stdout().trim().to_string());
    }
    assert_ne!(
        printed[0], printed[2],
        "the checkouts' type ids are the same"
    );
    assert_eq!(
        printed[1], printed[2],
        "the second checkout was served the first one's binary"
    );
}
