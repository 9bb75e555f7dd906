//! The clock shared by the benchmarks: CPU time of the benchmarking thread
//! (`CLOCK_THREAD_CPUTIME_ID`, through the `cpu-time` crate), so that on a shared machine the
//! time the thread spends descheduled while other processes run is not charged to whichever
//! line happened to be running. Reading it is a system call, so it suits batches of inputs
//! timed together, not single sub-microsecond routines.

use std::time::Duration;

use cpu_time::ThreadTime;
use criterion::measurement::{Measurement, ValueFormatter, WallTime};

/// Criterion measurement: CPU time consumed by the benchmarking thread, in nanoseconds,
/// displayed like wall time.
pub struct ThreadCpuTime {
    wall: WallTime,
}

impl Default for ThreadCpuTime {
    fn default() -> Self {
        ThreadCpuTime { wall: WallTime }
    }
}

impl Measurement for ThreadCpuTime {
    type Intermediate = ThreadTime;
    type Value = Duration;

    fn start(&self) -> ThreadTime {
        ThreadTime::now()
    }
    fn end(&self, start: ThreadTime) -> Duration {
        start.elapsed()
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        self.wall.formatter()
    }
}
