"""Run options: one validated tree carried from the CLI through the flow to every stage.

`RunOptions` holds one group per stage: `ingest`, `plan`, `backend` (one model per backend, chosen by its
`backend` field), `grounding`, `output` and `cluster` (where the model stage runs). Every field's `description` is its documentation and the
CLI's help text (`flows/cli.py` reads it), so there is one source for both.

Every leaf name is unique across the groups, so `RunOptions(dpi=200, thinking=True)` and
`options.replace(force=True)` take flat names and route each to its group; nested dicts work too."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

IMAGE_BUDGETS = (70, 140, 280, 560, 1120)
PIXELS_PER_IMAGE_TOKEN = 48 * 48  # Gemma 4 vision: 16-px patches pooled 3x3 into one soft token
DEFAULT_MODEL_ID = "google/gemma-4-26B-A4B-it"
TINY_MODEL = "tiny-random"
PIPELINE_VERSION = "0.3.24"  # 0.3.24: a full list is asked on from the line its last item quotes (the items above it stand; the rest of that page as a band, then the pages after it), not again from the top, where its items can be placed among the lines and the page reads top to bottom past that line; an answer cut off by its token allowance inside a top-level list keeps the fields before it and the items it completed, and the list is asked on from them (the fields after it asked for on their own), not asked again whole with twice the tokens; a string value that fills 200 characters (the bound of a first answer where the schema sets no maxLength) is asked for again, its top-level field alone on the same pages, with room for 4000 characters, and the new answer replaces it; a schema's own maxLength is the bound up to 4000 (was cut to 200); a value still at its bound, where the schema lets it run longer, gets a value_at_limit warning; a value with more words than its quote is checked against the words the quote lies among (a paragraph with a number past its quote was value_not_supported); the built-in clauses' summary and events' on-screen text may hold 1000 characters; 0.3.23: a request whose answer fills a list the schema lets run longer than one answer holds (12 items), or runs out of tokens on its retry, is asked again in parts (its pages in runs of even text lines, one page in bands cut between text lines across the page as shown upright, as many as the first answer's reach down its lines promises items for, each part for the full lists only), and the parts' items replace the first answer's, in reading order; a band's quotes are looked for in the band first; a list item read again by a later window is left out only where it has the same values cited at the same place (equal items elsewhere, or in one window, are kept); a list still full where a part cannot be cut smaller gets a list_at_limit warning; the built-in schemas no longer cap line items, statement lines, events or clauses; 0.3.22: lines set sideways on a page that lies across (a landscape table on a portrait page, an axis title, a margin stamp) are read upright on their own: where they hold a few words, the page is read again turned so that they lie across (clockwise where the recogniser read them poorly: text running up the page, which it turns the wrong way; counter-clockwise where it read them well), and the lines lying across there replace the tall lines they lie over where read about as confidently or better; a whole page or photo whose lines the detector missed, leaving 80 characters' worth of ink unread, is read again turned clockwise too; a tall line's words get boxes along it, not slices of its width; each block of sideways lines is read in its own order, in its place among the page's lines; a page read as tall lines is read again lying across (words with their characters' boxes, spaces and skew), its few lines lying across kept as first read; a picture, page or frame whose first reading is taken for an unread script is measured by the fragments OCR made of it, and read again finer where its print was read too small (since 0.3.20, print too small to read, taken for an unread script, was never read again); 0.3.21: a picture whose OCR lines' edges step from ground to ink over more than 1.8 px (out of focus, a soft copy) is read again sharpened by unsharp masking at its own blur, and read on so where that reads more characters confidently; 0.3.20: OCR reads a picture brought to 77 grey levels about its ground (crisp print softened; print that soft already read as it is), where RapidOCR keeps the spaces between words set tight that it drops on crisp print; 0.3.19: a scan or photo lying 0.4 to 20 degrees askew (its long OCR lines agreeing on one angle) has its lines laid level before its words, their boxes, reading order and word spaces are made from them, and each word's box turned back onto the picture as given; a line left slanted by half its height or more across it (pictures at two angles, a photo taken at an angle) gives each word's box the part of the slanted line over the word; light print on a dark ground gets its word spaces back (its ink is what differs from the ground); lines of one row stacked above one another (a column's lines chained into a row through a figure's labels) are read top to bottom; a PDF text layer drawn out of reading order (an address or a line item drawn from its last line up, labels before their values, a page drawn from the bottom up) has each run of lines drawn near one another put in reading order, runs and layers drawn in order kept as drawn; 0.3.18: a picture on a PDF page with a usable text layer (a scan pasted into a report) whose small print OCR read under 6 px a letter at --dpi, less surely than 0.97, is read again from its part of the page rendered finer, where its letters come out 8 px wide, within the picture's own pixels per point; a page, picture, image or video frame read again finer keeps its first reading where the finer one reads under half the characters the first read confidently, and one OCR found lying sideways is looked for in every turn when read again; 0.3.17: an image or video frame whose small print OCR read with a mean confidence of 0.97 or more is not read again finer (as PDF pages already were); 0.3.16: a PDF page OCR read with the letters of its small print under 6 px wide (print under about 5.5 pt at 150 dpi) is rendered again finer and read again, a scan at its own pixels per point, drawn print where its letters come out 8 px wide (within OCR's 40 MP), a miscoded page too; an image is read again where its letters come out 8 px wide, not always at full size; 0.3.15: an image or video frame whose small print OCR read under 6 px a letter (a 4K screen recording in 10-pt print read at the model's area) is read again at full size; a video frame whose small print one image of the largest budget shows under 12 px is kept at the area of 2 x 2 or 3 x 3 such images and shown in tiles, as pages and images are; a video frame is OCR'd at up to 1400 px across where its pixels allow, like an image; 0.3.14: OCR words keep the spaces RapidOCR left out between words set tight (`5.1Hyper`, `overHTML`, a line read as one run), put back where the pixels between two characters show a blank as wide as the line's own word spaces (in a line without spaces, a quarter of its height), on lines read as surely as print, never inside a number, beside a lone lowercase letter or beside an address's marks; 0.3.13: a picture in a script RapidOCR does not read is read by Tesseract where it has a model of that script (the model picked by reading the picture's longest lines with each; the lines RapidOCR found stacked in reading order and read as one block; RapidOCR's words kept where Tesseract's Latin model reads it best), and its words are kept; joined Arabic, which RapidOCR reads as runs of one or two letters, is an unread script too; cache and work keys name the scripts Tesseract reads; OCR reads a PDF page from a lossless PNG copy the page worker writes, not from the JPEG the model is shown (RapidOCR dropped the spaces between words of clean print in the JPEG), a page whose text layer is miscoded from one rendered again; 0.3.12: a page of usual shape whose small print one image of the largest budget shows under 12 px (an A1 drawing, a poster, pages printed n-up on one sheet) is kept at the area of 2 x 2 or 3 x 3 such images, within --dpi and the source's pixels (a scan from the pixels OCR read), and shown in overlapping tiles, each at the page's budget; files pinned to a PDF's pages as file-attachment annotations are unpacked and read as documents of their own, like its embedded files (no longer named in an attachments warning); a TIFF of float or signed-integer samples, which Pillow cannot identify, is decoded by OpenCV instead of failing as corrupt; an OCR reading whose Latin letters hold almost no vowels (Hebrew read as consonant look-alikes) is an unread script too, as is one with look-alike words in 40 % of its letters (was half); 0.3.11: each page, image or frame gets the lowest image budget that shows its small print (the quarter of its words printed smallest) 12 px tall, not the budget its text coverage asks for (kept for units with too few words to measure, and as the floor of a unit read by OCR); 0.3.10: a page, image or frame far longer than wide (a till roll, a scrolling screenshot, a web page printed as one page), or far wider than tall, is kept at the area of up to 8 page-shaped slices and shown to the model in overlapping slices, each at the request's budget (ImageRef.crop), instead of whole at one budget's area (its review copy keeps their area too); --max-side defaults to 16384; an OCR reading in a script the recogniser does not read (Cyrillic, Greek or Arabic read as look-alike Latin, Hangul as digits alone) is left without words, with an unread_script warning; 0.3.9: a PDF page whose usable-looking text layer says other letters than the page shows (a font whose Unicode map is wrong) is OCR'd, with a miscoded_text warning; the documents a PDF carries in its embedded files are unpacked into out/attachments/ and read as documents of their own (documents.attached_to names the PDF); 0.3.8: user schemas read as teams write them (unions, Decimal, const, allOf, untyped nodes, tuples, dict fields as key/value entries given back as objects, self-reference 3 levels deep), the prompt shows the schema as read; a page or photo that OCR reads poorly is read turned a quarter each way too (sideways scans had no words) and upside down even where no line was found, lines read turned are laid out upright, and the model is shown the page upright (ImageRef.turn); 0.3.7: pictures on a page with a usable text layer that the layer does not read (a scan under a stamped line, a pasted screenshot) are OCR'd and their words added (text_source "mixed"), words carry `ocr`; text-layer words the rendered page does not show (white on white, under a redaction box, invisible) are left out, with a hidden_text warning; a word drawn again over itself (fake bold) is one word; documents a PDF carries (a portfolio's, attached PDFs, images, videos) are named in an attachments warning; a scan that states its dpi is OCR'd at --dpi; OCR reads an image taller than 2000 px in tiles and a wide one up to 4000 px whole (RapidOCR shrank either to 2000 px), a picture shown to the model under 1400 px across at up to 1400 px across, and a PDF page the model sees below --dpi rendered again at --dpi; 0.3.6: an animated GIF, PNG, WebP or AVIF is sampled like a video (frames at --video-fps by their display times, cited by time), a JPEG with extra pictures (MPO: a phone's gain map or preview) is its primary picture only, an MP4 with sound and no video track fails as unsupported_type, a transparent image whose drawing is all light is laid on black; 0.3.5: pages, images and frames capped by their area (--max-page-pixels, what the largest image budget reads), not by a 1600-px longest side, so a long receipt keeps its width; a file rewritten while it is read fails as changed_during_run; 0.3.4: an image file that ends early or whose data is damaged keeps the rows that decode, a page its page tree cannot load is a render error, a lone surrogate escape in an answer becomes U+FFFD, a quote across a page break is verified with a citation per page, a multi-page TIFF that breaks keeps the pages before the break; 0.3.3: a number whose digit groups are set a space apart is never verified in part, fuzzy or folded matches included; schema warnings name the limit and the merged windows; 0.3.2: windows of a split document sized at their pages' budgets, batches of one budget; 0.3.1: error rows with category and page or t_seconds, no char offsets in citations; 0.3.0: page text read in the capped worker, strip-decoded images, distinct collection labels, OCR reuse in videos; 0.2.0: digits exact, word boundaries, value support, partial matches


class _Group(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IngestOptions(_Group):
    """How files become page and frame units, and the limits that keep hostile input from hurting the run."""

    dpi: int = Field(150, ge=36, le=600, description="Resolution PDF pages are rendered at (then capped by --max-page-pixels and --max-side).")
    max_side_px: int = Field(16384, ge=256, le=65500, description="Longest side of a rendered page or frame, in pixels "
                             "(a guard for very long pages; --max-page-pixels is the cap that usually applies).")
    max_page_pixels: int = Field(IMAGE_BUDGETS[-1] * PIXELS_PER_IMAGE_TOKEN, ge=65536, description="Pixels of a rendered "
                                 "page or frame (width x height), at most: what the largest image budget reads. A page "
                                 "far longer than wide (a till roll, a scrolling screenshot) is shown to the model in up "
                                 "to 8 slices and keeps this area for each, so its print keeps the size the model needs; a "
                                 "large sheet in small print (a drawing, a poster, a 4K screen recording's frame) keeps it for each of up to 3 x 3 tiles.")
    ocr: Literal["auto", "off", "force"] = Field("auto", description="auto (pages without a usable text layer, and pictures the text layer does not read) | off | force.")
    follow_symlinks: bool = Field(False, description="Read files and folders that links inside the inputs point to outside them (skipped with a warning by default).")
    passwords: list[str] = Field([], description="Password to try on encrypted PDFs (repeatable).")
    attachments: bool = Field(True, description="Read the documents a PDF carries (a portfolio's documents, attached "
                              "or pinned PDFs, images and videos) as documents of their own, unpacked into the output folder's "
                              "attachments/ (off: named in a warning).")
    video_fps: float = Field(1.0, gt=0, description="Frames sampled per second of video.")
    dedup_threshold: float = Field(0.0, ge=0.0, le=1.0, description="Skip video frames differing from the last kept one by less than this (0..1; 0 keeps all).")
    max_workers: int = Field(2, ge=1, description="Documents ingested in parallel.")
    retries: int = Field(2, ge=0, description="Retries of a document whose ingest failed with a transient error.")
    max_pages: int = Field(2000, ge=1, description="Pages (or image frames) read per document; the rest are skipped with an error row.")
    max_pixels: int = Field(100_000_000, ge=1, description="Largest image (width x height) that is decoded.")
    max_image_mb: float = Field(512.0, gt=0, description="Largest decoded size of one image frame, judged from its header before decoding.")
    max_page_memory_mb: int = Field(2048, ge=0, description="Address space of the PDF page worker; a page needing more (a decompression bomb) fails alone. 0: no cap.")
    max_file_mb: float = Field(1024.0, gt=0, description="Larger files are not read (error row).")
    max_video_seconds: float = Field(3600.0, gt=0, description="Video read up to this time; longer videos get a warning at discovery.")
    min_file_age_s: float = Field(0.0, ge=0, description="Files changed less than this many seconds ago may still be "
                                  "arriving: skipped with a warning, read by the next run (`gemmadoc schedule` uses 60).")
    doc_timeout_s: float = Field(900.0, gt=0, description="Seconds of ingest per document; later pages are skipped with an error row.")
    page_timeout_s: float = Field(60.0, gt=0, description="Seconds one PDF page may take to read; a hang kills the page worker.")


class PlanOptions(_Group):
    """How units are packed into requests and what each request asks of the model."""

    image_tokens_min: int = Field(70, description="Lowest image token budget a page may get (70/140/280/560/1120).")
    image_tokens_max: int = Field(1120, description="Highest image token budget a page may get (70/140/280/560/1120).")
    max_context: int = Field(32768, ge=1024, description="Context tokens per request (the model reads up to 262144).")
    max_new_tokens: int = Field(1024, ge=16, description="Answer tokens per request.")
    thinking: bool = Field(False, description="Switch on Gemma 4's thinking mode (thought kept out of the answer).")
    include_text_layer: bool = Field(True, description="Send each page's text layer (or OCR text) beside its image.")
    window_overlap: int = Field(1, ge=0, description="Pages shared by consecutive windows of a document too long for one request.")
    collection: bool = Field(False, description="Pack several documents into one request (cross-document schemas).")
    batch_tokens: int = Field(65536, ge=1024, description="Upper bound on padded tokens per generate() batch.")
    generate_timeout_s: float = Field(900.0, gt=0, description="Seconds one generation batch may take; answers still unfinished become error rows.")

    @model_validator(mode="after")
    def _check_budgets(self) -> "PlanOptions":
        for v in (self.image_tokens_min, self.image_tokens_max):
            if v not in IMAGE_BUDGETS:
                raise ValueError(f"image token budgets must be one of {IMAGE_BUDGETS}, got {v}")
        if self.image_tokens_min > self.image_tokens_max:
            raise ValueError("--image-tokens floor is above the ceiling")
        return self

    def budgets(self) -> list[int]:
        """Allowed image budgets, lowest first."""
        return [b for b in IMAGE_BUDGETS if self.image_tokens_min <= b <= self.image_tokens_max]


Quantization = Literal["none", "int8", "nf4", "fp8"]
ExpertsKernel = Literal["eager", "grouped_mm", "batched_mm", "deepgemm", "sonicmoe"]  # transformers' MoE kernels
QUANTIZATION_HELP = ("Weight quantization while loading, the MoE experts included: none (bf16) | int8 (torchao, ~27 GB) | "
                     "nf4 (bitsandbytes 4-bit, ~15 GB, 24-32 GB cards) | fp8 (compute capability 8.9+, ~27 GB). "
                     "`gemmadoc doctor` says which fit.")


class _BackendGroup(_Group):
    def load_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of the backend's constructor (everything but the model and the kind)."""
        return self.model_dump(exclude={"backend", "model"})


