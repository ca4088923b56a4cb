//! The store under real use: several processes at once, writers killed
//! mid-write, hand-damaged files, and trimming.
//!
//! Concurrency is tested with processes, not threads, because that is how a
//! build uses the store (many compiler wrappers and build scripts at once)
//! and because a process can be killed with SIGKILL at any instruction. The
//! child processes are this test binary itself, re-run as
//! `<exe> --exact child_process --nocapture` with `GOCACHE_TEST_ROLE` saying
//! what to do, so no extra binary is built or shipped.
//!
//! Every output in these tests is a deterministic function of its key
//! ([`content`]), so any process can tell a right answer from a wrong one.
//! Random choices come from a seed printed by each test; set
//! `GOCACHE_TEST_SEED` to replay one.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cargo_gocache::key::hash::hash_bytes;
use cargo_gocache::store::{Entry, TrimPolicy, ENTRY_SIZE};
use cargo_gocache::{ActionId, KeyHasher, OutputId, Store};

// ---------------------------------------------------------------------------
// Child processes

/// Which role a child plays (`worker`, `writer`, `filler`); unset in the parent.
const ROLE: &str = "GOCACHE_TEST_ROLE";
/// The store directory the child uses.
const STORE: &str = "GOCACHE_TEST_STORE";
/// The child's number among its siblings.
const INDEX: &str = "GOCACHE_TEST_INDEX";
/// The random seed (decimal).
const SEED: &str = "GOCACHE_TEST_SEED";
/// A file whose appearance starts the workers all at once.
const GO_FILE: &str = "GOCACHE_TEST_GO_FILE";

/// Not a test: the body of the child processes the other tests start, run
/// as `<exe> --ignored --exact child_process`. Ignored, so the harness never
/// counts it as a passing test; run without `GOCACHE_TEST_ROLE` (e.g. with
/// `--include-ignored`) it fails rather than pass having done nothing. A
/// role that finishes prints [`CHILD_DONE`], which [`assert_child_ok`]
/// requires: a child that ran no role (a filter that matched nothing) is a
/// failure too.
#[test]
#[ignore = "the child process of the concurrency tests, which run it themselves"]
fn child_process() {
    let Some(role) = std::env::var_os(ROLE) else {
        panic!("child_process is the body of the concurrency tests' children; set {ROLE} (the tests do)");
    };
    match role.to_str() {
        Some("worker") => worker(),
        Some("writer") => writer(),
        Some("filler") => filler(),
        other => panic!("unknown {ROLE} {other:?}"),
    }
    println!("{CHILD_DONE}");
}

/// What a child prints when its role is done.
const CHILD_DONE: &str = "gocache-test-child: done";

fn child_env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} not set"))
}

/// A child process that is killed and reaped if the test fails before
/// waiting for it, so a failed run leaves no writer looping in the background.
struct ChildGuard(Option<Child>);

impl ChildGuard {
    fn get(&mut self) -> &mut Child {
        self.0.as_mut().unwrap()
    }

