// Strided indexing shared by the elementwise kernels. Each kernel declares
//   @group(0) @binding(..) var<storage, read> info: array<u32>;
// laid out as: [0] element count n, [1] rank r, [2] offset of operand 0, [3] offset of operand 1,
// [4 .. 4+r) output shape, then r strides of operand 0, then r strides of operand 1 (0 for
// broadcast dims). The host merges dims that are contiguous for every operand, so a dense tensor is
// rank 1 with stride 1, and a 0-d (or all size-1) tensor is rank 0.

const WG: u32 = 256u;

// The linear element index of this invocation; the host splits large dispatches over x and y.
fn linear_index(wid: vec3<u32>, nwg: vec3<u32>, lid: u32) -> u32 {
    return (wid.y * nwg.x + wid.x) * WG + lid;
}

// Storage indices of element i (row-major over the output shape) in operands 0 and 1.
fn offsets_of(i: u32) -> vec2<u32> {
    let rank = info[1];
    var off = vec2<u32>(info[2], info[3]);
    var rem = i;
    var d = rank;
    loop {
        if (d == 0u) {
            break;
        }
        d = d - 1u;
        let size = info[4u + d];
        let c = rem % size;
        rem = rem / size;
        off = off + c * vec2<u32>(info[4u + rank + d], info[4u + 2u * rank + d]);
    }
    return off;
}
