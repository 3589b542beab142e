//! The kernel of a pending expression ([`super::fusion`]): the expression is flattened into
//! instructions (each pending node once, by storage identity), and WGSL is generated with one
//! `let` per instruction, in the order the unfused kernels would have run them, each op written by
//! its row of the tables in `op_desc.rs` (the same statements as `unary.wgsl`/`binary.wgsl`).
//!
//! The module is named by the expression's structure (dtype, how each input is read, the
//! instructions), never by sizes or values: shapes, strides and offsets go in the `info` buffer,
//! constants and op parameters in the `vals` buffer, so one compiled pipeline serves every size.
//!
//! Bindings: the inputs (read-only), the outputs (the expression, then inlined intermediates that
//! other tensors still reference), `info` (`[n, start of input k's block..., blocks]`, a block
//! being `[offset]` for inputs read densely or as one element, else `[offset, rank, shape,
//! strides]`), `vals`.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Arc;

use super::context::{lock, Context};
use super::fusion::{addr, max_inputs, pending, reads_in_order, Lazy, LazyOp};
use super::meta::{Binding, Meta};
use super::pipeline::KernelSpec;
use super::{elem_bytes, fill, groups_for, shaders, storage, strided_meta_k};
use crate::op_desc::{BinaryOp, UnaryOp};
use crate::{DType, Result, Tensor};

/// How the kernel reads one input buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Read {
    /// Element `offset + i`.
    Dense,
    /// Element `offset` for every `i` (a broadcast single value).
    Splat,
    /// Through the input's strides.
    Strided,
}

/// One instruction; operands are indices of earlier instructions.
#[derive(Clone, Copy, Debug)]
enum Inst {
    Load(usize),
    Val(usize),
    /// Table row, operand, value slots of the two parameters (ops that take them).
    Unary(u32, usize, Option<(usize, usize)>),
    Binary(u32, usize, usize),
    ReluGrad(usize, usize),
}

type InputKey = (usize, usize, Vec<usize>, Vec<usize>);

/// A flattened expression.
struct Program {
    dtype: DType,
    insts: Vec<Inst>,
    /// Input tensors (computed), how each is read, and its `info` block.
    inputs: Vec<(Tensor, Read, Vec<u32>)>,
    input_memo: HashMap<InputKey, usize>,
    /// The values as 32-bit words (one or two per value).
    words: Vec<u32>,
    n_values: usize,
    /// Inlined pending nodes by storage address, and how often the expression references each.
    memo: HashMap<usize, usize>,
    edges: HashMap<usize, usize>,
    inlined: Vec<(Tensor, usize)>,
    root: usize,
}

/// WGSL of a unary op row for `dtype`, and whether it reads the two parameters.
fn unary_row(row: u32, dtype: DType) -> (String, bool) {
    let (wf, wi) = UnaryOp::WGSL[row as usize];
    if dtype == DType::I64 {
        let w = wi.unwrap_or("return v;");
        (w.replace("sci[0]", "p0").replace("sci[1]", "p1"), w.contains("sci["))
    } else {
        (wf.replace("sc[0]", "p0").replace("sc[1]", "p1"), wf.contains("sc["))
    }
}

/// The two parameters of `op` as value words in `dtype` (as the unfused kernel's `sc`).
fn unary_params(op: UnaryOp, dtype: DType) -> [[u32; 2]; 2] {
    if dtype == DType::I64 {
        // As the CPU: float bounds round toward the inside of the integer range.
        let (lo, hi) = match op {
            UnaryOp::Clamp(lo, hi) => {
                (lo.map(|v| v.ceil() as i64).unwrap_or(i64::MIN), hi.map(|v| v.floor() as i64).unwrap_or(i64::MAX))
            }
            _ => (0, 0),
        };
        let split = |v: i64| [v as u64 as u32, ((v as u64) >> 32) as u32];
        return [split(lo), split(hi)];
    }
    let [p0, p1] = super::unary::params(op);
    [fill::words(p0, dtype), fill::words(p1, dtype)]
}

impl Program {
    fn build(root: &Lazy, dtype: DType) -> Result<Program> {
        let mut p = Program {
            dtype,
            insts: Vec::new(),
            inputs: Vec::new(),
            input_memo: HashMap::new(),
            words: Vec::new(),
            n_values: 0,
            memo: HashMap::new(),
            edges: HashMap::new(),
            inlined: Vec::new(),
            root: 0,
        };
        p.root = p.node(root)?;
        Ok(p)
    }

    fn push(&mut self, inst: Inst) -> usize {
        self.insts.push(inst);
        self.insts.len() - 1
    }

