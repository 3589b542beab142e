// Stable sort along one dim (ops/sort.rs: sort, argsort, topk). A dense input seen as
// [outer, n, inner] has outer * inner lines of n elements, `inner` apart, read in place.
// Each element becomes a 64-bit key (vec2<u32>, .y the high word) whose unsigned order is the
// CPU's order: floats by value with NaN above everything (all NaNs equal) and -0 == +0, I64 by
// value, Bool 0 < 1; descending inverts the key. Pairs (key, index) are then compared key first,
// index second, so equal elements keep their input order in both directions (a stable sort) and
// the result is deterministic. Only raw bits are read, so F64 needs no f64 shader support.
// Lines are padded to P = next power of two (sentinel keys all ones with indices >= n, which sort
// after every element), laid end to end as a flat array of lines * P pairs and sorted by a bitonic
// network whose block size is P (the direction of the last merge is always ascending, so every
// line ends ascending):
// - `sort_tile`: a tile of 1024 pairs in workgroup memory runs the merge steps of stages k0..k1
//   with distances below 1024 (all of them when k <= 1024). It loads the pairs from x (first
//   pass) or from the scratch arrays, and stores them to scratch or, after the last stage, writes
//   the outputs: values (read back from x at the sorted indices, so exact) and I64 indices.
// - `sort_global`: one compare-exchange per invocation for a merge step of distance j >= 1024.
// - `take`: values of x at given indices (topk in index order).
// The host prepends `alias W = u32;` or `alias W = vec2<u32>;` (the storage word of the dtype) and
// `fn key_of(w: W) -> vec2<u32>` calling one of the key_* functions below.
// info = [lines, n, inner, offset of x, P, total (lines * P), k0, k1, j (sort_global), flags]
// with flags: 1 descending, 2 load from x, 4 write the outputs.

@group(0) @binding(0) var<storage, read> x: array<W>;
@group(0) @binding(1) var<storage, read_write> keys: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read_write> ids: array<u32>;
@group(0) @binding(3) var<storage, read_write> vals: array<W>;
@group(0) @binding(4) var<storage, read_write> oidx: array<vec2<u32>>;
@group(0) @binding(5) var<storage, read> info: array<u32>;

const TILE: u32 = 1024u;
const SORT_WG: u32 = 256u;
const SENTINEL: vec2<u32> = vec2<u32>(0xffffffffu, 0xffffffffu);

var<workgroup> tk: array<vec2<u32>, 1024>;
var<workgroup> ti: array<u32, 1024>;

fn key_f32(w: u32) -> vec2<u32> {
    if ((w & 0x7fffffffu) > 0x7f800000u) {
        return vec2<u32>(0u, 0xffffffffu);
    }
    var b = w;
    if (b == 0x80000000u) {
        b = 0u;
    }
    return vec2<u32>(0u, select(b ^ 0x80000000u, ~b, (b >> 31u) == 1u));
}

fn key_f64(w: vec2<u32>) -> vec2<u32> {
    let hi = w.y & 0x7fffffffu;
    if (hi > 0x7ff00000u || (hi == 0x7ff00000u && w.x != 0u)) {
        return SENTINEL;
    }
    if (w.y == 0x80000000u && w.x == 0u) {
        return vec2<u32>(0u, 0x80000000u);
    }
    if ((w.y >> 31u) == 1u) {
        return ~w;
    }
    return vec2<u32>(w.x, w.y ^ 0x80000000u);
}

fn key_i64(w: vec2<u32>) -> vec2<u32> {
    return vec2<u32>(w.x, w.y ^ 0x80000000u);
}

fn key_bool(w: u32) -> vec2<u32> {
    return vec2<u32>(w, 0u);
}

// True when pair (ka, ia) sorts after (kb, ib).
fn after(ka: vec2<u32>, ia: u32, kb: vec2<u32>, ib: u32) -> bool {
    if (ka.y != kb.y) {
        return ka.y > kb.y;
    }
    if (ka.x != kb.x) {
        return ka.x > kb.x;
    }
    return ia > ib;
}

