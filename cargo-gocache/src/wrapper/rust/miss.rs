//! A miss: rustc runs, its outputs are learned from `--out-dir` and stored
//! with the manifest entry.

use super::*;

#[allow(clippy::too_many_arguments)]
pub(super) fn miss(
    store: &Store,
    rustc: &Path,
    args: &[OsString],
    c: &RustCompile,
    reloc: &Relocation,
    pre: &KeyHasher,
    pre_id: ActionId,
    sysroot: Option<&Path>,
    ran: &std::cell::Cell<Option<i32>>,
) -> Result<i32> {
    let started = SystemTime::now();
    // Outputs are recognised by mtime: a filesystem with coarse stamps
    // could show an old file as new; the expected names are checked too.
    let before: HashMap<String, String> = list_outputs(c)
        .into_iter()
        .map(|(n, p)| (n, stamp_of(&p)))
        .collect();
    // A link: the linker lists what it read (see `link_observable`).
    let link_deps = c.links().then(|| {
        std::env::temp_dir().join(format!(
            "gocache-link-{}-{}.d",
            std::process::id(),
            started
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ))
    });
    let link_arg = link_deps
        .as_ref()
        .map(|d| format!("link-arg=-Wl,--dependency-file={}", d.display()));
    // A compile that may load a proc-macro runs under the observer (see
    // `procmacro`); where nothing can be observed, one that does load one
    // runs uncached.
    let mut observation = None;
    let mut ran_observed = None;
    if procmacro::may_load(c) {
        match run_observed(rustc, args, reloc, link_arg.as_deref())? {
            Ok((r, obs)) => {
                ran_observed = Some(r);
                observation = Some(obs);
            }
            Err(why) => {
                if crate::env::debug("proc-macros") {
                    eprintln!("gocache: rustc not observed: {why}");
                }
                if procmacro::reachable(c)? {
                    let status = Command::new(rustc)
                        .args(args)
                        .status()
                        .with_context(|| format!("failed to run {}", rustc.display()))?;
                    let code = crate::wrapper::exit_code(&status);
                    ran.set(Some(code));
                    stats::record(
                        store,
                        &Event::rust(
                            Outcome::Uncacheable("proc-macro-unobserved".into()),
                            c.describe(),
                        ),
                    );
                    return Ok(code);
                }
            }
        }
    }
    let stdout_shown = ran_observed.is_some();
    let (code, stdout, kept_err, secs) = match ran_observed {
        Some(r) => r,
        None => run_plain(rustc, args, reloc, link_arg.as_deref())?,
    };
    let link_inputs = link_deps.as_ref().and_then(|d| {
        let text = fs::read_to_string(d).ok();
        let _ = fs::remove_file(d);
        text
    });
    if link_deps.is_some() {
        // What GNU ld, lld and mold say of an option they do not know (a
        // failing link's message also shows its command line, which holds
        // the option too: not a refusal).
        let refused = [
            &b"option '--dependency-file"[..],
            b"argument '--dependency-file",
            b"option: --dependency-file",
        ]
        .iter()
        .any(|m| contains(&kept_err, m));
        if code != 0 && link_inputs.is_none() && refused {
            // A linker that cannot list its inputs (GNU ld before 2.35)
            // refused the option: the link runs as it was asked for,
            // uncached, as if gocache were not there.
            stats::record(
                store,
                &Event::rust(
                    Outcome::Uncacheable("link-inputs-unobserved".into()),
                    c.describe(),
                ),
            );
            return Ok(crate::wrapper::cc::pass_through(rustc, args));
        }
        let _ = std::io::stderr().write_all(&kept_err);
        let _ = std::io::stderr().flush();
    }
    ran.set(Some(code));
    if !stdout_shown {
        let _ = std::io::stdout().write_all(&stdout);
        let _ = std::io::stdout().flush();
    }
    let uncacheable = |reason: &str| {
        let mut e = Event::rust(Outcome::Uncacheable(reason.into()), c.describe());
        e.spent_secs = secs;
        stats::record(store, &e);
        Ok(code)
    };
    if code != 0 {
        return uncacheable("compile-error");
    }
    let Ok(stderr_text) = String::from_utf8(kept_err) else {
        return uncacheable("non-utf8-output");
    };

    // The outputs this compile wrote.
    let mut written = Vec::new();
    for (name, path) in list_outputs(c) {
        if before.get(&name) != Some(&stamp_of(&path)) {
            written.push((name, path));
        }
    }
    let expected = c.expected_outputs();
    if !expected.iter().all(|e| written.iter().any(|(n, _)| n == e)) {
        return uncacheable("unknown-outputs");
    }
    let dep_name = format!("{}{}.d", c.crate_name, c.extra_filename);
    let dep_path = c.out_dir.join(&dep_name);
    let dep_text = fs::read_to_string(&dep_path)
        .with_context(|| format!("failed to read {}", dep_path.display()))?;
    let Some(dep) = parse_dep_info(&dep_text) else {
        return uncacheable("unreadable-dep-info");
    };

    // The files it read, as the manifest keeps them.
    let map = &reloc.map;
    let mut obs = Observed::default();
    let mut probed = BTreeSet::new();
    for f in &dep.files {
        let p = if Path::new(f).is_absolute() {
            PathBuf::from(f)
        } else {
            c.cwd.join(f)
        };
        let meta = fs::metadata(&p).with_context(|| format!("failed to read {}", p.display()))?;
        if meta.modified().is_ok_and(|m| m >= started) {
            return uncacheable("modified-during-compile");
        }
        let mapped = map.map_path(&p);
        if mapped.contains('\n') {
            return uncacheable("bad-path");
        }
        let bytes = fs::read(&p).with_context(|| format!("failed to read {}", p.display()))?;
        obs.files.push((mapped, hex(&hash_bytes(&bytes))));
        probed.insert(p);
    }
    if link_deps.is_some() {
        // What the linker read: objects, archives and shared libraries it
        // chose, linker and version scripts. Not the compile's own
        // temporaries (its objects, rustc's temporary directory), gone by
        // now.
        let Some(deps) = link_inputs
            .as_deref()
            .and_then(crate::direct::depfile::parse)
        else {
            return uncacheable("link-inputs-unobserved");
        };
        for f in &deps.prerequisites {
            let p = if f.is_absolute() {
                f.clone()
            } else {
                c.cwd.join(f)
            };
            let Ok(meta) = fs::metadata(&p) else { continue };
            // The toolchain's own libraries (std...) are in rustc's
            // identity, which does not name the directory rustup put them in.
            if sysroot.is_some_and(|s| p.starts_with(s)) || !probed.insert(p.clone()) {
                continue;
            }
            if meta.modified().is_ok_and(|m| m >= started) {
                return uncacheable("modified-during-compile");
            }
            let mapped = map.map_path(&p);
            if mapped.contains('\n') {
                return uncacheable("bad-path");
            }
            let hash = crate::key::hash::hash_file(&p)
                .with_context(|| format!("failed to read {}", p.display()))?;
            obs.files.push((mapped, hex(&hash)));
        }
    }
    for f in obs.files.clone() {
        for alt in module_alternatives(&map.unmap_path(&f.0)) {
            if probed.insert(alt.clone()) {
                obs.probes.push((map.map_path(&alt), alt.is_file()));
            }
        }
    }
    let mut outputs_read: Vec<(String, Vec<u8>)> = Vec::new();
    for (name, path) in &written {
        if *name != dep_name {
            let bytes =
                fs::read(path).with_context(|| format!("failed to read {}", path.display()))?;
            outputs_read.push((name.clone(), bytes));
        }
    }
    for (k, v) in &dep.env {
        let value = match v {
            None => EnvValue::Unset,
            // An escaped value: compared as text it could match another.
            Some(v) if v.contains('\\') => return uncacheable("env-dep-escape"),
            Some(v) => {
                let mapped = map.map(v);
                let in_outputs = || {
                    outputs_read.iter().any(|(_, b)| contains(b, v.as_bytes()))
                        || contains(stdout.as_slice(), v.as_bytes())
                        || stderr_text.contains(v.as_str())
                };
                if mapped != *v && !in_outputs() {
                    EnvValue::Mapped(mapped)
                } else {
                    EnvValue::Raw(v.clone())
                }
            }
        };
        obs.env.push((k.clone(), value));
    }
    if let Some(seen) = &observation {
        let loaded = procmacro::loaded(c, seen)?;
        let debug = crate::env::debug("proc-macros");
        if debug {
            for (p, a) in &seen.paths {
                eprintln!("gocache: observed {a:?} {}", p.display());
            }
        }
        if !loaded.is_empty() {
            if let Some(why) = seen.refusals.iter().next() {
                return uncacheable(why.as_str());
            }
            let zones = procmacro::Zones::new(c, store, rustc, sysroot, &probed);
            let mut memo = FileMemo::empty();
            obs.reads = match procmacro::reads(&zones, seen, map, &mut memo, started) {
                Ok(r) => r,
                Err(why) => return uncacheable(why.as_str()),
            };
            for lib in &loaded {
                let mapped = map.map_path(lib);
                if mapped.contains('\n') {
                    return uncacheable("bad-path");
                }
                let hash = crate::key::hash::hash_file(lib)
                    .with_context(|| format!("failed to read {}", lib.display()))?;
                obs.macros.push((mapped, hex(&hash)));
            }
            let names = procmacro::env_names_now();
            let Some(found) = procmacro::found_names(store, &obs.scanned(map), &names) else {
                return uncacheable("modified-during-compile");
            };
            for k in found {
                let value = match crate::env::var_os(&k) {
                    None => EnvValue::Unset,
                    Some(v) => {
                        // Recorded as text on one line, compared as rustc's
                        // own `env-dep` values are.
                        let Some(v) = v.to_str().filter(|v| !v.contains(['\\', '\n', '\r'])) else {
                            return uncacheable("macro-env-escape");
                        };
                        let mapped = map.map(v);
                        let in_outputs = || {
                            outputs_read.iter().any(|(_, b)| contains(b, v.as_bytes()))
                                || contains(stdout.as_slice(), v.as_bytes())
                                || stderr_text.contains(v)
                        };
                        if mapped != v && !in_outputs() {
                            EnvValue::Mapped(mapped)
                        } else {
                            EnvValue::Raw(v.to_string())
                        }
                    }
                };
                obs.macro_env.push((k, value));
            }
            if debug {
                for (k, p, state) in &obs.reads {
                    eprintln!("gocache: input {k} {state} {p} ({})", c.describe());
                }
                for (k, v) in &obs.macro_env {
                    eprintln!("gocache: macro env {k} {v:?}");
                }
            }
        }
    }
    let final_key = obs.key(&pre_id);
    let final_id = final_key.id();

    let put = |bytes: &[u8]| -> Result<(OutputId, u64)> {
        Ok((store.put_output(bytes)?, bytes.len() as u64))
    };
    let mut outs = Vec::new();
    for (name, bytes) in &outputs_read {
        let meta = fs::metadata(c.out_dir.join(name))?;
        #[cfg(unix)]
        let mode = {
            use std::os::unix::fs::PermissionsExt;
            meta.permissions().mode() & 0o777
        };
        #[cfg(not(unix))]
        let mode = {
            let _ = &meta;
            0o644
        };
        let (id, size) = put(bytes)?;
        outs.push(OutFile {
            id,
            size,
            mode,
            name: name.clone(),
        });
    }
    let (di, ds) = put(map.map(&dep_text).as_bytes())?;
    let record = Record {
        secs,
        stdout: put(&stdout)?,
        stderr: put(map.map(&stderr_text).as_bytes())?,
        depinfo: (di, ds, dep_name),
        outs,
    };
    store.put(&final_id, record.render().as_bytes())?;
    save_manifest(store, &pre_id, obs)?;
    // The key's lines, headed by what they make, for `explain`.
    let package = format!(
        "{}@{}",
        crate::env::var("CARGO_PKG_NAME").unwrap_or_else(|| c.crate_name.clone()),
        crate::env::var("CARGO_PKG_VERSION").unwrap_or_else(|| "0.0.0".into())
    );
    let object = crate::stats::explain::rust_object(
        &package,
        &c.crate_and_kind(),
        &map.map(&c.input.display().to_string()),
    );
    let mut inputs = format!("{}{object}\n", crate::stats::explain::OBJECT_PREFIX);
    inputs.push_str(&pre.record());
    inputs.push_str(&final_key.record());
    store.put_key_inputs(&final_id, &inputs)?;
    crate::stats::explain::note_miss(store, &object, &final_id);
    let mut e = Event::rust(Outcome::Miss, c.describe());
    e.spent_secs = secs;
    e.action = Some(final_id);
    stats::record(store, &e);
    Ok(code)
}

