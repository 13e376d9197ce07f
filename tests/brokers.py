"""Real Mosquitto brokers for tests (the same helper `make demo` uses)."""

from scripts.broker import Mosquitto, dynsec_config, free_port, wait_for_port

__all__ = ["Mosquitto", "dynsec_config", "free_port", "wait_for_port"]
