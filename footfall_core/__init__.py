"""The shared language of Footfall, imported by the edge, the centre and the tools alike.

- `contract`: the MQTT message contract (messages, topics, names, status types);
- `store`: the store model, one validated YAML file per store;
- `geometry`, `ownership`, `floor`: image ↔ floor projection, which camera counts which floor
  cell, and floor-plan grid helpers;
- `assets`: where models and footage are found;
- `mqtt_link`, `watchdog`: the MQTT connection settings and systemd's watchdog.

It imports nothing from `edge`, `dashboard`, `calibration` or `models`.
"""
