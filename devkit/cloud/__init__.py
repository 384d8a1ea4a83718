"""The cloud path: the Copilot manifests' schema and `invoke deploy` / `invoke destroy`."""
