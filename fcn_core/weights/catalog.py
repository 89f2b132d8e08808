"""The published VOC FCN weights: where each file is, its checksum where one is published, and what it holds.

Checked against the sources (2026-12): the Caffe URLs are the ``caffemodel-url`` files of the authors'
fcn.berkeleyvision.org (no checksum is published for them); the torchfcn Google Drive ids and md5 sums are
those that pytorch-fcn's ``torchfcn/models/fcn32s.py``, ``fcn16s.py`` and ``fcn8s.py`` pass to their
``download()``: the current ones since August 2021, and the 2017 ones they replaced (old-style Drive ids, which
Google may no longer serve; a mirror that kept the files still gives them). No torch here.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from .errors import WeightsError

CAFFE_BASE = "http://dl.caffe.berkeleyvision.org/"
DRIVE = "https://drive.google.com/uc?id={}&export=download"  # gdown's form of a Drive download link

FORMATS = {"pth": "torchfcn .pth", "caffemodel": "Caffe .caffemodel"}


@dataclass(frozen=True)
class PublicWeights:
    """One published file: ``name`` (as the CLI takes it), the net it holds, where it is and how to check it."""

    name: str
    variant: str  # "32s", "16s" or "8s"
    at_once: bool  # FCN-8s trained in one stage (pool4 and pool3 scaled)
    format: str  # a key of FORMATS
    url: str
    md5: str | None  # None: no checksum is published; the download records its sha256 instead
    approx_bytes: int
    file: str  # the name in the cache folder, and the name a mirror is asked for
    note: str = ""

    @property
    def net(self) -> str:
        return f"FCN-{self.variant}" + (" at-once" if self.at_once else "")

    @property
    def format_name(self) -> str:
        return FORMATS[self.format]

    @property
    def size_text(self) -> str:
        return f"≈{self.approx_bytes / 1e6:.0f} MB"


# parameters × 4 bytes: VGG16 convs, fc6, fc7, score_fr, then each variant's own score and upsampling layers
_BYTES = {"32s": 544_611_668, "16s": 539_263_976, "8s": 537_959_036}


def _caffe(variant: str, at_once: bool = False) -> PublicWeights:
    stem = f"fcn{variant}-atonce" if at_once else f"fcn{variant}"
    file = f"{stem}-pascal.caffemodel" if at_once else f"{stem}-heavy-pascal.caffemodel"
    return PublicWeights(f"{stem}-caffe", variant, at_once, "caffemodel", CAFFE_BASE + file, None,
                         _BYTES[variant], file, "the authors' Caffe release")


def _torchfcn(variant: str, drive_id: str, md5: str, at_once: bool = False, year: int | None = None) -> PublicWeights:
    stem = f"fcn{variant}-atonce" if at_once else f"fcn{variant}"
    name = f"{stem}-torchfcn" + (f"-{year}" if year else "")
    file = f"{stem}_from_caffe" + (f"-{year}" if year else "") + ".pth"
    note = f"torchfcn's {year} upload (replaced in 2021)" if year else "torchfcn (pytorch-fcn), converted from Caffe"
    return PublicWeights(name, variant, at_once, "pth", DRIVE.format(drive_id), md5, _BYTES[variant], file, note)


CATALOG: tuple[PublicWeights, ...] = (
    _torchfcn("32s", "11k2Q0bvRQgQbT6-jYWeh6nmAsWlSCY3f", "d3eb467a80e7da0468a20dfcbc13e6c8"),
    _torchfcn("16s", "1bctu58B6YH9bu6lBBSBB2rUeGlGhYLoP", "a2d4035f669f09483b39c9a14a0d6670"),
    _torchfcn("8s", "1ieXWyoG68xqoHJPWdyrDyaIaaWlfmUxI", "de93e540ec79512f8770033849c8ae89"),
    _torchfcn("8s", "0B9P1L--7Wd2vblE1VUIxV1o2d2M", "bfed4437e941fef58932891217fe6464", at_once=True),
    _torchfcn("32s", "0B9P1L--7Wd2vM2oya3k0Zlgtekk", "8acf386d722dc3484625964cbe2aba49", year=2017),
    _torchfcn("16s", "0B9P1L--7Wd2vVGE3TkRMbWlNRms", "991ea45d30d632a01e5ec48002cac617", year=2017),
    _torchfcn("8s", "0B9P1L--7Wd2vT0FtdThWREhjNkU", "dbd9bbb3829a3184913bccc74373afbb", year=2017),
    _caffe("32s"),
    _caffe("16s"),
    _caffe("8s"),
    _caffe("8s", at_once=True),
)


def public_weights() -> tuple[PublicWeights, ...]:
    """Every catalogued file, in the order ``weights list`` shows them."""
    return CATALOG


def find_public_weights(name: str) -> PublicWeights:
    """The entry called ``name``, or a WeightsError that names the closest one."""
    entries = {e.name: e for e in public_weights()}
    if name in entries:
        return entries[name]
    close = difflib.get_close_matches(name, sorted(entries), n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    raise WeightsError(f"no public weights are called {name!r} ({hint}'fcn-workbench weights list' names them)")
