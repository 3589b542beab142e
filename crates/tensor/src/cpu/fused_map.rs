//! The CPU kernel of [`FusedMap`](crate::FusedMap): one pass over the inputs, a block of elements
//! at a time. Each instruction of the flat program runs as a tight loop over the block (registers
//! are small arrays that stay in L1; inputs are read in place), so every loop vectorises and the
//! per-instruction dispatch is paid once per block, not per element. Instructions on scalars only
//! are folded before the pass. Large tensors run in parallel chunks (rayon above 64K elements).
//! Operations happen in the expression's order in the tensor's dtype, so results equal the same
//! arithmetic written as tensor ops, bit for bit.

use rayon::prelude::*;

use super::elementwise::par_worth;
use super::SharedPtr;
use crate::ops::fused_expr::{Flat, Inst, MapBinary, MapUnary};
use crate::ops::fused_formula::NativeKernel;
use crate::{DType, Error, Float, Result, Tensor};

/// Elements per parallel chunk.
const CHUNK: usize = 1 << 14;
/// Bytes of one register (a block of elements): 1 KiB keeps the registers and the blocks of the
/// inputs and outputs together in L1 (4 KiB thrashed it: several times slower).
const REG_BYTES: usize = 1024;

/// Runs `flat` (or its `native` loop) on each tuple of CPU inputs (checked: one float dtype,
/// one shape per tuple) with `values` (scalars, then constants), all tuples in one parallel pass;
/// inputs that are the only handle to their storage may lend it to outputs.
pub(crate) fn run(
    op: &'static str,
    flat: &Flat,
    native: Option<&dyn NativeKernel>,
    tuples: Vec<Vec<Tensor>>,
    values: &[f64],
) -> Result<Vec<Vec<Tensor>>> {
    match tuples[0][0].dtype() {
        DType::F32 => typed::<f32>(op, flat, native, tuples, values),
        DType::F64 => typed::<f64>(op, flat, native, tuples, values),
        d => Err(Error::UnsupportedDType { op, dtype: d }),
    }
}

/// Where an instruction's value lives during the pass.
#[derive(Clone, Copy)]
enum Loc<T> {
    /// Input `k`, read in place.
    Input(usize),
    /// One value for every element (a scalar, a constant, or folded from them).
    Value(T),
    /// Register `r`.
    Reg(usize),
}

/// One instruction that runs over the block.
#[derive(Clone, Copy)]
enum Step<T> {
    Unary(MapUnary, Loc<T>, usize),
    Binary(MapBinary, Loc<T>, Loc<T>, usize),
}

/// The program lowered for one run: folded values, register assignment, steps.
struct Plan<T> {
    steps: Vec<Step<T>>,
    outputs: Vec<Loc<T>>,
    regs: usize,
}

fn plan<T: Float>(flat: &Flat, values: &[f64]) -> Plan<T> {
    let n = flat.insts.len();
    // the last instruction reading each instruction (outputs are read at the end)
    let mut last = vec![0usize; n];
    for (j, inst) in flat.insts.iter().enumerate() {
        match *inst {
            Inst::Unary(_, a) => last[a] = j,
            Inst::Binary(_, a, b) => {
                last[a] = j;
                last[b] = j;
            }
            _ => {}
        }
    }
    for &o in &flat.outputs {
        last[o] = usize::MAX;
    }
    let mut locs: Vec<Loc<T>> = Vec::with_capacity(n);
    let (mut steps, mut free, mut regs) = (Vec::new(), Vec::<usize>::new(), 0usize);
    for (j, inst) in flat.insts.iter().enumerate() {
        let loc = match *inst {
            Inst::Input(k) => Loc::Input(k),
            Inst::Value(k) => Loc::Value(T::from_f64(values[k])),
            Inst::Unary(f, a) => match locs[a] {
                Loc::Value(x) => Loc::Value(unary_one(f, x)),
                la => {
                    // the destination is taken before the operands are freed: never an operand
                    let d = free.pop().unwrap_or_else(|| (regs, regs += 1).0);
                    steps.push(Step::Unary(f, la, d));
                    Loc::Reg(d)
                }
            },
            Inst::Binary(f, a, b) => match (locs[a], locs[b]) {
                (Loc::Value(x), Loc::Value(y)) => Loc::Value(binary_one(f, x, y)),
                (la, lb) => {
                    let d = free.pop().unwrap_or_else(|| (regs, regs += 1).0);
                    steps.push(Step::Binary(f, la, lb, d));
                    Loc::Reg(d)
                }
            },
        };
        // free the registers whose last reader is this instruction
        if let Inst::Unary(_, a) | Inst::Binary(_, a, _) = *inst {
            let operands = match *inst {
                Inst::Binary(_, _, b) if b != a => [Some(a), Some(b)],
                _ => [Some(a), None],
            };
            for x in operands.into_iter().flatten() {
                if let (Loc::Reg(r), true) = (locs[x], last[x] == j) {
                    free.push(r);
                }
            }
        }
        locs.push(loc);
    }
    Plan { steps, outputs: flat.outputs.iter().map(|&o| locs[o]).collect(), regs }
}