/// rustc's exit code, stdout, stderr and seconds.
type Ran = (i32, Vec<u8>, Vec<u8>, f64);

/// Run rustc (with the relocation flags, and a link's dependency file);
/// stderr passes through as it comes (pipelining) unless this is a link,
/// whose stderr is held until it is known the linker took the option.
fn run_plain(
    rustc: &Path,
    args: &[OsString],
    reloc: &Relocation,
    link_arg: Option<&str>,
) -> Result<Ran> {
    let clock = Instant::now();
    let mut child = Command::new(rustc)
        .args(args)
        .args(&reloc.remap_args)
        .args(link_arg.iter().flat_map(|a| ["-C", a]))
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("failed to run {}", rustc.display()))?;
    let mut child_out = child.stdout.take().expect("piped");
    let child_err = child.stderr.take().expect("piped");
    let out_thread = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = child_out.read_to_end(&mut v);
        v
    });
    let stream = link_arg.is_none();
    let mut kept_err = Vec::new();
    {
        let mut r = BufReader::new(child_err);
        let mut line = Vec::new();
        let stderr = std::io::stderr();
        loop {
            line.clear();
            match r.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if stream {
                        let mut e = stderr.lock();
                        let _ = e.write_all(&line);
                        let _ = e.flush();
                    }
                    kept_err.extend_from_slice(&line);
                }
            }
        }
    }
    let status = child.wait().context("failed to wait for rustc")?;
    let stdout = out_thread.join().unwrap_or_default();
    let secs = clock.elapsed().as_secs_f64();
    Ok((crate::wrapper::exit_code(&status), stdout, kept_err, secs))
}

