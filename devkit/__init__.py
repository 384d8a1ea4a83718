"""The developer platform around the service: the local stack, local security and NATS CLI
contexts, the benchmark, and the cloud path. It imports the runtime (`service`), never the
reverse, and is never installed in the image."""