fn unary_one<T: Float>(f: MapUnary, x: T) -> T {
    match f {
        MapUnary::Neg => -x,
        MapUnary::Abs => x.abs(),
        MapUnary::Sqrt => x.sqrt(),
        MapUnary::Exp => x.exp(),
        MapUnary::Ln => x.ln(),
    }
}

#[inline(always)]
fn binary_one<T: Float>(f: MapBinary, x: T, y: T) -> T {
    match f {
        MapBinary::Add => x + y,
        MapBinary::Sub => x - y,
        MapBinary::Mul => x * y,
        MapBinary::Div => x / y,
        MapBinary::Max => max(x, y),
        MapBinary::Min => min(x, y),
    }
}

/// NaN-propagating maximum, branch-free (a blend when vectorised).
#[inline(always)]
fn max<T: Float>(x: T, y: T) -> T {
    if x > y || x.is_nan() {
        x
    } else {
        y
    }
}

/// NaN-propagating minimum.
#[inline(always)]
fn min<T: Float>(x: T, y: T) -> T {
    if x < y || x.is_nan() {
        x
    } else {
        y
    }
}

/// One tuple's buffers during a run: every input read in place, every output a pointer into a
/// fresh vector or into an input's storage that the run may overwrite.
struct Job<T> {
    /// The inputs (kept alive: the pointers below point into them).
    inputs: Vec<Tensor>,
    n: usize,
    ins: Vec<SharedPtr<T>>,
    outs: Vec<SharedPtr<T>>,
    /// Per output: a fresh vector, or `None` when input `lent[o]` lends its storage.
    fresh: Vec<Option<Vec<T>>>,
    lent: Vec<Option<usize>>,
}

/// Pointers for one tuple. Outputs borrow, in order, the storage of inputs that are its only
/// handle (never an input in `passthrough`, one that an output returns as it is).
fn prepare<T: Float>(op: &'static str, n_out: usize, passthrough: &[usize], mut inputs: Vec<Tensor>) -> Result<Job<T>> {
    // a strided input is gathered first, so every input is read in place
    for t in inputs.iter_mut() {
        if !t.is_contiguous() {
            *t = t.try_contiguous()?;
        }
    }
    let n = inputs[0].numel();
    let mut lent: Vec<Option<usize>> = vec![None; n_out];
    let mut own: Vec<Option<*mut T>> = vec![None; inputs.len()];
    let mut next = 0;
    for slot in lent.iter_mut() {
        while next < inputs.len() {
            let k = next;
            next += 1;
            if passthrough.contains(&k) {
                continue;
            }
            if let Some(s) = inputs[k].cpu_unique_mut::<T>() {
                own[k] = Some(s.as_mut_ptr());
                *slot = Some(k);
                break;
            }
        }
    }
    let ins: Vec<SharedPtr<T>> = inputs
        .iter()
        .zip(&own)
        .map(|(t, o)| {
            SharedPtr(o.unwrap_or_else(|| {
                let (s, layout) = t.cpu_raw::<T>();
                // contiguous (above): the elements are `offset..offset + n` of the storage
                s[layout.offset..layout.offset + n].as_ptr().cast_mut()
            }))
        })
        .collect();
    let mut fresh: Vec<Option<Vec<T>>> = Vec::with_capacity(n_out);
    for l in &lent {
        fresh.push(if l.is_some() { None } else { Some(super::alloc::try_vec_any::<T>(op, n)?) });
    }
    let outs = fresh
        .iter_mut()
        .zip(&lent)
        .map(|(v, l)| match (v, l) {
            (Some(v), _) => SharedPtr(v.spare_capacity_mut()[..n].as_mut_ptr().cast::<T>()),
            (None, Some(k)) => ins[*k],
            (None, None) => unreachable!("every output has a buffer"),
        })
        .collect();
    Ok(Job { inputs, n, ins, outs, fresh, lent })
}

