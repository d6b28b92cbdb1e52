//! Hostile files: pickles naming os.system / posix.system / builtins.eval, a __reduce__ gadget,
//! a zip entry named `../x`, a storage larger than its record — each refused with a message that
//! names the problem, and the canary files the payloads would create never appear. Plus
//! truncated and corrupted zips and pickles: errors, never panics.

mod common;
use common::*;
use edgeport_ir::Bytes;
use edgeport_pytorch::{load_weights, pickle, zip::Archive};

fn refused(file: &str, canary: &str, needle: &str) {
    let c = format!("/tmp/edgeport_pytorch_canary_{canary}");
    let _ = std::fs::remove_file(&c);
    let e = load_weights(&fixture(file)).expect_err(file).to_string();
    assert!(e.contains(needle), "{file}: message {e:?} lacks {needle:?}");
    assert!(!std::path::Path::new(&c).exists(), "{file}: canary {c} exists: the payload ran");
}

#[test]
fn os_system_global_is_refused() {
    refused("evil_os_system.pt", "os_system", "GLOBAL os.system is not allowed");
}
#[test]
fn posix_system_global_is_refused() {
    refused("evil_posix_system.pt", "posix_system", "GLOBAL posix.system is not allowed");
}
#[test]
fn builtins_eval_global_is_refused() {
    refused("evil_builtins_eval.pt", "eval", "GLOBAL builtins.eval is not allowed");
}
#[test]
fn reduce_gadget_is_refused() {
    refused("evil_reduce_gadget.pt", "reduce", "GLOBAL posix.system is not allowed");
    let b = std::fs::read(fixture("evil_reduce_gadget.pkl")).unwrap();
    let e = pickle::load("gadget.pkl", &b, &Default::default()).unwrap_err().to_string();
    assert!(e.contains("posix.system is not allowed"), "{e}");
}
#[test]
fn dotdot_entry_is_refused() {
    let e = load_weights(&fixture("evil_dotdot.pt")).unwrap_err().to_string();
    assert!(e.contains("'..'") && e.contains("../x"), "{e}");
}
#[test]
fn storage_larger_than_its_record_is_refused() {
    let e = load_weights(&fixture("evil_storage_size.pt")).unwrap_err().to_string();
    assert!(e.contains("declares 4000000 elements") && e.contains("holds only 16 bytes"), "{e}");
}

#[test]
fn truncated_zips_are_errors() {
    let full = std::fs::read(fixture("sd_dtypes.pt")).unwrap();
    for cut in [0, 10, 21, 22, 100, full.len() / 2, full.len() - 23, full.len() - 1] {
        let b = Bytes::from_vec(full[..cut].to_vec());
        let r = Archive::parse("t.pt", b.clone()).and_then(|a| edgeport_pytorch::torch_save::tensors_from_zip(&a, &Default::default()));
        assert!(r.is_err(), "cut at {cut} was accepted");
        assert!(edgeport_pytorch::torch_save::load_tensors("t.pt", b).is_err());
    }
}

#[test]
fn wrong_central_directory_is_an_error() {
    let orig = std::fs::read(fixture("sd_dtypes.pt")).unwrap();
    let n = orig.len();
    let find = |sig: [u8; 4]| (0..n - 3).rev().find(|&i| orig[i..i + 4] == sig);
    let eocd = find([0x50, 0x4b, 0x05, 0x06]).unwrap();
    // torch writes a ZIP64 end record too; its offset is the one that counts.
    let z64 = find([0x50, 0x4b, 0x06, 0x06]);
    let cd = match z64 {
        Some(r) => u64::from_le_bytes(orig[r + 48..r + 56].try_into().unwrap()) as usize,
        None => u32::from_le_bytes(orig[eocd + 16..eocd + 20].try_into().unwrap()) as usize,
    };
    // Point the central directory offset past the end.
    let mut b = orig.clone();
    b[eocd + 16..eocd + 20].copy_from_slice(&(n as u32).to_le_bytes());
    if let Some(r) = z64 {
        b[r + 48..r + 56].copy_from_slice(&(n as u64).to_le_bytes());
    }
    let e = Archive::parse("bad.pt", Bytes::from_vec(b)).err().unwrap().to_string();
    assert!(e.contains("central directory"), "{e}");
    // Corrupt the first central header's signature instead.
    let mut c = orig.clone();
    c[cd] = b'X';
    let e = Archive::parse("bad.pt", Bytes::from_vec(c)).err().unwrap().to_string();
    assert!(e.contains("wrong central directory"), "{e}");
    // A central directory whose entry points at a local header that is not there.
    let mut d = orig.clone();
    d[cd + 42..cd + 46].copy_from_slice(&7u32.to_le_bytes());
    let e = Archive::parse("bad.pt", Bytes::from_vec(d)).err().unwrap().to_string();
    assert!(e.contains("no local file header"), "{e}");
}

