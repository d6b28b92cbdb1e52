//! A tiny TFLite writer for hostile-input tests (flatbuffers crate builder): one model with
//! subgraphs of float tensors and operators, where every field can be set to a bad value.

use flatbuffers::{FlatBufferBuilder, UnionWIPOffset, WIPOffset};

pub struct TensorSpec {
    pub shape: Vec<i32>,
    pub buffer: u32,
    pub name: &'static str,
}

pub struct OpSpec {
    pub opcode: u32,
    pub inputs: Vec<i32>,
    pub outputs: Vec<i32>,
    /// (options union type, [(slot, i32 value)])
    pub options: Option<(u8, Vec<(u16, i32)>)>,
}

pub struct SubgraphSpec {
    pub tensors: Vec<TensorSpec>,
    pub inputs: Vec<i32>,
    pub outputs: Vec<i32>,
    pub ops: Vec<OpSpec>,
}

pub enum BufSpec {
    Empty,
    Data(Vec<u8>),
    Offset(u64, u64),
}

pub struct ModelSpec {
    /// builtin codes
    pub opcodes: Vec<i32>,
    pub subgraphs: Vec<SubgraphSpec>,
    pub buffers: Vec<BufSpec>,
}

fn vt(slot: u16) -> u16 {
    4 + 2 * slot
}

pub fn build(m: &ModelSpec) -> Vec<u8> {
    let mut b = FlatBufferBuilder::new();
    let mut codes = Vec::new();
    for &c in &m.opcodes {
        let s = b.start_table();
        b.push_slot_always::<i8>(vt(0), c.min(127) as i8);
        b.push_slot_always::<i32>(vt(2), 1);
        b.push_slot_always::<i32>(vt(3), c);
        codes.push(b.end_table(s));
    }
    let codes = b.create_vector(&codes);
    let mut bufs = Vec::new();
    for bs in &m.buffers {
        let data = match bs {
            BufSpec::Data(d) => Some(b.create_vector(d)),
            _ => None,
        };
        let s = b.start_table();
        if let Some(d) = data {
            b.push_slot_always(vt(0), d);
        }
        if let BufSpec::Offset(o, n) = bs {
            b.push_slot_always::<u64>(vt(1), *o);
            b.push_slot_always::<u64>(vt(2), *n);
        }
        bufs.push(b.end_table(s));
    }
    let bufs = b.create_vector(&bufs);
    let mut sgs = Vec::new();
    for sg in &m.subgraphs {
        let mut ts = Vec::new();
        for t in &sg.tensors {
            let shape = b.create_vector(&t.shape);
            let name = b.create_string(t.name);
            let s = b.start_table();
            b.push_slot_always(vt(0), shape);
            b.push_slot_always::<i8>(vt(1), 0);
            b.push_slot_always::<u32>(vt(2), t.buffer);
            b.push_slot_always(vt(3), name);
            ts.push(b.end_table(s));
        }
        let ts = b.create_vector(&ts);
        let mut ops = Vec::new();
        for o in &sg.ops {
            let ins = b.create_vector(&o.inputs);
            let outs = b.create_vector(&o.outputs);
            let opts: Option<(u8, WIPOffset<UnionWIPOffset>)> = o.options.as_ref().map(|(ty, fields)| {
                let s = b.start_table();
                for &(slot, v) in fields {
                    b.push_slot_always::<i32>(vt(slot), v);
                }
                (*ty, b.end_table(s).as_union_value())
            });
            let s = b.start_table();
            b.push_slot_always::<u32>(vt(0), o.opcode);
            b.push_slot_always(vt(1), ins);
            b.push_slot_always(vt(2), outs);
            if let Some((ty, off)) = opts {
                b.push_slot_always::<u8>(vt(3), ty);
                b.push_slot_always(vt(4), off);
            }
            ops.push(b.end_table(s));
        }
        let ops = b.create_vector(&ops);
        let ins = b.create_vector(&sg.inputs);
        let outs = b.create_vector(&sg.outputs);
        let s = b.start_table();
        b.push_slot_always(vt(0), ts);
        b.push_slot_always(vt(1), ins);
        b.push_slot_always(vt(2), outs);
        b.push_slot_always(vt(3), ops);
        sgs.push(b.end_table(s));
    }
    let sgs = b.create_vector(&sgs);
    let s = b.start_table();
    b.push_slot_always::<u32>(vt(0), 3);
    b.push_slot_always(vt(1), codes);
    b.push_slot_always(vt(2), sgs);
    b.push_slot_always(vt(4), bufs);
    let root = b.end_table(s);
    b.finish(root, Some("TFL3"));
    b.finished_data().to_vec()
}

/// y = x + c, with c a 4-float constant in buffer 1.
pub fn add_model() -> ModelSpec {
    let c: Vec<u8> = [1.0f32, 2.0, 3.0, 4.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    ModelSpec {
        opcodes: vec![0],
        buffers: vec![BufSpec::Empty, BufSpec::Data(c)],
        subgraphs: vec![SubgraphSpec {
            tensors: vec![
                TensorSpec {
                    shape: vec![4],
                    buffer: 0,
                    name: "x",
                },
                TensorSpec {
                    shape: vec![4],
                    buffer: 1,
                    name: "c",
                },
                TensorSpec {
                    shape: vec![4],
                    buffer: 0,
                    name: "y",
                },
            ],
            inputs: vec![0],
            outputs: vec![2],
            ops: vec![OpSpec {
                opcode: 0,
                inputs: vec![0, 1],
                outputs: vec![2],
                options: None,
            }],
        }],
    }
}
