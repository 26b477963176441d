"""The demo world and its hidden ground truth; never imported by the engine's stages.

`build_world(history_end)` makes a synthetic agency of the seed's 38 pages with 26 weeks of history
in the import formats (pages, captions, messages, fans), so `eros demo` can fill a store;
`page_count=N` (up to 5,000) adds generated pages after the seed's, and `simulate_agency` yields the
pages one by one so a big agency is written out as it is made. The same
world turns a planned week into outcomes (`World.simulate_week`), carrying audience and fatigue
over, so policies can be compared in closed loop; `World.expected_outcome` is the noiseless view
for an oracle.

Modules: `pages` (names, types, zones, intended layout), `copywriting` (caption text), `truth` (the
hidden parameters and the response model), `world` (history generation and the closed loop).
"""

from eros.simulate.pages import MAX_PAGES, PAGE_NAMES, PAGE_SPECS, PageSpec, agency_specs
from eros.simulate.truth import GroundTruth, PageTruth
from eros.simulate.world import (
    Agency,
    CaptionRow,
    FansRow,
    MessageRow,
    OutcomeRow,
    PageHistory,
    PageRow,
    World,
    build_world,
    simulate_agency,
)

__all__ = [
    "MAX_PAGES",
    "PAGE_NAMES",
    "PAGE_SPECS",
    "Agency",
    "CaptionRow",
    "FansRow",
    "GroundTruth",
    "MessageRow",
    "OutcomeRow",
    "PageHistory",
    "PageRow",
    "PageSpec",
    "PageTruth",
    "World",
    "agency_specs",
    "build_world",
    "simulate_agency",
]
