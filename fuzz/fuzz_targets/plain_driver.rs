//! The stable-Rust driver shared by every fuzz target: replays a corpus, then mutates it
//! (bit flips, byte edits, insertions, deletions, truncation, splices, duplicated chunks) until
//! the time runs out, saving every input that panics under `fuzz/artifacts/<target>/`.
//! Usage: `<target> [--time SECS] [--seed N] [--out DIR] CORPUS_DIR_OR_FILE...`.
#![allow(dead_code)]
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }
}

fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = v.len();
        match rng.below(10) {
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                v[i] = rng.next() as u8;
            }
            2 => {
                let i = rng.below(len + 1);
                v.insert(i, rng.next() as u8);
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below(16.min(len - i));
                v.drain(i..i + n);
            }
            4 if len > 0 => v.truncate(rng.below(len)),
            5 if len > 0 => {
                // Interesting values where a varint or length might be.
                let i = rng.below(len);
                let vals = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x0a, 0x12, 0x3a];
                v[i] = vals[rng.below(vals.len())];
            }
            6 if len > 0 => {
                // A long varint (a huge length or dim).
                let i = rng.below(len);
                let huge = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
                let n = 1 + rng.below(huge.len());
                v.splice(i..i, huge[..n].iter().copied());
            }
            8 if len >= 4 => {
                // A 32-bit little-endian offset, length or index (flatbuffers, headers).
                let i = rng.below(len - 3) & !3;
                let vals = [0u32, 1, 0x7fff_ffff, 0xffff_ffff, len as u32, (len as u32).wrapping_add(4)];
                v[i..i + 4].copy_from_slice(&vals[rng.below(vals.len())].to_le_bytes());
            }
            7 if !other.is_empty() => {
                // Splice part of another input.
                let a = rng.below(other.len());
                let b = a + rng.below(other.len() - a + 1);
                let i = rng.below(len + 1);
                v.splice(i..i, other[a..b].iter().copied());
            }
            _ if len > 1 => {
                // Duplicate a chunk (repeated fields, nested messages).
                let a = rng.below(len);
                let b = a + rng.below((len - a).min(64) + 1);
                let chunk = v[a..b].to_vec();
                let i = rng.below(len + 1);
                v.splice(i..i, chunk);
            }
            _ => {}
        }
    }
    v
}

fn collect(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_dir() {
        if let Ok(rd) = std::fs::read_dir(p) {
            let mut es: Vec<_> = rd.flatten().map(|e| e.path()).collect();
            es.sort();
            for e in es {
                collect(&e, out);
            }
        }
    } else if p.is_file() {
        out.push(p.to_path_buf());
    }
}

fn check(run_one: fn(&[u8]), data: &[u8], out: &Path, stats: &mut (u64, u64)) {
    stats.0 += 1;
    let d = data.to_vec();
    if std::panic::catch_unwind(move || run_one(&d)).is_err() {
        stats.1 += 1;
        let _ = std::fs::create_dir_all(out);
        let mut h = 0xcbf2_9ce4_8422_2325u64;
        for &b in data {
            h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
        }
        let p = out.join(format!("crash-{h:016x}"));
        let _ = std::fs::write(&p, data);
        eprintln!("PANIC saved to {}", p.display());
    }
}

pub fn main(name: &str, run_one: fn(&[u8])) {
    let mut time = 60u64;
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut out = PathBuf::from(format!("fuzz/artifacts/{name}"));
    let mut paths = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--time" => time = args.next().and_then(|s| s.parse().ok()).unwrap_or(time),
            "--seed" => seed = args.next().and_then(|s| s.parse().ok()).unwrap_or(seed),
            "--out" => out = args.next().map(PathBuf::from).unwrap_or(out),
            _ => collect(Path::new(&a), &mut paths),
        }
    }
    let corpus: Vec<Vec<u8>> = paths.iter().filter_map(|p| std::fs::read(p).ok()).collect();
    std::panic::set_hook(Box::new(|info| eprintln!("{info}")));
    let mut stats = (0u64, 0u64);
    for c in &corpus {
        check(run_one, c, &out, &mut stats);
    }
    eprintln!("replayed {} corpus files, {} panics", corpus.len(), stats.1);
    if corpus.is_empty() {
        return;
    }
    let mut rng = Rng(seed | 1);
    let start = Instant::now();
    let end = Duration::from_secs(time);
    while start.elapsed() < end {
        let a = &corpus[rng.below(corpus.len())];
        let b = &corpus[rng.below(corpus.len())];
        let m = mutate(&mut rng, a, b);
        check(run_one, &m, &out, &mut stats);
    }
    eprintln!("{} executions in {:.0?}, {} panics", stats.0, start.elapsed(), stats.1);
    if stats.1 > 0 {
        std::process::exit(1);
    }
}