    fn wait_with_output(mut self) -> Output {
        self.0.take().unwrap().wait_with_output().unwrap()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn spawn_child(
    role: &str,
    store: &Path,
    index: u64,
    seed: u64,
    go_file: Option<&Path>,
) -> ChildGuard {
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = Command::new(exe);
    cmd.args([
        "--ignored",
        "--exact",
        "child_process",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(ROLE, role)
    .env(STORE, store)
    .env(INDEX, index.to_string())
    .env(SEED, seed.to_string())
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    if let Some(go) = go_file {
        cmd.env(GO_FILE, go);
    }
    ChildGuard(Some(cmd.spawn().expect("spawn the test binary as a child")))
}

#[track_caller]
fn assert_child_ok(what: &str, out: &Output) {
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains(CHILD_DONE),
        "{what} failed ({})\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------
// Keys and their outputs

/// The action ID of a test key.
fn action(name: &str) -> ActionId {
    let mut h = KeyHasher::new("store-test");
    h.line(name);
    h.id()
}

/// The output of key `name` as written by writer `variant`: bytes and length
/// both follow from the two, so a reader can check what it got.
fn content(name: &str, variant: u64, max_len: usize) -> Vec<u8> {
    let h = hash_bytes(format!("{name}/{variant}").as_bytes());
    let mut rng = Rng(u64::from_le_bytes(h[..8].try_into().unwrap()));
    // Key `*-0` is empty: the zero-length output is a case of its own.
    let len = if name.ends_with("-0") {
        0
    } else {
        rng.below(max_len as u64 + 1) as usize
    };
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        bytes.extend_from_slice(&rng.next().to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

/// splitmix64: small, seedable, good enough to pick keys and delays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The seed for a test: `GOCACHE_TEST_SEED` or the clock. Printed, so a
/// failing run shows how to replay it.
fn test_seed(test: &str) -> u64 {
    let seed = std::env::var(SEED)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                ^ u64::from(std::process::id())
        });
    eprintln!("{test}: seed {seed} (replay with {SEED}={seed})");
    seed
}

// ---------------------------------------------------------------------------
// Looking at the store's files

/// Every file under the shard directories: (path, name).
fn store_files(root: &Path) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    let Ok(top) = fs::read_dir(root) else {
        return files;
    };
    for shard in top.flatten() {
        if !shard.file_type().unwrap().is_dir() {
            continue;
        }
        for f in fs::read_dir(shard.path()).unwrap().flatten() {
            files.push((f.path(), f.file_name().to_string_lossy().into_owned()));
        }
    }
    files.sort();
    files
}

/// The actions that have an entry file (`-a`), whatever its content.
fn entry_files(root: &Path) -> Vec<ActionId> {
    store_files(root)
        .iter()
        .filter(|(_, name)| !is_temp(name))
        .filter_map(|(_, name)| name.strip_suffix("-a"))
        .map(|hex| ActionId::from_hex(hex).expect("entry named by 64 hex digits"))
        .collect()
}

/// A writer's temporary file (`.tmp-<pid>-...-<final name>`).
fn is_temp(name: &str) -> bool {
    name.starts_with(".tmp-")
}

fn temp_files(root: &Path) -> Vec<PathBuf> {
    store_files(root)
        .into_iter()
        .filter(|(_, name)| is_temp(name))
        .map(|(path, _)| path)
        .collect()
}

fn set_mtime(path: &Path, age: Duration) {
    let when = SystemTime::now() - age;
    File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(when))
        .unwrap_or_else(|e| panic!("set mtime of {}: {e}", path.display()));
}

fn mtime(path: &Path) -> SystemTime {
    fs::metadata(path).unwrap().modified().unwrap()
}

/// Make an action's entry, output and key record look last used `age` ago.
fn age_action(store: &Store, a: &ActionId, age: Duration) {
    let entry = store.get(a).expect("entry to age");
    set_mtime(&store.action_path(a), age);
    set_mtime(&store.output_path(&entry.output), age);
    let record = key_record_path(store, a);
    if record.exists() {
        set_mtime(&record, age);
    }
}

fn key_record_path(store: &Store, a: &ActionId) -> PathBuf {
    let path = store.action_path(a);
    path.with_file_name(format!("{}-k", a.to_hex()))
}

/// What a trim must leave: every entry reads back (its output is present
/// and matches), and every key record has its entry.
#[track_caller]
fn assert_consistent(store: &Store) {
    let entries: HashSet<String> = entry_files(store.root())
        .iter()
        .map(|a| a.to_hex())
        .collect();
    for hex in &entries {
        let a = ActionId::from_hex(hex).unwrap();
        assert!(
            store.get_bytes(&a).is_some(),
            "entry {hex} left by trim does not read back"
        );
    }
    for (_, name) in store_files(store.root()) {
        if let Some(hex) = name.strip_suffix("-k").filter(|_| !is_temp(&name)) {
            assert!(
                entries.contains(hex),
                "key record {name} left without its entry"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// 1. Eight processes at once

const WORKERS: u64 = 8;
const WORKER_OPS: u64 = 1000;
const WORKER_MAX_LEN: usize = 8 << 10;

/// The keys worker `index` uses: some shared by all workers, some its own,
/// and some "racy" ones that every worker writes with different bytes (a
/// compiler that is not deterministic), where a reader must get one
/// writer's bytes whole, never a mix of an entry and another's output.
fn worker_keys(index: u64) -> Vec<(String, bool)> {
    let shared = (0..48).map(|i| (format!("shared-{i}"), false));
    let racy = (0..8).map(|i| (format!("racy-{i}"), true));
    let own = (0..48).map(move |i| (format!("own-{index}-{i}"), false));
    shared.chain(racy).chain(own).collect()
}

/// Is `bytes` a right answer for key `name`?
fn is_right(name: &str, racy: bool, bytes: &[u8]) -> bool {
    let variants = if racy { 0..WORKERS } else { 0..1 };
    variants
        .into_iter()
        .any(|v| bytes == content(name, v, WORKER_MAX_LEN))
}

fn worker() {
    let dir = PathBuf::from(child_env(STORE));
    let index: u64 = child_env(INDEX).parse().unwrap();
    let seed: u64 = child_env(SEED).parse().unwrap();
    let mut rng = Rng(seed ^ index.wrapping_mul(0x1234_5678_9abc_def1));
    let go = PathBuf::from(child_env(GO_FILE));
    let deadline = Instant::now() + Duration::from_secs(120);
    while !go.exists() {
        assert!(Instant::now() < deadline, "the parent never said go");
        std::thread::sleep(Duration::from_millis(1));
    }

    // Opened after "go", so the workers also race to create the store.
    let store = Store::open(&dir).unwrap_or_else(|e| panic!("worker {index}: open: {e}"));
    let keys = worker_keys(index);
    let placed = dir
        .parent()
        .unwrap()
        .join(format!("placed-by-worker-{index}.o"));
    let mut put_by_me = HashSet::new();
    let (mut puts, mut hits, mut misses) = (0u64, 0u64, 0u64);
    for op in 0..WORKER_OPS {
        let (name, racy) = &keys[rng.below(keys.len() as u64) as usize];
        let a = action(name);
        let got = match rng.below(3) {
            0 => {
                let variant = if *racy { index } else { 0 };
                let bytes = content(name, variant, WORKER_MAX_LEN);
                store
                    .put(&a, &bytes)
                    .unwrap_or_else(|e| panic!("worker {index} op {op}: put {name}: {e}"));
                put_by_me.insert(name.clone());
                puts += 1;
                continue;
            }
            1 => store.get_bytes(&a).map(|(_, bytes)| bytes),
            _ => match store.get(&a) {
                Some(entry) => match store.place(&entry, &placed) {
                    Ok(true) => Some(fs::read(&placed).unwrap()),
                    Ok(false) => None,
                    Err(e) => panic!("worker {index} op {op}: place {name}: {e}"),
                },
                None => None,
            },
        };
        match got {
            Some(bytes) => {
                assert!(
                    is_right(name, *racy, &bytes),
                    "worker {index} op {op}: WRONG BYTES for {name} ({} bytes)",
                    bytes.len()
                );
                hits += 1;
            }
            None => {
                // Nothing removes entries here, so a key this worker has
                // stored must stay a hit whatever the others do.
                assert!(
                    !put_by_me.contains(name),
                    "worker {index} op {op}: miss on {name}, which this worker stored"
                );
                misses += 1;
            }
        }
    }
    println!("worker {index}: {puts} puts {hits} hits {misses} misses");
}

#[test]
fn eight_processes_put_and_get_at_once() {
    let seed = test_seed("eight_processes_put_and_get_at_once");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let go = tmp.path().join("go");
    let children: Vec<ChildGuard> = (0..WORKERS)
        .map(|i| spawn_child("worker", &dir, i, seed, Some(&go)))
        .collect();
    fs::write(&go, b"").unwrap();

    let (mut puts, mut hits) = (0, 0);
    for (i, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output();
        assert_child_ok(&format!("worker {i} (seed {seed})"), &out);
        let stdout = String::from_utf8_lossy(&out.stdout);
        // libtest prints `test child_process ... ` before the child's own output.
        let tag = format!("worker {i}:");
        let summary = stdout
            .lines()
            .find_map(|l| l.find(&tag).map(|at| &l[at..]))
            .unwrap_or_else(|| panic!("worker {i} printed no summary:\n{stdout}"));
        eprintln!("{summary}");
        let n: Vec<u64> = summary[tag.len()..]
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        puts += n[0];
        hits += n[1];
    }
    // Guard against a vacuous pass (a store that never hits has no wrong bytes).
    assert!(
        puts > 0 && hits > WORKERS * WORKER_OPS / 10,
        "too few hits: {hits}"
    );

    // Afterwards: every entry is one of ours and reads back right, and no
    // writer left a temporary file behind.
    let store = Store::open(&dir).unwrap();
    let mut known = HashMap::new();
    for i in 0..WORKERS {
        for (name, racy) in worker_keys(i) {
            known.insert(action(&name), (name, racy));
        }
    }
    let entries = entry_files(&dir);
    assert!(!entries.is_empty());
    for a in entries {
        let (name, racy) = known.get(&a).expect("an entry for a key nobody used");
        let (_, bytes) = store
            .get_bytes(&a)
            .unwrap_or_else(|| panic!("entry for {name} does not read back"));
        assert!(is_right(name, *racy, &bytes), "wrong bytes for {name}");
    }
    assert_eq!(temp_files(&dir), Vec::<PathBuf>::new(), "temporaries left");
}

/// Waits for the go file, then puts 256 small outputs into a fresh store.
fn filler() {
    let dir = PathBuf::from(child_env(STORE));
    let index: u64 = child_env(INDEX).parse().unwrap();
    let go = PathBuf::from(child_env(GO_FILE));
    let deadline = Instant::now() + Duration::from_secs(120);
    while !go.exists() {
        assert!(Instant::now() < deadline, "the parent never said go");
        std::thread::sleep(Duration::from_micros(200));
    }
    let store = Store::open(&dir).unwrap_or_else(|e| panic!("filler {index}: open: {e}"));
    for i in 0..256 {
        let name = format!("fill-{index}-{i}");
        store
            .put(&action(&name), name.as_bytes())
            .unwrap_or_else(|e| panic!("filler {index}: put {name}: {e}"));
    }
}

/// Regression: a shard directory is created by the first write into it.
/// A writer that found it missing created it only if it was still missing
/// when it looked again, and otherwise failed the put; so when another
/// process created the directory in between, the put failed with "No such
/// file or directory". Before the fix, this test failed in most runs
/// (usually in its first three rounds).
#[test]
fn eight_processes_fill_a_fresh_store_at_once() {
    for round in 0..6 {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("store");
        let go = tmp.path().join("go");
        let children: Vec<ChildGuard> = (0..WORKERS)
            .map(|i| spawn_child("filler", &dir, i, 0, Some(&go)))
            .collect();
        fs::write(&go, b"").unwrap();
        for (i, child) in children.into_iter().enumerate() {
            assert_child_ok(
                &format!("round {round} filler {i}"),
                &child.wait_with_output(),
            );
        }
        assert_eq!(entry_files(&dir).len(), 8 * 256);
    }
}

// ---------------------------------------------------------------------------
// 2. Writers killed with SIGKILL

const KILLS: u64 = 100;
const KILL_KEYS: u64 = 100;
const KILL_MAX_LEN: usize = 128 << 10;

fn kill_key(i: u64) -> String {
    format!("killed-{i}")
}

/// Puts outputs of up to 128 KiB until killed, so a kill lands mid-write.
fn writer() {
    let dir = PathBuf::from(child_env(STORE));
    let seed: u64 = child_env(SEED).parse().unwrap();
    let mut rng = Rng(seed);
    let store = Store::open(&dir).unwrap();
    println!("ready");
    std::io::stdout().flush().unwrap();
    loop {
        let name = kill_key(rng.below(KILL_KEYS));
        let bytes = content(&name, 0, KILL_MAX_LEN);
        store.put(&action(&name), &bytes).unwrap();
    }
}

#[test]
fn writers_killed_mid_write_leave_no_wrong_entry() {
    let seed = test_seed("writers_killed_mid_write_leave_no_wrong_entry");
    let mut rng = Rng(seed);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    Store::open(&dir).unwrap();

    for round in 0..KILLS {
        let mut child = spawn_child("writer", &dir, round, rng.next(), None);
        // Wait until it writes, then kill it at a random point of its work.
        let mut stdout = BufReader::new(child.get().stdout.take().unwrap());
        let mut line = String::new();
        // libtest prints `test child_process ... ` before the child's own output.
        while !line.contains("ready") {
            line.clear();
            if stdout.read_line(&mut line).unwrap() == 0 {
                let out = child.wait_with_output();
                assert_child_ok(&format!("writer {round}"), &out);
                panic!("writer {round} exited without being killed");
            }
        }
        std::thread::sleep(Duration::from_micros(rng.below(8000)));
        child.get().kill().unwrap(); // SIGKILL on Unix
        child.get().wait().unwrap();
    }

    // Every entry is a miss or exactly the right bytes. Stronger, and what
    // the atomicity argument promises: a killed process cannot tear a
    // rename, so every entry and output that exists is whole.
    let store = Store::open(&dir).unwrap();
    let known: HashMap<ActionId, String> = (0..KILL_KEYS)
        .map(|i| (action(&kill_key(i)), kill_key(i)))
        .collect();
    let entries = entry_files(&dir);
    let (mut hits, mut misses) = (0, 0);
    for a in &entries {
        let name = known.get(a).expect("an entry for a key nobody wrote");
        match store.get_bytes(a) {
            Some((_, bytes)) => {
                assert!(
                    bytes == content(name, 0, KILL_MAX_LEN),
                    "WRONG BYTES for {name}"
                );
                hits += 1;
            }
            None => misses += 1,
        }
    }
    for (path, name) in store_files(&dir) {
        if let Some(hex) = name.strip_suffix("-d").filter(|_| !is_temp(&name)) {
            let bytes = fs::read(&path).unwrap();
            assert_eq!(OutputId::of(&bytes).to_hex(), hex, "torn output {name}");
        }
    }
    let temps = temp_files(&dir);
    eprintln!(
        "{KILLS} kills: {} entries ({hits} hits, {misses} misses), {} temporaries left",
        entries.len(),
        temps.len()
    );
    assert!(hits > 0, "the writers never got to write");
    assert_eq!(misses, 0, "a killed writer left a damaged entry");

    // Temporaries are never read; trim removes them once they are an hour old.
    let fresh = store.trim(&TrimPolicy::default()).unwrap();
    assert_eq!(
        temp_files(&dir).len(),
        temps.len(),
        "trim removed a fresh temporary"
    );
    assert_eq!(fresh.entries, entries.len() as u64);
    for t in &temps {
        set_mtime(t, Duration::from_secs(2 * 3600));
    }
    store.trim(&TrimPolicy::default()).unwrap();
    assert_eq!(temp_files(&dir), Vec::<PathBuf>::new());
    assert_consistent(&store);

    // And the store goes on working.
    for i in 0..KILL_KEYS {
        let name = kill_key(i);
        let bytes = content(&name, 0, KILL_MAX_LEN);
        store.put(&action(&name), &bytes).unwrap();
        assert_eq!(store.get_bytes(&action(&name)).unwrap().1, bytes);
    }
}

// ---------------------------------------------------------------------------
// 3. Damage by hand

fn overwrite(path: &Path, bytes: &[u8]) {
    fs::write(path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

#[test]
fn damaged_entries_read_as_misses_and_the_next_put_repairs_them() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path().join("store")).unwrap();
    let other = action("damage/other");
    let other_bytes = content("damage/other", 0, 4096);
    store.put(&other, &other_bytes).unwrap();

    type Damage = fn(&Store, &ActionId, &Entry);
    let cases: &[(&str, Damage)] = &[
        ("truncated entry", |s, a, _| {
            let line = fs::read(s.action_path(a)).unwrap();
            overwrite(&s.action_path(a), &line[..ENTRY_SIZE / 2]);
        }),
        ("zero-length entry", |s, a, _| {
            overwrite(&s.action_path(a), b"")
        }),
        ("garbage entry", |s, a, _| {
            overwrite(&s.action_path(a), &[b'#'; ENTRY_SIZE])
        }),
        ("entry one byte too long", |s, a, _| {
            let mut line = fs::read(s.action_path(a)).unwrap();
            line.push(b'\n');
            overwrite(&s.action_path(a), &line);
        }),
        ("entry records the wrong size", |s, a, _| {
            // `v1 <action> <output> <size> <time>`: the size is 20 wide at 133.
            let mut line = String::from_utf8(fs::read(s.action_path(a)).unwrap()).unwrap();
            let size: u64 = line[133..153].trim().parse().unwrap();
            line.replace_range(133..153, &format!("{:>20}", size + 1));
            overwrite(&s.action_path(a), line.as_bytes());
        }),
        ("output one byte longer", |s, _, e| {
            let mut bytes = fs::read(s.output_path(&e.output)).unwrap();
            bytes.push(0);
            overwrite(&s.output_path(&e.output), &bytes);
        }),
        ("output truncated", |s, _, e| {
            let bytes = fs::read(s.output_path(&e.output)).unwrap();
            overwrite(&s.output_path(&e.output), &bytes[..bytes.len() / 2]);
        }),
        ("zero-length output", |s, _, e| {
            overwrite(&s.output_path(&e.output), b"")
        }),
        ("output with a flipped bit (wrong hash)", |s, _, e| {
            let mut bytes = fs::read(s.output_path(&e.output)).unwrap();
            bytes[7] ^= 1;
            overwrite(&s.output_path(&e.output), &bytes);
        }),
        ("output missing", |s, _, e| {
            fs::remove_file(s.output_path(&e.output)).unwrap()
        }),
        ("entry filed under the wrong action", |s, a, _| {
            // A valid entry, but another action's: the file name and the
            // line disagree, and serving it would be a wrong result.
            let line = fs::read(s.action_path(&action("damage/other"))).unwrap();
            overwrite(&s.action_path(a), &line);
        }),
    ];

    let placed = tmp.path().join("placed.o");
    for (i, (what, damage)) in cases.iter().enumerate() {
        let name = format!("damage/{i}");
        let a = action(&name);
        let bytes = content(&name, 0, 4096);
        let bytes = if bytes.len() < 8 { vec![1; 100] } else { bytes };
        store.put(&a, &bytes).unwrap();
        let entry = store.get(&a).unwrap();
        damage(&store, &a, &entry);

        assert_eq!(store.get_bytes(&a), None, "{what}: not a miss");
        if let Some(e) = store.get(&a) {
            assert!(!store.place(&e, &placed).unwrap(), "{what}: placed");
        }

        store.put(&a, &bytes).unwrap();
        let (e, got) = store
            .get_bytes(&a)
            .unwrap_or_else(|| panic!("{what}: put did not repair it"));
        assert!(got == bytes, "{what}: wrong bytes after repair");
        assert!(store.place(&e, &placed).unwrap());
        assert!(fs::read(&placed).unwrap() == bytes);
    }
    // The entry that was copied around is untouched.
    assert!(store.get_bytes(&other).unwrap().1 == other_bytes);
}

// ---------------------------------------------------------------------------
// 4. Trimming

const DAY: Duration = Duration::from_secs(24 * 3600);
const HOUR: Duration = Duration::from_secs(3600);

/// Put `n` entries `<prefix>-<i>` with distinct 1000-byte outputs, each
/// with a key record of the size a real one has: a line per header read,
/// so often larger than the object file itself.
fn put_entries(store: &Store, prefix: &str, n: usize) -> Vec<ActionId> {
    (0..n)
        .map(|i| {
            let name = format!("{prefix}-{i:03}");
            let a = action(&name);
            let mut bytes = vec![i as u8; 1000];
            bytes[..name.len()].copy_from_slice(name.as_bytes());
            store.put(&a, &bytes).unwrap();
            let mut record = format!("name {name}\n");
            for h in 0..20 {
                let hash = OutputId::of(format!("{name}/{h}").as_bytes());
                record.push_str(&format!("header /usr/include/h{h:02}.h {hash}\n"));
            }
            store.put_key_inputs(&a, &record).unwrap();
            a
        })
        .collect()
}

fn live(store: &Store, actions: &[ActionId]) -> Vec<usize> {
    (0..actions.len())
        .filter(|&i| store.get_bytes(&actions[i]).is_some())
        .collect()
}

#[test]
fn trim_by_age_removes_entries_unused_for_longer_than_max_age() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path().join("store")).unwrap();
    let actions = put_entries(&store, "age", 10);
    for (i, a) in actions.iter().enumerate() {
        age_action(&store, a, DAY * i as u32 + HOUR);
    }
    // A key record whose entry never got written (its writer died).
    store
        .put_key_inputs(&action("orphan"), "name orphan\n")
        .unwrap();

    let policy = TrimPolicy {
        max_age: DAY * 9 / 2,
        max_size: u64::MAX,
    };
    let report = store.trim(&policy).unwrap();
    assert_consistent(&store);
    assert_eq!(report.entries, 5);
    assert_eq!(entry_files(store.root()).len(), 5);
    // Checked after the trim's own reads: `live` refreshes mtimes.
    assert_eq!(live(&store, &actions), vec![0, 1, 2, 3, 4]);
    assert!(!key_record_path(&store, &action("orphan")).exists());
}

/// Regression: trim read every entry it kept through `Store::get`, which
/// refreshes the mtime of an entry older than an hour, so each trim marked
/// every surviving entry as just used: with the daily automatic trim,
/// nothing would ever grow old enough to expire, and LRU order was lost.
#[test]
fn trim_is_not_a_use() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path().join("store")).unwrap();
    let actions = put_entries(&store, "notuse", 3);
    for a in &actions {
        age_action(&store, a, 2 * DAY);
    }
    let before: Vec<SystemTime> = actions
        .iter()
        .map(|a| mtime(&store.action_path(a)))
        .collect();
    store.trim(&TrimPolicy::default()).unwrap();
    let after: Vec<SystemTime> = actions
        .iter()
        .map(|a| mtime(&store.action_path(a)))
        .collect();
    assert_eq!(before, after);

    // So a second trim, later, still sees them as two days old.
    let report = store
        .trim(&TrimPolicy {
            max_age: DAY,
            max_size: u64::MAX,
        })
        .unwrap();
    assert_eq!(report.entries, 0);
    assert_consistent(&store);
}

#[test]
fn an_output_shared_with_a_live_entry_outlives_an_expired_one() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path().join("store")).unwrap();
    let (old, new) = (action("shared/old"), action("shared/new"));
    store.put(&old, b"same object code").unwrap();
    store.put(&new, b"same object code").unwrap();
    age_action(&store, &old, 10 * DAY);
    store.get_bytes(&new).unwrap(); // a hit marks the shared output used
    let report = store.trim(&TrimPolicy::default()).unwrap();
    assert_eq!(report.entries, 1);
    assert_eq!(store.get(&old), None);
    assert_eq!(store.get_bytes(&new).unwrap().1, b"same object code");
    assert_consistent(&store);
}

#[test]
fn an_entry_whose_output_expired_goes_with_it() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path().join("store")).unwrap();
    let a = action("orphaned-entry");
    let id = store.put(&a, b"object").unwrap();
    store.put_key_inputs(&a, "name orphaned-entry\n").unwrap();
    set_mtime(&store.output_path(&id), 10 * DAY);
    let report = store.trim(&TrimPolicy::default()).unwrap();
    assert_eq!(report.entries, 0);
    assert!(!store.action_path(&a).exists());
    assert!(!key_record_path(&store, &a).exists());
    assert_consistent(&store);
}

