"""The demo world and its hidden ground truth; never imported by the engine's stages.

`build_world(history_end)` makes a synthetic agency of the seed's 38 pages with 26 weeks of history
in the import formats (pages, captions, messages, fans), so `eros demo` can fill a store. The same
world turns a planned week into outcomes (`World.simulate_week`), carrying audience and fatigue
over, so policies can be compared in closed loop; `World.expected_outcome` is the noiseless view
for an oracle.

Modules: `pages` (names, types, zones, intended layout), `copywriting` (caption text), `truth` (the
hidden parameters and the response model), `world` (history generation and the closed loop).
"""

from eros.simulate.pages import PAGE_NAMES, PAGE_SPECS, PageSpec
from eros.simulate.truth import GroundTruth, PageTruth
from eros.simulate.world import (
    CaptionRow,
    FansRow,
    MessageRow,
    OutcomeRow,
    PageRow,
    World,
    build_world,
)

__all__ = [
    "PAGE_NAMES",
    "PAGE_SPECS",
    "CaptionRow",
    "FansRow",
    "GroundTruth",
    "MessageRow",
    "OutcomeRow",
    "PageRow",
    "PageSpec",
    "PageTruth",
    "World",
    "build_world",
]