/// [`run_plain`] under the observer (stdout, and stderr unless this is a
/// link, written through as they come). The inner `Err`: it could not be
/// observed, and nothing ran.
fn run_observed(
    rustc: &Path,
    args: &[OsString],
    reloc: &Relocation,
    link_arg: Option<&str>,
) -> Result<std::result::Result<(Ran, crate::observe::Observation), String>> {
    let mut full: Vec<OsString> = args.to_vec();
    full.extend(reloc.remap_args.iter().map(OsString::from));
    if let Some(a) = link_arg {
        full.push("-C".into());
        full.push(a.into());
    }
    let run = crate::observe::Run {
        program: rustc,
        args: &full,
        own_exe: std::env::current_exe().ok(),
    };
    let clock = Instant::now();
    let observed = if link_arg.is_some() {
        crate::observe::observe_holding_stderr(&run)
    } else {
        crate::observe::observe(&run)
    };
    let (obs, stdout, stderr) = match observed {
        Ok(o) => o,
        Err(why) => return Ok(Err(why.0)),
    };
    let secs = clock.elapsed().as_secs_f64();
    let code = match (obs.code, obs.signal) {
        (Some(c), _) => c,
        (None, sig) => 128 + sig.unwrap_or(9),
    };
    Ok(Ok(((code, stdout, stderr, secs), obs)))
}

