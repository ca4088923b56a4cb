//! Safe wrappers over the C and C++ compiled (and cached) by `build.rs`.

use std::ffi::{c_char, CStr, CString};

mod ffi {
    use std::ffi::c_char;
    extern "C" {
        pub fn helper_checksum(data: *const u8, len: usize) -> u32;
        pub fn helper_scale(x: i32) -> i32;
        pub fn helper_greet(out: *mut c_char, cap: usize, name: *const c_char) -> usize;
        pub fn helper_count_words(text: *const c_char) -> usize;
    }
}

/// Adler-32 of `data` (C).
pub fn checksum(data: &[u8]) -> u32 {
    unsafe { ffi::helper_checksum(data.as_ptr(), data.len()) }
}

/// `x` times the scale defined in `include/helper.h` (C).
pub fn scale(x: i32) -> i32 {
    unsafe { ffi::helper_scale(x) }
}

/// `hello, NAME` (C, through `snprintf`).
pub fn greet(name: &str) -> String {
    let name = CString::new(name).expect("no NUL in name");
    let mut buf = vec![0 as c_char; 64];
    unsafe { ffi::helper_greet(buf.as_mut_ptr(), buf.len(), name.as_ptr()) };
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

/// Number of whitespace-separated words (C++, with `std::istringstream`).
pub fn count_words(text: &str) -> usize {
    let text = CString::new(text).expect("no NUL in text");
    unsafe { ffi::helper_count_words(text.as_ptr()) }
}
