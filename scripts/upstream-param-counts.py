#!/usr/bin/env python3
"""Parameter counts of upstream faceswap-GAN v2.2 (shaoanlu/faceswap-GAN, networks/faceswap_gan_model.py and
networks/nn_blocks.py), derived layer by layer as Keras counts them, without Keras. The numbers pinned in
tests/unit/model-params.test.ts come from this script: `python3 scripts/upstream-param-counts.py`.

Keras facts used: Conv2D params = k*k*cin*cout (+ cout bias unless use_bias=False); Dense = cin*cout + cout;
keras-contrib InstanceNormalization(axis=None) has a scalar gamma and beta (2 params); the Scale layer of the
self-attention block has one scalar gamma; GroupNormalization has a gamma and beta per channel of its input."""
import json


def conv(cin, cout, k, bias=True):
    return k * k * cin * cout + (cout if bias else 0)


def norm(kind, channels, group):
    if kind == "none":
        return 0
    if kind == "instancenorm":
        return 2
    if kind in ("layernorm", "groupnorm", "batchnorm"):
        # GroupNormalization: gamma/beta per channel; BatchNormalization adds moving mean/variance (non-trainable).
        return 2 * channels + (2 * channels if kind == "batchnorm" else 0)
    if kind == "hybrid":
        half = group // 2
        return conv(half, half, 1) + 2
    raise ValueError(kind)


def conv_block(cin, f, use_norm, kind):
    return conv(cin, f, 3, bias=False) + (norm(kind, f, f) if use_norm else 0)


def conv_block_d(cin, f, use_norm, kind):
    return conv(cin, f, 4, bias=False) + (norm(kind, f, f) if use_norm else 0)


def res_block(f):
    return 2 * conv(f, f, 3, bias=False)


def self_attn(nc):
    return conv(nc, nc // 8, 1) * 2 + conv(nc, nc, 1) + 1


def upscale_ps(cin, f, use_norm, kind):
    return conv(cin, 4 * f, 3) + (norm(kind, 4 * f, f) if use_norm else 0)


def upscale_nn(cin, f, use_norm, kind):
    return conv(cin, f, 3) + (norm(kind, f, f) if use_norm else 0)


def encoder(res, lite, sa, kind):
    coef = 2 if lite else 1
    latent = 2048 if (lite and res > 64) else 1024
    up = upscale_nn if lite else upscale_ps
    use_norm = kind != "none"
    n = conv(3, 64 // coef, 5, bias=False)
    n += conv_block(64 // coef, 128 // coef, False, kind)
    n += conv_block(128 // coef, 256 // coef, use_norm, kind)
    n += self_attn(256 // coef) if sa else 0
    n += conv_block(256 // coef, 512 // coef, use_norm, kind)
    n += self_attn(512 // coef) if sa else 0
    c = 1024 // coef**2
    n += conv_block(512 // coef, c, use_norm, kind)
    m = res // 16
    while m > 4:
        n += conv_block(c, c, use_norm, kind)
        m //= 2
    n += (4 * 4 * c) * latent + latent
    n += latent * (4 * 4 * c) + 4 * 4 * c
    n += up(c, 512 // coef, use_norm, kind)
    return n


def decoder(res, lite, sa, kind):
    coef = 2 if lite else 1
    up = upscale_nn if lite else upscale_ps
    use_norm = kind != "none"
    nc_in = 256 if lite else 512
    n = up(nc_in, 256 // coef, use_norm, kind)
    n += up(256 // coef, 128 // coef, use_norm, kind)
    n += self_attn(128 // coef) if sa else 0
    n += up(128 // coef, 64 // coef, use_norm, kind)
    n += res_block(64 // coef)
    n += self_attn(64 // coef) if sa else conv_block(64 // coef, 64 // coef, False, kind)
    m = 64
    while m < res:
        n += conv(64 // coef, 3, 5)  # intermediate tanh output
        n += up(64 // coef, 64 // coef, use_norm, kind)
        n += conv_block(64 // coef, 64 // coef, False, kind)
        m *= 2
    n += conv(64 // coef, 1, 5) + conv(64 // coef, 3, 5)
    return n


def discriminator(res, sa, kind):
    use_norm = kind != "none"
    n = conv_block_d(6, 64, False, kind)
    n += conv_block_d(64, 128, use_norm, kind)
    n += conv_block_d(128, 256, use_norm, kind)
    n += self_attn(256) if sa else 0
    m = res // 8
    while m > 8:
        n += conv_block_d(256, 256, use_norm, kind)
        n += self_attn(256) if sa else 0
        m //= 2
    n += conv(256, 1, 4, bias=False)
    return n


if __name__ == "__main__":
    out = {}
    for kind in ("instancenorm", "layernorm", "none"):
        for capacity in ("lite", "standard"):
            for res in (64, 128, 256):
                lite = capacity == "lite"
                out[f"{kind}/{capacity}/{res}"] = {
                    "encoder": encoder(res, lite, True, kind),
                    "decoder": decoder(res, lite, True, kind),
                    "discriminator": discriminator(res, True, kind),
                }
    print(json.dumps(out, indent=1))
