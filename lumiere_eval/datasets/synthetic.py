"""A procedural, deterministic action domain: one shape on a textured background, labelled by its motion.

Every class is defined by how the scene changes over time (direction of motion, bouncing, rotation, growth,
swinging, orbiting, a camera pan, blinking), so a single frame cannot tell most classes apart; MoveLeft and
MoveRight, or Grow and Shrink, are exact time reversals of each other. Appearance (colour, shape,
background) varies independently and is named in the caption: "a red square bouncing on a dark background".

Samples are addressed like UCF101 clips: class, group (g01..g25) and clip (c01..). A group fixes the
appearance, a clip the motion parameters; groups 1-7 form the test split (as in UCF101 split 1). A sample
depends only on (class, group, clip) and the rendering size, never on the order it was asked for.

    domain = SyntheticDomain(height=32, width=32, num_frames=16)
    frames, label, caption = domain.sample(0, "train")     # uint8 [T, H, W, 3]
    write_ucf_layout("data/synthetic", domain)              # <root>/UCF-101/<Class>/v_<Class>_gXX_cYY.avi
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from lumiere_eval import LumiereEvalError

# Class name (UCF101-style CamelCase) -> the motion phrase used in captions.
CLASS_PHRASES: dict[str, str] = {
    "MoveLeft": "moving left",
    "MoveRight": "moving right",
    "MoveUp": "moving up",
    "MoveDown": "moving down",
    "Bounce": "bouncing",
    "Rotate": "rotating",
    "Grow": "growing",
    "Shrink": "shrinking",
    "Pendulum": "swinging like a pendulum",
    "Orbit": "orbiting in a circle",
    "CameraPan": "with the camera panning",
    "Blink": "blinking",
}
CLASSES: tuple[str, ...] = tuple(CLASS_PHRASES)

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (230, 40, 40), "green": (40, 200, 60), "blue": (50, 90, 240),
    "yellow": (240, 220, 40), "white": (245, 245, 245), "magenta": (220, 50, 220),
}
SHAPES: tuple[str, ...] = ("square", "circle", "triangle", "cross")
# Background name -> (base colour, dot colour). The dot texture makes a camera pan visible.
BACKGROUNDS: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    "dark": ((20, 20, 28), (50, 50, 62)),
    "gray": ((110, 110, 110), (88, 88, 88)),
    "teal": ((20, 90, 100), (36, 116, 126)),
}
SPLITS = ("train", "test")


class SyntheticDomainError(LumiereEvalError):
    """A bad split, class, index or parameter for the synthetic domain."""


@dataclass(frozen=True)
class ClipSpec:
    """Everything that defines one clip: identity (label, group, clip), appearance and motion parameters."""

    label: int
    group: int
    clip: int
    colour: str
    shape: str
    background: str
    size: float        # object half-size, as a fraction of the frame's shorter side
    start: float       # phase / start offset in [0, 1)
    speed: float       # cycles or distance per clip, >= 0.5
    cross: float       # position across the motion axis, in [0.3, 0.7]

    @property
    def action(self) -> str:
        """The class name."""
        return CLASSES[self.label]

    @property
    def caption(self) -> str:
        """The prompt describing this clip, e.g. "a red square bouncing on a dark background"."""
        return f"a {self.colour} {self.shape} {CLASS_PHRASES[self.action]} on a {self.background} background"

    @property
    def name(self) -> str:
        """UCF101-style clip name without extension, e.g. v_Bounce_g03_c02."""
        return f"v_{self.action}_g{self.group:02d}_c{self.clip:02d}"


def class_prompt(action: str) -> str:
    """One prompt per class, for class-conditional protocols (appearance left to the model)."""
    if action not in CLASS_PHRASES:
        raise SyntheticDomainError(f"unknown synthetic class {action!r}; known: {', '.join(CLASSES)}")
    return f"a shape {CLASS_PHRASES[action]}"


def _rng(*keys: object) -> np.random.Generator:
    digest = hashlib.sha256("/".join(map(str, keys)).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def clip_spec(label: int, group: int, clip: int) -> ClipSpec:
    """The clip (label, group, clip): appearance from (label, group), motion from (label, group, clip)."""
    if not 0 <= label < len(CLASSES):
        raise SyntheticDomainError(f"label {label} out of range 0..{len(CLASSES) - 1}")
    look = _rng("look", label, group)
    move = _rng("move", label, group, clip)
    return ClipSpec(
        label=label, group=group, clip=clip,
        colour=str(look.choice(list(COLOURS))), shape=str(look.choice(SHAPES)),
        background=str(look.choice(list(BACKGROUNDS))),
        size=float(move.uniform(0.13, 0.18)), start=float(move.uniform(0.0, 1.0)),
        speed=float(move.uniform(0.8, 1.2)), cross=float(move.uniform(0.35, 0.65)),
    )


def _trajectory(spec: ClipSpec, num_frames: int) -> dict[str, np.ndarray]:
    """Per-frame object centre (x, y in [0, 1]), scale, angle, visibility and background offset."""
    tau = np.arange(num_frames, dtype=np.float64) / max(num_frames - 1, 1)   # 0..1 over the clip
    n = np.ones_like(tau)
    cx, cy, scale, angle, visible, pan = 0.5 * n, 0.5 * n, n, 0.0 * n, n, 0.0 * n
    a, s = spec.action, spec.speed
    lo, hi = 0.22, 0.78
    travel = lo + (hi - lo) * tau
    if a == "MoveLeft":
        cx, cy = hi + lo - travel, spec.cross * n
    elif a == "MoveRight":
        cx, cy = travel, spec.cross * n
    elif a == "MoveUp":
        cx, cy = spec.cross * n, hi + lo - travel
    elif a == "MoveDown":
        cx, cy = spec.cross * n, travel
    elif a == "Bounce":   # |sin| bounce off the floor, about one and a half bounces per clip
        cx, cy = spec.cross * n, 0.78 - 0.55 * np.abs(np.sin(np.pi * (1.5 * s * tau + spec.start)))
    elif a == "Rotate":
        angle = 2 * np.pi * (spec.start + 0.5 * s * tau)
    elif a == "Grow":
        scale = 0.45 + 1.1 * tau
    elif a == "Shrink":
        scale = 1.55 - 1.1 * tau
    elif a == "Pendulum":   # swing on an arc hanging from the top centre
        theta = 0.9 * np.sin(2 * np.pi * (s * tau + spec.start))
        cx, cy = 0.5 + 0.45 * np.sin(theta), 0.15 + 0.55 * np.cos(theta)
    elif a == "Orbit":
        phi = 2 * np.pi * (spec.start + s * tau)
        cx, cy = 0.5 + 0.28 * np.cos(phi), 0.5 + 0.28 * np.sin(phi)
    elif a == "CameraPan":   # object and background both slide left together
        shift = 0.5 * tau - 0.25
        cx, cy, pan = 0.5 - shift, spec.cross * n, shift
    elif a == "Blink":   # on/off square wave, about two blinks
        visible = (np.floor(4 * s * tau + 2 * spec.start) % 2 == 0).astype(np.float64)
    return {"cx": cx, "cy": cy, "scale": scale, "angle": angle, "visible": visible, "pan": pan}


def _shape_sdf(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Signed distance (negative inside) of a unit-size shape, in its own rotated coordinates."""
    if shape == "square":
        return np.maximum(np.abs(u), np.abs(v)) - 1.0
    if shape == "circle":
        return np.sqrt(u * u + v * v) - 1.0
    if shape == "triangle":   # pointing up, vertices at radius ~1.2
        k = np.sqrt(3.0)
        return np.maximum(np.abs(u) * k / 2 + v / 2, -v) - 0.6
    if shape == "cross":
        return np.minimum(np.maximum(np.abs(u) - 1.0, np.abs(v) - 0.38),
                          np.maximum(np.abs(u) - 0.38, np.abs(v) - 1.0))
    raise SyntheticDomainError(f"unknown shape {shape!r}; known: {', '.join(SHAPES)}")


