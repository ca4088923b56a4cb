//! Calls into each native library of the corpus and prints what it computed.
//!
//! The output depends only on the inputs and the library versions in `Cargo.lock`, never on
//! the machine or the time, so the corpus test can compare the output of the binary built by
//! `cargo build` with the one built by `cargo gocache build` byte for byte.

use std::ffi::CStr;
use std::os::raw::c_int;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const INPUT: &[u8] = b"hello\n";

fn main() {
    // openssl-src: perlasm assembly (sha256) + C, archived by make through `$(AR)`.
    let mut md = [0u8; 32];
    unsafe { openssl_sys::SHA256(INPUT.as_ptr(), INPUT.len(), md.as_mut_ptr()) };
    println!("openssl {:x} sha256 {}", unsafe { openssl_sys::OpenSSL_version_num() }, hex(&md));

    // ring: pregenerated assembly + C through cc.
    let d = ring::digest::digest(&ring::digest::SHA256, INPUT);
    println!("ring sha256 {}", hex(d.as_ref()));

    // libz-ng-sys: CMake.
    let crc = unsafe { libz_ng_sys::crc32(0, INPUT.as_ptr(), INPUT.len() as _) };
    let version = unsafe { CStr::from_ptr(libz_ng_sys::zlibVersion()) };
    println!("zlib-ng {} crc32 {crc:08x}", version.to_string_lossy());

    // libgit2-sys: cc, many sources, and libz-sys.
    let (mut major, mut minor, mut rev): (c_int, c_int, c_int) = (0, 0, 0);
    let mut oid = libgit2_sys::git_oid { id: [0; 20] };
    unsafe {
        libgit2_sys::git_libgit2_version(&mut major, &mut minor, &mut rev);
        libgit2_sys::git_odb_hash(
            &mut oid,
            INPUT.as_ptr().cast(),
            INPUT.len(),
            libgit2_sys::GIT_OBJECT_BLOB,
        );
    }
    println!("libgit2 {major}.{minor}.{rev} blob {}", hex(&oid.id));

    // tikv-jemalloc-sys: autotools (configure + make).
    unsafe {
        let p = tikv_jemalloc_sys::malloc(100);
        let usable = tikv_jemalloc_sys::malloc_usable_size(p);
        tikv_jemalloc_sys::free(p);
        println!("jemalloc usable(100) {usable}");
    }

    // libmimalloc-sys: one static.c at -O3.
    unsafe {
        let p = libmimalloc_sys::mi_malloc(100);
        let usable = libmimalloc_sys::mi_usable_size(p);
        libmimalloc_sys::mi_free(p);
        println!("mimalloc {} usable(100) {usable}", libmimalloc_sys::mi_version());
    }

    // cxx: C++ (cxx.cc) through cc's `cpp(true)`.
    cxx::let_cxx_string!(s = "hello from C++");
    println!("cxx len {} {}", s.len(), s.to_string_lossy());
}
