//! `cargo gocache buildid`: print archives' build IDs, like `go tool buildid`.

/// `buildid`: print each archive's build ID; 1 if any file has none.
pub fn run(verbose: bool, files: &[std::path::PathBuf]) -> i32 {
    let mut code = 0;
    for file in files {
        match crate::archive::read_build_info(file) {
            Ok(info) => {
                if files.len() > 1 {
                    println!("{}: {}", file.display(), info.id);
                } else {
                    println!("{}", info.id);
                }
                if verbose {
                    for source in &info.sources {
                        println!("  {source}");
                    }
                }
            }
            Err(e) => {
                // The message names the file.
                eprintln!("error: {e}");
                code = 1;
            }
        }
    }
    code
}