    fn value(&mut self, w: [u32; 2]) -> usize {
        self.words.push(w[0]);
        if self.dtype != DType::F32 {
            self.words.push(w[1]);
        }
        self.n_values += 1;
        self.push(Inst::Val(self.n_values - 1))
    }

    fn node(&mut self, l: &Lazy) -> Result<usize> {
        let inst = match l.op {
            LazyOp::Full(v) => return Ok(self.value(fill::words(v, self.dtype))),
            LazyOp::Unary(op) => {
                let a = self.arg(&l.args[0])?;
                let params = if unary_row(op.index(), self.dtype).1 {
                    let [p0, p1] = unary_params(op, self.dtype);
                    Some((self.value(p0), self.value(p1)))
                } else {
                    None
                };
                Inst::Unary(op.index(), a, params)
            }
            LazyOp::Binary(op) => {
                let (a, b) = (self.arg(&l.args[0])?, self.arg(&l.args[1])?);
                Inst::Binary(op.index(), a, b)
            }
            LazyOp::ReluGrad => {
                let (a, b) = (self.arg(&l.args[0])?, self.arg(&l.args[1])?);
                Inst::ReluGrad(a, b)
            }
        };
        Ok(self.push(inst))
    }

    fn arg(&mut self, t: &Tensor) -> Result<usize> {
        if let Some(l) = pending(t) {
            if let LazyOp::Full(v) = l.op {
                return Ok(self.value(fill::words(v, self.dtype)));
            }
            if reads_in_order(t) {
                let a = addr(t);
                *self.edges.entry(a).or_default() += 1;
                if let Some(&i) = self.memo.get(&a) {
                    return Ok(i);
                }
                let i = self.node(&l)?;
                self.memo.insert(a, i);
                self.inlined.push((t.clone(), i));
                return Ok(i);
            }
            storage(t).try_buffer()?;
        }
        let key = (addr(t), t.layout.offset, t.shape().to_vec(), t.strides().to_vec());
        if let Some(&i) = self.input_memo.get(&key) {
            return Ok(i);
        }
        // [n, rank, offset, shape.., strides..] with dims merged where the input is contiguous
        let m = strided_meta_k::<1>("fused elementwise", t.shape(), &[&t.layout])?;
        let r = m[1] as usize;
        let strides = &m[3 + r..];
        let read = if strides.iter().all(|&s| s == 0) {
            Read::Splat
        } else if r == 1 && strides[0] == 1 {
            Read::Dense
        } else {
            Read::Strided
        };
        let block = if read == Read::Strided { [&m[2..3], &m[1..2], &m[3..]].concat() } else { vec![m[2]] };
        self.inputs.push((t.clone(), read, block));
        let i = self.push(Inst::Load(self.inputs.len() - 1));
        self.input_memo.insert(key, i);
        Ok(i)
    }

    /// The structure naming the kernel: equal keys give equal WGSL.
    fn key(&self, outputs: &[usize]) -> String {
        let mut s = format!("{}:", self.dtype);
        for (_, read, _) in &self.inputs {
            s.push(match read {
                Read::Dense => 'd',
                Read::Splat => 's',
                Read::Strided => 't',
            });
        }
        s.push(':');
        for inst in &self.insts {
            let _ = match *inst {
                Inst::Load(k) => write!(s, "l{k};"),
                Inst::Val(k) => write!(s, "v{k};"),
                Inst::Unary(row, a, None) => write!(s, "u{row}({a});"),
                Inst::Unary(row, a, Some((p, q))) => write!(s, "u{row}({a},{p},{q});"),
                Inst::Binary(row, a, b) => write!(s, "b{row}({a},{b});"),
                Inst::ReluGrad(a, b) => write!(s, "g({a},{b});"),
            };
        }
        let _ = write!(s, "->{outputs:?}");
        s
    }