// The offset of line `r`'s first element in a dense [outer, n, inner] tensor.
fn line_start(r: u32, n: u32) -> u32 {
    let inner = info[2];
    return (r / inner) * n * inner + r % inner;
}

// Whether the pair at flat position i (the lower of a compared pair) ends ascending in stage k.
fn ascending(i: u32, k: u32) -> bool {
    return k >= info[4] || (i & k) == 0u;
}

@compute @workgroup_size(256)
fn sort_tile(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
             @builtin(local_invocation_index) lid: u32) {
    let t0 = (wid.y * nwg.x + wid.x) * TILE;
    let n = info[1];
    let p = info[4];
    let total = info[5];
    let flags = info[9];
    for (var q = 0u; q < TILE / SORT_WG; q = q + 1u) {
        let e = lid + q * SORT_WG;
        let g = t0 + e;
        let pos = g % p;
        var k = SENTINEL;
        var i = 0xffffffffu;
        if (g < total) {
            i = pos;
            if ((flags & 2u) != 0u) {
                if (pos < n) {
                    k = key_of(x[info[3] + line_start(g / p, n) + pos * info[2]]);
                    if ((flags & 1u) != 0u) {
                        k = ~k;
                    }
                }
            } else {
                k = keys[g];
                i = ids[g];
            }
        }
        tk[e] = k;
        ti[e] = i;
    }
    for (var k = info[6]; k <= info[7]; k = k << 1u) {
        for (var j = min(k, TILE) >> 1u; j > 0u; j = j >> 1u) {
            workgroupBarrier();
            for (var q = 0u; q < TILE / (2u * SORT_WG); q = q + 1u) {
                let c = lid + q * SORT_WG;
                let a = (c / j) * 2u * j + c % j;
                let b = a + j;
                let up = after(tk[a], ti[a], tk[b], ti[b]);
                if (up == ascending(t0 + a, k)) {
                    let kk = tk[a];
                    let ii = ti[a];
                    tk[a] = tk[b];
                    ti[a] = ti[b];
                    tk[b] = kk;
                    ti[b] = ii;
                }
            }
        }
    }
    workgroupBarrier();
    for (var q = 0u; q < TILE / SORT_WG; q = q + 1u) {
        let e = lid + q * SORT_WG;
        let g = t0 + e;
        if (g < total) {
            if ((flags & 4u) != 0u) {
                let pos = g % p;
                if (pos < n) {
                    let ls = line_start(g / p, n);
                    let i = ti[e];
                    vals[ls + pos * info[2]] = x[info[3] + ls + i * info[2]];
                    oidx[ls + pos * info[2]] = vec2<u32>(i, 0u);
                }
            } else {
                keys[g] = tk[e];
                ids[g] = ti[e];
            }
        }
    }
}

@compute @workgroup_size(256)
fn sort_global(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
               @builtin(local_invocation_index) lid: u32) {
    let c = (wid.y * nwg.x + wid.x) * SORT_WG + lid;
    let j = info[8];
    if (c >= info[5] / 2u) {
        return;
    }
    let a = (c / j) * 2u * j + c % j;
    let b = a + j;
    let ka = keys[a];
    let kb = keys[b];
    let ia = ids[a];
    let ib = ids[b];
    if (after(ka, ia, kb, ib) == ascending(a, info[6])) {
        keys[a] = kb;
        ids[a] = ib;
        keys[b] = ka;
        ids[b] = ia;
    }
}

// vals[e] = x at index oidx[e] of e's line, for the dense [outer, n, inner] output (info[1] = n,
// the output's line length; info[4] = the input's line length; info[5] = outputs).
@compute @workgroup_size(256)
fn take(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let e = (wid.y * nwg.x + wid.x) * SORT_WG + lid;
    if (e >= info[5]) {
        return;
    }
    let inner = info[2];
    let k = info[1];
    let line = (e / (k * inner)) * inner + e % inner;
    vals[e] = x[info[3] + line_start(line, info[4]) + oidx[e].x * inner];
}
