// Strided copy into place (ops/join.rs `cat`/`stack`, and `flip`/`repeat` of ops/index_misc.rs):
// element i (row-major over the copied shape) goes from operand 0 (the source) to operand 1 (the
// destination), both addressed through the strided metadata of strided.wgsl. The host passes the
// destination's offset and strides (a slice of the output for cat), and for `flip` the source's
// reversed dims as wrapping u32 strides (offsets_of's u32 arithmetic wraps, and every address it
// ends on is a real one, so the result is exact). Values are raw storage words (w1: F32 and Bool,
// w2: F64 and I64), so no f64 shader support is needed.

@group(0) @binding(0) var<storage, read> src1: array<u32>;
@group(0) @binding(0) var<storage, read> src2: array<vec2<u32>>;
@group(0) @binding(1) var<storage, read_write> dst1: array<u32>;
@group(0) @binding(1) var<storage, read_write> dst2: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read> info: array<u32>;

@compute @workgroup_size(256)
fn copy_into_w1(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let i = linear_index(wid, nwg, lid);
    if (i >= info[0]) {
        return;
    }
    let o = offsets_of(i);
    dst1[o.y] = src1[o.x];
}

@compute @workgroup_size(256)
fn copy_into_w2(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                @builtin(local_invocation_index) lid: u32) {
    let i = linear_index(wid, nwg, lid);
    if (i >= info[0]) {
        return;
    }
    let o = offsets_of(i);
    dst2[o.y] = src2[o.x];
}
