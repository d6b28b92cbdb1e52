//! Malformed and hostile .tflite files: each gives an error naming the file (and the subgraph,
//! operator or tensor at fault), never a panic.

#[path = "common/build.rs"]
mod build;
mod common;

use build::*;
use edgeport_tflite::{TfliteError, import_bytes};

const FILE: &str = "bad.tflite";

fn err_of(b: Vec<u8>) -> String {
    let e = import_bytes(b, FILE).expect_err("import should fail").to_string();
    assert!(e.contains(FILE), "error does not name the file: {e}");
    e
}

fn expect(b: Vec<u8>, needles: &[&str]) -> String {
    let e = err_of(b);
    for n in needles {
        assert!(e.contains(n), "error does not mention '{n}': {e}");
    }
    e
}

#[test]
fn valid_built_model_imports_and_runs() {
    let g = import_bytes(build(&add_model()), FILE).unwrap();
    let x = edgeport_ir::Tensor::from_f32(vec![4], &[1.0, 1.0, 1.0, 1.0]).unwrap();
    let y = common::run(&g, &[x]);
    assert_eq!(y[0].to_f64_vec().unwrap(), vec![2.0, 3.0, 4.0, 5.0]);
}

#[test]
fn empty_and_tiny_files() {
    expect(Vec::new(), &["only 0 bytes"]);
    expect(vec![0; 7], &["only 7 bytes"]);
    expect(b"12345678".to_vec(), &["TFL3"]);
}

#[test]
fn truncated_files() {
    let full = std::fs::read(common::fixture("small_float.tflite")).unwrap();
    for cut in [8, 9, 16, 100, full.len() / 3, full.len() / 2, full.len() - 200, full.len() - 1] {
        let e = import_bytes(full[..cut].to_vec(), FILE);
        let e = e.expect_err(&format!("truncated at {cut} of {} imported", full.len()));
        assert!(e.to_string().contains(FILE));
    }
}

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn random_bytes_never_panic() {
    let mut s = 0x2545_f491_4f6c_dd1du64;
    for len in [8usize, 16, 64, 1000, 4096] {
        for _ in 0..50 {
            let mut v: Vec<u8> = (0..len).map(|_| xorshift(&mut s) as u8).collect();
            v[4..8].copy_from_slice(b"TFL3");
            let _ = import_bytes(v, FILE);
        }
    }
}

#[test]
fn mutated_fixtures_never_panic() {
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    for name in [
        "small_float.tflite",
        "small_int8.tflite",
        "while.tflite",
        "ops.tflite",
        "sparse.tflite",
    ] {
        let full = std::fs::read(common::fixture(name)).unwrap();
        for _ in 0..150 {
            let mut v = full.clone();
            for _ in 0..1 + xorshift(&mut s) % 8 {
                let i = (xorshift(&mut s) as usize) % v.len();
                v[i] = xorshift(&mut s) as u8;
            }
            let _ = import_bytes(v, FILE);
        }
    }
}

#[test]
fn buffer_offset_past_file_end() {
    let mut m = add_model();
    m.buffers[1] = BufSpec::Offset(1 << 40, 16);
    expect(build(&m), &["buffer 1", "past the end of the file"]);
    let mut m = add_model();
    m.buffers[1] = BufSpec::Offset(u64::MAX - 4, 16);
    expect(build(&m), &["buffer 1"]);
}

#[test]
fn buffer_size_mismatch() {
    let mut m = add_model();
    m.buffers[1] = BufSpec::Data(vec![0; 10]);
    expect(build(&m), &["subgraph 0", "operator 0", "ADD", "'c'"]);
}

#[test]
fn tensor_index_out_of_range() {
    let mut m = add_model();
    m.subgraphs[0].ops[0].inputs = vec![0, 99];
    expect(build(&m), &["subgraph 0 operator 0 (ADD)", "tensor index 99 out of range"]);
    let mut m = add_model();
    m.subgraphs[0].ops[0].outputs = vec![-5];
    expect(build(&m), &["operator 0", "tensor index -5"]);
    let mut m = add_model();
    m.subgraphs[0].inputs = vec![7];
    expect(build(&m), &["subgraph 0", "input tensor index 7"]);
}