/// The files in `--out-dir` named as this crate's outputs.
pub(super) fn list_outputs(c: &RustCompile) -> Vec<(String, PathBuf)> {
    let Ok(rd) = fs::read_dir(&c.out_dir) else {
        return Vec::new();
    };
    let mut v: Vec<(String, PathBuf)> = rd
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| {
            let n = e.file_name().to_str()?.to_string();
            c.is_output_name(&n).then(|| (n, e.path()))
        })
        .collect();
    v.sort();
    v
}

/// Can a link's inputs be learned from the linker? rustc drives it as `cc`
/// (no `-C linker-flavor`, a `-C linker` that is a C compiler driver) for
/// an ELF target, so `-Wl,--dependency-file=FILE` reaches GNU ld (2.35 and
/// later), lld or mold, which write every file they read. Otherwise the
/// link is uncacheable (`link-inputs-unobserved`).
pub(super) fn link_observable(c: &RustCompile, host: &str) -> bool {
    let target = c.target.as_deref().unwrap_or(host);
    let cc_driver = c.linker.as_ref().is_none_or(|l| {
        let n = l.file_name().unwrap_or_default().to_string_lossy();
        ["cc", "gcc", "clang", "c++", "g++"]
            .iter()
            .any(|d| n == *d || n.ends_with(&format!("-{d}")) || n.starts_with(&format!("{d}-")))
    });
    !c.linker_flavor && cc_driver && target.contains("-linux")
}