    /// The kernel file (after the `alias T`, math, i64 and strided libraries the host prepends).
    fn wgsl(&self, outputs: &[usize]) -> String {
        let e = if self.dtype == DType::I64 { "I64" } else { "T" };
        let mut s = String::from("// generated by wgpu/fusion_kernel.rs from a pending elementwise expression\n");
        let k = self.inputs.len();
        for j in 0..k {
            let _ = writeln!(s, "@group(0) @binding({j}) var<storage, read> in{j}: array<{e}>;");
        }
        for o in 0..outputs.len() {
            let _ = writeln!(s, "@group(0) @binding({}) var<storage, read_write> out{o}: array<{e}>;", k + o);
        }
        let b = k + outputs.len();
        let _ = writeln!(s, "@group(0) @binding({b}) var<storage, read> info: array<u32>;");
        let _ = writeln!(s, "@group(0) @binding({}) var<storage, read> vals: array<{e}>;\n", b + 1);
        s.push_str(
            "// The storage index of element i of the input whose block starts at b.\n\
             fn at(b: u32, i: u32) -> u32 {\n    let rank = info[b + 1u];\n    var off = info[b];\n    \
             var rem = i;\n    var d = rank;\n    loop {\n        if (d == 0u) {\n            break;\n        }\n        \
             d = d - 1u;\n        let size = info[b + 2u + d];\n        off = off + (rem % size) * info[b + 2u + rank + d];\n        \
             rem = rem / size;\n    }\n    return off;\n}\n\n",
        );
        let (mut unary, mut binary, mut relu) = (Vec::new(), Vec::new(), false);
        for inst in &self.insts {
            match *inst {
                Inst::Unary(row, ..) if !unary.contains(&row) => unary.push(row),
                Inst::Binary(row, ..) if !binary.contains(&row) => binary.push(row),
                Inst::ReluGrad(..) => relu = true,
                _ => {}
            }
        }
        for row in unary {
            let (body, params) = unary_row(row, self.dtype);
            let p = if params { format!(", p0: {e}, p1: {e}") } else { String::new() };
            let _ = writeln!(s, "fn u{row}(v: {e}{p}) -> {e} {{\n    {body}\n}}");
        }
        for row in binary {
            let (wf, wi) = BinaryOp::WGSL[row as usize];
            let body =
                if self.dtype == DType::I64 { wi.expect("integer binary ops reaching fusion have a case") } else { wf };
            let _ = writeln!(s, "fn b{row}(x: {e}, y: {e}) -> {e} {{\n    {body}\n}}");
        }
        if relu {
            s.push_str("fn relu_grad(x: T, y: T) -> T {\n    return select(x, 0.0, y <= 0.0);\n}\n");
        }
        s.push_str(
            "\n@compute @workgroup_size(256)\n\
             fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,\n        \
             @builtin(local_invocation_index) lid: u32) {\n    \
             let i = linear_index(wid, nwg, lid);\n    if (i >= info[0]) {\n        return;\n    }\n",
        );
        for (j, inst) in self.insts.iter().enumerate() {
            let x = match *inst {
                Inst::Load(k) => match self.inputs[k].1 {
                    Read::Dense => format!("in{k}[info[info[{}]] + i]", k + 1),
                    Read::Splat => format!("in{k}[info[info[{}]]]", k + 1),
                    Read::Strided => format!("in{k}[at(info[{}], i)]", k + 1),
                },
                Inst::Val(k) => format!("vals[{k}]"),
                Inst::Unary(row, a, None) => format!("u{row}(r{a})"),
                Inst::Unary(row, a, Some((p, q))) => format!("u{row}(r{a}, r{p}, r{q})"),
                Inst::Binary(row, a, b) => format!("b{row}(r{a}, r{b})"),
                Inst::ReluGrad(a, b) => format!("relu_grad(r{a}, r{b})"),
            };
            let _ = writeln!(s, "    let r{j}: {e} = {x};");
        }
        for (o, r) in outputs.iter().enumerate() {
            let _ = writeln!(s, "    out{o}[i] = r{r};");
        }
        s.push_str("}\n");
        s
    }

    /// `info`: `[n, block start per input, blocks...]`.
    fn info(&self, n: u32) -> Vec<u32> {
        let mut v = vec![n];
        let mut start = 1 + self.inputs.len() as u32;
        for (_, _, b) in &self.inputs {
            v.push(start);
            start += b.len() as u32;
        }
        for (_, _, b) in &self.inputs {
            v.extend_from_slice(b);
        }
        v
    }
}

