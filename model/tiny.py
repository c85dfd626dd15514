"""A tiny random-weight Gemma 4 with the 26B-A4B structure, built offline for tests and the demo.

Same classes as the real checkpoint (Gemma4ForConditionalGeneration: MoE experts beside a dense MLP,
5:1 sliding/full attention, K=V global layers, a vision tower with 3x3 pooling), a locally trained
byte-fallback BPE tokenizer with every named special token, a chat template and processor. It is saved
once to a cache folder and then loaded through the same `from_pretrained` path as real weights."""

from __future__ import annotations

import json
import os
from pathlib import Path

TINY_VERSION = "2"  # 2: head_dim 32/64 and vision default_output_length, so vLLM (CPU) serves it too
BASE_SPECIALS = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>"]
NAMED_SPECIALS = {
    "image_token": "<|image|>",
    "boi_token": "<|image>",
    "eoi_token": "<image|>",
    "audio_token": "<|audio|>",
    "boa_token": "<|audio>",
    "eoa_token": "<audio|>",
    "sot_token": "<|turn>",
    "eot_token": "<turn|>",
    "soc_token": "<|channel>",
    "eoc_token": "<channel|>",
    "think_token": "<|think|>",
    "escape_token": '<|"|>',
    "str_token": "<|tool_response>",
    "etr_token": "<tool_response|>",
    "stc_token": "<|tool_call>",
    "etc_token": "<tool_call|>",
    "std_token": "<|tool>",
    "etd_token": "<tool|>",
}
VIDEO_TOKEN = "<|video|>"

# Modelled on the real template: thinking switch in the system turn, images as "\n\n<|image|>\n\n",
# an empty thought channel after the generation prompt when thinking is off.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{%- set loop_messages = messages -%}"
    "{%- if (enable_thinking is defined and enable_thinking) or messages[0]['role'] in ['system', 'developer'] -%}"
    "{{- '<|turn>system\\n' -}}"
    "{%- if enable_thinking is defined and enable_thinking -%}{{- '<|think|>' -}}{%- endif -%}"
    "{%- if messages[0]['role'] in ['system', 'developer'] -%}"
    "{%- if messages[0]['content'] is string -%}{{- messages[0]['content'] | trim -}}"
    "{%- else -%}{%- for item in messages[0]['content'] -%}{%- if item['type'] == 'text' -%}{{- item['text'] | trim -}}{%- endif -%}{%- endfor -%}{%- endif -%}"
    "{%- set loop_messages = messages[1:] -%}"
    "{%- endif -%}"
    "{{- '<turn|>\\n' -}}"
    "{%- endif -%}"
    "{%- for message in loop_messages -%}"
    "{%- set role = 'model' if message['role'] == 'assistant' else message['role'] -%}"
    "{{- '<|turn>' + role + '\\n' -}}"
    "{%- if message['content'] is string -%}{{- message['content'] | trim -}}"
    "{%- else -%}{%- for item in message['content'] -%}"
    "{%- if item['type'] == 'text' -%}{{- item['text'] | trim -}}"
    "{%- elif item['type'] == 'image' -%}{{- '\\n\\n<|image|>\\n\\n' -}}"
    "{%- endif -%}"
    "{%- endfor -%}{%- endif -%}"
    "{{- '<turn|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}"
    "{{- '<|turn>model\\n' -}}"
    "{%- if not enable_thinking | default(false) -%}{{- '<|channel>thought\\n<channel|>' -}}{%- endif -%}"
    "{%- endif -%}"
)

CORPUS = [
    "Invoice number INV-2024-0042 issued on 2024-03-15 by Acme Corporation to Globex Ltd. Total due 1,234.56 EUR.",
    'Return JSON: {"value": "Quarterly report", "citations": [{"page": 1, "quote": "total"}], "total": 12.5}',
    "The agreement between the parties is governed by the laws of the State of New York. Term: 24 months.",
    "Video frame at 00:05 shows a whiteboard with a diagram of the data pipeline and three arrows.",
    "Extract every field with a citation to the page where it was found. [page 3] [00:12] Document: report.pdf",
    "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 .,;:!?'\"()[]{}<>/\\|-_+=*&^%$#@~`",
]


def default_cache_dir() -> Path:
    base = os.environ.get("GEMMADOC_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "gemmadoc")
    return Path(base) / f"tiny-gemma4-v{TINY_VERSION}"


def build_tokenizer(vocab_size: int = 1024):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import GemmaTokenizer

    specials = BASE_SPECIALS + list(NAMED_SPECIALS.values()) + [VIDEO_TOKEN]
    tk = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tk.normalizer = normalizers.Replace(" ", "▁")
    tk.pre_tokenizer = pre_tokenizers.Split(pattern=" ", behavior="merged_with_previous", invert=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False)
    tk.train_from_iterator(CORPUS * 20, trainer=trainer)
    state = json.loads(tk.to_str())["model"]
    vocab = dict(state["vocab"])
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in state["merges"]]
    for b in range(256):
        vocab.setdefault(f"<0x{b:02X}>", len(vocab))
    return GemmaTokenizer(vocab=vocab, merges=merges, add_bos_token=False, padding_side="left",
                          extra_special_tokens=dict(NAMED_SPECIALS), chat_template=CHAT_TEMPLATE)


