//! Rayon's workers are pinned to distinct CPUs by the first split product (`cpu/pin.rs`): after a
//! product large enough to split, each worker's affinity names exactly one CPU, no two the same,
//! and the products are right. Where the process may use fewer CPUs than the pool has workers, or
//! the pool has one worker, nothing is pinned: the test checks that instead.

#![cfg(target_os = "linux")]

use ember_tensor::Tensor;

type CpuSet = [u64; 16];

extern "C" {
    fn sched_getaffinity(pid: i32, size: usize, mask: *mut CpuSet) -> i32;
}

/// The CPUs the calling thread may run on.
fn allowed() -> Vec<usize> {
    let mut set: CpuSet = [0; 16];
    // SAFETY: `set` is a writable buffer of its own size; pid 0 is the calling thread.
    assert_eq!(unsafe { sched_getaffinity(0, std::mem::size_of::<CpuSet>(), &mut set) }, 0);
    (0..1024).filter(|&c| set[c / 64] >> (c % 64) & 1 == 1).collect()
}

#[test]
fn the_first_split_product_pins_each_worker_to_its_own_cpu() {
    let cpus = allowed();
    let workers = rayon::current_num_threads();
    let before: Vec<Vec<usize>> = rayon::broadcast(|_| allowed());
    assert!(before.iter().all(|s| s == &cpus), "workers start unpinned: {before:?}");
    let a = Tensor::from_vec((0..256 * 300).map(|i| (i % 7) as f32 - 3.0).collect::<Vec<f32>>(), &[256, 300]);
    let b = Tensor::from_vec((0..300 * 256).map(|i| (i % 5) as f32 - 2.0).collect::<Vec<f32>>(), &[300, 256]);
    let c = a.matmul(&b).to_vec::<f32>();
    // exact: small integers
    let (av, bv) = (a.to_vec::<f32>(), b.to_vec::<f32>());
    for &(i, j) in &[(0usize, 0usize), (17, 200), (255, 255), (128, 3)] {
        let want: f32 = (0..300).map(|k| av[i * 300 + k] * bv[k * 256 + j]).sum();
        assert_eq!(c[i * 256 + j], want, "c[{i}, {j}]");
    }
    // (the pinning is queued on each worker ahead of this broadcast)
    let after: Vec<Vec<usize>> = rayon::broadcast(|_| allowed());
    if std::env::var_os("EMBER_NO_PIN").is_some() || workers < 2 || cpus.len() < workers {
        assert!(after.iter().all(|s| s == &cpus), "nothing pinned here: {after:?}");
        return;
    }
    for (i, s) in after.iter().enumerate() {
        assert_eq!(s, &vec![cpus[i]], "worker {i} pinned to the {i}-th allowed CPU: {after:?}");
    }
    assert_eq!(allowed(), cpus, "the calling thread is left alone");
}