class TransformersOptions(_BackendGroup):
    """Hugging Face transformers in this process (CPU, or GPUs without vLLM)."""

    backend: Literal["transformers"] = "transformers"
    model: str = Field(DEFAULT_MODEL_ID, description="Hub id, local checkpoint folder, 'tiny-random' (offline demo), or 'auto' (default weights if present, else tiny-random).")
    revision: str | None = Field(None, description="Hub revision (branch, tag or commit) of --model.")
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field("auto", description="auto | bfloat16 | float16 | float32.")
    device_map: str | None = Field(None, description="accelerate device map, e.g. auto or cuda:0.")
    attn_implementation: Literal["sdpa", "eager", "flex_attention"] = Field("sdpa", description="Attention implementation: sdpa | eager | flex_attention (Gemma 4 refuses flash_attention_2).")
    experts_implementation: ExpertsKernel | None = Field(None, description="MoE experts implementation: grouped_mm | batched_mm | eager | deepgemm | sonicmoe (the last two on GPUs).")
    decode_experts: ExpertsKernel | None = Field(None, description="MoE experts implementation while decoding: default the prefill's (--experts); transformers alone would switch GPUs to batched_mm, which copies every selected expert's weights per row and token.")
    quantization: Quantization = Field("none", description=QUANTIZATION_HELP)
    prefill_tokens: int = Field(8192, ge=0, description="Most prompt tokens per prefill forward pass (rows x columns): a batch larger than this is prefilled a piece at a time, never cutting an image, so peak memory follows this, not batch x context; same answers. 0: the whole batch in one pass.")


