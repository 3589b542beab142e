// Batched matrix product C[b] = A[b] @ B[b] (A: M x K, B: K x N, C: M x N dense), tiled: each
// workgroup of 16 x 16 invocations computes a 64 x 64 tile of C, 4 x 4 outputs per invocation,
// stepping over K in slices of 16 staged in workgroup memory. A and B are read through arbitrary
// element strides (batch, row, column), so transposed or broadcast operands need no copy.
// info = [M, N, K, a offset, a batch stride, a row stride, a col stride,
//         b offset, b batch stride, b row stride, b col stride]; grid = (ceil(N/64), ceil(M/64), batch).

@group(0) @binding(0) var<storage, read> a: array<T>;
@group(0) @binding(1) var<storage, read> b: array<T>;
@group(0) @binding(2) var<storage, read_write> c: array<T>;
@group(0) @binding(3) var<storage, read> info: array<u32>;

const TILE: u32 = 64u;
const BK: u32 = 16u;

var<workgroup> ta: array<array<T, 64>, 16>;
var<workgroup> tb: array<array<T, 64>, 16>;

@compute @workgroup_size(16, 16)
fn matmul(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let m_size = info[0];
    let n_size = info[1];
    let k_size = info[2];
    let batch = wid.z;
    let row0 = wid.y * TILE;
    let col0 = wid.x * TILE;
    let a_base = info[3] + batch * info[4];
    let b_base = info[7] + batch * info[8];
    var acc: array<array<T, 4>, 4>;
    for (var i = 0u; i < 4u; i = i + 1u) {
        for (var j = 0u; j < 4u; j = j + 1u) {
            acc[i][j] = 0.0;
        }
    }
    for (var k0 = 0u; k0 < k_size; k0 = k0 + BK) {
        // Stage A[row0.., k0..] (as ta[k][m]) and B[k0.., col0..] (as tb[k][n]): 1024 elements each,
        // four per invocation; out-of-range elements are zero.
        for (var l = 0u; l < 4u; l = l + 1u) {
            let e = lid + l * 256u;
            let am = e / BK;
            let ak = e % BK;
            var av: T = 0.0;
            if (row0 + am < m_size && k0 + ak < k_size) {
                av = a[a_base + (row0 + am) * info[5] + (k0 + ak) * info[6]];
            }
            ta[ak][am] = av;
            let bk = e / TILE;
            let bn = e % TILE;
            var bv: T = 0.0;
            if (k0 + bk < k_size && col0 + bn < n_size) {
                bv = b[b_base + (k0 + bk) * info[9] + (col0 + bn) * info[10]];
            }
            tb[bk][bn] = bv;
        }
        workgroupBarrier();
        for (var k = 0u; k < BK; k = k + 1u) {
            var av: array<T, 4>;
            var bv: array<T, 4>;
            for (var i = 0u; i < 4u; i = i + 1u) {
                av[i] = ta[k][lid3.y * 4u + i];
                bv[i] = tb[k][lid3.x * 4u + i];
            }
            for (var i = 0u; i < 4u; i = i + 1u) {
                for (var j = 0u; j < 4u; j = j + 1u) {
                    acc[i][j] = acc[i][j] + av[i] * bv[j];
                }
            }
        }
        workgroupBarrier();
    }
    let c_base = batch * m_size * n_size;
    for (var i = 0u; i < 4u; i = i + 1u) {
        let r = row0 + lid3.y * 4u + i;
        for (var j = 0u; j < 4u; j = j + 1u) {
            let col = col0 + lid3.x * 4u + j;
            if (r < m_size && col < n_size) {
                c[c_base + r * n_size + col] = acc[i][j];
            }
        }
    }
}
