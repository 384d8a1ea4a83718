"""The Invoke tasks, one module per capability (`tasks.py` gathers them into one namespace):
`stack` (up, down, status, logs, seed), `answers` (req, events), `nats_cli` (nats-cli, context),
`twins` (token), `bench`, `cloud` (cp-*, cloud-*, deploy, destroy) and `suite` (check, test-*).
Every task is a `friendly_task.FriendlyTask`: one error line and an exit code, no traceback."""