class VLLMOptions(_BackendGroup):
    """vLLM's in-process engine (`pip install gemmadoc[vllm]`, CUDA GPUs; a CPU build serves the tests)."""

    backend: Literal["vllm"] = "vllm"
    model: str = TransformersOptions.model_fields["model"]
    revision: str | None = TransformersOptions.model_fields["revision"]
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = TransformersOptions.model_fields["dtype"]
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1, description="Share of GPU memory vLLM may take (weights, activations and KV cache).")
    max_num_seqs: int = Field(64, ge=1, description="Requests the engine decodes at once.")
    tensor_parallel_size: int = Field(1, ge=1, description="GPUs one model is split across.")
    quantization: Quantization = Field("none", description=QUANTIZATION_HELP + " vLLM: fp8, bitsandbytes (nf4), experts_int8 (int8).")

    @model_validator(mode="before")
    @classmethod
    def _old_quantization_names(cls, data: Any) -> Any:
        """Accept the 0.3 names: no value for none, `bitsandbytes` for nf4."""
        if isinstance(data, dict) and data.get("quantization") in (None, "bitsandbytes"):
            data = {**data, "quantization": "nf4" if data.get("quantization") == "bitsandbytes" else "none"}
        return data
    enforce_eager: bool = Field(False, description="No CUDA graphs or torch.compile (faster start, slower decoding).")
    max_model_len: int | None = Field(None, ge=1024, description="Longest sequence the engine plans its KV cache for (default: --max-context).")