/// Computes `root` (`n` elements of `dtype`) into `out` with one dispatch, writing also the
/// inlined intermediates that other tensors still reference (their storages get those buffers).
pub(crate) fn run(ctx: &Context, root: &Lazy, dtype: DType, n: usize, out: &::wgpu::Buffer) -> Result<()> {
    let op = "fused elementwise";
    let mut p = Program::build(root, dtype)?;
    if p.inputs.len() > max_inputs(ctx) {
        // Inputs shared differently than counted when recorded: compute the operands first.
        for a in &root.args {
            if pending(a).is_some_and(|l| !matches!(l.op, LazyOp::Full(_))) {
                storage(a).try_buffer()?;
            }
        }
        p = Program::build(root, dtype)?;
    }
    // Intermediates referenced from outside this expression (a user's handle, another pending
    // expression, a saved tensor of autograd) are written too, as far as bindings allow.
    let limit = ctx.limits.max_storage_buffers_per_shader_stage as usize;
    let room = limit.saturating_sub(p.inputs.len() + 3).min(8);
    let extras: Vec<(Tensor, usize)> = p
        .inlined
        .iter()
        .filter(|(t, _)| Arc::strong_count(&t.storage) - 1 > p.edges[&addr(t)])
        .take(room)
        .cloned()
        .collect();
    let outputs: Vec<usize> = std::iter::once(p.root).chain(extras.iter().map(|e| e.1)).collect();
    let bytes = n as u64 * elem_bytes(dtype);
    let mut extra_bufs = Vec::with_capacity(extras.len());
    for _ in &extras {
        match ctx.acquire(op, bytes) {
            Ok(b) => extra_bufs.push(b),
            Err(e) => {
                extra_bufs.into_iter().for_each(|b| ctx.release(b));
                return Err(e);
            }
        }
    }
    if p.words.is_empty() {
        p.words.extend([0, 0]); // a binding may not be empty
    }
    let info = Meta::words(&p.info(super::check_u32(op, n)?));
    let vals = Meta::words(&p.words);
    let module = format!("fused ({dtype}) {}", p.key(&outputs));
    let float = if dtype == DType::F64 { DType::F64 } else { DType::F32 };
    let source = || shaders::elementwise(&p.wgsl(&outputs), float);
    let k = p.inputs.len();
    let read_only: Vec<bool> = (0..k + outputs.len() + 2).map(|b| b < k || b >= k + outputs.len()).collect();
    let spec = KernelSpec {
        checked: true,
        module: &module,
        source: &source,
        entry: "main",
        constants: &[],
        read_only: &read_only,
    };
    let mut bufs: Vec<&dyn Binding> = p.inputs.iter().map(|(t, _, _)| storage(t).buffer() as &dyn Binding).collect();
    bufs.push(out);
    bufs.extend(extra_bufs.iter().map(|b| b as &dyn Binding));
    bufs.extend([&info as &dyn Binding, &vals]);
    ctx.dispatch(&spec, &bufs, ctx.grid(op, groups_for(n))?);
    for ((t, _), b) in extras.iter().zip(extra_bufs) {
        let s = storage(t);
        let mut g = lock(&s.lazy);
        if s.set_buffer(b) {
            *g = None;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! The generated WGSL validates for every op row, dtype and way of reading an input (no GPU).
    use super::*;

    fn validate(src: &str, what: &str) {
        let module = naga::front::wgsl::parse_str(src).unwrap_or_else(|e| panic!("{what}: {}", e.emit_to_string(src)));
        let mut v = naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::all());
        v.validate(&module).unwrap_or_else(|e| panic!("{what}: {e:?}\n{src}"));
    }

    fn program(dtype: DType, insts: Vec<Inst>, reads: &[Read], n_values: usize) -> Program {
        Program {
            dtype,
            insts,
            inputs: reads.iter().map(|&r| (Tensor::scalar(0f32), r, vec![0])).collect(),
            input_memo: HashMap::new(),
            words: Vec::new(),
            n_values,
            memo: HashMap::new(),
            edges: HashMap::new(),
            inlined: Vec::new(),
            root: 0,
        }
    }

    #[test]
    fn generated_kernels_validate() {
        for dtype in [DType::F32, DType::F64, DType::I64] {
            let mut insts = vec![Inst::Load(0), Inst::Load(1), Inst::Load(2), Inst::Val(0), Inst::Val(1)];
            for row in 0..UnaryOp::WGSL.len() as u32 {
                let params = unary_row(row, dtype).1.then_some((3, 4));
                insts.push(Inst::Unary(row, insts.len() - 1, params));
            }
            for (row, (_, wi)) in BinaryOp::WGSL.iter().enumerate() {
                if dtype != DType::I64 || wi.is_some() {
                    insts.push(Inst::Binary(row as u32, insts.len() - 1, 1));
                }
            }
            if dtype != DType::I64 {
                insts.push(Inst::ReluGrad(insts.len() - 1, 2));
            }
            let last = insts.len() - 1;
            let p = program(dtype, insts, &[Read::Dense, Read::Splat, Read::Strided], 2);
            let float = if dtype == DType::F64 { DType::F64 } else { DType::F32 };
            validate(&shaders::elementwise(&p.wgsl(&[last, 5]), float), &format!("{dtype}"));
        }
    }
}
