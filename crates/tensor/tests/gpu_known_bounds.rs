//! Bounds checks decided on the host (issue 18, one submission per step): an I64 tensor uploaded
//! from host memory carries its smallest and largest value, so the cross-entropy's target check and
//! the indexing ops' bounds flag skip their readback when every index is in range (no submission,
//! nothing waits for the GPU). Indices the host does not know (computed on the GPU), or whose
//! uploaded range reaches outside, still take the readback and give the CPU's errors; views and
//! copies of an uploaded tensor keep its bounds; results match the CPU's.

mod gpu_util;

use ember_tensor::{gpu_counters, CrossEntropyOpts, Tensor};
use gpu_util::{gpu, Rng};

fn close(cpu: &Tensor, gpu: &Tensor, what: &str) {
    let (a, b) = (cpu.to_vec::<f32>(), gpu.to_vec::<f32>());
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!((x - y).abs() <= 1e-4 * (1.0 + x.abs()), "{what}: element {i}: cpu {x}, gpu {y}");
    }
}

/// Submissions made while `f` runs (it must not read anything back itself).
fn submissions<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = gpu_counters();
    let out = f();
    (out, (gpu_counters() - before).submissions)
}

/// One test: the counters are process-wide, so the cases run one after the other.
#[test]
fn host_known_index_bounds_skip_the_readback_and_unknown_ones_keep_it() {
    let Some(dev) = gpu() else { return };
    let v: Vec<f32> = Rng::new(3).vec(37 * 11, -2.0, 2.0).into_iter().map(|v| v as f32).collect();
    let x = Tensor::from_vec(v, &[37, 11]);
    let t = Tensor::from_vec((0..37).map(|i| (i * 7 % 11) as i64).collect(), &[37]);
    let (gx, gt) = (x.to(&dev), t.to(&dev));
    let _ = gx.to_vec::<f32>(); // the upload is submitted before counting
    let o = CrossEntropyOpts::default;

    // Uploaded targets all in 0..11: the forward records its dispatch and returns, unsubmitted.
    let ((loss, stats), subs) = submissions(|| gx.cross_entropy_fused(&gt, None, o()));
    assert_eq!(subs, 0, "uploaded in-range targets: the forward submits nothing");
    let (want, want_stats) = x.cross_entropy_fused(&t, None, o());
    close(&want, &loss, "loss");
    let g = Tensor::scalar(1.0f32);
    let dx = gx.cross_entropy_fused_backward(&gt, None, &stats, &g.to(&dev), o());
    close(&x.cross_entropy_fused_backward(&t, None, &want_stats, &g, o()), &dx, "dlogits");

    // A view (narrow) and a contiguous copy of a strided view keep the upload's bounds.
    let view = gt.narrow(0, 5, 20);
    let strided = gt.reshape(&[1, 37]).expand(&[2, 37]).transpose(0, 1).select(1, 1).contiguous();
    let _ = strided.to_vec::<i64>();
    let ((l1, _), s1) = submissions(|| gx.narrow(0, 5, 20).cross_entropy_fused(&view, None, o()));
    let ((l2, _), s2) = submissions(|| gx.cross_entropy_fused(&strided, None, o()));
    assert_eq!((s1, s2), (0, 0), "views and copies of uploaded targets skip the readback");
    close(&x.narrow(0, 5, 20).cross_entropy_fused(&t.narrow(0, 5, 20), None, o()).0, &l1, "view");
    close(&want, &l2, "copy");

    // Indexing: index_select, gather and one_hot with uploaded in-range indices submit nothing.
    let idx = Tensor::from_vec(vec![36i64, 0, 5, 5, 17], &[5]);
    let gidx = idx.to(&dev);
    let (rows, s) = submissions(|| gx.index_select(0, &gidx));
    assert_eq!(s, 0, "index_select with uploaded indices");
    close(&x.index_select(0, &idx), &rows, "index_select");
    let col = Tensor::from_vec((0..37).map(|i| (i % 11) as i64).collect(), &[37, 1]);
    let (g1, s) = submissions(|| gx.gather(1, &col.to(&dev)));
    assert_eq!(s, 0, "gather with indices uploaded in the same call");
    close(&x.gather(1, &col), &g1, "gather");
    let (oh, s) = submissions(|| gidx.one_hot(40));
    assert_eq!(s, 0, "one_hot with uploaded indices");
    assert_eq!(oh.to_vec::<i64>(), idx.one_hot(40).to_vec::<i64>());
    // one_hot(-1) over a view: the number of classes is the view's maximum, not the upload's.
    let part = gidx.narrow(0, 1, 3);
    assert_eq!(part.one_hot(-1).shape(), &[3, 6], "classes from the view's values 0, 5, 5");

    // Out of range, uploaded: the bounds do not prove the check, so the readback gives the error.
    let bad = Tensor::from_vec(vec![1i64, 11, 2], &[3]).to(&dev);
    let err = gx.narrow(0, 0, 3).try_cross_entropy_fused(&bad, None, o()).unwrap_err().to_string();
    assert!(err.contains("11"), "{err}");
    let err = gx.try_index_select(0, &Tensor::from_vec(vec![0i64, 37], &[2]).to(&dev)).unwrap_err().to_string();
    assert!(err.contains("37"), "{err}");
    // ... but a view of it that leaves the bad value out is fine (checked by the readback).
    let (l, _) = gx.narrow(0, 0, 1).cross_entropy_fused(&bad.narrow(0, 0, 1), None, o());
    close(&x.narrow(0, 0, 1).cross_entropy_fused(&Tensor::from_vec(vec![1i64], &[1]), None, o()).0, &l, "good view");

    // Computed on the GPU (unknown to the host): the readback checks them, good or bad.
    let computed = gt.add_scalar(0.0);
    let ((l, _), s) = submissions(|| gx.cross_entropy_fused(&computed, None, o()));
    assert!(s >= 1, "targets computed on the GPU are read back");
    close(&want, &l, "computed targets");
    let shifted = gt.add_scalar(1.0); // 11 appears
    let err = gx.try_cross_entropy_fused(&shifted, None, o()).unwrap_err().to_string();
    assert!(err.contains("11"), "{err}");
    let err = gx.try_index_select(0, &gidx.add_scalar(1.0)).unwrap_err().to_string();
    assert!(err.contains("37"), "{err}");
    // ignore_index outside 0..C makes the uploaded range inconclusive: the readback decides.
    let with_ignored = Tensor::from_vec(vec![-100i64, 3, -100], &[3]);
    let (l, _) = gx.narrow(0, 0, 3).cross_entropy_fused(&with_ignored.to(&dev), None, o());
    close(&x.narrow(0, 0, 3).cross_entropy_fused(&with_ignored, None, o()).0, &l, "ignore_index");
}
