//! Fused scaled dot-product attention, `softmax(scale · q kᵀ + bias) v`, and its backward: the
//! kernels behind `ember_nn::functional::scaled_dot_product_attention` (`cpu/attention.rs`). GPU
//! tensors run the CPU kernel through the host.

use crate::cpu::attention::{self as kernel, Bias, Dims};
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
    let mut offsets = Vec::with_capacity(target[..n - 2].iter().product());
    // every index of the batch dims in row-major order
    let mut idx = vec![0usize; n - 2];
    loop {
        offsets.push(lay.offset + idx.iter().zip(&lay.strides).map(|(i, s)| i * s).sum::<usize>());
        let mut d = n - 2;
        loop {
            if d == 0 {
                return Ok(Bias { data, offsets, rs: lay.strides[n - 2], cs: lay.strides[n - 1] });
            }
            d -= 1;
            idx[d] += 1;
            if idx[d] < target[d] {
                break;
            }
            idx[d] = 0;
        }
    }
}

/// # Fused attention
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
            let (q, k, v) = (t[0].try_contiguous()?, t[1].try_contiguous()?, t[2].try_contiguous()?);
            crate::with_float!(OP, q.dtype(), T, {
                let (qd, kd, vd) = (q.try_cpu_data::<T>()?, k.try_cpu_data::<T>()?, v.try_cpu_data::<T>()?);
                let bias = t.get(3).map(|b| bias_view::<T>(b, &pshape)).transpose()?;
                let (o, p) =
                    kernel::forward::<T>(&qd, &kd, &vd, bias.as_ref(), causal, T::from_f64(scale), d, keep_probs)?;
                let mut r = vec![Tensor::from_vec_unchecked(o, &oshape)];
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
            let c: Vec<Tensor> = t.iter().map(|x| x.try_contiguous()).collect::<Result<_>>()?;
            crate::with_float!(op, q.dtype(), T, {
                let g = c[0].try_cpu_data::<T>()?;
                let (qd, kd, vd, pd) = (
                    c[1].try_cpu_data::<T>()?,
                    c[2].try_cpu_data::<T>()?,
                    c[3].try_cpu_data::<T>()?,
                    c[4].try_cpu_data::<T>()?,
                );
                let (dq, dk, dv) = kernel::backward::<T>(&g, &qd, &kd, &vd, &pd, T::from_f64(scale), d)?;
                Ok(vec![
                    Tensor::from_vec_unchecked(dq, &shapes[0]),
                    Tensor::from_vec_unchecked(dk, &shapes[1]),
                    Tensor::from_vec_unchecked(dv, &shapes[2]),
                ])
            })
        })?;
        let dv = r.pop().expect("dv");
        let dk = r.pop().expect("dk");
        Ok((r.pop().expect("dq"), dk, dv))
    }
}
