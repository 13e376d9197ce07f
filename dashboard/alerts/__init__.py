"""Alerts: rules per store (footfall_core.alerting), evaluated at the centre by
`python -m dashboard alerts` (one evaluator holds each store, by a lease in the database),
stored with every transition, published retained on `footfall/v1/{store}/alerts` and posted
to webhooks (docs/alerts.md).

- `rules`: the rules per store in the database (from `stores import` or the API);
- `evaluate`: the rules' state machines and what they measure (pure);
- `journal`: leases, transitions and acknowledgements, webhook deliveries to make;
- `webhooks`: posting deliveries, retried with backoff, each on its own;
- `service`: the evaluator process that ties them together.
"""
