//! A steady allocator for the benchmarks: glibc's `malloc` with its heap trimming and its
//! adaptive `mmap` threshold turned off, set through `GLIBC_TUNABLES` before the process starts.
//!
//! Why: by default glibc gives the top of its heap back to the kernel whenever more than
//! `M_TRIM_THRESHOLD` (128 KiB, adapting upwards) is free there, and serves large blocks with
//! fresh `mmap`s until a first one is freed. Whether a batch's drop happens to trim depends on
//! the heap's layout, and the page faults that follow are charged to whatever allocates next,
//! often the timed routine: in one measurement of the 99 KiB array patch the `merge_slice` line
//! took 82,509 minor page faults where parse-then-merge took 5,608 for the same work, and
//! which line paid flipped from run to run. With trimming off and a fixed threshold every line
//! pays for the first touch of its memory only. Every line of every group runs in the same
//! process, under the same setting.
//!
//! Set `METAMERGE_BENCH_DEFAULT_MALLOC=1` to measure with glibc's defaults instead; an
//! explicit `GLIBC_TUNABLES` is left alone.

use std::env;
use std::process::{self, Command};

/// What the benchmarks run under: no trimming, and blocks under 32 MiB (glibc's largest
/// threshold) always from the heap.
const TUNABLES: &str =
    "glibc.malloc.trim_threshold=4294967296:glibc.malloc.mmap_threshold=33554432";

/// Runs this benchmark again, with the same arguments, under [`TUNABLES`], and exits with its
/// status; returns when it already runs under them (or was told not to).
pub fn steady_or_reexec() {
    if env::var_os("GLIBC_TUNABLES").is_some()
        || env::var_os("METAMERGE_BENCH_DEFAULT_MALLOC").is_some()
    {
        return;
    }
    let exe = env::current_exe().expect("the path of this benchmark binary");
    let status = Command::new(exe)
        .args(env::args_os().skip(1))
        .env("GLIBC_TUNABLES", TUNABLES)
        .status()
        .expect("the benchmark binary runs again under GLIBC_TUNABLES");
    process::exit(status.code().unwrap_or(1));
}
