//! The facade re-exports the tensor level under the names API.md fixes.

use ember::prelude::*;

#[test]
fn prelude_tensor_roundtrip() {
    ember::manual_seed(0);
    let t = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3]);
    let u = 1.0 - &t * 2.0;
    ember_testutil::assert_allclose("1 - 2t", &u.to_vec::<f64>(), &[-1.0, -3.0, -5.0], 0.0, 0.0);
    assert_eq!(t.device(), Device::Cpu);
    assert_eq!(t.dtype(), DType::F32);
}
