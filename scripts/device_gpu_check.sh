#!/bin/bash
# The real-GPU check of docs/performance.md, as run through the `device` tool (a lent machine with
# an NVIDIA GPU, no Rust toolchain, no network). Prepare on the development machine:
#   cargo test --release -p ember-tensor -p ember-tests --no-run
#   cargo build --release -p ember-bench && cargo build --release -p ember --example digits
#   cargo build --release -p ember-bench --example gpu_host_cost
#   strip each gpu_*/parity_* test binary, ember-bench, examples/digits and examples/gpu_host_cost, `xz` them into .devbin/
#   (apt-get download libvulkan1 libglvnd0 ... into .gl/, as the device tool's README says)
# then run this script there with `.gl` and `.devbin` carried. Results land in $OUT.
export ROOT=$PWD
for f in .gl/*.deb; do dpkg -x $f /; done; ldconfig
ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f $ICD ] && export VK_DRIVER_FILES=$ICD
ls /usr/local/nvidia/share/vulkan/icd.d/ /usr/share/vulkan/icd.d/ /etc/vulkan/icd.d 2>&1 | head
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee $OUT/gpu.txt
mkdir -p /work && ln -sfn $ROOT /work/main   # fixture and data paths compiled into the binaries
mkdir -p /tmp/b && cd /tmp/b
python3 - <<'PY'
import lzma, glob, os
for f in glob.glob(os.environ["ROOT"] + "/.devbin/*.xz"):
    out = os.path.basename(f)[:-3]
    open(out, "wb").write(lzma.open(f).read()); os.chmod(out, 0o755)
PY
cd $ROOT
export EMBER_REQUIRE_GPU=1 RUST_BACKTRACE=1
timeout 90 /tmp/b/ember-bench --device gpu 2>&1 | tee $OUT/bench_gpu.json
# per-kernel GPU time of the training steps (timestamps around every dispatch)
for w in mlp-step cnn-step; do
  EMBER_GPU_PROFILE=1 timeout 60 /tmp/b/ember-bench --device gpu --only $w 2>&1 | tee $OUT/profile_$w.txt
done
# the native 16-bit matmul without SHADER_F16 (F16 as packed words, as BF16); with it: bench_gpu.json
EMBER_NO_SHADER_F16=1 timeout 60 /tmp/b/ember-bench --device gpu --only matmul-1024-f16 2>&1 | tee $OUT/bench_gpu_f16_packed.json
EMBER_NO_SHADER_F16=1 timeout 60 /tmp/b/ember-bench --device gpu --only matmul-2048-f16 2>&1 | tee -a $OUT/bench_gpu_f16_packed.json
# host CPU per step and per dispatch (one compute pass per run of dispatches, cached bind groups)
timeout 60 /tmp/b/gpu_host_cost 20 2>&1 | tee $OUT/host_cost.txt
timeout 60 python3 bench/torch_ref.py --device cuda 2>&1 | tee $OUT/torch_cuda.json
timeout 90 /tmp/b/digits --device gpu --epochs 30 --out /tmp/d 2>&1 | tail -4 | tee $OUT/digits.txt
{
  for t in /tmp/b/gpu_* /tmp/b/parity_*; do
    echo "== $(basename $t)"; timeout 100 $t --test-threads=8 2>&1 | grep -E "test result|FAILED|panicked|failed|error" | head -20
  done
} 2>&1 | tee $OUT/tests.log