impl<T: Float> Job<T> {
    /// The outputs, after a pass wrote every element of each.
    fn finish(self) -> Vec<Tensor> {
        let shape = self.inputs[0].shape().to_vec();
        let n = self.n;
        self.fresh
            .into_iter()
            .zip(&self.lent)
            .map(|(v, l)| match (v, l) {
                (Some(mut v), _) => {
                    // SAFETY: the pass wrote every element of 0..n of each fresh output.
                    unsafe { v.set_len(n) };
                    Tensor::from_vec_unchecked(v, &shape)
                }
                (None, Some(k)) => self.inputs[*k].clone(),
                (None, None) => unreachable!("every output has a buffer"),
            })
            .collect()
    }
}

fn typed<T: Float + Native>(
    op: &'static str,
    flat: &Flat,
    native: Option<&dyn NativeKernel>,
    tuples: Vec<Vec<Tensor>>,
    values: &[f64],
) -> Result<Vec<Vec<Tensor>>> {
    let plan = plan::<T>(flat, values);
    let passthrough: Vec<usize> =
        plan.outputs.iter().filter_map(|l| if let Loc::Input(k) = l { Some(*k) } else { None }).collect();
    let jobs: Vec<Job<T>> =
        tuples.into_iter().map(|t| prepare::<T>(op, plan.outputs.len(), &passthrough, t)).collect::<Result<_>>()?;
    let scalars: Vec<T> = values.iter().map(|&v| T::from_f64(v)).collect();
    let pass = |j: &Job<T>, r: std::ops::Range<usize>| {
        // SAFETY: `ins` point at `n` readable elements each, `outs` at `n` writable ones; this
        // range is this call's own; an output lent by an input is written only after the reads
        // of the same elements (per lane pack natively, per block in the interpreter).
        unsafe {
            match native {
                Some(k) => {
                    let ins: Vec<*const T> = j.ins.iter().map(|p| p.0.cast_const()).collect();
                    let outs: Vec<*mut T> = j.outs.iter().map(|p| p.0).collect();
                    T::run_native(k, &ins, &outs, &scalars, r);
                }
                None => run_range(&plan, &j.ins, &j.outs, r),
            }
        }
    };
    // one list of chunks over every tuple: small tensors share a thread's work
    let total: usize = jobs.iter().map(|j| j.n).sum();
    if par_worth(total) {
        let chunks: Vec<(usize, std::ops::Range<usize>)> = jobs
            .iter()
            .enumerate()
            .flat_map(|(t, j)| (0..j.n.div_ceil(CHUNK)).map(move |c| (t, c * CHUNK..((c + 1) * CHUNK).min(j.n))))
            .collect();
        chunks.into_par_iter().for_each(|(t, r)| pass(&jobs[t], r));
    } else {
        for j in &jobs {
            if j.n > 0 {
                pass(j, 0..j.n);
            }
        }
    }
    Ok(jobs.into_iter().map(Job::finish).collect())
}

/// The dtypes with a native formula loop.
pub(crate) trait Native: Sized {
    /// Runs `k` on elements `r`.
    ///
    /// # Safety
    /// As [`NativeKernel::run_f32`].
    unsafe fn run_native(
        k: &dyn NativeKernel,
        ins: &[*const Self],
        outs: &[*mut Self],
        sc: &[Self],
        r: std::ops::Range<usize>,
    );
}

impl Native for f32 {
    unsafe fn run_native(
        k: &dyn NativeKernel,
        ins: &[*const f32],
        outs: &[*mut f32],
        sc: &[f32],
        r: std::ops::Range<usize>,
    ) {
        // SAFETY: the caller's contract.
        unsafe { k.run_f32(ins, outs, sc, r) }
    }
}

impl Native for f64 {
    unsafe fn run_native(
        k: &dyn NativeKernel,
        ins: &[*const f64],
        outs: &[*mut f64],
        sc: &[f64],
        r: std::ops::Range<usize>,
    ) {
        // SAFETY: the caller's contract.
        unsafe { k.run_f64(ins, outs, sc, r) }
    }
}