def render(spec: ClipSpec, height: int, width: int, num_frames: int, style: str | None = None) -> np.ndarray:
    """Draw the clip `spec` as uint8 [num_frames, height, width, 3] with anti-aliased edges, in the visual
    `style` (a STYLES name; None = the domain's plain look)."""
    if style is not None:
        return apply_style(render(spec, height, width, num_frames), style)
    if height < 4 or width < 4 or num_frames < 2:
        raise SyntheticDomainError(f"render size must be at least 2 frames of 4x4, got {num_frames}x{height}x{width}")
    path = _trajectory(spec, num_frames)
    side = min(height, width)
    ys = (np.arange(height) + 0.5)[None, :, None]
    xs = (np.arange(width) + 0.5)[None, None, :]
    # Background: base colour with a smooth dot texture (period a quarter of the shorter side), shifted by
    # the pan; smooth so that it stays visible and alias-free down to 8x8 frames.
    base, dots = (np.asarray(c, np.float64) for c in BACKGROUNDS[spec.background])
    period = side / 4.0
    wave_x = 0.5 + 0.5 * np.cos(2 * np.pi * (xs + path["pan"][:, None, None] * width) / period)
    wave_y = 0.5 + 0.5 * np.cos(2 * np.pi * ys / period)
    texture = wave_x * wave_y
    frames = base + (dots - base) * texture[..., None]
    # Object: signed distance in pixels, rotated and scaled per frame, soft one-pixel edge.
    radius = spec.size * side * path["scale"][:, None, None]
    dx = xs - path["cx"][:, None, None] * width
    dy = ys - path["cy"][:, None, None] * height
    cos, sin = np.cos(path["angle"])[:, None, None], np.sin(path["angle"])[:, None, None]
    u, v = (cos * dx + sin * dy) / radius, (-sin * dx + cos * dy) / radius
    coverage = np.clip(0.5 - _shape_sdf(spec.shape, u, v) * radius, 0.0, 1.0) * path["visible"][:, None, None]
    # A darker "clock hand" from the centre along the object's own x axis makes rotation visible on any shape.
    hand = np.clip(0.5 - np.maximum(np.abs(u - 0.45) - 0.45, np.abs(v) - 0.18) * radius, 0.0, 1.0)
    colour = np.asarray(COLOURS[spec.colour], np.float64)
    colour = colour * (1 - 0.6 * hand[..., None])
    frames = frames * (1 - coverage[..., None]) + colour * coverage[..., None]
    return np.clip(np.rint(frames), 0, 255).astype(np.uint8)


