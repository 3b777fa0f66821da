"""Many sessions at once: discovery, the plan (a 2D and a 3D task per session), the resumable manifest,
the local process-pool and Ray engines, and the summary table."""
from capture3d.batch.discovery import Session, find_sessions
from capture3d.batch.manifest import Manifest
from capture3d.batch.plan import Task, plan_tasks
from capture3d.batch.summary import summary_rows, summary_text, write_summary_csv

__all__ = ["Manifest", "Session", "Task", "find_sessions", "plan_tasks", "summary_rows", "summary_text",
           "write_summary_csv"]
