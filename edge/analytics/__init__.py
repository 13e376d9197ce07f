"""Floor analytics: pure accumulators fed one `edge.types.FloorObservation` per analysed frame.

Each accumulator has `observe(obs)`, `collect()` (this bucket's figures, then reset the bucket
counters) and `end(now_s)` (close every open track, e.g. at the end of a recording). Per-track
state is dropped once a track is unseen for `analysis.track_timeout_s`, so a 24/7 process
keeps memory bounded by the number of people in view.
"""

from edge.analytics.flows import Flows
from edge.analytics.heatmap import Heatmap
from edge.analytics.lines import Lines
from edge.analytics.live import Live
from edge.analytics.zones import Zones

__all__ = ["Flows", "Heatmap", "Lines", "Live", "Zones"]