def build_config(tok):
    """Tiny Gemma 4 config; comments give the real 26B-A4B values."""
    from transformers import Gemma4Config, Gemma4TextConfig, Gemma4VisionConfig

    ids = {k: tok.convert_tokens_to_ids(v) for k, v in NAMED_SPECIALS.items()}
    text = Gemma4TextConfig(
        vocab_size=len(tok),                 # 262144
        hidden_size=64,                      # 2816
        intermediate_size=128,               # 2112 dense MLP beside the experts
        num_hidden_layers=6,                 # 30
        layer_types=["sliding_attention"] * 5 + ["full_attention"],
        num_attention_heads=4,               # 16
        num_key_value_heads=2,               # 8
        head_dim=32,                         # 256 (vLLM's CPU attention needs >= 32)
        global_head_dim=64,                  # 512
        num_global_key_value_heads=1,        # 2
        attention_k_eq_v=True,
        use_bidirectional_attention="vision",
        num_kv_shared_layers=0,
        hidden_size_per_layer_input=0,
        enable_moe_block=True,
        num_experts=8,                       # 128
        top_k_experts=2,                     # 8
        moe_intermediate_size=32,            # 704
        sliding_window=64,                   # 1024
        final_logit_softcapping=30.0,
        max_position_embeddings=262_144,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=[tok.eos_token_id, ids["eot_token"]],
    )
    vision = Gemma4VisionConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=2, head_dim=16, patch_size=16, pooling_kernel_size=3,
        position_embedding_size=10 * 1024, standardize=True, use_clipped_linears=False,
        default_output_length=280,           # as the real checkpoints carry it; vLLM reads it
    )
    return Gemma4Config(
        text_config=text, vision_config=vision, audio_config=None,
        boi_token_id=ids["boi_token"], eoi_token_id=ids["eoi_token"], image_token_id=ids["image_token"],
        video_token_id=tok.convert_tokens_to_ids(VIDEO_TOKEN), boa_token_id=ids["boa_token"],
        eoa_token_index=ids["eoa_token"], audio_token_id=ids["audio_token"], tie_word_embeddings=True,
    )


def build_processor(tok):
    from transformers import Gemma4AudioFeatureExtractor, Gemma4ImageProcessorPil

    from model.processor import FramesOnlyGemma4Processor, FramesOnlyVideoProcessor, torchvision_available

    kw = dict(feature_extractor=Gemma4AudioFeatureExtractor(), image_processor=Gemma4ImageProcessorPil(max_soft_tokens=280),
              tokenizer=tok, chat_template=CHAT_TEMPLATE, image_seq_length=280)
    if torchvision_available():
        from transformers import Gemma4Processor, Gemma4VideoProcessor

        return Gemma4Processor(video_processor=Gemma4VideoProcessor(max_soft_tokens=70), **kw)
    return FramesOnlyGemma4Processor(video_processor=FramesOnlyVideoProcessor(), **kw)


def save_tiny(out: Path, seed: int = 0) -> Path:
    """Build the tiny model and processor and save them to `out` (atomically: temp folder, then rename)."""
    import shutil
    import tempfile

    import torch
    from transformers import Gemma4ForConditionalGeneration, GenerationConfig

    torch.manual_seed(seed)
    tok = build_tokenizer()
    model = Gemma4ForConditionalGeneration(build_config(tok)).eval()
    model.generation_config = GenerationConfig(
        bos_token_id=tok.bos_token_id, pad_token_id=tok.pad_token_id,
        eos_token_id=[tok.eos_token_id, tok.convert_tokens_to_ids("<turn|>")])
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tiny-", dir=out.parent))
    model.save_pretrained(tmp)
    build_processor(tok).save_pretrained(tmp)
    for name in ("processor_config.json", "tokenizer_config.json"):
        f = tmp / name
        if f.exists():  # name the stock class so AutoProcessor works where torchvision exists
            d = json.loads(f.read_text())
            if d.get("processor_class") == "FramesOnlyGemma4Processor":
                d["processor_class"] = "Gemma4Processor"
                f.write_text(json.dumps(d, indent=2, sort_keys=True))
    try:
        tmp.rename(out)
    except OSError:  # another process won the race
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def ensure_tiny(cache_dir: Path | None = None) -> Path:
    """Path of the saved tiny model, building it on first use."""
    out = cache_dir or default_cache_dir()
    if not (out / "config.json").exists():
        save_tiny(out)
    return out
