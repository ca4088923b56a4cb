//! `cargo gocache config`: each effective setting and where it came from.

use crate::config::Config;

/// Print `config`'s rows.
pub fn run(config: &Config) {
    println!(
        "# each source overrides the ones before it: default, user file, Cargo.toml, environment"
    );
    for (key, value, source) in config.rows() {
        println!("{key:<17} = {value:<40} # {source}");
    }
}
