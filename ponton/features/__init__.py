"""Features: what an app may have (access, quotas, certificates, ports, strategies, resources, metrics), each
as rules and data over the core. They never call up into the pipeline."""