/// Bytes on disk of one `put_entries` entry: entry, output and key record.
/// (Reads the entry with `get`, so call it before aging entries.)
fn entry_footprint(store: &Store, a: &ActionId) -> u64 {
    let e = store.get(a).unwrap();
    [
        store.action_path(a),
        store.output_path(&e.output),
        key_record_path(store, a),
    ]
    .iter()
    .map(|p| fs::metadata(p).unwrap().len())
    .sum()
}

/// Also a regression test: the size pass counted the key records of the
/// entries it had removed as still kept, so with key records larger than
/// the outputs (as real ones are) it removed every entry.
#[test]
fn trim_by_size_removes_least_recently_used_first() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path().join("store")).unwrap();
    let actions = put_entries(&store, "size", 10);
    let unit = entry_footprint(&store, &actions[0]);
    assert!(actions.iter().all(|a| entry_footprint(&store, a) == unit));
    // Entry i was last used i hours ago (plus two, all beyond MTIME_INTERVAL).
    for (i, a) in actions.iter().enumerate() {
        age_action(&store, a, HOUR * (i as u32 + 2));
    }
    // Room for four entries and most of a fifth.
    let max_size = 4 * unit + unit * 3 / 4;
    let report = store
        .trim(&TrimPolicy {
            max_age: DAY * 365,
            max_size,
        })
        .unwrap();
    assert_consistent(&store);
    assert!(report.bytes <= max_size, "{report:?}");
    assert_eq!(report.entries, 4, "{report:?}");
    assert_eq!(store.usage().unwrap().bytes, report.bytes);
    assert_eq!(live(&store, &actions), vec![0, 1, 2, 3]);
}

