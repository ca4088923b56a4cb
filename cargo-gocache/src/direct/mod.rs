//! Direct mode: finding a result without running the tool, from what the
//! tool itself said it read (ccache's "direct mode").
//!
//! On a miss the wrapper learns the headers a compile read from the
//! compiler's depfile ([`depfile`]), stores them per pre-key in a
//! [`manifest`], and stamps every input before and after the compile
//! ([`stamp`]) so that a file replaced during the run is never stored under
//! its new content. What a miss read of each header is remembered across
//! compiles by the header's stamp ([`factmemo`]). A lookup that finds nothing says why ([`lookup`]).

pub mod depfile;
#[cfg(unix)]
pub mod factmemo;
pub mod lookup;
pub mod manifest;
pub mod scan;
pub mod stamp;
