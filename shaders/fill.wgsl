// Fills a buffer with one value, as raw 32-bit words: info = [word count, words per element (1 or
// 2), word 0, word 1]. Dtype-agnostic: the host encodes the value (f32 bits, f64 or i64 as two
// little-endian words, bool as 0/1).

@group(0) @binding(0) var<storage, read_write> out: array<u32>;
@group(0) @binding(1) var<storage, read> info: array<u32>;

@compute @workgroup_size(256)
fn fill(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = (wid.y * nwg.x + wid.x) * 256u + lid;
    if (i >= info[0]) {
        return;
    }
    out[i] = select(info[2], info[3], (i % info[1]) == 1u);
}
