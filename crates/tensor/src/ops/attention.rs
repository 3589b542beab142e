//! Fused scaled dot-product attention, `softmax(scale · q kᵀ + bias) v`, and its backward: the
//! kernels behind `ember_nn::functional::scaled_dot_product_attention` (`cpu/attention.rs`). GPU
//! tensors run the CPU kernel through the host.

use crate::cpu::attention::{self as kernel, Bias, Dims, GradPlacements, Operands};
use crate::cpu::attention_layout::{batch_offsets, Blocks, Placement};
use crate::shape::Layout;
use crate::tensor::ok;
use crate::{DType, Element, Error, Result, Tensor};

const OP: &str = "scaled_dot_product_attention";

/// Checks `q [..., L, E]`, `k [..., S, E]`, `v [..., S, Ev]` (equal batch dims, one float dtype,
/// one device) and returns the sizes; errors name `op`.
fn check(op: &'static str, q: &Tensor, k: &Tensor, v: &Tensor) -> Result<Dims> {
    let (qs, ks, vs) = (q.shape(), k.shape(), v.shape());
    if !matches!(q.dtype(), DType::F32 | DType::F64) {
        return Err(Error::UnsupportedDType { op, dtype: q.dtype() });
    }
    q.same_dtype(op, k)?;
    q.same_dtype(op, v)?;
    q.same_device(op, k)?;
    q.same_device(op, v)?;
    let n = qs.len();
    if n < 2 || ks.len() != n || vs.len() != n || qs[..n - 2] != ks[..n - 2] || qs[..n - 2] != vs[..n - 2] {
        crate::bail!(
            op,
            "query {qs:?}, key {ks:?} and value {vs:?} must have equal batch dims and at least 2 dims (broadcast them first)"
        );
    }
    if ks[n - 1] != qs[n - 1] || vs[n - 2] != ks[n - 2] {
        crate::bail!(op, "query {qs:?}, key {ks:?}, value {vs:?}: key must be [..., S, E] and value [..., S, Ev]");
    }
    Ok(Dims { batch: qs[..n - 2].iter().product(), l: qs[n - 2], s: ks[n - 2], e: qs[n - 1], ev: vs[n - 1] })
}

/// Checks that `t` has `q`'s dtype and device (an error names `op`).
fn same_place(op: &'static str, q: &Tensor, t: &Tensor) -> Result<()> {
    q.same_dtype(op, t)?;
    q.same_device(op, t)
}

/// `q`'s batch dims followed by `last`: the shape of the scores (`[L, S]`) or the output (`[L, Ev]`).
fn with_batch(q: &Tensor, last: [usize; 2]) -> Vec<usize> {
    let n = q.rank();
    [&q.shape()[..n - 2], &last[..]].concat()
}

/// The bias view of `m` broadcast to `[batch..., L, S]`, read in place.
fn bias_view<'a, T: Element>(m: &'a Tensor, target: &[usize]) -> Result<Bias<'a, T>> {
    let b = m.try_expand(target)?;
    let (data, _) = m.cpu_raw::<T>();
    let lay: &Layout = b.layout();
    let n = target.len();
    let offsets = batch_offsets(&target[..n - 2], &lay.strides[..n - 2], lay.offset);
    Ok(Bias { data, offsets, rs: lay.strides[n - 2], cs: lay.strides[n - 1] })
}

/// `t` itself when its columns are adjacent (read in place by the kernel), else a contiguous copy.
fn readable(t: &Tensor) -> Result<Tensor> {
    let lay = t.layout();
    let n = lay.shape.len();
    if lay.shape[n - 1] <= 1 || lay.strides[n - 1] == 1 {
        Ok(t.clone())
    } else {
        t.try_contiguous()
    }
}

/// The kernel's view of a CPU tensor made [`readable`].
fn blocks<T: Element>(t: &Tensor) -> Blocks<'_, T> {
    let (data, lay) = t.cpu_raw::<T>();
    Blocks::of_layout(data, &lay.shape, &lay.strides, lay.offset).expect("attention: columns made adjacent first")
}

/// A tensor of logical `shape` over the kernel's output `buf`, laid out by `place`: a permuted
/// view of a dense tensor in memory order.
fn placed<T: Element>(buf: Vec<T>, shape: &[usize], place: &Placement) -> Tensor {
    let (mem, perm) = place.memory_shape_and_permutation(shape);
    let t = Tensor::from_vec_unchecked(buf, &mem);
    if perm.iter().enumerate().all(|(i, &p)| i == p) {
        t
    } else {
        t.permute(&perm)
    }
}