#[test]
fn a_hit_makes_an_entry_recently_used() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path().join("store")).unwrap();
    let actions = put_entries(&store, "lru", 3);
    let unit = entry_footprint(&store, &actions[0]);
    age_action(&store, &actions[0], 30 * HOUR);
    age_action(&store, &actions[1], 20 * HOUR);
    age_action(&store, &actions[2], 10 * HOUR);
    // Reading the oldest refreshes it (it is older than MTIME_INTERVAL) ...
    store.get_bytes(&actions[0]).unwrap();
    assert!(mtime(&store.action_path(&actions[0])) > SystemTime::now() - HOUR);
    // ... so a trim to two entries removes the next oldest instead.
    store
        .trim(&TrimPolicy {
            max_age: DAY * 365,
            max_size: 2 * unit,
        })
        .unwrap();
    assert_consistent(&store);
    assert_eq!(live(&store, &actions), vec![0, 2]);
}

#[test]
fn maybe_trim_runs_at_most_once_a_day() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path().join("store")).unwrap();
    let stamp = store.root().join("trim.txt");
    let old = put_entries(&store, "daily", 1)[0];
    age_action(&store, &old, 10 * DAY);
    let policy = TrimPolicy::default();

    // Never trimmed: trims now and records when.
    let report = store.maybe_trim(&policy).unwrap().expect("first trim runs");
    assert_eq!(report.entries, 0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let recorded: u64 = fs::read_to_string(&stamp).unwrap().trim().parse().unwrap();
    assert!(
        recorded.abs_diff(now) < 3600,
        "trim.txt says {recorded}, now is {now}"
    );

    // Within the day: does nothing, even with something to trim.
    let old = put_entries(&store, "daily-2", 1)[0];
    age_action(&store, &old, 10 * DAY);
    assert_eq!(store.maybe_trim(&policy).unwrap(), None);
    assert!(store.get(&old).is_some());

    // A day later: trims again.
    fs::write(&stamp, format!("{}\n", now - 25 * 3600)).unwrap();
    assert!(store.maybe_trim(&policy).unwrap().is_some());
    assert!(store.get(&old).is_none());
    assert_eq!(store.maybe_trim(&policy).unwrap(), None);

    // An unreadable stamp counts as never.
    fs::write(&stamp, "garbage").unwrap();
    assert!(store.maybe_trim(&policy).unwrap().is_some());
    assert_consistent(&store);
}
