"""Real Mosquitto brokers for tests (the same helper `make demo` uses)."""

from scripts.broker import Mosquitto, dynsec_config, free_port, wait_for_listener

__all__ = ["Mosquitto", "dynsec_config", "free_port", "wait_for_listener"]