class OpenAIOptions(_BackendGroup):
    """An OpenAI-compatible server a team already runs (`vllm serve`, SGLang): `--model openai:URL[#name]`."""

    backend: Literal["openai"] = "openai"
    model: str = Field(..., description="openai:http://HOST:PORT/v1, optionally #served-model-name.")
    concurrency: int = Field(8, ge=1, description="Requests in flight at once.")
    request_timeout_s: float = Field(600.0, gt=0, description="Seconds one request may take before it is retried.")
    request_retries: int = Field(3, ge=0, description="Retries of a request after a 5xx answer, a timeout or a dropped connection.")
    api_key_env: str = Field("OPENAI_API_KEY", description="Environment variable holding the server's API key (sent when set).")
    processor: str | None = Field(None, description="Local checkpoint folder or hub id whose processor counts tokens exactly (default: the server's usage figures).")


BackendOptions = Annotated[Union[TransformersOptions, VLLMOptions, OpenAIOptions], Field(discriminator="backend")]
BACKENDS = ("transformers", "vllm", "openai")


class GroundingOptions(_Group):
    """How quotes are located on the pages and frames."""

    relocate: bool = Field(True, description="Look for a quote on the document's other pages or frames when the cited one lacks it (such citations are marked relocated).")
    frame_slack_s: float = Field(1.5, ge=0, description="A cited video time this far outside the sampled frames is not in the video.")


