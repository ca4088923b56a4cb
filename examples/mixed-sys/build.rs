//! Plain `cc`, as most crates with C of their own use it: nothing here knows
//! about gocache. `cargo gocache build` caches these compiles through the
//! compiler wrapper it puts in `CC`/`CXX`.

fn main() {
    println!("cargo:rerun-if-changed=csrc");

    cc::Build::new()
        .file("csrc/checksum.c")
        .include("csrc")
        .warnings(true)
        .compile("mixed_c");

    cc::Build::new()
        .cpp(true)
        .std("c++17")
        .file("csrc/words.cpp")
        .include("csrc")
        .warnings(true)
        .compile("mixed_cpp");
}
