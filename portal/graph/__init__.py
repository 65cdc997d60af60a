"""The Graph-compatible licensing API at ``/v1.0/`` and its Entra-shaped token endpoint
(docs/api.md). Views translate HTTP and call the same services as the portal."""
