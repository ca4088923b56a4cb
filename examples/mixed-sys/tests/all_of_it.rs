//! Calls into every native library of the example: if a cached object were
//! wrong or missing, linking or one of these results would fail.

#[test]
fn own_c_and_cpp() {
    // Adler-32 of "Wikipedia" is the textbook example.
    assert_eq!(mixed_sys::adler32(b"Wikipedia"), 0x11E6_0398);
    assert_eq!(mixed_sys::sum_squares(&[1, 2, 3, -4]), 30);
    assert_eq!(mixed_sys::count_words("  cached objects\tare  fast\n"), 4);
}

#[test]
fn zstd_round_trip() {
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let frame = mixed_sys::zstd_compress(&data, 19).unwrap();
    assert!(frame.len() < data.len() / 10, "{} bytes", frame.len());
    assert_eq!(mixed_sys::zstd_decompress(&frame).unwrap(), data);
    assert!(mixed_sys::zstd_version().starts_with("1.5."));
}

#[test]
fn sqlite_in_memory() {
    let total = mixed_sys::sqlite_query_one(
        "CREATE TABLE t(x INTEGER); INSERT INTO t VALUES (1), (2), (39);",
        "SELECT sum(x) || ':' || count(*) FROM t",
    )
    .unwrap();
    assert_eq!(total, "42:3");
    assert!(mixed_sys::sqlite_version().starts_with('3'));
    assert!(mixed_sys::sqlite_query_one("", "SELECT nope FROM nowhere").is_err());
}