SKETCH_PAPER = (242.0, 236.0, 222.0)
SKETCH_INK = (38.0, 38.0, 46.0)


def sketch(frames: np.ndarray) -> np.ndarray:
    """A pencil-sketch look of uint8 frames [T, H, W, 3]: light paper, dark strokes where the luminance
    changes (object outline, its clock hand, the dot texture), each pixel's colour kept as a tint.

    Per frame and per pixel: tint = paper + 0.6 * (rgb - luminance) (the chroma, so a grey or white object or
    background turns to plain paper, a red object to pink); ink = |central-difference gradient of the
    luminance| / 40, clipped to [0, 1]; out = tint * (1 - ink) + graphite * ink. A frame's gradient depends on
    that frame only, so motion is kept exactly where the plain frames have it.
    """
    x = frames.astype(np.float64)
    luma = x @ np.array([0.299, 0.587, 0.114])                                    # t h w
    padded = np.pad(luma, ((0, 0), (1, 1), (1, 1)), mode="edge")
    gx = (padded[:, 1:-1, 2:] - padded[:, 1:-1, :-2]) / 2
    gy = (padded[:, 2:, 1:-1] - padded[:, :-2, 1:-1]) / 2
    ink = np.clip(np.hypot(gx, gy) / 40.0, 0.0, 1.0)[..., None]
    tint = np.asarray(SKETCH_PAPER) + 0.6 * (x - luma[..., None])
    out = tint * (1 - ink) + np.asarray(SKETCH_INK) * ink
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


# Visual style name -> deterministic per-frame transform of rendered uint8 frames [T, H, W, 3]. Captions stay
# the same: a style is learned by fine-tuning the T2I model on styled frames (Lumiere's stylized generation).
STYLES: dict[str, Callable[[np.ndarray], np.ndarray]] = {"sketch": sketch}


def apply_style(frames: np.ndarray, style: str) -> np.ndarray:
    """Rendered uint8 frames [T, H, W, 3] in the visual `style` (a STYLES name)."""
    if style not in STYLES:
        raise SyntheticDomainError(f"unknown synthetic style {style!r}; known: {', '.join(STYLES)}")
    return STYLES[style](frames)


