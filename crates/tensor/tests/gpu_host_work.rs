//! Host work per dispatch (issue 18): consecutive dispatches share one compute pass, and a
//! dispatch whose buffers were bound together before reuses its cached bind group. Checked by the
//! process-wide counters (`gpu_counters`: passes, bind groups created) and against the CPU's
//! results; emptying the pool's cache (which destroys its buffers) drops the cached bind groups
//! with it, and later dispatches still compute the right values.

mod gpu_util;

use ember_tensor::{gpu_counters, gpu_empty_cache, Tensor};
use gpu_util::{gpu, Rng};

fn close(cpu: &Tensor, gpu: &Tensor, what: &str) {
    let (a, b) = (cpu.to_vec::<f32>(), gpu.to_vec::<f32>());
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!((x - y).abs() <= 1e-4 * (1.0 + x.abs()), "{what}: element {i}: cpu {x}, gpu {y}");
    }
}

/// One test: the counters are process-wide, so the cases run one after the other.
#[test]
fn dispatches_share_passes_and_reuse_bind_groups() {
    let Some(dev) = gpu() else { return };
    let a = Tensor::from_vec(Rng::new(1).vec(37 * 29, -1.0, 1.0), &[37, 29]);
    let b = Tensor::from_vec(Rng::new(2).vec(29 * 41, -1.0, 1.0), &[29, 41]);
    let (ga, gb) = (a.to(&dev), b.to(&dev));
    let want = a.matmul(&b);

    // A chain of dependent products recorded before one readback: one compute pass for all of them
    // (each product reads the one before; wgpu orders them inside the pass).
    let chain = |x: &Tensor, y: &Tensor, n: usize| {
        let mut c = x.matmul(y);
        for _ in 1..n {
            c = c.matmul(&y.transpose(0, 1)).matmul(y);
        }
        c
    };
    let before = gpu_counters();
    let got = chain(&ga, &gb, 5);
    let counts = gpu_counters() - before;
    close(&chain(&a, &b, 5), &got, "chain of products");
    assert_eq!(counts.dispatches, 9, "{counts:?}");
    assert_eq!(counts.passes, 1, "nine dispatches, no copy between them: one pass ({counts:?})");

    // The same product again and again on the same operands: the pool hands the freed output buffer
    // back, so from the second round on no bind group is created.
    let mut created = Vec::new();
    for _ in 0..4 {
        let before = gpu_counters();
        let c = ga.matmul(&gb);
        close(&want, &c, "repeated product");
        drop(c);
        created.push((gpu_counters() - before).bind_groups);
    }
    assert!(created[0] <= 1, "{created:?}");
    assert_eq!(&created[2..], &[0, 0], "bind groups created per round: {created:?}");

    // Emptying the cache destroys the free buffers the cached bind groups name: they go too, and the
    // next products bind fresh ones and compute the right values.
    gpu_empty_cache(dev);
    let before = gpu_counters();
    close(&want, &ga.matmul(&gb), "product after emptying the cache");
    assert!((gpu_counters() - before).bind_groups >= 1, "the emptied cache cannot serve the product");
    close(&want, &ga.matmul(&gb), "second product after emptying the cache");
}
