#!/usr/bin/env bash
# Bundle bench/train-step.ts into one file for a GPU machine that has no node_modules: everything but the
# native Dawn module (webgpu) is inlined; sharp is stubbed (the step benchmark decodes no images).
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p .gpu/node_modules/webgpu/dist/linux-x64
npx esbuild bench/train-step.ts --bundle --platform=node --format=esm --target=node20 --main-fields=main,module \
  --outfile=.gpu/bench.mjs --external:webgpu --external:nock --external:aws-sdk --external:mock-aws-s3 \
  --external:@tensorflow/tfjs-node --external:@tensorflow/tfjs-node-gpu --alias:sharp=./bench/device/sharp-stub.js \
  --banner:js="import { createRequire as __cr } from 'module'; import { fileURLToPath as __fu } from 'url'; import { dirname as __dn } from 'path'; const require = __cr(import.meta.url); const __filename = __fu(import.meta.url); const __dirname = __dn(__filename);" \
  --log-level=error
cp node_modules/webgpu/package.json node_modules/webgpu/index.js .gpu/node_modules/webgpu/
xz -T2 -6 -c node_modules/webgpu/dist/linux-x64/dawn.node > .gpu/node_modules/webgpu/dist/linux-x64/dawn.node.xz
[ -f .gpu/node.xz ] || xz -T2 -6 -c "$(command -v node)" > .gpu/node.xz
cp ../shared/bench/peer_gan_step.py .gpu/ 2>/dev/null || true
cp bench/device/run.sh .gpu/run.sh
echo "bundle ready in .gpu/ (carry .gpu and .gl; run: bash .gpu/run.sh)"