class SyntheticDomain:
    """The synthetic action domain at one rendering size: `sample(index, split) -> (frames, label, caption)`.

    `groups` groups per class (the first `test_groups` are the test split), `clips_per_group` clips each;
    `style` renders every clip in that visual style (a STYLES name; None = plain).
    Index order within a split: class-major, then group, then clip (like sorted UCF101 file lists).
    """

    def __init__(self, height: int = 32, width: int = 32, num_frames: int = 16, fps: float = 8.0,
                 groups: int = 25, clips_per_group: int = 4, test_groups: int = 7, style: str | None = None):
        if not 0 < test_groups < groups:
            raise SyntheticDomainError(f"test_groups must be in 1..groups-1, got {test_groups} of {groups}")
        if clips_per_group < 1:
            raise SyntheticDomainError(f"clips_per_group must be >= 1, got {clips_per_group}")
        self.height, self.width, self.num_frames, self.fps = int(height), int(width), int(num_frames), float(fps)
        self.groups, self.clips_per_group, self.test_groups = int(groups), int(clips_per_group), int(test_groups)
        if min(self.height, self.width) < 4 or self.num_frames < 2:
            raise SyntheticDomainError(f"size must be at least 2 frames of 4x4, got "
                                       f"{self.num_frames}x{self.height}x{self.width}")
        if style is not None and style not in STYLES:
            raise SyntheticDomainError(f"unknown synthetic style {style!r}; known: {', '.join(STYLES)}")
        self.style = style

    @property
    def classes(self) -> tuple[str, ...]:
        """Class names, index = label."""
        return CLASSES

    def split_groups(self, split: str) -> range:
        """The 1-based group numbers of `split`."""
        if split == "test":
            return range(1, self.test_groups + 1)
        if split == "train":
            return range(self.test_groups + 1, self.groups + 1)
        raise SyntheticDomainError(f"unknown split {split!r}; expected one of {SPLITS}")

    def __len__(self) -> int:
        return len(CLASSES) * self.groups * self.clips_per_group

    def split_size(self, split: str) -> int:
        """Number of clips in `split`."""
        return len(CLASSES) * len(self.split_groups(split)) * self.clips_per_group

    def spec(self, index: int, split: str = "train") -> ClipSpec:
        """The ClipSpec of clip `index` of `split`."""
        groups = self.split_groups(split)
        size = self.split_size(split)
        if not 0 <= index < size:
            raise SyntheticDomainError(f"index {index} out of range for split {split!r} of {size} clips")
        per_class = len(groups) * self.clips_per_group
        label, rest = divmod(index, per_class)
        group, clip = divmod(rest, self.clips_per_group)
        return clip_spec(label, groups[group], clip + 1)

    def specs(self, split: str) -> Iterator[ClipSpec]:
        """Every ClipSpec of `split`, in index order."""
        return (self.spec(i, split) for i in range(self.split_size(split)))

    def sample(self, index: int, split: str = "train") -> tuple[np.ndarray, int, str]:
        """Clip `index` of `split`: (frames uint8 [T, H, W, 3], label, caption)."""
        spec = self.spec(index, split)
        return render(spec, self.height, self.width, self.num_frames, self.style), spec.label, spec.caption

    def vocabulary(self) -> list[str]:
        """Every word any caption or class prompt can use, sorted."""
        words = {"a", "on", "background", "shape"}
        for phrase in CLASS_PHRASES.values():
            words.update(phrase.split())
        words.update(COLOURS)
        words.update(SHAPES)
        words.update(BACKGROUNDS)
        return sorted(words)


def write_ucf_layout(root: str | Path, domain: SyntheticDomain, extension: str = ".avi",
                     splits: Sequence[str] = SPLITS, progress: bool = False) -> Path:
    """Write `domain` under `root` as UCF101 does; returns `root`.

    Files: `<root>/UCF-101/<Class>/v_<Class>_gXX_cYY.avi` and `<root>/ucfTrainTestlist/{classInd.txt,
    trainlist01.txt, testlist01.txt}` with CRLF line endings (classInd and trainlist are 1-based "path label",
    testlist is "path" only), plus `captions.txt` ("path<TAB>caption") beside the split lists.
    """
    from lumiere_eval.video import write_video

    root = Path(root)
    lists = root / "ucfTrainTestlist"
    lists.mkdir(parents=True, exist_ok=True)
    (lists / "classInd.txt").write_bytes(
        "".join(f"{i + 1} {name}\r\n" for i, name in enumerate(CLASSES)).encode())
    captions: list[str] = []
    for split in splits:
        specs = list(domain.specs(split))
        if progress:
            from tqdm import tqdm
            specs = tqdm(specs, desc=f"synthetic {split}", unit="clip")
        rows: list[str] = []
        for spec in specs:
            rel = f"{spec.action}/{spec.name}{extension}"
            frames = render(spec, domain.height, domain.width, domain.num_frames, domain.style)
            write_video(root / "UCF-101" / rel, frames, domain.fps)
            rows.append(f"{rel} {spec.label + 1}" if split == "train" else rel)
            captions.append(f"{rel}\t{spec.caption}")
        (lists / f"{split}list01.txt").write_bytes("".join(r + "\r\n" for r in rows).encode())
    (lists / "captions.txt").write_bytes("".join(c + "\r\n" for c in captions).encode())
    return root
