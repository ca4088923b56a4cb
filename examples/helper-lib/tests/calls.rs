#[test]
fn c_functions() {
    assert_eq!(helper_lib::checksum(b"Wikipedia"), 0x11E6_0398);
    assert_eq!(helper_lib::scale(14), 42);
    assert_eq!(helper_lib::greet("gocache"), "hello, gocache");
}

#[test]
fn cpp_function() {
    assert_eq!(helper_lib::count_words("  the build id\tof an archive "), 6);
}
