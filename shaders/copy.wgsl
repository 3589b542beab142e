// Strided gather into a dense buffer, converting each element: `contiguous()` (same dtype: SRC and
// DST are the raw storage words, u32 or vec2<u32>, and `convert` is the identity, so F64 copies need
// no f64 shader support) and `to_dtype` casts. The host prepends
//   alias SRC = ...; alias DST = ...; fn convert(v: SRC) -> DST { ... }
// built from the conversion functions of i64.wgsl and the float type T.

@group(0) @binding(0) var<storage, read> src: array<SRC>;
@group(0) @binding(1) var<storage, read_write> dst: array<DST>;
@group(0) @binding(2) var<storage, read> info: array<u32>;

@compute @workgroup_size(256)
fn copy(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_index(wid, nwg, lid);
    if (i >= info[0]) {
        return;
    }
    dst[i] = convert(src[offsets_of(i).x]);
}
