"""Real brokers for tests: private Mosquittos (the same helper `make demo` uses) and a private
three-node RabbitMQ cluster."""

from scripts.broker import Mosquitto, dynsec_config, free_port, wait_for_listener
from scripts.cluster import RabbitCluster

__all__ = ["Mosquitto", "RabbitCluster", "dynsec_config", "free_port", "wait_for_listener"]
