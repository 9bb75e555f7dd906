//! Timing of the secret-key comparison (issue 6): does the time depend on where a presented
//! key differs from the secret key?
//!
//! In the same run, for a 40-byte key and a 4 KiB key (the long one makes any dependence
//! large enough to see):
//! - `secret_key_matches`: the service's comparison (SHA-256 of both, digests compared with
//!   `subtle`'s constant-time equality);
//! - `slice ==`: plain byte-slice equality, which stops at the first differing byte: the
//!   positive control, showing that the benchmark can see a position dependence.
//!
//! Each with a presented key that differs in the first byte, in the last byte, and that is
//! equal. Report: the ratio last-byte / first-byte time per comparison (1.0 = independent of
//! the position). Run: `cargo bench --features http --bench secret_compare`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use metamerge::http::secret_key_matches;

fn keys(len: usize) -> (Vec<u8>, [(&'static str, Vec<u8>); 3]) {
    let secret: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
    let mut first = secret.clone();
    first[0] = b'#';
    let mut last = secret.clone();
    *last.last_mut().unwrap() = b'#';
    let equal = secret.clone();
    (
        secret,
        [
            ("differs_first", first),
            ("differs_last", last),
            ("equal", equal),
        ],
    )
}

fn compare(c: &mut Criterion) {
    for len in [40usize, 4096] {
        let (secret, presented) = keys(len);
        let mut group = c.benchmark_group(format!("secret_compare/{len}B"));
        for (name, key) in &presented {
            group.bench_with_input(
                BenchmarkId::new("secret_key_matches", name),
                key,
                |b, key| b.iter(|| secret_key_matches(black_box(&secret), black_box(key))),
            );
            group.bench_with_input(BenchmarkId::new("slice ==", name), key, |b, key| {
                b.iter(|| black_box(secret.as_slice()) == black_box(key.as_slice()))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, compare);
criterion_main!(benches);