class OutputOptions(_Group):
    """What is redone and kept, and how the output folder is shared."""

    chunk_docs: int | None = Field(None, ge=1, description="Documents per ingest -> model -> write round (bounds memory; each round is committed). Default: 16; vllm: 2 x --max-num-seqs; openai: 4 x --concurrency, so the engine always has requests waiting.")
    keep_page_images: bool = Field(True, description="Keep copies (0.8 megapixels) of cited pages and frames in OUT/pages for `gemmadoc review`.")
    force: bool = Field(False, description="Redo documents that are already done.")
    retry_failed: bool = Field(False, description="Redo only documents that failed or came out partial last time.")
    wait_lock_s: float = Field(0.0, ge=0, description="Seconds to wait when another run is writing to --out (default: exit 2 at once).")


class ClusterOptions(_Group):
    """Where the model stage runs: in this process (default) or on a Ray cluster, one resident model per GPU."""

    ray: str | None = Field(None, description="Run the model stage on Ray: 'local' (start Ray here, for this machine's GPUs) or HOST:PORT of a standing cluster (also read from RAY_ADDRESS).")
    ray_cpu_actors: int = Field(0, ge=0, description="Model actors placed on CPUs when the Ray cluster has no GPUs (0: such a cluster is refused, exit 3).")