/// Evaluates `plan` over elements `r`, a block at a time.
///
/// # Safety
/// `ins[k]` and `outs[o]` are valid for the elements of `r`; no other thread touches `r` of any
/// output; an output may share memory only with an input (read before the block's writes).
unsafe fn run_range<T: Float>(plan: &Plan<T>, ins: &[SharedPtr<T>], outs: &[SharedPtr<T>], r: std::ops::Range<usize>) {
    let block = (REG_BYTES / std::mem::size_of::<T>()).min(r.len());
    // Registers sit `stride` apart, a cache line more than a block: were they 4 KiB apart, every
    // load of one would falsely depend on the last store to another (4K aliasing), which made the
    // loops several times slower.
    let stride = block + 64 / std::mem::size_of::<T>();
    let mut regs = vec![T::ZERO; plan.regs.max(1) * stride];
    let rp = regs.as_mut_ptr();
    let mut start = r.start;
    while start < r.end {
        let len = block.min(r.end - start);
        // SAFETY (both closures): registers are disjoint `len`-element parts of `regs`; inputs
        // are valid for `start..start + len` (the caller's contract).
        let read = |l: Loc<T>| -> Src<'_, T> {
            match l {
                Loc::Input(k) => Src::Slice(unsafe { std::slice::from_raw_parts(ins[k].add(start), len) }),
                Loc::Reg(q) => Src::Slice(unsafe { std::slice::from_raw_parts(rp.add(q * stride), len) }),
                Loc::Value(v) => Src::Value(v),
            }
        };
        let dst = |d: usize| unsafe { std::slice::from_raw_parts_mut(rp.add(d * stride), len) };
        for step in &plan.steps {
            match *step {
                Step::Unary(f, a, d) => unary_block(f, read(a), dst(d)),
                Step::Binary(f, a, b, d) => binary_block(f, read(a), read(b), dst(d)),
            }
        }
        for (o, l) in plan.outputs.iter().enumerate() {
            // SAFETY: the caller's contract; `copy` (not `_nonoverlapping`) for an output that
            // is its own input's storage.
            unsafe {
                let out = outs[o].add(start);
                match *l {
                    Loc::Reg(q) => std::ptr::copy_nonoverlapping(rp.add(q * stride), out, len),
                    Loc::Input(k) => std::ptr::copy(ins[k].add(start), out, len),
                    Loc::Value(v) => outs[o].slice(start..start + len).fill(v),
                }
            }
        }
        start += len;
    }
}

/// An operand over the block: a slice of it, or one value for all.
enum Src<'a, T> {
    Slice(&'a [T]),
    Value(T),
}

fn unary_block<T: Float>(f: MapUnary, a: Src<'_, T>, out: &mut [T]) {
    let Src::Slice(a) = a else { unreachable!("unary on a value is folded") };
    macro_rules! each {
        ($g:expr) => {
            for (o, &x) in out.iter_mut().zip(a) {
                *o = $g(x);
            }
        };
    }
    match f {
        MapUnary::Neg => each!(|x: T| -x),
        MapUnary::Abs => each!(|x: T| x.abs()),
        MapUnary::Sqrt => each!(|x: T| x.sqrt()),
        MapUnary::Exp => each!(|x: T| x.exp()),
        MapUnary::Ln => each!(|x: T| x.ln()),
    }
}

fn binary_block<T: Float>(f: MapBinary, a: Src<'_, T>, b: Src<'_, T>, out: &mut [T]) {
    // one monomorphic loop per function and operand kind, so each vectorises
    macro_rules! each {
        ($g:expr) => {
            match (a, b) {
                (Src::Slice(a), Src::Slice(b)) => {
                    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
                        *o = $g(x, y);
                    }
                }
                (Src::Slice(a), Src::Value(y)) => {
                    for (o, &x) in out.iter_mut().zip(a) {
                        *o = $g(x, y);
                    }
                }
                (Src::Value(x), Src::Slice(b)) => {
                    for (o, &y) in out.iter_mut().zip(b) {
                        *o = $g(x, y);
                    }
                }
                (Src::Value(_), Src::Value(_)) => unreachable!("binary on values is folded"),
            }
        };
    }
    match f {
        MapBinary::Add => each!(|x: T, y: T| x + y),
        MapBinary::Sub => each!(|x: T, y: T| x - y),
        MapBinary::Mul => each!(|x: T, y: T| x * y),
        MapBinary::Div => each!(|x: T, y: T| x / y),
        MapBinary::Max => each!(max::<T>),
        MapBinary::Min => each!(min::<T>),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::fused_expr::flatten;
    use crate::Expr;

    #[test]
    fn registers_are_reused_and_values_folded() {
        let (a, b, s) = (Expr::input(0), Expr::input(1), Expr::scalar(0));
        // (s * 2) folds; a chain of five steps needs two registers, not five
        let e = ((((&a + &b) * (&s * 2.0)) - &a) / &b).sqrt();
        let p = plan::<f64>(&flatten(&[e], 1), &[3.0, 2.0]);
        assert_eq!(p.steps.len(), 5);
        assert!(p.regs <= 2, "{} registers", p.regs);
        assert!(matches!(p.steps[1], Step::Binary(MapBinary::Mul, Loc::Reg(_), Loc::Value(v), _) if v == 6.0));
    }
}
