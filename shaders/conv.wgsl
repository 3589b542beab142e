// col2im of the convolutions' input gradient (wgpu/conv.rs), after the matmul kernel: for an
// input [N, C, H, W], weight [O, C/G, kh, kw] and output [N, O, oh, ow] (L = oh * ow), the
// gradient's columns W_g^T @ dy_g are laid out [C * kh * kw, N, L] (i.e. [G, K, N * L] with
// K = C/G * kh * kw), and dx = col2im(columns). Padding reads as 0; col2im gathers (each input
// element sums the columns it was copied to), so it needs no atomics. (The forward and the weight
// gradient read the columns straight from x: the implicit modes of matmul.wgsl.)
// With NKL (groups = 1) the columns come laid out [N, K, L] instead: the input gradient's product
// batched over the images, W^T [K, O] @ dy[n] [O, L], reads dy in place.
// info = [total, N, C, H, W, kh, kw, oh, ow, stride h, w, padding h, w, dilation h, w, offset].

@group(0) @binding(0) var<storage, read> src: array<T>;
@group(0) @binding(1) var<storage, read_write> dst: array<T>;
@group(0) @binding(2) var<storage, read> info: array<u32>;

override NKL: bool = false;

@compute @workgroup_size(256)
fn col2im(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let e = linear_index(wid, nwg, lid);
    if (e >= info[0]) {
        return;
    }
    let w = info[4];
    let h = info[3];
    let x = e % w;
    let y = (e / w) % h;
    let c = (e / (w * h)) % info[2];
    let n = e / (w * h * info[2]);
    let kh = info[5];
    let kw = info[6];
    let oh = info[7];
    let ow = info[8];
    let l = oh * ow;
    var acc = T(0);
    for (var ki = 0u; ki < kh; ki = ki + 1u) {
        let ty = i32(y + info[11]) - i32(ki * info[13]);
        if (ty < 0 || ty % i32(info[9]) != 0) {
            continue;
        }
        let oy = u32(ty) / info[9];
        if (oy >= oh) {
            continue;
        }
        for (var kj = 0u; kj < kw; kj = kj + 1u) {
            let tx = i32(x + info[12]) - i32(kj * info[14]);
            if (tx < 0 || tx % i32(info[10]) != 0) {
                continue;
            }
            let ox = u32(tx) / info[10];
            if (ox >= ow) {
                continue;
            }
            let row = (c * kh + ki) * kw + kj;
            var col = (row * info[1] + n) * l;
            if (NKL) {
                col = (n * info[2] * kh * kw + row) * l;
            }
            acc = acc + src[info[15] + col + oy * ow + ox];
        }
    }
    dst[e] = acc;
}
