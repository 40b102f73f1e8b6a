"""Build Whisper checkpoints with random weights in the real on-disk format.

No trained weights can be downloaded on our CI and benchmark machines, so tests and
benchmarks build a model of the real ``whisper.model.Whisper`` class with the
dimensions of a named model (or a tiny one), save it the way OpenAI's checkpoints
are saved (``{"dims": ..., "model_state_dict": ...}``), and load it back through
``whisper.load_model(path)`` like any real checkpoint. Its words are noise.
"""

from __future__ import annotations

import argparse

DIMENSIONS = {
    # A deliberately tiny model for the test suite: fast on two CPU cores.
    "micro": dict(n_mels=80, n_audio_ctx=1500, n_audio_state=64, n_audio_head=2,
                  n_audio_layer=1, n_vocab=51865, n_text_ctx=448, n_text_state=64,
                  n_text_head=2, n_text_layer=1),
    "tiny": dict(n_mels=80, n_audio_ctx=1500, n_audio_state=384, n_audio_head=6,
                 n_audio_layer=4, n_vocab=51865, n_text_ctx=448, n_text_state=384,
                 n_text_head=6, n_text_layer=4),
    "base": dict(n_mels=80, n_audio_ctx=1500, n_audio_state=512, n_audio_head=8,
                 n_audio_layer=6, n_vocab=51865, n_text_ctx=448, n_text_state=512,
                 n_text_head=8, n_text_layer=6),
    "large-v3": dict(n_mels=128, n_audio_ctx=1500, n_audio_state=1280, n_audio_head=20,
                     n_audio_layer=32, n_vocab=51866, n_text_ctx=448, n_text_state=1280,
                     n_text_head=20, n_text_layer=32),
    "large-v3-turbo": dict(n_mels=128, n_audio_ctx=1500, n_audio_state=1280, n_audio_head=20,
                           n_audio_layer=32, n_vocab=51866, n_text_ctx=448, n_text_state=1280,
                           n_text_head=20, n_text_layer=4),
}


def build_random_checkpoint(path: str, size: str = "micro", seed: int = 0) -> str:
    import torch
    from whisper.model import ModelDimensions, Whisper

    torch.manual_seed(seed)
    dims = ModelDimensions(**DIMENSIONS[size])
    model = Whisper(dims)
    # Whisper allocates the decoder's positional embedding with torch.empty (trained
    # checkpoints overwrite it): left as is, it holds whatever memory it got, sometimes
    # NaN, and the model's every output with it. Give it seeded values like the rest.
    with torch.no_grad():
        model.decoder.positional_embedding.normal_(0.0, 0.02)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    torch.save({"dims": dims.__dict__, "model_state_dict": model.state_dict()}, path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--size", default="micro", choices=sorted(DIMENSIONS))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(build_random_checkpoint(args.path, args.size, args.seed))


if __name__ == "__main__":
    main()