GROUPS: dict[str, type[BaseModel]] = {"ingest": IngestOptions, "plan": PlanOptions, "grounding": GroundingOptions,
                                      "output": OutputOptions, "cluster": ClusterOptions}
BACKEND_MODELS: dict[str, type[BaseModel]] = {"transformers": TransformersOptions, "vllm": VLLMOptions, "openai": OpenAIOptions}


@cache
def leaf_owner() -> dict[str, str]:
    """Every leaf option name -> the group that holds it ("backend" for any backend's fields)."""
    owner = {name: group for group, cls in GROUPS.items() for name in cls.model_fields}
    owner.update({name: "backend" for cls in BACKEND_MODELS.values() for name in cls.model_fields})
    return owner


def field_info(name: str):
    """The pydantic FieldInfo of a leaf option, wherever it lives (the first backend that has it)."""
    if name == "schema_name":
        return RunOptions.model_fields[name]
    for cls in (*GROUPS.values(), *BACKEND_MODELS.values()):
        if name in cls.model_fields:
            return cls.model_fields[name]
    raise KeyError(name)


class RunOptions(BaseModel):
    """Everything that shapes a run. `output_key()` hashes the subset that changes results."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_name: str = Field("key_facts", description="Built-in schema name, a JSON Schema file, or a pydantic model: module:Class or path/to/file.py:Class.")
    ingest: IngestOptions = IngestOptions()
    plan: PlanOptions = PlanOptions()
    backend: BackendOptions = TransformersOptions()
    grounding: GroundingOptions = GroundingOptions()
    output: OutputOptions = OutputOptions()
    cluster: ClusterOptions = ClusterOptions()

    @field_validator("schema_name")
    @classmethod
    def _portable_schema(cls, spec: str) -> str:
        """A schema or model file by absolute path: a schedule or a Ray actor reads it from another folder."""
        from schemas.catalog import portable_spec

        return portable_spec(spec)

    @model_validator(mode="before")
    @classmethod
    def _route_flat_names(cls, data: Any) -> Any:
        """Move flat leaf names (`dpi=200`) into their group; `model="openai:..."` picks the openai backend."""
        if not isinstance(data, dict):
            return data
        owner = leaf_owner()
        data = dict(data)
        if isinstance(data.get("backend"), str):
            data["backend"] = {"backend": data["backend"]}
        grouped: dict[str, dict] = {}
        for name in [k for k in data if k in owner and k not in cls.model_fields]:
            grouped.setdefault(owner[name], {})[name] = data.pop(name)
        for group, leaves in grouped.items():
            current = data.get(group, {})
            current = current.model_dump() if isinstance(current, BaseModel) else dict(current)
            data[group] = {**current, **leaves}
        backend = data.get("backend")
        if isinstance(backend, dict):
            model = str(backend.get("model", ""))
            if "backend" not in backend:
                backend["backend"] = "openai" if model.startswith("openai:") else "transformers"
            if backend["backend"] == "vllm" and backend.get("max_model_len") is None:  # the engine fits the plan
                plan = data.get("plan", {})
                plan = plan.model_dump() if isinstance(plan, BaseModel) else plan
                backend["max_model_len"] = plan.get("max_context", PlanOptions.model_fields["max_context"].default)
        return data

    def replace(self, **changes: Any) -> "RunOptions":
        """A copy with some leaves changed, by flat name (`options.replace(force=True)`), validated."""
        return RunOptions(**{**self.model_dump(), **changes})

    def budgets(self) -> list[int]:
        """Allowed image budgets, lowest first."""
        return self.plan.budgets()

    def chunk_size(self) -> int:
        """Documents per round: --chunk-docs, else enough to keep the backend's own batching fed."""
        if self.output.chunk_docs:
            return self.output.chunk_docs
        if isinstance(self.backend, VLLMOptions):
            return 2 * self.backend.max_num_seqs
        if isinstance(self.backend, OpenAIOptions):
            return 4 * self.backend.concurrency
        return 16

    def output_key(self) -> str:
        """Hash of the options that change what comes out (not runtime knobs such as workers)."""
        keep = {**self.plan.model_dump(exclude={"batch_tokens", "generate_timeout_s"}),
                **self.ingest.model_dump(include={"dpi", "max_side_px", "max_page_pixels", "ocr", "video_fps", "dedup_threshold", "max_pages"})}
        if self.grounding != GroundingOptions():  # default grounding keeps the keys of runs made before it was an option
            keep["grounding"] = self.grounding.model_dump()
        return hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:16]