impl Tensor {
    /// `softmax(scale · q kᵀ + bias) v` in one fused kernel: `q` `[..., L, E]`, `k` `[..., S, E]`,
    /// `v` `[..., S, Ev]` with equal batch dims; `bias` (optional, the query's dtype) broadcasts to
    /// `[..., L, S]` and is added to the scaled scores (`-inf` masks a key); `causal` masks keys
    /// after each query (top-left aligned, without a bias). Returns the output `[..., L, Ev]` and,
    /// when `keep_probs`, the probabilities `[..., L, S]` that [`Tensor::attention_backward`]
    /// takes. A query whose keys are all masked gets zeros. Only one score block per thread is
    /// materialised when the probabilities are not kept.
    ///
    /// ```
    /// use ember_tensor::Tensor;
    /// let q = Tensor::from_vec(vec![1.0f32, 0.0], &[1, 2]);
    /// let k = Tensor::from_vec(vec![1.0f32, 0.0, 0.0, 1.0], &[2, 2]);
    /// let v = Tensor::from_vec(vec![1.0f32, 2.0], &[2, 1]);
    /// let (out, p) = Tensor::attention(&q, &k, &v, None, false, 1.0, true);
    /// let p = p.unwrap().to_vec::<f32>();
    /// let e = std::f32::consts::E;
    /// assert!((p[0] - e / (e + 1.0)).abs() < 1e-6);
    /// assert!((out.to_vec::<f32>()[0] - (p[0] + 2.0 * p[1])).abs() < 1e-6);
    /// ```
    #[must_use]
    #[track_caller]
    pub fn attention(
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        bias: Option<&Tensor>,
        causal: bool,
        scale: f64,
        keep_probs: bool,
    ) -> (Tensor, Option<Tensor>) {
        ok(Tensor::try_attention(q, k, v, bias, causal, scale, keep_probs))
    }

    /// Checked form of [`Tensor::attention`].
    pub fn try_attention(
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        bias: Option<&Tensor>,
        causal: bool,
        scale: f64,
        keep_probs: bool,
    ) -> Result<(Tensor, Option<Tensor>)> {
        let d = check(OP, q, k, v)?;
        let n = q.rank();
        let (pshape, oshape) = (with_batch(q, [d.l, d.s]), with_batch(q, [d.l, d.ev]));
        if let Some(b) = bias {
            same_place(OP, q, b)?;
            if causal {
                crate::bail!(OP, "a bias cannot be combined with causal=true");
            }
            if b.rank() > n || b.try_expand(&pshape).is_err() {
                crate::bail!(OP, "bias of shape {:?} does not broadcast to the scores' shape {pshape:?}", b.shape());
            }
        }
        let mut ins = vec![q, k, v];
        ins.extend(bias);
        let mut res = crate::backend::host(OP, &ins, |t| -> Result<Vec<Tensor>> {
            let (q, k, v) = (readable(t[0])?, readable(t[1])?, readable(t[2])?);
            // the output in q's memory order: multi-head attention's heads merge for free after
            let place = Placement::following(&oshape, &q.layout().strides);
            crate::with_float!(OP, q.dtype(), T, {
                let x = Operands { q: blocks::<T>(&q), k: blocks::<T>(&k), v: blocks::<T>(&v) };
                let bias = t.get(3).map(|b| bias_view::<T>(b, &pshape)).transpose()?;
                let (o, p) =
                    kernel::forward::<T>(&x, bias.as_ref(), causal, T::from_f64(scale), d, &place, keep_probs)?;
                let mut r = vec![placed(o, &oshape, &place)];
                r.extend(p.map(|p| Tensor::from_vec_unchecked(p, &pshape)));
                Ok(r)
            })
        })?;
        let probs = if keep_probs { res.pop() } else { None };
        Ok((res.pop().expect("attention output"), probs))
    }

    /// The gradients `(dq, dk, dv)` of [`Tensor::attention`] from the output gradient `grad`
    /// `[..., L, Ev]`, the inputs and the saved probabilities `probs` `[..., L, S]`, with the
    /// forward's `scale`.
    #[must_use]
    #[track_caller]
    pub fn attention_backward(
        grad: &Tensor,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        probs: &Tensor,
        scale: f64,
    ) -> (Tensor, Tensor, Tensor) {
        ok(Tensor::try_attention_backward(grad, q, k, v, probs, scale))
    }

    /// Checked form of [`Tensor::attention_backward`].
    pub fn try_attention_backward(
        grad: &Tensor,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        probs: &Tensor,
        scale: f64,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        let op = "scaled_dot_product_attention_backward";
        let d = check(op, q, k, v)?;
        for (what, t, shape) in
            [("grad", grad, with_batch(q, [d.l, d.ev])), ("probs", probs, with_batch(q, [d.l, d.s]))]
        {
            same_place(op, q, t)?;
            if t.shape() != shape.as_slice() {
                crate::bail!(op, "{what} of shape {:?} should be {shape:?}", t.shape());
            }
        }
        let shapes = [q.shape().to_vec(), k.shape().to_vec(), v.shape().to_vec()];
        let mut r = crate::backend::host(op, &[grad, q, k, v, probs], |t| -> Result<Vec<Tensor>> {
            let (g, q, k, v) = (readable(t[0])?, readable(t[1])?, readable(t[2])?, readable(t[3])?);
            let p = t[4].try_contiguous()?;
            // each gradient in its input's memory order
            let place = GradPlacements {
                q: Placement::following(&shapes[0], &q.layout().strides),
                k: Placement::following(&shapes[1], &k.layout().strides),
                v: Placement::following(&shapes[2], &v.layout().strides),
            };
            crate::with_float!(op, q.dtype(), T, {
                let x = Operands { q: blocks::<T>(&q), k: blocks::<T>(&k), v: blocks::<T>(&v) };
                let pd = p.try_cpu_data::<T>()?;
                let (dq, dk, dv) = kernel::backward::<T>(&blocks::<T>(&g), &x, &pd, T::from_f64(scale), d, &place)?;
                Ok(vec![
                    placed(dq, &shapes[0], &place.q),
                    placed(dk, &shapes[1], &place.k),
                    placed(dv, &shapes[2], &place.v),
                ])
            })
        })?;
        let dv = r.pop().expect("dv");
        let dk = r.pop().expect("dk");
        Ok((r.pop().expect("dq"), dk, dv))
    }
}
