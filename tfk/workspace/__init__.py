"""Subject workspaces, resumable step pipelines and run directories."""

from tfk.workspace.pipeline import Pipeline, Step, StepContext, StepStatus
from tfk.workspace.runs import Run
from tfk.workspace.workspace import Workspace

__all__ = ["Pipeline", "Run", "Step", "StepContext", "StepStatus", "Workspace"]
