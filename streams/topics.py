"""Topic names (see ARCHITECTURE.md): intake per channel, dead letters, dispatched tickets, ticket events,
alerts (deadline warnings and escalations); the consumer groups that read them, and the Faust app ids."""

INTAKE = {"hotline": "intake.hotline", "web": "intake.web"}
REJECTED = "intake.rejected"
DISPATCHED = "tickets.dispatched"  # one partition: the opinion monitor sees every ticket in one place
EVENTS = "ticket.events"
ALERTS = "alerts"

WORKER_GROUP = "hotline-pipeline"   # the workers: intake, ticket events, dead letters
MONITOR_GROUP = "hotline-monitor"   # the opinion monitor: dispatched tickets
# The Faust apps' own groups, which read no topic of ours: the workers' one elects the deadline watch's leader.
WORKER_APP = "hotline-worker"
MONITOR_APP = "hotline-monitor-app"


def channel_of(topic: str) -> str | None:
    return next((channel for channel, name in INTAKE.items() if name == topic), None)
