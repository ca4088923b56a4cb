//! Parsing a rustc command line: is it a compile gocache caches, and what
//! does it compile (crate, type, sources, outputs, dependencies)?

use super::*;

/// What a rustc command line is to the cache.
#[derive(Debug)]
pub enum Parse {
    /// Not a compile (`-vV`, `--print`, `-` as input...): run untouched.
    NotACompile,
    /// A compile the cache does not take, with the reason counted.
    Uncacheable(&'static str),
    /// A cacheable compile (boxed: it is most of the enum's size).
    Compile(Box<RustCompile>),
}

/// A parsed cacheable rustc compile.
#[derive(Debug, Clone, Default)]
pub struct RustCompile {
    pub(super) crate_name: String,
    /// The crate root, as given.
    pub(super) input: PathBuf,
    /// `--out-dir`, absolute.
    pub(super) out_dir: PathBuf,
    pub(super) extra_filename: String,
    pub(super) crate_types: Vec<String>,
    pub(super) emit: Vec<String>,
    pub(super) test: bool,
    pub(super) target: Option<String>,
    /// `--extern` with a file: (the name part as given, absolute path).
    pub(super) externs: Vec<(String, PathBuf)>,
    /// `-L`: (kind, absolute dir).
    pub(super) lib_dirs: Vec<(String, PathBuf)>,
    /// `-l`: (kind with modifiers, name).
    pub(super) libs: Vec<(String, String)>,
    pub(super) linker: Option<PathBuf>,
    /// `-C linker-flavor` was given: the linker is not driven as `cc`.
    pub(super) linker_flavor: bool,
    /// `-C link-arg` and `-C link-args` values, as given.
    pub(super) link_args: Vec<String>,
    /// The arguments as the key sees them, in order, each marked with
    /// whether its text may be mapped ([`KeyArg`]).
    pub(super) key_args: Vec<KeyArg>,
    /// The arguments already remap paths: add none.
    pub(super) user_remaps: bool,
    pub(super) cwd: PathBuf,
}

impl RustCompile {
    pub(super) fn describe(&self) -> String {
        format!("{} {}", self.crate_and_kind(), self.input.display())
    }

    /// `name (lib)`, `name (test)`, `name (bin)`...
    pub(super) fn crate_and_kind(&self) -> String {
        let kind = if self.test {
            "test".to_string()
        } else {
            self.crate_types.join(",")
        };
        format!("{} ({kind})", self.crate_name)
    }

    /// Is this the compile of a build script (cargo's `build-script-build`
    /// target, an executable in the package's `build/` directory)?
    pub(super) fn is_build_script(&self) -> bool {
        self.crate_name.starts_with("build_script_")
            && !self.test
            && self.crate_types.iter().any(|t| t == "bin")
            && self.emit.iter().any(|e| e == "link")
    }

    /// Does this compile link (an executable or a dynamic/static library)?
    pub(super) fn links(&self) -> bool {
        self.emit.iter().any(|e| e == "link")
            && (self.test
                || self.crate_types.iter().any(|t| {
                    matches!(
                        t.as_str(),
                        "bin" | "dylib" | "cdylib" | "staticlib" | "proc-macro"
                    )
                }))
    }

    /// The output names rustc writes into `--out-dir` (Linux naming); the
    /// miss checks every one was written.
    pub(super) fn expected_outputs(&self) -> Vec<String> {
        let stem = format!("{}{}", self.crate_name, self.extra_filename);
        let mut out = Vec::new();
        for e in &self.emit {
            match e.as_str() {
                "dep-info" => out.push(format!("{stem}.d")),
                "metadata" => out.push(format!("lib{stem}.rmeta")),
                "link" if self.test => out.push(stem.clone()),
                "link" => {
                    for t in &self.crate_types {
                        out.push(match t.as_str() {
                            "bin" => stem.clone(),
                            "lib" | "rlib" => format!("lib{stem}.rlib"),
                            "staticlib" => format!("lib{stem}.a"),
                            _ => format!("lib{stem}.so"),
                        });
                    }
                }
                _ => {}
            }
        }
        out.sort();
        out.dedup();
        out
    }

    pub(super) fn is_output_name(&self, name: &str) -> bool {
        let stem = format!("{}{}", self.crate_name, self.extra_filename);
        let lib = format!("lib{stem}");
        [stem.as_str(), lib.as_str()].iter().any(|s| {
            name.strip_prefix(s)
                .is_some_and(|r| r.is_empty() || r.starts_with('.'))
        })
    }
}

/// One argument as the pre-key holds it (see the key table in the parent
/// module's docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum KeyArg {
    /// Keyed as written: text that can reach the output or what rustc
    /// prints (`-C` values, `--cfg`, `--remap-path-prefix`, link
    /// arguments...), and every argument not known to only locate an input.
    AsWritten(String),
    /// Keyed with machine directories mapped to stable names: the path
    /// only says where an input is found, and that input is keyed by its
    /// content or identity elsewhere (the reason is at each use in
    /// [`parse`]).
    Locates(String),
}