#[test]
fn pickle_ending_mid_opcode_is_an_error() {
    let ar = Archive::parse("sd", Bytes::from_vec(std::fs::read(fixture("sd_dtypes.pt")).unwrap())).unwrap();
    let root = ar.root();
    let pkl = ar.read(&format!("{root}data.pkl")).unwrap();
    for cut in 1..pkl.len() - 1 {
        assert!(pickle::load("p", &pkl[..cut], &Default::default()).is_err(), "cut {cut}");
    }
    let e = pickle::load("p", &pkl[..pkl.len() / 2], &Default::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("pickle at byte"), "{e}");
}

#[test]
fn memo_index_out_of_range_is_an_error() {
    // PROTO 2, BINGET 7, STOP
    let e = pickle::load("m", b"\x80\x02h\x07.", &Default::default()).unwrap_err().to_string();
    assert!(e.contains("memo index 7 was never stored"), "{e}");
    let e = pickle::load("m", b"\x80\x02j\xff\xff\xff\xff.", &Default::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("memo index 4294967295"), "{e}");
}

#[test]
fn deep_nesting_is_bounded() {
    // 100000 x EMPTY_LIST... then APPEND each into the previous: depth grows by one each time.
    let mut p = vec![0x80, 2];
    p.extend(std::iter::repeat_n(b']', 2000));
    p.extend(std::iter::repeat_n(b'a', 1999));
    p.push(b'.');
    let e = pickle::load("deep", &p, &Default::default()).unwrap_err().to_string();
    assert!(e.contains("nested deeper than"), "{e}");
    // Tuples wrapped one in another.
    let mut t = vec![0x80, 2, b'N'];
    t.extend(std::iter::repeat_n(0x85u8, 100_000));
    t.push(b'.');
    let e = pickle::load("deep", &t, &Default::default()).unwrap_err().to_string();
    assert!(e.contains("nested deeper than"), "{e}");
    // MARKs without end.
    let m = vec![b'('; 100_000];
    assert!(pickle::load("marks", &m, &Default::default()).is_err());
}

#[test]
fn view_past_its_storage_is_an_error() {
    use edgeport_pytorch::pickle::{StorageRef, TensorRef};
    let st = Bytes::from_vec(vec![0u8; 40]);
    let t = TensorRef {
        storage: StorageRef {
            key: "0".into(),
            dtype: edgeport_ir::DType::F32,
            numel: 10,
        },
        dtype: edgeport_ir::DType::F32,
        offset: 2,
        sizes: vec![3, 3],
        strides: vec![3, 1],
    };
    let e = edgeport_pytorch::storage::materialize("f", "w", &t, &st).unwrap_err().to_string();
    assert!(e.contains("past the 40-byte storage"), "{e}");
    let huge = TensorRef {
        sizes: vec![1 << 40, 1 << 40],
        strides: vec![1 << 40, 1],
        ..t.clone()
    };
    assert!(edgeport_pytorch::storage::materialize("f", "w", &huge, &st).is_err());
    let neg = TensorRef {
        strides: vec![-1, 1],
        sizes: vec![2, 2],
        ..t
    };
    assert!(edgeport_pytorch::storage::materialize("f", "w", &neg, &st).is_err());
}

#[test]
fn random_bytes_never_panic() {
    let mut x: u64 = 0x9e3779b97f4a7c15;
    let seed = std::fs::read(fixture("sd_dtypes.pt")).unwrap();
    for round in 0..300 {
        let mut b = seed.clone();
        for _ in 0..(1 + round % 16) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = (x as usize) % b.len();
            b[i] = (x >> 32) as u8;
        }
        let _ = edgeport_pytorch::torch_save::load_tensors("fuzz.pt", Bytes::from_vec(b.clone()));
        let _ = pickle::load("fuzz", &b[(x as usize) % b.len()..], &Default::default());
    }
}
