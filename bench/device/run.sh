#!/usr/bin/env bash
# Device check for FaceParts Studio: WebGPU (Dawn on NVIDIA Vulkan) trains the faceswap-GAN model; PyTorch peer beside it.
cd "$(dirname "$0")/.."
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$ICD" ] && export VK_DRIVER_FILES=$ICD
[ -f /usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json ] && export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
export XDG_RUNTIME_DIR=/tmp
unz() { python3 -c "import lzma,shutil,sys;shutil.copyfileobj(lzma.open(sys.argv[1]),open(sys.argv[2],'wb'))" "$1" "$2"; }
N=$(command -v node || true)
if [ -z "$N" ]; then unz .gpu/node.xz /tmp/node && chmod +x /tmp/node && N=/tmp/node; fi
echo "node: $N $($N --version)"; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; ls /usr/local/nvidia/share/vulkan/icd.d/ 2>&1
unz .gpu/node_modules/webgpu/dist/linux-x64/dawn.node.xz .gpu/node_modules/webgpu/dist/linux-x64/dawn.node
# The peer first (seconds on CUDA), so that its figures come back even when the WebGPU bench runs out of time.
# Budget: one device call is at most 600 s; peer <= 4 x 45 s, bench <= BENCH_S (default 330 s).
[ "${PEER:-1}" = 0 ] || (cd .gpu && for a in "--lite" ""; do for b in 8 32; do timeout 45 python3 peer_gan_step.py --device cuda $a --batch $b --iters 10; done; done) > "$OUT/peer.log" 2>&1
tail -8 "$OUT/peer.log"
(cd .gpu && ITERS=${ITERS:-5} LOSS_ITERS=${LOSS_ITERS:-150} timeout "${BENCH_S:-330}" "$N" bench.mjs 2>&1 | grep -v "already registered" > "$OUT/gpu-bench.log"; echo "bench exit ${PIPESTATUS[0]}" >> "$OUT/gpu-bench.log")
tail -c 6000 "$OUT/gpu-bench.log"
