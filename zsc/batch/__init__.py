"""Batch regeneration: expand a grid file into jobs, run them on local processes or Dask, resume.

    zsc batch GRID [--jobs N | --scheduler ADDRESS] [--dry-run]

`grid` reads and expands grid files (a profile's stages come from `zsc.profiles`), `jobs` holds
the kinds of job, `run` executes them (records, executors, summary). See `zsc.batch.grid` for
the file format.
"""

from .grid import Grid, Job, expand, expand_stage, find_grid, job_key, load_grid
from .jobs import JOB_KINDS, JobKind
from .run import Summary, execute_job, is_done, record_path, run_grid

__all__ = ["JOB_KINDS", "Grid", "Job", "JobKind", "Summary", "execute_job", "expand",
           "expand_stage", "find_grid", "is_done", "job_key", "load_grid", "record_path",
           "run_grid"]
