//! Direct mode: finding a result without running the tool, from what the
//! tool itself said it read (ccache's "direct mode").
//!
//! On a miss the wrapper learns the headers a compile read from the
//! compiler's depfile ([`depfile`]), stores them per pre-key in a
//! [`manifest`], and stamps every input before and after the compile
//! ([`stamp`]) so that a file replaced during the run is never stored under
//! its new content. A lookup that finds nothing says why ([`lookup`]).

pub mod depfile;
pub mod lookup;
pub mod manifest;
pub mod scan;
pub mod stamp;
