//! gocache's main example: a crate whose build compiles a lot of C (zstd and
//! sqlite through their `-sys` crates) and a little C and C++ of its own.
//! The functions below call into all of it, so the test proves the cached
//! objects link and work.

use std::ffi::{c_char, c_int, c_void, CStr, CString};

mod ffi {
    extern "C" {
        pub fn mixed_adler32(data: *const u8, len: usize) -> u32;
        pub fn mixed_sum_squares(values: *const i32, len: usize) -> i64;
        pub fn mixed_count_words(text: *const std::ffi::c_char) -> usize;
    }
}

/// Adler-32 of `data`, computed by the example's own C.
pub fn adler32(data: &[u8]) -> u32 {
    unsafe { ffi::mixed_adler32(data.as_ptr(), data.len()) }
}

/// The sum of the squares of `values`, computed by the example's own C++.
pub fn sum_squares(values: &[i32]) -> i64 {
    unsafe { ffi::mixed_sum_squares(values.as_ptr(), values.len()) }
}

/// The number of whitespace-separated words in `text`, by the example's own C++.
pub fn count_words(text: &str) -> usize {
    let c = CString::new(text).expect("no NUL in text");
    unsafe { ffi::mixed_count_words(c.as_ptr()) }
}

/// Compress `data` with zstd at `level`, through the raw FFI of `zstd-sys`.
pub fn zstd_compress(data: &[u8], level: i32) -> Result<Vec<u8>, String> {
    unsafe {
        let bound = zstd_sys::ZSTD_compressBound(data.len());
        let mut out = vec![0u8; bound];
        let n = zstd_sys::ZSTD_compress(
            out.as_mut_ptr() as *mut c_void,
            out.len(),
            data.as_ptr() as *const c_void,
            data.len(),
            level as c_int,
        );
        zstd_result(n)?;
        out.truncate(n);
        Ok(out)
    }
}

/// Decompress a zstd frame whose content size is recorded in its header.
pub fn zstd_decompress(frame: &[u8]) -> Result<Vec<u8>, String> {
    unsafe {
        let size = zstd_sys::ZSTD_getFrameContentSize(frame.as_ptr() as *const c_void, frame.len());
        // ZSTD_CONTENTSIZE_UNKNOWN and ZSTD_CONTENTSIZE_ERROR are the top two values.
        if size >= u64::MAX - 1 {
            return Err("zstd frame without a known content size".into());
        }
        let mut out = vec![0u8; size as usize];
        let n = zstd_sys::ZSTD_decompress(
            out.as_mut_ptr() as *mut c_void,
            out.len(),
            frame.as_ptr() as *const c_void,
            frame.len(),
        );
        zstd_result(n)?;
        out.truncate(n);
        Ok(out)
    }
}

unsafe fn zstd_result(code: usize) -> Result<usize, String> {
    if zstd_sys::ZSTD_isError(code) != 0 {
        let name = CStr::from_ptr(zstd_sys::ZSTD_getErrorName(code));
        return Err(name.to_string_lossy().into_owned());
    }
    Ok(code)
}

/// The zstd library version, e.g. `1.5.7`.
pub fn zstd_version() -> String {
    unsafe { CStr::from_ptr(zstd_sys::ZSTD_versionString()) }
        .to_string_lossy()
        .into_owned()
}

/// Run `sql` (one statement returning one row of one column) on a fresh
/// in-memory sqlite database and return that value as text.
pub fn sqlite_query_one(setup: &str, sql: &str) -> Result<String, String> {
    use libsqlite3_sys as sq;
    unsafe {
        let mut db: *mut sq::sqlite3 = std::ptr::null_mut();
        let name = CString::new(":memory:").unwrap();
        let rc = sq::sqlite3_open(name.as_ptr(), &mut db);
        if rc != sq::SQLITE_OK {
            sq::sqlite3_close(db);
            return Err(format!("sqlite3_open failed: {rc}"));
        }
        let result = (|| {
            let setup = CString::new(setup).map_err(|e| e.to_string())?;
            let mut err: *mut c_char = std::ptr::null_mut();
            if sq::sqlite3_exec(db, setup.as_ptr(), None, std::ptr::null_mut(), &mut err)
                != sq::SQLITE_OK
            {
                let msg = CStr::from_ptr(err).to_string_lossy().into_owned();
                sq::sqlite3_free(err as *mut c_void);
                return Err(msg);
            }
            let sql = CString::new(sql).map_err(|e| e.to_string())?;
            let mut stmt: *mut sq::sqlite3_stmt = std::ptr::null_mut();
            if sq::sqlite3_prepare_v2(db, sql.as_ptr(), -1, &mut stmt, std::ptr::null_mut())
                != sq::SQLITE_OK
            {
                return Err(CStr::from_ptr(sq::sqlite3_errmsg(db))
                    .to_string_lossy()
                    .into_owned());
            }
            let out = if sq::sqlite3_step(stmt) == sq::SQLITE_ROW {
                let text = sq::sqlite3_column_text(stmt, 0);
                Ok(CStr::from_ptr(text as *const c_char)
                    .to_string_lossy()
                    .into_owned())
            } else {
                Err(CStr::from_ptr(sq::sqlite3_errmsg(db))
                    .to_string_lossy()
                    .into_owned())
            };
            sq::sqlite3_finalize(stmt);
            out
        })();
        sq::sqlite3_close(db);
        result
    }
}

/// The sqlite library version, e.g. `3.50.2`.
pub fn sqlite_version() -> String {
    unsafe { CStr::from_ptr(libsqlite3_sys::sqlite3_libversion()) }
        .to_string_lossy()
        .into_owned()
}