impl KeyArg {
    /// The argument's text, real paths and all.
    pub(super) fn text(&self) -> &str {
        match self {
            KeyArg::AsWritten(s) | KeyArg::Locates(s) => s,
        }
    }
}

/// Options whose value may be the next argument or attached (`--x=v`,
/// `-Cv`); how each one counts is in [`parse`].
pub(super) const WITH_VALUE: &[&str] = &[
    "--crate-name",
    "--edition",
    "--error-format",
    "--json",
    "--crate-type",
    "--emit",
    "--out-dir",
    "-o",
    "-C",
    "--codegen",
    "-L",
    "-l",
    "--extern",
    "--cfg",
    "--check-cfg",
    "--cap-lints",
    "-A",
    "-W",
    "-D",
    "-F",
    "--allow",
    "--warn",
    "--deny",
    "--forbid",
    "--force-warn",
    "--target",
    "--sysroot",
    "--color",
    "--diagnostic-width",
    "--remap-path-prefix",
    "--remap-path-scope",
    "--print",
    "--explain",
    "-Z",
    "--crate-attr",
    "--env-set",
];

/// Parse a rustc command line (without the program).
pub fn parse(args: &[OsString], cwd: &Path) -> Parse {
    let mut strs = Vec::with_capacity(args.len());
    for a in args {
        match a.to_str() {
            Some(s) => strs.push(s.to_string()),
            None => return Parse::Uncacheable("non-utf8-argument"),
        }
    }
    let abs = |p: &str| -> PathBuf {
        let p = Path::new(p);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            cwd.join(p)
        }
    };
    let mut c = RustCompile {
        cwd: cwd.to_path_buf(),
        ..Default::default()
    };
    let mut input: Option<String> = None;
    let mut out_dir = None;
    let mut emit_given = false;
    let mut i = 0;
    while i < strs.len() {
        let a = &strs[i];
        i += 1;
        if !a.starts_with('-') || a == "-" {
            if a == "-" {
                return Parse::NotACompile;
            }
            if a.starts_with('@') {
                return Parse::Uncacheable("response-file");
            }
            if input.replace(a.clone()).is_some() {
                return Parse::Uncacheable("multiple-inputs");
            }
            continue;
        }
        match a.as_str() {
            "-V" | "-vV" | "--version" | "-h" | "--help" => return Parse::NotACompile,
            "--test" => {
                c.test = true;
                c.key_args.push(KeyArg::AsWritten(a.clone()));
                continue;
            }
            "-g" | "-O" | "-v" | "--verbose" => {
                c.key_args.push(KeyArg::AsWritten(a.clone()));
                continue;
            }
            _ => {}
        }
        // Split `--opt=value`, `-Cvalue` or `--opt value`.
        let (opt, value) =
            if let Some((o, v)) = a.split_once('=').filter(|(o, _)| o.starts_with("--")) {
                (o.to_string(), v.to_string())
            } else if WITH_VALUE.contains(&a.as_str()) {
                let Some(v) = strs.get(i) else {
                    return Parse::Uncacheable("unknown-option");
                };
                i += 1;
                (a.clone(), v.clone())
            } else if a.len() > 2 && !a.starts_with("--") && WITH_VALUE.contains(&&a[..2]) {
                (a[..2].to_string(), a[2..].to_string())
            } else {
                return Parse::Uncacheable("unknown-option");
            };
        let opt = match opt.as_str() {
            "--codegen" => "-C",
            "--allow" => "-A",
            "--warn" => "-W",
            "--deny" => "-D",
            "--forbid" => "-F",
            o => o,
        }
        .to_string();
        match opt.as_str() {
            "--print" | "--explain" => return Parse::NotACompile,
            "--crate-name" => {
                c.crate_name = value.clone();
                c.key_args
                    .push(KeyArg::AsWritten(format!("--crate-name={value}")));
            }
            "--crate-type" => {
                for t in value.split(',') {
                    c.crate_types.push(t.to_string());
                }
                c.key_args
                    .push(KeyArg::AsWritten(format!("--crate-type={value}")));
            }
            "--emit" => {
                emit_given = true;
                for kind in value.split(',') {
                    if kind.contains('=') {
                        return Parse::Uncacheable("emit-path");
                    }
                    if !matches!(kind, "dep-info" | "metadata" | "link") {
                        return Parse::Uncacheable("emit-kind");
                    }
                    c.emit.push(kind.to_string());
                }
                c.key_args
                    .push(KeyArg::AsWritten(format!("--emit={value}")));
            }
            "--out-dir" => out_dir = Some(abs(&value)),
            "-o" => return Parse::Uncacheable("output-file"),
            "--target" => {
                if value.ends_with(".json") {
                    return Parse::Uncacheable("target-spec-file");
                }
                c.target = Some(value.clone());
                c.key_args
                    .push(KeyArg::AsWritten(format!("--target={value}")));
            }
            "--sysroot" => return Parse::Uncacheable("sysroot"),
            "-Z" => return Parse::Uncacheable("unstable-option"),
            "--crate-attr" | "--env-set" => return Parse::Uncacheable("unknown-option"),
            "--remap-path-prefix" | "--remap-path-scope" => {
                c.user_remaps = true;
                c.key_args.push(KeyArg::AsWritten(format!("{opt}={value}")));
            }
            "-C" => {
                let (k, v) = value.split_once('=').unwrap_or((value.as_str(), ""));
                match k {
                    "incremental" => return Parse::Uncacheable("incremental"),
                    "save-temps" => return Parse::Uncacheable("save-temps"),
                    "profile-use" | "profile-generate" | "profile-sample-use" => {
                        return Parse::Uncacheable("profile")
                    }
                    "split-debuginfo" if v == "unpacked" => {
                        return Parse::Uncacheable("split-debuginfo-unpacked")
                    }
                    "extra-filename" => c.extra_filename = v.to_string(),
                    "linker" => c.linker = Some(PathBuf::from(v)),
                    "linker-flavor" => c.linker_flavor = true,
                    "link-arg" | "link-args" => c.link_args.push(v.to_string()),
                    _ => {}
                }
                // Every `-C` value as written (`link-arg` text the linker
                // copies, `metadata` hashed into every symbol and type id,
                // `llvm-args`...), except the linker's path: it only
                // locates the program, whose identity is the key's
                // `linker` line (what it reads is observed on a miss).
                c.key_args.push(if k == "linker" {
                    KeyArg::Locates(format!("-C {value}"))
                } else {
                    KeyArg::AsWritten(format!("-C {value}"))
                });
            }
            "-L" => {
                let (kind, dir) = match value.split_once('=') {
                    Some((k, d))
                        if matches!(k, "dependency" | "crate" | "native" | "framework" | "all") =>
                    {
                        (k.to_string(), d.to_string())
                    }
                    _ => ("all".to_string(), value.clone()),
                };
                let dir = abs(&dir);
                // A search directory only locates inputs: every native
                // library a compile can take from it is keyed by content
                // (`native:`), and what a link read is observed from the
                // linker. rustc does not write it into its outputs.
                // (`dependency=` is left out: see the key table.)
                if kind != "dependency" {
                    c.key_args
                        .push(KeyArg::Locates(format!("-L {kind}={}", dir.display())));
                }
                c.lib_dirs.push((kind, dir));
            }
            "-l" => {
                let (kind, name) = match value.split_once('=') {
                    Some((k, n)) => (k.to_string(), n.to_string()),
                    None => ("dylib".to_string(), value.clone()),
                };
                c.key_args
                    .push(KeyArg::AsWritten(format!("-l {kind}={name}")));
                c.libs.push((kind, name));
            }
            "--extern" => match value.split_once('=') {
                Some((name, path)) => c.externs.push((name.to_string(), abs(path))),
                // `--extern name=PATH`: not an argument line; the file's
                // content and name are keyed (`extern:`), its directory
                // only locates it.
                None => c
                    .key_args
                    .push(KeyArg::AsWritten(format!("--extern {value}"))),
            },
            "--edition" | "--error-format" | "--json" | "--cfg" | "--check-cfg" | "--cap-lints"
            | "-A" | "-W" | "-D" | "-F" | "--force-warn" | "--color" | "--diagnostic-width" => {
                // `--cfg` values are compared by the code (`cfg!(x =
                // "...")`), as gcc compares `-D` values: as written.
                c.key_args.push(KeyArg::AsWritten(format!("{opt}={value}")));
            }
            _ => return Parse::Uncacheable("unknown-option"),
        }
    }
    let Some(input) = input else {
        return Parse::NotACompile;
    };
    let Some(out_dir) = out_dir else {
        return Parse::Uncacheable("no-out-dir");
    };
    if c.crate_name.is_empty() {
        return Parse::Uncacheable("no-crate-name");
    }
    if !emit_given {
        c.emit.push("link".into());
    }
    if !c.emit.iter().any(|e| e == "dep-info") {
        // The manifest is learned from rustc's dep-info; cargo always asks.
        return Parse::Uncacheable("no-dep-info");
    }
    if c.crate_types.is_empty() && !c.test {
        // rustc would read `#![crate_type]` from the source: not known here.
        return Parse::Uncacheable("no-crate-type");
    }
    if c.links() && c.link_args.iter().any(|a| link_arg_writes_a_file(a)) {
        // A map file, an import library...: a hit would not restore it.
        return Parse::Uncacheable("link-arg-writes-file");
    }
    c.input = PathBuf::from(input);
    c.out_dir = out_dir;
    Parse::Compile(Box::new(c))
}

/// Does a `-C link-arg` value make the linker write a file besides the
/// output (`-Wl,-Map=FILE`, `--out-implib`, its own `--dependency-file`,
/// `-save-temps`...)? A hit restores the output only.
pub(super) fn link_arg_writes_a_file(arg: &str) -> bool {
    const WRITERS: &[&str] = &[
        "-Map",
        "--Map",
        "-M,",
        "--print-map",
        "--out-implib",
        "--dependency-file",
        "--write-dependencies",
        "-save-temps",
        "--save-temps",
        "--pdb",
        "--why-extract",
        "--reproduce",
        "--trace-symbol-file",
        "-Wl,-M",
    ];
    let a = arg.trim();
    WRITERS.iter().any(|w| a.contains(w)) || a == "-M"
}
