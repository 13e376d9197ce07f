"""Imported once by the camera supervisor's fork server (`edge.supervisor`).

Camera processes are forked from that server with the pipeline's libraries already imported
(numpy, OpenCV, onnxruntime, supervision with the scipy it pulls in, trackers, pydantic) and
frozen out of the garbage collector, so that their pages stay shared between the cameras
instead of every camera importing a private copy. The server opens no model and no capture,
and runs no thread: each camera still starts with nothing of another camera's state.
"""

import gc
import signal

import edge.pipeline  # noqa: F401  (imported for its side effect: the pipeline's whole import tree)

# A collection writes into every object it scans: the first full collection in a camera would
# copy about 28 MB of the shared pages into it. Frozen objects are never scanned.
gc.freeze()

# systemd stops a service with SIGTERM to every process of it at once. Were the fork server to
# die of it first, the supervisor would take its cameras for dead and stop waiting for their
# last buckets. It exits by itself once the supervisor and the cameras are gone; a camera sets
# its own SIGTERM handler (edge.supervisor._child).
signal.signal(signal.SIGTERM, signal.SIG_IGN)