#[test]
fn opcode_and_buffer_index_out_of_range() {
    let mut m = add_model();
    m.subgraphs[0].ops[0].opcode = 12;
    expect(build(&m), &["operator 0", "opcode index 12 out of range"]);
    let mut m = add_model();
    m.subgraphs[0].tensors[1].buffer = 40;
    expect(build(&m), &["operator 0", "buffer index 40 out of range"]);
}

#[test]
fn unknown_builtin_is_reported() {
    let mut m = add_model();
    m.opcodes = vec![5000];
    expect(build(&m), &["operator 0", "unknown builtin operator code 5000"]);
}

/// WHILE whose body is the subgraph that contains the WHILE (directly, or via another).
#[test]
fn subgraph_cycle() {
    let while_code = 119; // WHILE
    let sg = |cond: i32, body: i32| SubgraphSpec {
        tensors: vec![
            TensorSpec {
                shape: vec![1],
                buffer: 0,
                name: "a",
            },
            TensorSpec {
                shape: vec![1],
                buffer: 0,
                name: "b",
            },
        ],
        inputs: vec![0],
        outputs: vec![1],
        ops: vec![OpSpec {
            opcode: 0,
            inputs: vec![0],
            outputs: vec![1],
            options: Some((93, vec![(0, cond), (1, body)])), // WhileOptions
        }],
    };
    let m = ModelSpec {
        opcodes: vec![while_code],
        buffers: vec![BufSpec::Empty],
        subgraphs: vec![sg(0, 0)],
    };
    let e = expect(build(&m), &["subgraph cycle: 0 -> 0"]);
    assert!(matches!(import_bytes(build(&m), FILE), Err(TfliteError::Model { .. })), "{e}");
    let m = ModelSpec {
        opcodes: vec![while_code],
        buffers: vec![BufSpec::Empty],
        subgraphs: vec![sg(1, 1), sg(0, 0)],
    };
    expect(build(&m), &["subgraph cycle: 0 -> 1 -> 0"]);
    let m = ModelSpec {
        opcodes: vec![while_code],
        buffers: vec![BufSpec::Empty],
        subgraphs: vec![sg(3, 9)],
    };
    expect(build(&m), &["operator 0 (WHILE)", "subgraph index 3 out of range"]);
}

/// The >2 GB scheme: constant data appended after the flatbuffer, addressed by
/// `Buffer.offset`/`size` from the start of the file.
#[test]
fn buffer_data_after_the_flatbuffer() {
    let data: Vec<u8> = [10.0f32, 20.0, 30.0, 40.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    let mut m = add_model();
    m.buffers[1] = BufSpec::Offset(2, 16);
    let len = build(&m).len();
    let off = len.div_ceil(16) * 16;
    m.buffers[1] = BufSpec::Offset(off as u64, 16);
    let mut file = build(&m);
    assert_eq!(file.len(), len);
    file.resize(off, 0);
    file.extend_from_slice(&data);
    let g = import_bytes(file.clone(), FILE).unwrap();
    let x = edgeport_ir::Tensor::from_f32(vec![4], &[1.0, 1.0, 1.0, 1.0]).unwrap();
    assert_eq!(common::run(&g, &[x])[0].to_f64_vec().unwrap(), vec![11.0, 21.0, 31.0, 41.0]);
    // One byte short: the range is past the end.
    file.pop();
    expect(file, &["buffer 1", "past the end of the file"]);
}

/// Found by the fuzz target: a sparse constant whose dense shape claims terabytes made the
/// densifier allocate it (an abort). Now refused before allocating.
#[test]
fn sparse_tensor_with_huge_dense_shape() {
    let mut b = std::fs::read(common::fixture("sparse.tflite")).unwrap();
    let pat: Vec<u8> = [2i32, 16, 384].iter().flat_map(|v| v.to_le_bytes()).collect();
    let huge: Vec<u8> = [2i32, 16, 0x7fff_ffff].iter().flat_map(|v| v.to_le_bytes()).collect();
    let mut hits = 0;
    for i in 0..b.len() - pat.len() {
        if b[i..i + pat.len()] == pat[..] {
            b[i..i + pat.len()].copy_from_slice(&huge);
            hits += 1;
        }
    }
    assert!(hits >= 1);
    expect(b, &["implausibly large"]);
}
